'use client';

// A new query: the model (uploaded first, see ModelUpload), then the dataset, how many Data Owners train it and
// must agree, and the training spec. Defaults match the API's, so "Submit" right away is a sensible query.
import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { type FormEvent, useEffect, useState } from 'react';

import { useLoad } from '@/components/hooks';
import { useGraphql } from '@/components/Providers';
import { ErrorNotice } from '@/components/ui';
import { ApiError } from '@/lib/errors';
import { DATASETS, SUBMIT_QUERY } from '@/lib/graphql/documents';
import type { DatasetSummary, LossFunction, ModelUploadInfo, Optimizer, SubmitQueryInput } from '@/lib/graphql/types';

import { ModelUpload } from './ModelUpload';

export const QUERY_DEFAULTS = {
  replication: 3,
  tolerance: '1e-5',
  deadlineMinutes: 60,
  epochs: 5,
  batchSize: 32,
  optimizer: 'SGD' as Optimizer,
  learningRate: '0.01',
  loss: 'MSE' as LossFunction,
  seed: '0',
  momentum: '0',
};

function preferredDataset(datasets: DatasetSummary[]): DatasetSummary | undefined {
  const usable = datasets.filter((d) => d.activeHolders > 0);

  return usable.find((d) => d.name === 'demo') ?? usable[0] ?? datasets[0];
}

/** Reads the form into the mutation's input; throws a BAD_USER_INPUT ApiError naming the first bad field. */
export function readQueryForm(form: FormData, uploadId: string): SubmitQueryInput {
  const number = (name: string, label: string, check: (n: number) => boolean) => {
    const value = Number(String(form.get(name)).trim());
    if (!Number.isFinite(value) || !check(value)) throw new ApiError('BAD_USER_INPUT', `${label} is not valid.`);

    return value;
  };
  const quorumText = String(form.get('quorum') ?? '').trim();
  const seed = String(form.get('seed')).trim();
  if (!/^\d{1,20}$/.test(seed)) throw new ApiError('BAD_USER_INPUT', 'Seed must be a whole number (0 or more).');

  return {
    uploadId,
    dataset: String(form.get('dataset')),
    name: String(form.get('name') ?? '').trim() || undefined,
    replication: number('replication', 'Data owners', (n) => Number.isInteger(n) && n >= 1),
    quorum: quorumText ? number('quorum', 'Agreement quorum', (n) => Number.isInteger(n) && n >= 1) : undefined,
    tolerance: number('tolerance', 'Tolerance', (n) => n > 0),
    deadlineSeconds: Math.round(number('deadlineMinutes', 'Deadline', (n) => n > 0) * 60),
    training: {
      epochs: number('epochs', 'Epochs', (n) => Number.isInteger(n) && n >= 1),
      batchSize: number('batchSize', 'Batch size', (n) => Number.isInteger(n) && n >= 1),
      optimizer: String(form.get('optimizer')) as Optimizer,
      learningRate: number('learningRate', 'Learning rate', (n) => n > 0),
      loss: String(form.get('loss')) as LossFunction,
      seed,
      momentum: number('momentum', 'Momentum', (n) => n >= 0 && n < 1),
    },
  };
}

export function NewQuery() {
  const request = useGraphql();
  const router = useRouter();
  const [upload, setUpload] = useState<ModelUploadInfo | null>(null);
  const [datasetName, setDatasetName] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [isSubmitting, setSubmitting] = useState(false);
  const datasets = useLoad(
    (signal) => request<{ datasets: DatasetSummary[] }>(DATASETS, {}, signal).then((d) => d.datasets),
    [request],
  );

  useEffect(() => {
    if (!datasetName && datasets.data) setDatasetName(preferredDataset(datasets.data)?.name ?? '');
  }, [datasets.data, datasetName]);

  const dataset = datasets.data?.find((d) => d.name === datasetName);
  const holders = dataset?.activeHolders ?? 0;

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (!upload) return;

    setSubmitting(true);
    setError(null);
    try {
      const input = readQueryForm(new FormData(event.currentTarget), upload.id);
      const data = await request<{ submitQuery: { id: string } }>(SUBMIT_QUERY, { input });
      router.push(`/queries/${data.submitQuery.id}`);
    } catch (caught) {
      setError(caught);
      setSubmitting(false);
    }
  };

  return (
    <div className="stack">
      <div className="page-head">
        <h1>New query</h1>
        <Link href="/queries">Back to queries</Link>
      </div>
      <ModelUpload onChange={setUpload} />
      <form
        className="card stack"
        onSubmit={(event) => void submit(event)}
        aria-labelledby="settings-heading"
        noValidate
      >
        <h2 id="settings-heading">2. Where and how to train it</h2>
        <ErrorNotice error={datasets.error} />
        <div className="grid">
          <div className="field">
            <label htmlFor="name">Query name (optional)</label>
            <input id="name" name="name" maxLength={200} placeholder="e.g. churn model, run 3" />
          </div>
          <div className="field">
            <label htmlFor="dataset">Dataset</label>
            <select
              id="dataset"
              name="dataset"
              value={datasetName}
              onChange={(event) => setDatasetName(event.target.value)}
              aria-describedby="dataset-hint"
              required
            >
              {datasets.data?.length === 0 && <option value="">No datasets yet</option>}
              {datasets.data?.map((d) => (
                <option key={d.contentHash} value={d.name}>
                  {d.name} ({d.activeHolders} active {d.activeHolders === 1 ? 'holder' : 'holders'})
                </option>
              ))}
            </select>
            <p id="dataset-hint" className="hint">
              {datasets.data?.length === 0
                ? 'No Data Owner has registered a dataset yet.'
                : dataset
                  ? `${holders} Data ${holders === 1 ? 'Owner holds' : 'Owners hold'} this dataset now. `
                  : ''}
              <Link href="/data-owners">See data owners</Link>
            </p>
          </div>
          <div className="field">
            <label htmlFor="replication">Data owners to train on it</label>
            <input
              id="replication"
              name="replication"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              defaultValue={QUERY_DEFAULTS.replication}
              aria-describedby="replication-hint"
            />
            <p id="replication-hint" className="hint">
              Each trains the model on its own copy of the dataset.
            </p>
          </div>
          <div className="field">
            <label htmlFor="quorum">Agreement quorum (optional)</label>
            <input
              id="quorum"
              name="quorum"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              placeholder="majority"
              aria-describedby="quorum-hint"
            />
            <p id="quorum-hint" className="hint">
              How many results must agree for a verdict. Empty: a majority.
            </p>
          </div>
          <div className="field">
            <label htmlFor="tolerance">Tolerance</label>
            <input
              id="tolerance"
              name="tolerance"
              inputMode="decimal"
              defaultValue={QUERY_DEFAULTS.tolerance}
              aria-describedby="tolerance-hint"
            />
            <p id="tolerance-hint" className="hint">
              Largest difference between two results&apos; weights that still counts as agreement.
            </p>
          </div>
          <div className="field">
            <label htmlFor="deadlineMinutes">Deadline (minutes)</label>
            <input
              id="deadlineMinutes"
              name="deadlineMinutes"
              type="number"
              inputMode="numeric"
              min={1}
              defaultValue={QUERY_DEFAULTS.deadlineMinutes}
            />
          </div>
        </div>
        <fieldset className="grid">
          <legend>Training</legend>
          <div className="field">
            <label htmlFor="epochs">Epochs</label>
            <input
              id="epochs"
              name="epochs"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              defaultValue={QUERY_DEFAULTS.epochs}
            />
          </div>
          <div className="field">
            <label htmlFor="batchSize">Batch size</label>
            <input
              id="batchSize"
              name="batchSize"
              type="number"
              inputMode="numeric"
              min={1}
              step={1}
              defaultValue={QUERY_DEFAULTS.batchSize}
            />
          </div>
          <div className="field">
            <label htmlFor="optimizer">Optimizer</label>
            <select id="optimizer" name="optimizer" defaultValue={QUERY_DEFAULTS.optimizer}>
              <option value="SGD">SGD</option>
              <option value="ADAM">Adam</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="learningRate">Learning rate</label>
            <input
              id="learningRate"
              name="learningRate"
              inputMode="decimal"
              defaultValue={QUERY_DEFAULTS.learningRate}
            />
          </div>
          <div className="field">
            <label htmlFor="loss">Loss</label>
            <select id="loss" name="loss" defaultValue={QUERY_DEFAULTS.loss}>
              <option value="MSE">Mean squared error</option>
              <option value="BCE">Binary cross-entropy</option>
              <option value="CROSS_ENTROPY">Cross-entropy</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="momentum">Momentum (SGD)</label>
            <input id="momentum" name="momentum" inputMode="decimal" defaultValue={QUERY_DEFAULTS.momentum} />
          </div>
          <div className="field">
            <label htmlFor="seed">Seed</label>
            <input
              id="seed"
              name="seed"
              inputMode="numeric"
              defaultValue={QUERY_DEFAULTS.seed}
              aria-describedby="seed-hint"
            />
            <p id="seed-hint" className="hint">
              Every Data Owner trains with this seed, so honest results agree.
            </p>
          </div>
        </fieldset>
        <ErrorNotice error={error} />
        <p className="actions">
          <button
            type="submit"
            className="button"
            disabled={!upload || !datasetName || isSubmitting}
            aria-describedby="submit-hint"
          >
            {isSubmitting ? 'Submitting…' : 'Submit query'}
          </button>
          <span id="submit-hint" className="hint">
            {upload ? 'Your model is uploaded.' : 'Upload your model first.'}
          </span>
        </p>
      </form>
    </div>
  );
}
