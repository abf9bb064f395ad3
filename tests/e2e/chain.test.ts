// Chain notifications end to end with real parts: a real anvil, the API recording outbox rows, the outbox relay,
// three agent processes in chain mode (WatchAssignments never opened), the Python trainer, Postgres and Redis.
// The relay runs in tests/e2e/support/relay-process.mjs: the same library code (createOutboxRelay, a BullMQ worker
// on CHAIN_OUTBOX_QUEUE with concurrency 1, the backstop) that apps/worker runs once it registers the relay.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { EMBEDDED_CHAIN_ID } from '@gds/chain';
import type { TimelineEntry__Output } from '@gds/proto';

import { createTestLogger, startTestChain, type TestChain } from '../chain/support/chain.js';
import { createAgent, type TestAgent } from '../support/agents.js';
import { bearer, clientFor, closeClients, submitQuery, waitForStatus } from '../support/clients.js';
import { createCustomer, createTestDatabase, REDIS_URL, runPython, startApi, stopChild, type RunningApi, type TestDatabase } from '../support/stack.js';

const TRAINING = { epochs: 2, batchSize: 32, optimizer: 'sgd', learningRate: 0.1, loss: 'mse', seed: 5 };
const FINISHED = ['QUERY_STATUS_VERIFYING', 'QUERY_STATUS_COMPLETED', 'QUERY_STATUS_FAILED'];
const SUCCEEDED = Array(3).fill('EXECUTION_STATUS_SUCCEEDED');
const TX_HASH = /^0x[0-9a-f]{64}$/;

let chain: TestChain;
let db: TestDatabase;
let api: RunningApi;
let relay: ChildProcess;
let token: string;
let folder: string;
let model: Buffer;
const agents: TestAgent[] = [];
const chainLog = createTestLogger();
const queuePrefix = `gds-e2e-chain-${process.pid}`;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'gds-e2e-chain-'));
  const csvPath = join(folder, 'demo.csv');
  await runPython('gds_ml.demo_data', ['--out', csvPath, '--rows', '128', '--seed', '7']);
  await runPython('gds_ml.fixtures', ['--kind', 'torchscript', '--out', join(folder, 'model.pt'), '--seed', '3']);
  model = readFileSync(join(folder, 'model.pt'));

  chain = await startTestChain(chainLog.logger);
  db = await createTestDatabase();
  api = await startApi(db.url, chainEnv());
  relay = await startRelay();
  token = (await createCustomer(db.url)).token;

  for (const name of ['do-a', 'do-b', 'do-c']) {
    const extra = {
      concurrency: 2,
      notifications: 'chain',
      // As the demo does: the deployment file GDS's embedded chain writes.
      chain: {
        rpcUrl: chain.clients.endpoint.rpcUrl,
        wsUrl: chain.clients.wsUrl,
        chainId: EMBEDDED_CHAIN_ID,
        deploymentFile: join(chain.dataDir, 'chain.json'),
        backstopMs: 1000,
      },
    };
    agents.push(await createAgent({ address: api.address, folder: join(folder, name), name, datasetPath: csvPath, extra }));
  }
  agents.forEach((agent) => agent.start());
  await Promise.all(agents.map((agent) => waitUntil(() => has(agent, 'agent.chain.following'))));
}, 180_000);

afterAll(async () => {
  await Promise.all(agents.map((agent) => agent.stop()));
  keepLogs();
  closeClients();
  if (relay) await stopChild(relay);
  await api?.stop();
  await db?.drop();
  await chain?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** GDS_TEST_KEEP_LOGS=<dir>: the agents' log lines are written there (one JSON file per agent) to read a failure. */
function keepLogs(): void {
  const dir = process.env.GDS_TEST_KEEP_LOGS;
  if (!dir) return;

  mkdirSync(dir, { recursive: true });
  agents.forEach((agent, index) => writeFileSync(join(dir, `agent-${index}.jsonl`), agent.logs.map((line) => JSON.stringify(line)).join('\n')));
}

/** What the API and the relay are told: this test's anvil, the registry on it, anvil's first key for the relay. */
function chainEnv(): Record<string, string> {
  return {
    CHAIN_MODE: 'embedded',
    CHAIN_RPC_URL: chain.clients.endpoint.rpcUrl,
    CHAIN_WS_URL: chain.clients.wsUrl!,
    CHAIN_ID: String(EMBEDDED_CHAIN_ID),
    CHAIN_CONTRACT_ADDRESS: chain.deployment.address,
    CHAIN_DEPLOY_BLOCK: String(chain.deployment.deployBlock),
    CHAIN_DATA_DIR: chain.dataDir,
    // This file's own BullMQ keys: the API's kicks reach this relay and no other stack's worker.
    GDS_QUEUE_PREFIX: queuePrefix,
  };
}

async function startRelay(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'support/relay-process.mjs')], {
    env: { ...process.env, ...chainEnv(), DATABASE_URL: db.url, REDIS_URL, RELAY_BACKSTOP_MS: '1000', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => line.includes('"relay.ready"') && resolve());
  });

  return child;
}

function submit(): Promise<string> {
  return submitQuery(api.address, token, model, { header: { training: TRAINING } }).then((response) => response.queryId);
}

function timeline(queryId: string): Promise<TimelineEntry__Output[]> {
  return new Promise((resolve, reject) =>
    clientFor(api.address).GetQueryTimeline({ queryId }, bearer(token), (error, response) => (error ? reject(error) : resolve(response!.entries))),
  );
}

async function outboxStatuses(queryId: string): Promise<string[]> {
  const rows = await db.query<{ status: string }>('SELECT status FROM "ChainOutbox" WHERE "queryId" = $1 ORDER BY id', [queryId]);

  return rows.rows.map((row) => row.status);
}

async function waitConfirmed(queryId: string, count: number, timeoutMs = 60_000): Promise<void> {
  await waitUntilAsync(async () => {
    const statuses = await outboxStatuses(queryId);
    return statuses.length >= count && statuses.every((status) => status === 'CONFIRMED');
  }, timeoutMs);
}

function has(agent: TestAgent, event: string, queryId?: string): boolean {
  return agent.logs.some((line) => line.event === event && (queryId === undefined || line.queryId === queryId));
}

function count(agent: TestAgent, event: string, match: Record<string, unknown> = {}): number {
  return agent.logs.filter((line) => line.event === event && Object.entries(match).every(([key, value]) => line[key] === value)).length;
}

async function waitUntil(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  await waitUntilAsync(async () => condition(), timeoutMs);
}

async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function expectSucceeded(queryId: string): Promise<void> {
  const info = await waitForStatus(api.address, token, queryId, FINISHED, 180_000);
  expect(info.executions.map((execution) => execution.status)).toEqual(SUCCEEDED);
}

describe('chain notifications end to end', () => {
  it('should have three agents, woken by QuerySubmitted alone, complete a query with every step on the timeline', async () => {
    const queryId = await submit();

    await expectSucceeded(queryId);
    await waitConfirmed(queryId, 4);

    for (const agent of agents) {
      expect(count(agent, 'agent.chain.notified', { queryId })).toBe(1);
      expect(has(agent, 'watch.connected')).toBe(false);
    }
    const entries = await timeline(queryId);
    const kinds = entries.map((entry) => entry.kind);
    const chainEntries = entries.filter((entry) => entry.source === 'chain');
    expect(kinds.filter((kind) => kind === 'query.submitted')).toHaveLength(1);
    expect(kinds.filter((kind) => kind === 'execution.started')).toHaveLength(3);
    expect(kinds.filter((kind) => kind === 'execution.succeeded')).toHaveLength(3);
    expect(chainEntries.map((entry) => entry.kind).sort()).toEqual([
      'chain.ExecutionCompleted',
      'chain.ExecutionCompleted',
      'chain.ExecutionCompleted',
      'chain.QuerySubmitted',
    ]);
    for (const entry of chainEntries) {
      expect(entry).toMatchObject({ status: 'CONFIRMED', txHash: expect.stringMatching(TX_HASH) });
      expect(Number(entry.blockNumber)).toBeGreaterThan(0);
    }
    expect(new Set(chainEntries.map((entry) => entry.txHash)).size).toBe(4);
    // In order: announced after it was submitted, each result announced after it succeeded.
    expect(kinds.indexOf('chain.QuerySubmitted')).toBeGreaterThan(kinds.indexOf('query.submitted'));
    expect(kinds.lastIndexOf('chain.ExecutionCompleted')).toBeGreaterThan(kinds.indexOf('execution.succeeded'));
    const times = entries.map((entry) => BigInt(entry.atNs));
    expect(times).toEqual([...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('should handle every QuerySubmitted exactly once across SIGKILLs between events and in the middle of a batch', async () => {
    const victim = agents[0];

    // Between events: the first one handled (its cursor saved a moment later), the next one arrives while down.
    const first = await submit();
    await waitUntil(() => has(victim, 'agent.chain.notified', first));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await victim.kill();
    const second = await submit();
    await waitConfirmed(second, 1);
    victim.start();
    await waitUntil(() => has(victim, 'agent.chain.notified', second));

    // Mid-batch: eight announcements wait on chain while the agent is down; it is killed as it works through them.
    await victim.kill();
    const batch: string[] = [];
    for (let index = 0; index < 8; index += 1) batch.push(await submit());
    await Promise.all(batch.map((queryId) => waitConfirmed(queryId, 1)));
    const linesBefore = victim.logs.length;
    victim.start();
    await waitUntil(() => victim.logs.slice(linesBefore).some((line) => line.event === 'agent.chain.notified'), 30_000);
    await victim.kill();
    const handledBeforeKill = batch.filter((queryId) => has(victim, 'agent.chain.notified', queryId)).length;
    victim.start();

    const queries = [first, second, ...batch];
    for (const queryId of queries) await expectSucceeded(queryId);
    await Promise.all(queries.map((queryId) => waitUntil(() => has(victim, 'execution.finished', queryId))));

    // Printed for the report: how far into the batch the kill landed.
    process.stdout.write(`${JSON.stringify({ event: 'test.mid_batch_kill', handledBeforeKill, batch: batch.length })}\n`);
    expect(handledBeforeKill).toBeLessThan(batch.length);
    for (const queryId of queries) {
      for (const agent of agents) {
        expect(count(agent, 'agent.chain.notified', { queryId })).toBe(1);
        expect(count(agent, 'execution.finished', { queryId, outcome: 'uploaded' })).toBe(1);
      }
    }
  }, 400_000);

  it('should deliver what was pending once a restarted chain is back, and notice a reset chain without redoing work', async () => {
    // Restart, same state: a query submitted while anvil is down is announced when it is back.
    await chain.supervisor.stop();
    const whileDown = await submit();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await outboxStatuses(whileDown)).not.toContain('CONFIRMED');
    await chain.restart();
    await expectSucceeded(whileDown);
    await waitConfirmed(whileDown, 4);
    for (const agent of agents) expect(has(agent, 'chain.reset_detected')).toBe(false);

    // Reset: a fresh chain, the registry deployed again (same operator key and nonce: same address).
    const finishedBefore = agents.map((agent) => count(agent, 'execution.finished'));
    const notifiedBefore = agents.map((agent) => count(agent, 'agent.chain.notified'));
    await chain.restart({ isFresh: true });
    await Promise.all(agents.map((agent) => waitUntil(() => has(agent, 'chain.reset_detected'))));

    const afterReset = await submit();
    await expectSucceeded(afterReset);
    await waitConfirmed(afterReset, 4);

    agents.forEach((agent, index) => {
      expect(count(agent, 'agent.chain.notified', { queryId: afterReset })).toBe(1);
      // One new notification and one new execution each: the replayed history was recognised, nothing redone.
      expect(count(agent, 'agent.chain.notified')).toBe(notifiedBefore[index] + 1);
      expect(count(agent, 'execution.finished')).toBe(finishedBefore[index] + 1);
    });
  }, 300_000);
});
