// The whole query lifecycle with real parts: the API, three agent processes, the Python trainer, Postgres, Redis.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { createAgent, type TestAgent } from '../support/agents.js';
import { closeClients, getExecutionInfo, submitQuery, waitForStatus } from '../support/clients.js';
import { createCustomer, createTestDatabase, runPython, startApi, type RunningApi, type TestDatabase } from '../support/stack.js';

const TRAINING = { epochs: 4, batchSize: 16, optimizer: 'sgd', learningRate: 0.1, loss: 'mse', seed: 11 };
const FEATURES = 'x1,x2,x3,x4,x5';
const FINISHED = ['QUERY_STATUS_VERIFYING', 'QUERY_STATUS_COMPLETED', 'QUERY_STATUS_FAILED'];

let db: TestDatabase;
let api: RunningApi;
let token: string;
let folder: string;
let csvPath: string;
let agents: TestAgent[] = [];

async function fixture(kind: string, extra: string[] = []): Promise<string> {
  const path = join(folder, `model-${kind}.bin`);
  await runPython('gds_ml.fixtures', ['--kind', kind, '--out', path, '--seed', '3', ...extra]);
  return path;
}

/** Trains the model directly in Python, as a Data Owner would, to compare with what came back through GDS. */
async function referenceTraining(modelPath: string, out: string): Promise<void> {
  await runPython('gds_ml.train', [
    '--query-id', 'reference', '--model', modelPath, '--data', csvPath, '--features', FEATURES, '--label', 'y',
    '--spec', JSON.stringify(TRAINING), '--out', out, '--allow-pickle', '--module-alias', '__main__=gds_ml.demo_models',
    '--threads', '1',
  ]);
}

async function statesEqual(a: string, b: string): Promise<boolean> {
  return runPython('gds_ml.compare', [a, b]).then(
    () => true,
    () => false,
  );
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'gds-e2e-'));
  csvPath = join(folder, 'demo.csv');
  await runPython('gds_ml.demo_data', ['--out', csvPath, '--rows', '256', '--seed', '7']);

  db = await createTestDatabase();
  api = await startApi(db.url);
  token = (await createCustomer(db.url)).token;
  for (const name of ['do-a', 'do-b', 'do-c']) {
    agents.push(await createAgent({ address: api.address, folder: join(folder, name), name, datasetPath: csvPath }));
  }
  agents.forEach((agent) => agent.start());
});

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  closeClients();
  await api?.stop();
  await db?.drop();
  rmSync(folder, { recursive: true, force: true });
});

describe('the query lifecycle with three agents', () => {
  it.each(['torch_save', 'pickle', 'torchscript'])(
    'should return, for a %s model, the state_dict a direct training with the same seed gives, from every Data Owner',
    async (kind) => {
      const modelPath = await fixture(kind);
      const model = readFileSync(modelPath);

      const { queryId } = await submitQuery(api.address, token, model, { header: { training: TRAINING } });
      const info = await waitForStatus(api.address, token, queryId, FINISHED);

      expect(info.executions.map((e) => e.status)).toEqual(Array(3).fill('EXECUTION_STATUS_SUCCEEDED'));
      const reference = join(folder, `reference-${kind}.pt`);
      await referenceTraining(modelPath, reference);
      for (const execution of info.executions) {
        const { result, info: withResult } = await getExecutionInfo(api.address, token, queryId, execution.executionId);
        const downloaded = join(folder, `result-${kind}-${execution.executionId}.pt`);
        writeFileSync(downloaded, result);
        expect(withResult.result!.sha256).toBe(execution.resultSha256);
        expect(await statesEqual(reference, downloaded)).toBe(true);
        expect(execution.progress).toMatchObject({ epoch: TRAINING.epochs, totalEpochs: TRAINING.epochs });
        expect(BigInt(execution.finishedAtNs)).toBeGreaterThan(BigInt(execution.startedAtNs));
      }
    },
  );

  it('should fail every execution with CLASS_NOT_FOUND naming the class when the pickled class cannot be resolved', async () => {
    const model = readFileSync(await fixture('unresolvable'));

    const { queryId } = await submitQuery(api.address, token, model, { header: { training: TRAINING } });
    const info = await waitForStatus(api.address, token, queryId, ['QUERY_STATUS_FAILED']);

    for (const execution of info.executions) {
      expect(execution.status).toBe('EXECUTION_STATUS_FAILED');
      expect(execution.error).toMatchObject({ code: 'CLASS_NOT_FOUND' });
      expect(execution.error!.message).toContain('__main__.MissingNet');
    }
  });

  it('should refuse a pickle whose loading would run a command, without running it', async () => {
    const marker = join(folder, 'pwned');
    const model = readFileSync(await fixture('malicious', ['--marker', marker]));

    const { queryId } = await submitQuery(api.address, token, model, { header: { training: TRAINING } });
    const info = await waitForStatus(api.address, token, queryId, ['QUERY_STATUS_FAILED']);

    expect(info.executions.map((e) => e.error?.code)).toEqual(Array(3).fill('FORBIDDEN_GLOBAL'));
    expect(info.executions[0].error!.message).toMatch(/system/);
    expect(existsSync(marker)).toBe(false);
  });

  it('should refuse a pickled model at a Data Owner that did not opt in, with PICKLE_NOT_ALLOWED', async () => {
    const strict = await createAgent({
      address: api.address,
      folder: join(folder, 'do-strict'),
      name: 'do-strict',
      datasetPath: csvPath,
      datasetName: 'strict',
      allowPickle: false,
    });
    strict.start();
    agents.push(strict);
    const model = readFileSync(await fixture('pickle'));

    const { queryId } = await submitQuery(api.address, token, model, {
      header: { training: TRAINING, dataset: 'strict', replication: 1 },
    });
    const info = await waitForStatus(api.address, token, queryId, ['QUERY_STATUS_FAILED']);

    expect(info.executions[0].error).toMatchObject({ code: 'PICKLE_NOT_ALLOWED' });
  });

  it('should finish a query after an agent is killed mid-training, and redo nothing after a restart', async () => {
    const model = readFileSync(await fixture('torchscript'));
    const long = { ...TRAINING, epochs: 150 };

    const { queryId, assignedDataOwnerIds } = await submitQuery(api.address, token, model, { header: { training: long } });
    // Four agents now hold the dataset's bytes (the strict one under another name): kill one that was assigned.
    const victim = agents.find((agent) => assignedDataOwnerIds.includes(agent.dataOwnerId))!;
    await waitForProgress(queryId, victim.dataOwnerId);
    await victim.kill();
    victim.start();
    const info = await waitForStatus(api.address, token, queryId, FINISHED);
    expect(info.executions.map((e) => e.status)).toEqual(Array(3).fill('EXECUTION_STATUS_SUCCEEDED'));
    // The server records the result before the agent logs that it is done.
    await waitUntil(() => victim.logs.some((line) => line.event === 'execution.finished' && line.queryId === queryId));

    const uploadsBefore = countUploads(victim);
    const connectsBefore = countConnects(victim);
    await victim.stop();
    victim.start();
    await waitUntil(() => countConnects(victim) > connectsBefore);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(countUploads(victim)).toBe(uploadsBefore);
  }, 300_000);
});

/** Waits until the Data Owner reported at least one epoch of the query: it is training now. */
async function waitForProgress(queryId: string, dataOwnerId: string): Promise<void> {
  // Generous: under a loaded CI machine, starting torch in the trainer's sandbox alone can take many seconds.
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const { info } = await getExecutionInfo(api.address, token, queryId);
    if (info.executions.find((e) => e.dataOwnerId === dataOwnerId)?.progress) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no progress reported within 120 s');
}

function countConnects(agent: TestAgent): number {
  return agent.logs.filter((line) => line.event === 'watch.connected').length;
}

function countUploads(agent: TestAgent): number {
  return agent.logs.filter((line) => line.event === 'execution.finished' || line.event === 'trainer.spawned').length;
}

async function waitUntil(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
