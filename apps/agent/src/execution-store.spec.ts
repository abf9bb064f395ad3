import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import { ExecutionPhase, ExecutionStore, ResumeStep, type ExecutionRecord } from './execution-store.js';

describe('ExecutionStore', () => {
  let stateDir: string;
  let store: ExecutionStore;

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'gds-agent-store-'));
    store = new ExecutionStore(stateDir);
  });

  afterEach(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  function record(overrides: Partial<ExecutionRecord> = {}): Omit<ExecutionRecord, 'updatedAt'> {
    return { executionId: 'ex-1', queryId: 'q-1', phase: ExecutionPhase.DOWNLOADING, ...overrides };
  }

  async function resultFile(content: string) {
    const path = join(stateDir, 'result.pt');
    await writeFile(path, content);

    return { path, sha256: createHash('sha256').update(content).digest('hex'), size: Buffer.byteLength(content) };
  }

  it('should read back what it saved and leave no temp file behind', async () => {
    await store.save(record({ phase: ExecutionPhase.TRAINING }));

    expect(await store.get('ex-1')).toMatchObject({ phase: ExecutionPhase.TRAINING, queryId: 'q-1' });
    expect(await readdir(store.folder)).toEqual(['ex-1.json']);
  });

  it('should return undefined for an unknown execution', async () => {
    expect(await store.get('ex-missing')).toBeUndefined();
  });

  it('should refuse an execution id that could escape the state folder', async () => {
    await expect(store.save(record({ executionId: '../../etc/passwd' }))).rejects.toThrow(/unsafe execution id/);
  });

  it.each([ExecutionPhase.UPLOADED, ExecutionPhase.FAILED_REPORTED, ExecutionPhase.CANCELLED])(
    'should skip an execution that is %s',
    async (phase) => {
      const saved = await store.save(record({ phase }));

      expect(await store.resumeStep(saved)).toBe(ResumeStep.SKIP);
    },
  );

  it('should resume at upload when the trained result is intact', async () => {
    const result = { ...(await resultFile('weights')), startedAtNs: '1', finishedAtNs: '2' };
    const saved = await store.save(record({ phase: ExecutionPhase.TRAINED, result }));

    expect(await store.resumeStep(saved)).toBe(ResumeStep.UPLOAD);
  });

  it('should restart from download when the trained result changed', async () => {
    const result = { ...(await resultFile('weights')), startedAtNs: '1', finishedAtNs: '2' };
    await writeFile(result.path, 'WEIGHTS');
    const saved = await store.save(record({ phase: ExecutionPhase.TRAINED, result }));

    expect(await store.resumeStep(saved)).toBe(ResumeStep.DOWNLOAD);
  });

  it('should restart from download when the trained result is gone', async () => {
    const result = { path: join(stateDir, 'gone.pt'), sha256: 'a'.repeat(64), size: 3, startedAtNs: '1', finishedAtNs: '2' };
    const saved = await store.save(record({ phase: ExecutionPhase.TRAINED, result }));

    expect(await store.resumeStep(saved)).toBe(ResumeStep.DOWNLOAD);
  });

  it.each([ExecutionPhase.DOWNLOADING, ExecutionPhase.TRAINING])('should restart from download when %s', async (phase) => {
    const saved = await store.save(record({ phase }));

    expect(await store.resumeStep(saved)).toBe(ResumeStep.DOWNLOAD);
  });

  it('should resend a failure that was decided but not acknowledged', async () => {
    const saved = await store.save(record({ phase: ExecutionPhase.FAILING, error: { code: 'HASH_MISMATCH', message: 'x' } }));

    expect(await store.resumeStep(saved)).toBe(ResumeStep.REPORT_FAILURE);
  });

  it('should list saved executions and ignore stray files', async () => {
    await store.save(record({ executionId: 'ex-1' }));
    await store.save(record({ executionId: 'ex-2', phase: ExecutionPhase.UPLOADED }));
    await writeFile(join(store.folder, 'notes.txt'), 'hello');

    const ids = (await store.list()).map((saved) => saved.executionId).sort();

    expect(ids).toEqual(['ex-1', 'ex-2']);
  });
});
