// The outbox relay against real Postgres, a real anvil and (for the queue) a real Redis: every row reaches the
// chain exactly once across relay crashes, chain restarts, lost blocks, a chain reset and a Redis restart.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue, Worker } from 'bullmq';
import { type Address, type Hex } from 'viem';

import {
  type ChainEventPayload,
  decodeRegistryLog,
  deployRegistry,
  DEV_PRIVATE_KEYS,
  ensureEmbeddedChain,
  parseChainConfig, outboxRecord, type RegistryEvent, REGISTRY_EVENT_TOPICS } from '@gds/chain';
import {
  CHAIN_OUTBOX_QUEUE,
  type ChainOutboxJob,
  createOutboxProcessor,
  createOutboxRelay,
  OutboxRelay,
  OutboxScheduler,
} from '@gds/chain/outbox';
import { createPrismaClient, type PrismaClient } from '@gds/db';

import { buildTimelines } from '../../apps/api/src/query/timeline.js';
import { createTestDatabase, type TestDatabase } from '../support/stack.js';
import { createQuery, createTestLogger, freePort, operator, rpc, sendEvent, startTestChain, stranger, type TestChain } from './support/chain.js';

let db: TestDatabase;
let prisma: PrismaClient;
let chain: TestChain;
const log = createTestLogger();

beforeAll(async () => {
  db = await createTestDatabase();
  prisma = createPrismaClient(db.url, 6);
  chain = await startTestChain(log.logger);
});

afterAll(async () => {
  await prisma?.$disconnect();
  await db?.drop();
  await chain?.stop();
});

afterEach(async () => {
  // Each test starts from an empty outbox (rows of earlier tests stay on chain, which is what a reset test needs).
  await prisma.chainOutbox.deleteMany({});
});

function relayFor(overrides: Partial<ConstructorParameters<typeof OutboxRelay>[0]> = {}): OutboxRelay {
  return new OutboxRelay({
    prisma,
    clients: chain.clients,
    account: operator,
    contractAddress: chain.deployment.address,
    resendAfterMs: 60_000,
    logger: log.logger,
    ...overrides,
  });
}

/** Runs one relay pass in a process of its own (tests/chain/support/relay-process.mjs). */
function runRelayProcess(options: { crashBeforeBroadcast: boolean }): Promise<{ stdout: string; signal: string | null }> {
  const args = {
    databaseUrl: db.url,
    rpcUrl: chain.clients.endpoint.rpcUrl,
    chainId: chain.clients.chain.id,
    contractAddress: chain.deployment.address,
    privateKey: DEV_PRIVATE_KEYS[0],
    ...options,
  };
  const child = spawn(process.execPath, [join(import.meta.dirname, 'support/relay-process.mjs'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout!.on('data', (data) => (stdout += data));

  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve({ stdout, signal })));
}

/** Outbox rows for a new query: submitted, two results, a progress line, the verdict (in this order). */
async function recordQueryLifecycle(): Promise<string> {
  const { queryId, customerId, dataOwnerIds } = await createQuery(prisma);
  const records = [
    outboxRecord('QUERY_SUBMITTED', { queryId, customerId, datasetHash: 'aa'.repeat(32), modelHash: 'bb'.repeat(32), dataOwnerIds }),
    outboxRecord('EXECUTION_COMPLETED', { queryId, dataOwnerId: dataOwnerIds[0], resultHash: 'cc'.repeat(32) }),
    outboxRecord('PROGRESS_LOGGED', { queryId, dataOwnerId: dataOwnerIds[1], payload: 'epoch 1/2' }, 'epoch:1'),
    outboxRecord('EXECUTION_COMPLETED', { queryId, dataOwnerId: dataOwnerIds[1], resultHash: 'cc'.repeat(32) }),
    outboxRecord('QUERY_VERIFIED', { queryId, verdict: 'CONSISTENT', canonicalResultHash: 'cc'.repeat(32) }),
  ];
  await prisma.$transaction(records.map((data) => prisma.chainOutbox.create({ data })));

  return queryId;
}

/** The registry's successful announcements about a query, in chain order. */
async function announcementsOf(queryId: string, address: Address = chain.deployment.address): Promise<RegistryEvent[]> {
  const logs = await chain.clients.public.getLogs({ address, fromBlock: 0n, toBlock: 'latest' });

  return logs
    .filter((entry) => Object.values(REGISTRY_EVENT_TOPICS).includes(entry.topics[0] as Hex))
    .map((entry) => decodeRegistryLog(entry as never))
    .filter((event) => event.queryId === queryId);
}

async function rowsOf(queryId: string) {
  return prisma.chainOutbox.findMany({ where: { queryId }, orderBy: { id: 'asc' } });
}

async function expectAllConfirmedOnce(queryId: string, address?: Address): Promise<void> {
  const rows = await rowsOf(queryId);
  const announced = await announcementsOf(queryId, address);

  expect(rows.map((row) => row.status)).toEqual(rows.map(() => 'CONFIRMED'));
  expect(announced.map((event) => event.kind)).toEqual(rows.map((row) => row.kind));
  for (const row of rows) {
    const receipt = await chain.clients.public.getTransactionReceipt({ hash: row.txHash as Hex });
    expect(receipt.blockHash).toBe(row.blockHash);
    expect(receipt.logs.find((entry) => entry.logIndex === row.logIndex)).toBeDefined();
  }
}

describe('OutboxRelay', () => {
  it('should send pending rows in id order and record tx hash, block and log index', async () => {
    const queryId = await recordQueryLifecycle();

    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ sent: 5, confirmed: 5, pending: 0, unconfirmed: 0, isLockBusy: false });
    await expectAllConfirmedOnce(queryId);
    const rows = await rowsOf(queryId);
    expect(rows.map((row) => Number(row.nonce))).toEqual([...rows.map((row) => Number(row.nonce))].sort((a, b) => a - b));
    expect(rows.every((row) => row.signer === operator.address && row.sentAt && row.confirmedAt)).toBe(true);
  });

  it('should broadcast the recorded bytes again when the relay was SIGKILLed between recording SENT and broadcasting', async () => {
    const queryId = await recordQueryLifecycle();

    const crashed = await runRelayProcess({ crashBeforeBroadcast: true });
    expect(crashed.signal).toBe('SIGKILL');
    const recorded = await rowsOf(queryId);
    expect(recorded.every((row) => row.status === 'SENT' && row.rawTx && row.txHash)).toBe(true);
    expect(await announcementsOf(queryId)).toHaveLength(0);

    // A new process: the advisory lock died with the old one's connection.
    const restarted = await runRelayProcess({ crashBeforeBroadcast: false });

    expect(JSON.parse(restarted.stdout)).toMatchObject({ rebroadcast: 5, sent: 0, confirmed: 5 });
    await expectAllConfirmedOnce(queryId);
    expect((await rowsOf(queryId)).map((row) => row.txHash)).toEqual(recorded.map((row) => row.txHash));
  });

  it('should confirm what was sent before the chain restarted, and send what was pending while it was down', async () => {
    await rpc(chain.clients, 'evm_setAutomine', [false]);
    const first = await recordQueryLifecycle();
    const sent = await relayFor().runOnce();
    expect(sent).toMatchObject({ sent: 5, confirmed: 0, unconfirmed: 5 });

    // Down with the transactions in its pool (lost: anvil keeps no pool across restarts), rows SENT.
    await chain.supervisor.stop();
    const second = await recordQueryLifecycle();
    await expect(relayFor().runOnce()).rejects.toThrow(/does not answer|HTTP request failed/);

    await chain.restart();
    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ rebroadcast: 5, sent: 5, confirmed: 10, pending: 0, unconfirmed: 0 });
    await expectAllConfirmedOnce(first);
    await expectAllConfirmedOnce(second);
  });

  it('should send rows of blocks the chain lost again, with the same transactions', async () => {
    const snapshot = await rpc<Hex>(chain.clients, 'evm_snapshot');
    const queryId = await recordQueryLifecycle();
    await relayFor().runOnce();
    const confirmed = await rowsOf(queryId);

    // As after anvil is SIGKILLed within --state-interval: the last blocks are gone.
    await rpc(chain.clients, 'evm_revert', [snapshot]);
    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ undone: 5, rebroadcast: 5, confirmed: 5, requeued: 0 });
    expect(log.events('chain.outbox.blocks_lost').length).toBeGreaterThan(0);
    await expectAllConfirmedOnce(queryId);
    const again = await rowsOf(queryId);
    expect(again.map((row) => row.txHash)).toEqual(confirmed.map((row) => row.txHash));
    expect(again.map((row) => row.blockHash)).not.toEqual(confirmed.map((row) => row.blockHash));
  });

  it('should send everything again after a chain reset that redeployed the registry at another address', async () => {
    const queryId = await recordQueryLifecycle();
    await relayFor().runOnce();

    // A fresh chain where the operator's nonce 0 went elsewhere, so the registry lands at a new address: the old
    // signed bytes would call an empty address, so they are signed again for the new registry.
    await chain.restart({ isFresh: true });
    await sendEvent(chain.clients, chain.deployment.address, { kind: 'PROGRESS_LOGGED', queryId, dataOwnerId: randomUUID(), payload: 'x' });
    const moved = await deployRegistry(chain.clients, operator);
    const relay = relayFor({ contractAddress: moved.address });

    const result = await relay.runOnce();

    expect(result.undone).toBe(5);
    expect(result.confirmed).toBe(5);
    await expectAllConfirmedOnce(queryId, moved.address);
  });

  it('should re-send confirmed rows on a reset chain where the registry came back at the same address', async () => {
    const queryId = await recordQueryLifecycle();
    await relayFor().runOnce();

    // The old transactions' nonces are far above the fresh chain's: they are signed again from its nonce.
    await chain.restart({ isFresh: true });
    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ undone: 5, confirmed: 5 });
    await expectAllConfirmedOnce(queryId);
  });

  it('should wait for CHAIN_CONFIRMATIONS blocks on top before confirming', async () => {
    const queryId = await recordQueryLifecycle();
    await rpc(chain.clients, 'evm_setAutomine', [false]);
    await relayFor({ confirmations: 2 }).runOnce();
    await rpc(chain.clients, 'evm_mine');
    await rpc(chain.clients, 'evm_setAutomine', [true]);

    const minedOnly = await relayFor({ confirmations: 2 }).runOnce();
    await rpc(chain.clients, 'anvil_mine', ['0x2']);
    const covered = await relayFor({ confirmations: 2 }).runOnce();

    expect(minedOnly).toMatchObject({ confirmed: 0, unconfirmed: 5 });
    expect(covered).toMatchObject({ confirmed: 5, unconfirmed: 0 });
    await expectAllConfirmedOnce(queryId);
  });

  it('should mark a repeated announcement REJECTED as harmless, and keep going', async () => {
    const { queryId, customerId, dataOwnerIds } = await createQuery(prisma);
    const payload: ChainEventPayload<'QUERY_SUBMITTED'> = { queryId, customerId, datasetHash: 'aa'.repeat(32), modelHash: 'bb'.repeat(32), dataOwnerIds };
    // Already on chain, unknown to the outbox (a database restored from an older backup).
    await sendEvent(chain.clients, chain.deployment.address, { kind: 'QUERY_SUBMITTED', ...payload });
    await prisma.chainOutbox.create({ data: outboxRecord('QUERY_SUBMITTED', payload) });
    await prisma.chainOutbox.create({ data: outboxRecord('EXECUTION_COMPLETED', { queryId, dataOwnerId: dataOwnerIds[0], resultHash: 'dd'.repeat(32) }) });

    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ sent: 2, rejected: 1, confirmed: 1 });
    const [submitted, completed] = await rowsOf(queryId);
    expect(submitted).toMatchObject({ status: 'REJECTED', lastError: 'QueryAlreadySubmitted' });
    expect(completed.status).toBe('CONFIRMED');
    expect(log.events('chain.outbox.already_announced').some((line) => line.queryId === queryId)).toBe(true);
  });

  it('should reject a row whose payload was damaged, and send the others', async () => {
    const queryId = await recordQueryLifecycle();
    const [first] = await rowsOf(queryId);
    await prisma.chainOutbox.update({ where: { id: first.id }, data: { payload: { queryId, datasetHash: 'not a hash' } } });
    const rest = await prisma.chainOutbox.findMany({ where: { queryId, NOT: { id: first.id } } });
    await prisma.chainOutbox.deleteMany({ where: { id: { in: rest.map((row) => row.id) } } });
    const other = await recordQueryLifecycle();

    const result = await relayFor().runOnce();

    expect(result).toMatchObject({ rejected: 1, confirmed: 5 });
    expect((await rowsOf(queryId))[0]).toMatchObject({ status: 'REJECTED', txHash: null });
    await expectAllConfirmedOnce(other);
  });

  it('should serialise passes of one key across relays, so that nothing is sent twice', async () => {
    const queries = await Promise.all([recordQueryLifecycle(), recordQueryLifecycle(), recordQueryLifecycle()]);

    const results = await Promise.all([relayFor().runOnce(), relayFor().runOnce(), relayFor().runOnce()]);

    expect(results.reduce((sum, result) => sum + result.sent, 0)).toBe(15);
    for (const queryId of queries) await expectAllConfirmedOnce(queryId);
  });

  it('should build the relay from the environment in embedded mode, on the anvil already running', async () => {
    const env = { CHAIN_MODE: 'embedded', CHAIN_DATA_DIR: chain.dataDir, CHAIN_ANVIL_PORT: String(chain.port) };
    const config = parseChainConfig(env, { needsSigner: true });
    const embedded = await ensureEmbeddedChain(config, log.logger);
    expect(embedded.deployment.address).toBe(chain.deployment.address);
    expect(log.events('chain.anvil.reused').length).toBeGreaterThan(0);
    const queryId = await recordQueryLifecycle();

    const result = await createOutboxRelay(config, { prisma, logger: log.logger }).runOnce();

    expect(result).toMatchObject({ sent: 5, confirmed: 5 });
    await expectAllConfirmedOnce(queryId);
  });

  it('should refuse to sign when its key is not the registry operator', async () => {
    const relay = relayFor({ account: stranger });

    await expect(relay.runOnce()).rejects.toThrow(/is operated by 0x.*CHAIN_PRIVATE_KEY signs for/);
  });

  it('should give one timeline of service and chain events with tx hashes', async () => {
    const queryId = await recordQueryLifecycle();
    await prisma.queryEvent.create({ data: { queryId, kind: 'query.submitted', at: new Date(Date.now() - 1000) } });
    await relayFor().runOnce();
    await prisma.queryEvent.create({ data: { queryId, kind: 'execution.started', detail: { epoch: 0 } } });

    const timeline = (await buildTimelines(prisma, [queryId])).get(queryId)!;

    expect(timeline.map((entry) => `${entry.source}:${entry.kind}`)).toEqual([
      'service:query.submitted',
      'chain:chain.QuerySubmitted',
      'chain:chain.ExecutionCompleted',
      'chain:chain.ProgressLogged',
      'chain:chain.ExecutionCompleted',
      'chain:chain.QueryVerified',
      'service:execution.started',
    ]);
    const chainEntries = timeline.filter((entry) => entry.source === 'chain');
    expect(chainEntries.every((entry) => entry.txHash && entry.blockNumber && entry.status === 'CONFIRMED')).toBe(true);
  });
});

describe('the chain-outbox queue', () => {
  let redis: ChildProcess;
  let redisPort: number;

  function startRedis(): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
      const child = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
      child.once('error', reject);
      child.stdout!.on('data', (data: Buffer) => {
        if (data.toString().includes('Ready to accept connections')) resolve(child);
      });
    });
  }

  async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    redisPort = await freePort();
    redis = await startRedis();
  });

  afterAll(() => {
    redis?.kill('SIGKILL');
  });

  it('should deliver rows committed while Redis was down, through the worker backstop', async () => {
    const connection = { host: '127.0.0.1', port: redisPort, maxRetriesPerRequest: null, retryStrategy: () => 100 };
    const queue = new Queue<ChainOutboxJob>(CHAIN_OUTBOX_QUEUE, { connection });
    queue.on('error', () => {});
    const scheduler = new OutboxScheduler(queue, log.logger);
    const processor = createOutboxProcessor({ relay: relayFor(), logger: log.logger, scheduler });
    const worker = new Worker<ChainOutboxJob>(CHAIN_OUTBOX_QUEUE, processor, { connection, concurrency: 1 });
    worker.on('error', () => {});
    scheduler.startBackstop(500);

    try {
      const first = await recordQueryLifecycle();
      scheduler.kick();
      await waitFor(async () => (await rowsOf(first)).every((row) => row.status === 'CONFIRMED'));

      redis.kill('SIGKILL');
      const second = await recordQueryLifecycle();
      scheduler.kick();
      await new Promise((resolve) => setTimeout(resolve, 500));
      redis = await startRedis();

      await waitFor(async () => (await rowsOf(second)).every((row) => row.status === 'CONFIRMED'));
      await expectAllConfirmedOnce(first);
      await expectAllConfirmedOnce(second);
    } finally {
      scheduler.close();
      await worker.close(true);
      await queue.close();
    }
  });
});
