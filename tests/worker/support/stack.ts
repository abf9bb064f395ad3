// A private GDS for worker tests: database, Redis database, the built API and worker, a customer, three Data Owners,
// and the Python helpers that produce honest and faulty results.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Queue } from 'bullmq';
import { CONSISTENCY_QUEUE } from '@gds/common';
import type { QueryExecutionInfo__Output } from '@gds/proto';

import {
  bearer,
  clientFor,
  closeClients,
  sha256,
  submitQuery,
  TestDataOwner,
  waitForStatus,
} from '../../support/clients.js';
import {
  createCustomer,
  createTestDatabase,
  queuePrefixFor,
  REDIS_URL,
  runPython,
  startApi,
  type RunningApi,
  type TestDatabase,
} from '../../support/stack.js';
import { startWorker, type RunningWorker } from './worker.js';

export const DATASET_HASH = sha256(Buffer.from('the consistency dataset'));
/** The training spec submitQuery sends by default; honest Data Owners train with exactly this. */
export const SPEC = { epochs: 3, batchSize: 32, optimizer: 'sgd', learningRate: 0.05, loss: 'mse', seed: 7 };
export const TERMINAL = ['QUERY_STATUS_COMPLETED', 'QUERY_STATUS_FAILED'];

export interface WorkerStack {
  db: TestDatabase;
  api: RunningApi;
  workers: RunningWorker[];
  /** The BullMQ prefix the API and the workers of this stack share. */
  queuePrefix: string;
  token: string;
  owners: TestDataOwner[];
  startWorker(env?: Record<string, string>): Promise<RunningWorker>;
  stop(): Promise<void>;
}

/** Everything with queues of its own (the API's per-database prefix), so no other test's worker takes its jobs. */
export async function startStack(workerEnv: Record<string, string> = {}): Promise<WorkerStack> {
  const db = await createTestDatabase();
  const queuePrefix = queuePrefixFor(db.url);
  const workers: RunningWorker[] = [];
  let api: RunningApi | undefined;
  const stop = async () => {
    closeClients();
    await Promise.all(workers.map((worker) => worker.stop()));
    await api?.stop();
    await db.drop();
  };

  try {
    api = await startApi(db.url);
    const start = async (env: Record<string, string> = workerEnv) => {
      const worker = await startWorker({ DATABASE_URL: db.url, REDIS_URL, GDS_QUEUE_PREFIX: queuePrefix, ...env });
      workers.push(worker);
      return worker;
    };
    await start();

    const token = (await createCustomer(db.url, 'consistency')).token;
    const owners = [0, 1, 2].map(() => new TestDataOwner(api!.address));
    for (const [index, owner] of owners.entries()) {
      await owner.register([{ name: 'demo', contentHash: DATASET_HASH }], `do-${index}`);
    }

    return { db, api, workers, queuePrefix, token, owners, startWorker: start, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

export type Outcome = Buffer | { code: string; message: string };

export interface FinishedQuery {
  queryId: string;
  info: QueryExecutionInfo__Output;
  /** The report entry of each owner, in owner order. */
  entries: NonNullable<QueryExecutionInfo__Output['report']>['entries'];
}

/** Submits the model, has owner i return outcomes[i], and waits for the check to finish. */
export async function runQuery(
  stack: WorkerStack,
  model: Buffer,
  outcomes: Outcome[],
  quorum = 0,
): Promise<FinishedQuery> {
  const submitted = await submitQuery(stack.api.address, stack.token, model, { header: { quorum } });
  for (const [index, outcome] of outcomes.entries()) {
    await stack.owners[index].complete(submitted.queryId, outcome);
  }
  const info = await waitForStatus(stack.api.address, stack.token, submitted.queryId, TERMINAL, 180_000);
  const entries = stack.owners.map((owner) => info.report!.entries.find((e) => e.dataOwnerId === owner.dataOwnerId)!);

  return { queryId: submitted.queryId, info, entries };
}

/** GetQueryExecutionInfo with include_verified_result: the canonical result's bytes. */
export function downloadVerifiedResult(address: string, token: string, queryId: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const call = clientFor(address).GetQueryExecutionInfo({ queryId, includeVerifiedResult: true }, bearer(token));
    const chunks: Buffer[] = [];
    call.on('data', (message) => message.chunk && chunks.push(message.chunk));
    call.on('error', reject);
    call.on('end', () => resolve(Buffer.concat(chunks)));
  });
}

/** Adds a consistency job as the API would, e.g. for a query that is not VERIFYING. */
export async function enqueueCheck(
  stack: WorkerStack,
  queryId: string,
  jobId = `consistency-${queryId}`,
): Promise<void> {
  const connection = { url: REDIS_URL, maxRetriesPerRequest: null };
  const queue = new Queue(CONSISTENCY_QUEUE, { connection, prefix: stack.queuePrefix });
  await queue.add('check', { queryId }, { jobId });
  await queue.close();
}

// ---------------------------------------------------------------------------------------------------------------
// Python helpers

export async function writeModel(dir: string, seed = 3): Promise<string> {
  const out = join(dir, `model-${seed}.pt`);
  await runPython('gds_ml.fixtures', ['--kind', 'torch_save', '--out', out, '--seed', String(seed)]);
  return out;
}

export async function writeDataset(dir: string): Promise<string> {
  const out = join(dir, 'data.csv');
  await runPython('gds_ml.demo_data', ['--out', out]);
  return out;
}

/** Trains as an honest Data Owner would (python -m gds_ml.train); threads and epochs may differ. */
export async function train(dir: string, model: string, data: string, name: string,
  options: { threads?: number; epochs?: number } = {}): Promise<string> {
  const out = join(dir, `${name}.pt`);
  await runPython('gds_ml.train', [
    '--query-id', name, '--model', model, '--data', data, '--features', 'x1,x2,x3,x4,x5', '--label', 'y',
    '--spec', JSON.stringify({ ...SPEC, epochs: options.epochs ?? SPEC.epochs }), '--out', out,
    '--allow-pickle', '--module-alias', '__main__=gds_ml.demo_models', '--threads', String(options.threads ?? 1),
  ]);
  return out;
}

/** A faulty result (python -m gds_ml.consistency.fixtures fault). */
export async function fault(dir: string, kind: string, honest: string, model: string, marker: string): Promise<Buffer> {
  const out = join(dir, `fault-${kind}.pt`);
  await runPython('gds_ml.consistency.fixtures', [
    'fault', '--kind', kind, '--honest', honest, '--model', model, '--out', out, '--seed', '11', '--scale', '1e-3',
    '--marker', marker,
  ]);
  return readFile(out);
}

/** A model of about `mib` MiB (python -m gds_ml.consistency.fixtures big-model) and results derived from it. */
export async function writeBigModel(dir: string, mib: number): Promise<string> {
  const out = join(dir, `big-model-${mib}.pt`);
  await runPython('gds_ml.consistency.fixtures', ['big-model', '--out', out, '--mib', String(mib)]);
  return out;
}

export async function writeBigResult(dir: string, model: string, seed: number): Promise<string> {
  const out = join(dir, `big-result-${seed}.pt`);
  const args = ['big-result', '--model', model, '--out', out, '--seed', String(seed)];
  await runPython('gds_ml.consistency.fixtures', args);
  return out;
}
