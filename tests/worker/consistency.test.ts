// The consistency check end to end: the built API and worker (with its Python sidecar) on a private database, three
// Data Owners returning honest and faulty results.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { sha256 } from '../support/clients.js';
import { REPO_ROOT } from '../support/stack.js';
import {
  downloadVerifiedResult,
  enqueueCheck,
  fault,
  runQuery,
  startStack,
  train,
  writeDataset,
  writeModel,
  type WorkerStack,
} from './support/stack.js';

let stack: WorkerStack;
let dir: string;
let marker: string;
let model: Buffer;
let modelPath: string;
let honest: Buffer[];
let honestPath: string;
const faults = new Map<string, Buffer>();
const OUT_OF_TOLERANCE = /^OUT_OF_TOLERANCE: fc1\.(weight|bias) differs from the canonical result: max abs diff/;

const isSkipped = (queryId: string) => (entry: Record<string, unknown>) =>
  entry.event === 'consistency.job_skipped' && entry.queryId === queryId;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gds-consistency-'));
  marker = join(dir, 'PWNED');
  [stack, modelPath] = await Promise.all([startStack(), writeModel(dir)]);
  model = await readFile(modelPath);
  const data = await writeDataset(dir);

  const paths = await Promise.all([
    train(dir, modelPath, data, 'honest-a', { threads: 1 }),
    train(dir, modelPath, data, 'honest-b', { threads: 2 }),
    train(dir, modelPath, data, 'honest-c', { threads: 1 }),
    train(dir, modelPath, data, 'fewer-epochs', { epochs: 2 }),
  ]);
  honestPath = paths[0];
  honest = await Promise.all(paths.slice(0, 3).map((path) => readFile(path)));
  faults.set('fewer_epochs', await readFile(paths[3]));
  for (const kind of ['initial', 'random', 'noise', 'wrong_shape', 'nan', 'missing_key', 'malicious', 'corrupt']) {
    faults.set(kind, await fault(dir, kind, honestPath, modelPath, marker));
  }
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('honest Data Owners', () => {
  it('should agree when one of three uses another thread count, and serve the canonical result', async () => {
    const { queryId, info, entries } = await runQuery(stack, model, honest);

    expect(info.status).toBe('QUERY_STATUS_COMPLETED');
    const report = info.report!;
    expect(report.verdict).toBe('VERDICT_CONSISTENT');
    expect(entries.every((entry) => entry.accepted && entry.reason === '')).toBe(true);
    expect(entries.every((entry) => entry.maxAbsDiff >= 0 && entry.maxAbsDiff <= 1e-6)).toBe(true);
    expect(report.quorum).toBe(2);
    expect(report.tolerance).toBe(1e-5);
    expect(BigInt(report.verifiedAtNs)).toBeGreaterThan(0n);

    const canonical = info.executions.find((execution) => execution.executionId === report.canonicalExecutionId)!;
    expect(report.canonicalSha256).toBe(canonical.resultSha256);
    const downloaded = await downloadVerifiedResult(stack.api.address, stack.token, queryId);
    expect(sha256(downloaded)).toBe(report.canonicalSha256);
  });

  it('should store exactly the report shape of the proto and mark every execution accepted', async () => {
    const { queryId } = await runQuery(stack, model, honest);

    const { rows } = await stack.db.query(
      `SELECT q.report, q.verdict, q."verifiedAt", e."isAccepted", e."rejectionReason"
         FROM "Query" q JOIN "Execution" e ON e."queryId" = q.id WHERE q.id = $1`,
      [queryId],
    );
    expect(Object.keys(rows[0].report).sort()).toEqual(
      ['canonicalExecutionId', 'canonicalSha256', 'entries', 'quorum', 'tolerance', 'verdict', 'verifiedAtNs'],
    );
    expect(Object.keys(rows[0].report.entries[0]).sort()).toEqual(
      ['accepted', 'dataOwnerId', 'executionId', 'maxAbsDiff', 'reason', 'relativeL2', 'resultSha256'],
    );
    expect(typeof rows[0].report.verifiedAtNs).toBe('string');
    expect(rows.map((row) => [row.verdict, row.isAccepted, row.rejectionReason])).toEqual(
      Array(3).fill(['CONSISTENT', true, null]),
    );
    expect(rows[0].verifiedAt).not.toBeNull();
  });
});

describe('a faulty or dishonest Data Owner among two honest ones', () => {
  it.each([
    ['initial', 'returns the initial weights', OUT_OF_TOLERANCE],
    ['random', 'returns random weights', OUT_OF_TOLERANCE],
    ['fewer_epochs', 'trains for fewer epochs', OUT_OF_TOLERANCE],
    ['noise', 'adds noise of 1e-3 to honest weights', /^OUT_OF_TOLERANCE: fc1\.(weight|bias) differs from the canonical result: max abs diff 0\.00\d+ > 1e-05$/],
    ['wrong_shape', 'returns a tensor of the wrong shape', /^SHAPE_MISMATCH: fc1\.weight has shape \[6\], the model's has \[1, 5\]$/],
    ['nan', 'returns a NaN', /^NON_FINITE: fc1\.weight holds 1 NaN and 0 infinite values/],
    ['missing_key', 'leaves out a key', /^MISSING_KEY: fc1\.bias missing/],
    ['malicious', 'returns a pickle that would run code on load', /^UNREADABLE: the pickle calls posix\.system, which could run code; refused$/],
    ['corrupt', 'returns a corrupt blob', /^UNREADABLE: broken zip archive/],
  ])('should name the Data Owner that %s (%s) with its reason', async (kind, _what, reason) => {
    const { info, entries } = await runQuery(stack, model, [honest[0], faults.get(kind)!, honest[1]]);

    expect(info.status).toBe('QUERY_STATUS_COMPLETED');
    expect(info.report!.verdict).toBe('VERDICT_CONSISTENT');
    expect(entries.map((entry) => entry.accepted)).toEqual([true, false, true]);
    expect(entries[1].reason).toMatch(reason);
    expect(info.report!.canonicalExecutionId).not.toBe(entries[1].executionId);
    expect(existsSync(marker)).toBe(false);
  });

  it('should report the distance of an out-of-tolerance result to the canonical one', async () => {
    const { entries } = await runQuery(stack, model, [honest[0], faults.get('noise')!, honest[1]]);

    expect(entries[1].maxAbsDiff).toBeGreaterThan(1e-4);
    expect(entries[1].maxAbsDiff).toBeLessThan(1e-2);
    expect(entries[1].relativeL2).toBeGreaterThan(1e-4);
    expect(entries[0].maxAbsDiff).toBeLessThanOrEqual(1e-6);
  });
});

describe('quorum', () => {
  it('should fail the query as INCONSISTENT when no two results agree, naming every Data Owner', async () => {
    const { info, entries } = await runQuery(stack, model, [honest[0], faults.get('initial')!, faults.get('random')!]);

    expect(info.status).toBe('QUERY_STATUS_FAILED');
    expect(info.report!.verdict).toBe('VERDICT_INCONSISTENT');
    expect(info.report!.canonicalExecutionId).toBe('');
    for (const entry of entries) {
      expect(entry.accepted).toBe(false);
      expect(entry.reason).toMatch(/^NO_QUORUM: no group of agreeing results reaches the quorum of 2 \(the largest has 1\)/);
    }
  });

  it('should list a Data Owner that reported an error with that error, and verify the other two', async () => {
    const { info, entries } = await runQuery(stack, model, [
      { code: 'TRAINING_FAILED', message: 'out of memory' },
      honest[0],
      honest[2],
    ]);

    expect(info.report!.verdict).toBe('VERDICT_CONSISTENT');
    expect(entries[0]).toMatchObject({
      accepted: false,
      reason: 'TRAINING_FAILED: out of memory',
      maxAbsDiff: -1,
      resultSha256: '',
    });
    expect(entries.slice(1).every((entry) => entry.accepted)).toBe(true);
  });

  it('should need every Data Owner when the quorum is 3', async () => {
    const { info, entries } = await runQuery(stack, model, [honest[0], honest[1], faults.get('noise')!], 3);

    expect(info.report!.verdict).toBe('VERDICT_INCONSISTENT');
    expect(entries[2].reason).toMatch(/quorum of 3 \(the largest has 2\)/);
  });
});

describe('jobs', () => {
  it('should complete a job for a query that is not VERIFYING as a skipped no-op', async () => {
    const queryId = randomUUID();

    await enqueueCheck(stack, queryId);

    const line = await stack.workers[0].waitForLog(isSkipped(queryId));
    expect(line).toMatchObject({ reason: 'no such query', attempt: 1, jobId: `consistency-${queryId}` });
  });

  it('should leave a query that is already COMPLETED as it is', async () => {
    const { queryId, info } = await runQuery(stack, model, honest);

    await enqueueCheck(stack, queryId, `recheck-${queryId}`);

    const line = await stack.workers[0].waitForLog(isSkipped(queryId));
    expect(line.reason).toBe('query is COMPLETED');
    const { rows } = await stack.db.query('SELECT report FROM "Query" WHERE id = $1', [queryId]);
    expect(rows[0].report.verifiedAtNs).toBe(info.report!.verifiedAtNs);
  });

  it('should log every job line with its job id, query id and attempt', async () => {
    const { queryId } = await runQuery(stack, model, honest);

    const lines = stack.workers[0].logs.filter((entry) => entry.source === 'worker' && entry.queryId === queryId);
    expect(lines.map((entry) => entry.event)).toEqual(['consistency.job_started', 'consistency.job_verified']);
    expect(lines.every((entry) => entry.jobId === `consistency-${queryId}` && entry.attempt === 1)).toBe(true);
    const sidecarLines = stack.workers[0].logs.filter((e) => e.source === 'stderr' && e.queryId === queryId);
    expect(sidecarLines.map((entry) => entry.msg)).toEqual(expect.arrayContaining(['check.started', 'check.finished']));
  });
});

describe('configuration', () => {
  it('should refuse to start and list every bad variable', async () => {
    const started = promisify(execFile)(process.execPath, [join(REPO_ROOT, 'apps/worker/dist/main.js')], {
      env: { ...process.env, DATABASE_URL: 'not a url', GDS_WORKER_CONCURRENCY: '0', GDS_SIDECAR_ADDRESS: 'nowhere' },
    });

    const failure = (await started.then(() => null, (error: unknown) => error)) as { code: number; stderr: string };
    expect(failure?.code).toBe(1);
    expect(failure.stderr).toMatch(/worker\.start_failed/);
    expect(failure.stderr).toMatch(/DATABASE_URL[\s\S]*GDS_SIDECAR_ADDRESS[\s\S]*GDS_WORKER_CONCURRENCY/);
  });
});
