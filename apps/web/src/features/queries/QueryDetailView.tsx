'use client';

// One query: its settings, one row per Data Owner with live progress, the loss curves, the consistency report, the
// timeline (service and chain), and the verified result to download.
import Link from 'next/link';
import { useState } from 'react';

import { useLoad, usePolling, useSubscription } from '@/components/hooks';
import { LossChart } from '@/components/LossChart';
import { useGraphql } from '@/components/Providers';
import { Bytes, ErrorNotice, Hash, StatusBadge } from '@/components/ui';
import { formatDateTime, shortHash } from '@/lib/format';
import { CANCEL_QUERY, QUERY, QUERY_UPDATED_DETAIL } from '@/lib/graphql/documents';
import { FINISHED_QUERY_STATUSES, type QueryDetail } from '@/lib/graphql/types';

import { ConsistencyReportView } from './ConsistencyReportView';
import { ExecutionsTable } from './ExecutionsTable';
import { ResultDownload } from './ResultDownload';
import { TimelineView } from './TimelineView';

const CANCELLABLE = ['PENDING', 'RUNNING'];
const FALLBACK_POLL_MS = 3_000;
const SAFETY_POLL_MS = 10_000;

export function QueryDetailView({ id }: { id: string }) {
  const request = useGraphql();
  const [liveUpdates, setLiveUpdates] = useState(0);
  const query = useLoad(
    (signal) => request<{ query: QueryDetail | null }>(QUERY, { id }, signal).then((d) => d.query),
    [request, id],
    (next, current) => Boolean(next && current && next.updatedAt < current.updatedAt),
  );
  const live = useSubscription<{ queryUpdated: QueryDetail }>(
    QUERY_UPDATED_DETAIL,
    { id },
    {
      enabled: Boolean(query.data),
      onData: ({ queryUpdated }) => {
        query.setData(() => queryUpdated);
        setLiveUpdates((n) => n + 1);
      },
      onConnected: () => void query.reload(),
    },
  );
  const isFinished = query.data ? FINISHED_QUERY_STATUSES.includes(query.data.status) : false;
  // Live updates carry every change the API announces; the slow poll is a safety net for one that never comes.
  usePolling(
    Boolean(query.data) && !isFinished,
    () => void query.reload(),
    live.isLive ? SAFETY_POLL_MS : FALLBACK_POLL_MS,
  );

  if (query.error?.code === 'NOT_FOUND' || (query.data === null && !query.isLoading)) {
    return (
      <div className="stack narrow">
        <h1>Query not found</h1>
        <p role="alert" className="notice notice-error">
          There is no query {id} in your account.
        </p>
        <p>
          <Link href="/queries">Back to your queries</Link>
        </p>
      </div>
    );
  }
  if (!query.data) {
    return query.error ? (
      <ErrorNotice error={query.error} />
    ) : (
      <p role="status" className="muted">
        Loading query…
      </p>
    );
  }

  // Data Owners in a stable order, so rows, chart colours and legend keep their places as updates arrive.
  const q = {
    ...query.data,
    executions: [...query.data.executions].sort((a, b) => a.dataOwnerName.localeCompare(b.dataOwnerName)),
  };
  const names = new Map(q.executions.map((e) => [e.dataOwnerId, e.dataOwnerName]));

  return (
    <div className="stack">
      <div className="page-head">
        <div>
          <p className="muted small">
            <Link href="/queries">Queries</Link> / {shortHash(q.id, 8)}
          </p>
          <h1>{q.name || `Query ${q.id.slice(0, 8)}`}</h1>
        </div>
        <div className="page-head-status" data-live-updates={liveUpdates}>
          <StatusBadge status={q.status} label="Status" />
          <span className="muted small" role="status">
            {isFinished ? '' : live.isLive ? 'Live' : 'Refreshing every few seconds'}
          </span>
        </div>
      </div>
      <ErrorNotice error={query.error} />

      {CANCELLABLE.includes(q.status) && (
        <CancelQuery id={q.id} onCancelled={(updated) => query.setData(() => updated)} />
      )}

      <section className="card" aria-labelledby="summary-heading">
        <h2 id="summary-heading">Summary</h2>
        <dl className="facts facts-grid">
          <dt>Query id</dt>
          <dd>
            <code className="break">{q.id}</code>
          </dd>
          <dt>Dataset</dt>
          <dd>
            {q.datasetName ?? '—'} <span className="muted small break">{shortHash(q.datasetHash)}</span>
          </dd>
          <dt>Data owners / quorum</dt>
          <dd>
            {q.replication} / {q.quorum}, tolerance {q.tolerance}
          </dd>
          <dt>Training</dt>
          <dd>
            {q.training.epochs} epochs, batch {q.training.batchSize}, {q.training.optimizer} lr{' '}
            {q.training.learningRate}
            {q.training.momentum ? ` momentum ${q.training.momentum}` : ''}, {q.training.loss}, seed {q.training.seed}
          </dd>
          <dt>Model</dt>
          <dd>
            {q.modelFormat}, <Bytes value={q.modelSize} />
          </dd>
          <dt>Model SHA-256</dt>
          <dd>
            <Hash value={q.modelSha256} label="model SHA-256" />
          </dd>
          <dt>Submitted</dt>
          <dd>{formatDateTime(q.createdAt)}</dd>
          <dt>Deadline</dt>
          <dd>{formatDateTime(q.deadlineAt)}</dd>
        </dl>
      </section>

      <section className="card" aria-labelledby="executions-heading">
        <h2 id="executions-heading">Data owners</h2>
        <ExecutionsTable executions={q.executions} />
      </section>

      <section className="card" aria-labelledby="loss-heading">
        <h2 id="loss-heading">Loss per data owner</h2>
        <LossChart
          title={`Training loss per epoch for query ${q.name || q.id}`}
          totalEpochs={q.training.epochs}
          series={q.executions.map((e) => ({
            id: e.id,
            label: e.dataOwnerName,
            points: e.lossCurve.map((p) => ({ epoch: p.epoch, loss: p.loss })),
          }))}
        />
      </section>

      <section className="card" aria-labelledby="report-heading">
        <h2 id="report-heading">Consistency report</h2>
        <ConsistencyReportView report={q.report} status={q.status} names={names} />
      </section>

      <section className="card" aria-labelledby="result-heading">
        <h2 id="result-heading">Result</h2>
        <ResultDownload query={q} />
      </section>

      <section className="card" aria-labelledby="timeline-heading">
        <h2 id="timeline-heading">Timeline</h2>
        <TimelineView entries={q.timeline} names={names} />
      </section>
    </div>
  );
}

function CancelQuery({ id, onCancelled }: { id: string; onCancelled(query: QueryDetail): void }) {
  const request = useGraphql();
  const [isConfirming, setConfirming] = useState(false);
  const [isBusy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const cancel = async () => {
    setBusy(true);
    try {
      const data = await request<{ cancelQuery: QueryDetail }>(CANCEL_QUERY, { id });
      onCancelled(data.cancelQuery);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
      setConfirming(false);
    }
  };

  return (
    <div className="actions">
      {isConfirming ? (
        <>
          <span>Cancel this query? Data Owners stop training it.</span>
          <button type="button" className="button button-danger" onClick={() => void cancel()} disabled={isBusy}>
            Yes, cancel it
          </button>
          <button type="button" className="button button-quiet" onClick={() => setConfirming(false)} autoFocus>
            Keep it running
          </button>
        </>
      ) : (
        <button type="button" className="button button-quiet" onClick={() => setConfirming(true)}>
          Cancel query
        </button>
      )}
      <ErrorNotice error={error} />
    </div>
  );
}
