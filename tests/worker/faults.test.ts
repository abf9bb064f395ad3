// Failures around the check: the sidecar dies mid-check, the worker dies mid-job. Results of 64 MiB keep the check
// busy long enough to be interrupted.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { submitQuery, waitForStatus } from '../support/clients.js';
import {
  fault,
  runQuery,
  startStack,
  TERMINAL,
  writeBigModel,
  writeBigResult,
  type FinishedQuery,
  type WorkerStack,
} from './support/stack.js';
import type { LogLine, RunningWorker } from './support/worker.js';

// Short locks so that a dead worker's job is taken over within seconds (defaults: 30 s).
const WORKER_ENV = { GDS_WORKER_LOCK_DURATION_MS: '4000', GDS_WORKER_STALLED_INTERVAL_MS: '1000' };
const BIG_MIB = 64;

let stack: WorkerStack;
let dir: string;
let model: Buffer;
let results: Buffer[];
let baseline: FinishedQuery;

/** What must not change between two checks of the same bytes: verdict, and per Data Owner acceptance and reason. */
function summary(query: FinishedQuery) {
  const ids = new Map(query.entries.map((entry, index) => [entry.executionId, `owner${index}`]));
  const anonymous = (text: string) => [...ids].reduce((out, [id, name]) => out.replaceAll(id, name), text);

  return {
    status: query.info.status,
    verdict: query.info.report!.verdict,
    canonical: ids.get(query.info.report!.canonicalExecutionId),
    entries: query.entries.map((entry) => [entry.accepted, anonymous(entry.reason), entry.maxAbsDiff]),
  };
}

function sidecarPid(worker: RunningWorker): number {
  const healthy = worker.logs.filter((line) => line.event === 'sidecar.healthy');
  return healthy[healthy.length - 1].sidecarPid as number;
}

/** Every Data Owner returns its result (in parallel). */
function completeAll(queryId: string) {
  return Promise.all(results.map((result, index) => stack.owners[index].complete(queryId, result)));
}

function finished(queryId: string, info: FinishedQuery['info']): FinishedQuery {
  const entries = stack.owners.map((owner) => info.report!.entries.find((e) => e.dataOwnerId === owner.dataOwnerId)!);

  return { queryId, info, entries };
}

const isCheckLine = (queryId: string, message: string) => (line: LogLine) =>
  line.source === 'stderr' && line.queryId === queryId && line.msg === message;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gds-consistency-faults-'));
  [stack] = await Promise.all([startStack(WORKER_ENV), (async () => {
    const modelPath = await writeBigModel(dir, BIG_MIB);
    const honest = await Promise.all([writeBigResult(dir, modelPath, 1), writeBigResult(dir, modelPath, 2)]);
    const noisy = await fault(dir, 'noise', honest[0], modelPath, join(dir, 'PWNED'));
    model = await readFile(modelPath);
    results = [...(await Promise.all(honest.map((path) => readFile(path)))), noisy];
  })()]);
  baseline = await runQuery(stack, model, results);
}, 300_000);

afterAll(async () => {
  if (process.env.GDS_TEST_DUMP_LOGS) {
    const dump = (worker: RunningWorker) => worker.logs.slice(-60).map((line) => JSON.stringify(line)).join('\n');
    stack?.workers.forEach((worker) => console.log(dump(worker)));
  }
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('failures during the check', () => {
  it('should find the noisy result in the baseline run', () => {
    expect(summary(baseline)).toMatchObject({ status: 'QUERY_STATUS_COMPLETED', verdict: 'VERDICT_CONSISTENT' });
    expect(baseline.entries[2].reason).toMatch(/^OUT_OF_TOLERANCE: (layers\.0\.weight|head\.weight|head\.bias) differs from the canonical result: /);
  });

  it('should retry a job whose sidecar was killed mid-check and reach the same verdict', async () => {
    const worker = stack.workers[0];
    const pid = sidecarPid(worker);
    const submitted = await submitQuery(stack.api.address, stack.token, model, { header: { quorum: 0 } });
    const completing = completeAll(submitted.queryId);

    await worker.waitForLog(isCheckLine(submitted.queryId, 'check.model_read'));
    process.kill(pid, 'SIGKILL');
    await completing;
    const info = await waitForStatus(stack.api.address, stack.token, submitted.queryId, TERMINAL, 180_000);

    expect(summary(finished(submitted.queryId, info))).toEqual(summary(baseline));
    const jobLines = worker.logs.filter((line) => line.source === 'worker' && line.queryId === submitted.queryId);
    expect(jobLines).toEqual(expect.arrayContaining([
      expect.objectContaining({ event: 'consistency.job_failed', attempt: 1, willRetry: true }),
      expect.objectContaining({ event: 'consistency.job_verified', attempt: 2 }),
    ]));
    expect(worker.logs).toEqual(expect.arrayContaining([
      expect.objectContaining({ event: 'sidecar.exited', sidecarPid: pid, signal: 'SIGKILL' }),
    ]));
    expect(sidecarPid(worker)).not.toBe(pid);
  });

  it('should let another worker finish a job whose worker was killed, and stop the dead one\'s sidecar', async () => {
    const doomed = stack.workers[0];
    const doomedSidecar = sidecarPid(doomed);
    const listening = doomed.logs.filter((line) => line.event === 'sidecar.listening').pop()!;
    const workDir = dirname(String(listening.address).replace(/^unix:/, ''));
    const submitted = await submitQuery(stack.api.address, stack.token, model, { header: { quorum: 0 } });
    const completing = completeAll(submitted.queryId);

    await doomed.waitForLog(isCheckLine(submitted.queryId, 'check.model_read'));
    await doomed.kill('SIGKILL');
    await completing;
    const rescuer = await stack.startWorker();
    const info = await waitForStatus(stack.api.address, stack.token, submitted.queryId, TERMINAL, 180_000);

    expect(summary(finished(submitted.queryId, info))).toEqual(summary(baseline));
    expect(rescuer.logs).toEqual(expect.arrayContaining([
      expect.objectContaining({ event: 'consistency.job_verified', queryId: submitted.queryId }),
    ]));
    await waitUntil(() => !isAlive(doomedSidecar));
    await waitUntil(() => !existsSync(workDir));
  });

  it('should kill and replace a sidecar that stops answering health calls', async () => {
    const worker = await stack.startWorker({
      ...WORKER_ENV,
      GDS_SIDECAR_HEALTH_INTERVAL_MS: '300',
      GDS_SIDECAR_HEALTH_TIMEOUT_MS: '300',
      GDS_SIDECAR_HEALTH_FAILURES: '2',
    });
    const frozen = sidecarPid(worker);

    process.kill(frozen, 'SIGSTOP');

    await worker.waitForLog((line) => line.event === 'sidecar.unresponsive' && line.sidecarPid === frozen);
    await worker.waitForLog((line) => line.event === 'sidecar.healthy' && line.sidecarPid !== frozen);
    await waitUntil(() => !isAlive(frozen));
  });
});
