#!/usr/bin/env node
// Notification bench: how long from announcing a query to every assigned agent knowing, beside the chain's own
// round trip measured in the same run on the same anvil (automine unless --block-time).
//
//   node bench/notify/run.mjs [--count 60] [--agents 3] [--gap-ms 40] [--block-time 0] [--skip-outbox] [--skip-agents]
//
// 1. chain:  a signed transaction sent raw → the log seen by a ChainSubscriber in another process.
// 2. outbox: a query row and its QUERY_SUBMITTED outbox row committed in one transaction, a kick on the
//            chain-outbox BullMQ queue, the relay pass in a BullMQ worker → every one of `--agents` subscriber
//            processes has it.
// 3. submit → agents, the path end to end: SubmitQuery returns from the real API (CHAIN_MODE on) → the
//            relay (tests/e2e/support/relay-process.mjs, the worker's library code) → `--agents` reference agents in
//            chain mode each log `agent.chain.notified`, i.e. have the QuerySubmitted and GDS confirmed it
//            (GetQueryInfo's header). Per (query, agent) pair, from the agents' log `time` (same machine clock).
// Target with automine: p95 < 250 ms and at most 150 ms above the chain's own p95 (for 2 and 3).
// Needs Postgres (DATABASE_URL, default the local server) and Redis (REDIS_URL) for steps 2 and 3, and step 3 the
// built API and agent; builds nothing: run `node scripts/build.mjs` (or `npx tsc -b libs/chain apps/api apps/agent`)
// first. Writes bench/out/notify.json and bench/out/notify.md. Exits 1 on a missed target.
// BENCH_NOTIFY_TRACE=<dir> keeps step 3's API, relay and agent log lines there (one file per process).
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { Queue, Worker } from 'bullmq';
import pg from 'pg';

import { accountFromKey, DEV_PRIVATE_KEYS, EMBEDDED_CHAIN_ID, encodeRegistryCall, eventKey, gasLimitFor, outboxRecord, startEmbeddedChain } from '@gds/chain';
import { CHAIN_OUTBOX_QUEUE, createOutboxProcessor, OutboxRelay, OutboxScheduler } from '@gds/chain/outbox';
import { createLogger } from '@gds/common';
import { createPrismaClient } from '@gds/db';

import { applyMigrations } from '../../scripts/lib/migrate.mjs';
import { createScriptLogger, redactUrl } from '../../scripts/lib/stack.mjs';
import { startNotifyStack } from './stack.mjs';

const TARGET_P95_MS = 250;
const TARGET_OVER_CHAIN_MS = 150;

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const log = createScriptLogger('bench-notify', { stream: process.stderr });
const quiet = createLogger('bench-notify', 'warn');

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '60' },
    agents: { type: 'string', default: '3' },
    'gap-ms': { type: 'string', default: '40' },
    'block-time': { type: 'string', default: '0' },
    'skip-outbox': { type: 'boolean', default: false },
    'skip-agents': { type: 'boolean', default: false },
  },
});
const count = Number(args.count);
const agentCount = Number(args.agents);
const gapMs = Number(args['gap-ms']);
const blockTime = Number(args['block-time']);
if (!(count >= 50)) throw new Error(`--count must be at least 50 (p95 over fewer says little); got ${args.count}`);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const now = () => performance.now();

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

function summarise(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (value) => Math.round(value * 10) / 10;

  return { n: sorted.length, p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), max: round(sorted.at(-1)) };
}

// ---------------------------------------------------------------------------------------------------------------
// Subscriber processes ("agents")

/** Starts `n` subscriber processes; `waitAll(key)` resolves when every one of them delivered `key`. */
async function startAgents(n, chain) {
  const options = {
    rpcUrl: chain.clients.endpoint.rpcUrl,
    wsUrl: chain.clients.wsUrl,
    chainId: EMBEDDED_CHAIN_ID,
    contractAddress: chain.deployment.address,
    deployBlock: (await chain.clients.public.getBlockNumber()).toString(),
  };
  const seen = new Map();
  const waiters = new Map();
  const children = [];

  for (let index = 0; index < n; index += 1) {
    const child = fork(join(dirname(fileURLToPath(import.meta.url)), 'subscriber.mjs'), [JSON.stringify(options)], { stdio: 'inherit' });
    await new Promise((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`subscriber exited with ${code}`)));
      child.on('message', (message) => {
        if (message.ready) return resolve();

        const count = (seen.get(message.key) ?? 0) + 1;
        seen.set(message.key, count);
        if (count === n) waiters.get(message.key)?.(now());
      });
    });
    children.push(child);
  }

  return {
    waitAll: (key) => new Promise((resolve) => (seen.get(key) === n ? resolve(now()) : waiters.set(key, resolve))),
    stop: () => children.forEach((child) => child.disconnect()),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The chain's own round trip

async function measureChain(chain, agents, account) {
  const client = chain.clients.public;
  let nonce = await client.getTransactionCount({ address: account.address, blockTag: 'pending' });
  const samples = [];

  for (let index = 0; index < count; index += 1) {
    const event = { kind: 'QUERY_SUBMITTED', queryId: randomUUID(), customerId: randomUUID(), datasetHash: 'ab'.repeat(32), modelHash: 'cd'.repeat(32), dataOwnerIds: [randomUUID(), randomUUID(), randomUUID()] };
    const serializedTransaction = await account.signTransaction({
      chainId: EMBEDDED_CHAIN_ID,
      nonce: nonce++,
      to: chain.deployment.address,
      data: encodeRegistryCall(event),
      gas: gasLimitFor(event),
      maxFeePerGas: 50_000_000_000n,
      maxPriorityFeePerGas: 1_000_000_000n,
    });
    const notified = agents.waitAll(eventKey(event));
    const sentAt = now();
    await client.sendRawTransaction({ serializedTransaction });
    samples.push((await notified) - sentAt);
    await sleep(gapMs);
  }

  return samples;
}

// ---------------------------------------------------------------------------------------------------------------
// 2. Outbox commit → every agent notified (DB transaction, BullMQ kick, relay pass, chain, subscribers)

async function createBenchDatabase() {
  const serverUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gds';
  const name = `gds_bench_notify_${randomUUID().slice(0, 8)}`;
  const admin = new pg.Client({ connectionString: Object.assign(new URL(serverUrl), { pathname: '/postgres' }).toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = Object.assign(new URL(serverUrl), { pathname: `/${name}` }).toString();
  await applyMigrations(url);
  log('bench.database', { url: redactUrl(url) });

  return {
    url,
    drop: async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    },
  };
}

async function measureOutbox(chain, agents, account) {
  const database = await createBenchDatabase();
  const prisma = createPrismaClient(database.url, 6);
  const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const connection = { host: redisUrl.hostname, port: Number(redisUrl.port || 6379), maxRetriesPerRequest: null };
  const prefix = `bench-notify-${randomUUID().slice(0, 8)}`;
  const queue = new Queue(CHAIN_OUTBOX_QUEUE, { connection, prefix });
  const scheduler = new OutboxScheduler(queue, quiet);
  const relay = new OutboxRelay({ prisma, clients: chain.clients, account, contractAddress: chain.deployment.address, logger: quiet });
  const worker = new Worker(CHAIN_OUTBOX_QUEUE, createOutboxProcessor({ relay, logger: quiet, scheduler }), { connection, prefix, concurrency: 1 });
  await worker.waitUntilReady();
  await relay.verify();

  try {
    const customer = await prisma.customer.create({ data: { name: 'bench' } });
    const blob = await prisma.blob.create({ data: { id: randomUUID(), size: 1n, sha256: 'ef'.repeat(32) } });
    const samples = [];
    const phases = [];

    for (let index = 0; index < count; index += 1) {
      const dataOwnerIds = Array.from({ length: agentCount }, () => randomUUID());
      const queryId = randomUUID();
      const notified = agents.waitAll(`QUERY_SUBMITTED:${queryId}`);
      const startedAt = now();
      await prisma.$transaction(async (tx) => {
        await tx.query.create({
          data: { id: queryId, customerId: customer.id, modelBlobId: blob.id, modelFormat: 'TORCHSCRIPT', trainingSpec: {}, datasetHash: '12'.repeat(32), replication: agentCount, quorum: agentCount, tolerance: 1e-5, deadlineAt: new Date(Date.now() + 3_600_000) },
        });
        await tx.chainOutbox.create({
          data: outboxRecord('QUERY_SUBMITTED', { queryId, customerId: customer.id, datasetHash: '12'.repeat(32), modelHash: 'ef'.repeat(32), dataOwnerIds }),
        });
      });
      const committedAt = now();
      scheduler.kick();
      const doneAt = await notified;
      samples.push(doneAt - startedAt);
      phases.push(committedAt - startedAt);
      await sleep(gapMs);
    }

    return { samples, commitSamples: phases };
  } finally {
    scheduler.close();
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close();
    await prisma.$disconnect();
    await database.drop();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// 3. End to end: SubmitQuery returns → every assigned agent notified (real API, relay, agents in chain mode)

const WARM_UP_QUERIES = 3;
const NOTIFY_TIMEOUT_MS = 15_000;

async function waitForNotified(notified, queryId) {
  const deadline = Date.now() + NOTIFY_TIMEOUT_MS;
  while ((notified.get(queryId)?.length ?? 0) < agentCount) {
    if (Date.now() > deadline) throw new Error(`query ${queryId}: ${notified.get(queryId)?.length ?? 0} of ${agentCount} agents notified in ${NOTIFY_TIMEOUT_MS} ms`);
    await sleep(2);
  }

  return notified.get(queryId);
}

/**
 * Submits `count` queries (after a short warm-up), one at a time `gapMs` apart, each assigned to every agent.
 * Returns the latency of each (query, agent) pair, of each query's last agent, and of the SubmitQuery call itself.
 */
export async function measureSubmitToAgents(chain) {
  const database = await createBenchDatabase();
  const folder = mkdtempSync(join(tmpdir(), 'gds-bench-notify-agents-'));
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const stack = await startNotifyStack({ chain, databaseUrl: database.url, redisUrl, folder, agentCount, log });
  log('bench.agents.ready', { agents: agentCount });
  const pairs = [];
  const lastAgent = [];
  const submitCall = [];

  try {
    for (let index = 0; index < count + WARM_UP_QUERIES; index += 1) {
      const { queryId, sentAt, returnedAt } = await stack.submit();
      const arrivals = await waitForNotified(stack.notified, queryId);
      if (index >= WARM_UP_QUERIES) {
        pairs.push(...arrivals.map(({ at }) => at - returnedAt));
        lastAgent.push(Math.max(...arrivals.map(({ at }) => at)) - returnedAt);
        submitCall.push(returnedAt - sentAt);
      }
      await sleep(gapMs);
    }

    return { pairs, lastAgent, submitCall };
  } finally {
    await stack.stop();
    await database.drop();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The targets (automine only): p95 under 250 ms and at most 150 ms above the chain's own p95. */
function targetsFor(stats, chainStats) {
  const overChain = Math.round((stats.p95 - chainStats.p95) * 10) / 10;

  return { p95: stats.p95, overChainP95Ms: overChain, isMet: stats.p95 < TARGET_P95_MS && overChain <= TARGET_OVER_CHAIN_MS };
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'gds-bench-notify-'));
  const account = accountFromKey(DEV_PRIVATE_KEYS[0]);
  const port = 20000 + Math.floor(Math.random() * 20000);
  const chain = await startEmbeddedChain({ dataDir, port, chainId: EMBEDDED_CHAIN_ID, blockTime, account, logger: quiet });
  const agents = await startAgents(agentCount, chain);
  log('bench.ready', { count, agents: agentCount, blockTime, rpcUrl: chain.clients.endpoint.rpcUrl });

  try {
    // Warm-up: first requests pay for connections and JIT.
    await measureChain(chain, agents, account).then(() => {});
    const chainSamples = await measureChain(chain, agents, account);
    const outbox = args['skip-outbox'] ? null : await measureOutbox(chain, agents, account);

    const agentsRun = args['skip-agents'] ? null : await measureSubmitToAgents(chain);

    const result = {
      at: new Date().toISOString(),
      count,
      agents: agentCount,
      mode: blockTime ? `block time ${blockTime} s` : 'automine',
      chainSendToAllSubscribersMs: summarise(chainSamples),
      outboxCommitToAllSubscribersMs: outbox ? summarise(outbox.samples) : null,
      outboxCommitPhaseMs: outbox ? summarise(outbox.commitSamples) : null,
      submitToEachAgentMs: agentsRun ? summarise(agentsRun.pairs) : null,
      submitToLastAgentMs: agentsRun ? summarise(agentsRun.lastAgent) : null,
      submitCallMs: agentsRun ? summarise(agentsRun.submitCall) : null,
    };
    const measured = { outbox: result.outboxCommitToAllSubscribersMs, submitToEachAgent: result.submitToEachAgentMs };
    const checked = Object.entries(measured).filter(([, stats]) => stats && !blockTime);
    result.targets = checked.length
      ? {
          p95UnderMs: TARGET_P95_MS,
          overChainP95AtMostMs: TARGET_OVER_CHAIN_MS,
          ...Object.fromEntries(checked.map(([name, stats]) => [name, targetsFor(stats, result.chainSendToAllSubscribersMs)])),
        }
      : null;
    if (result.targets) result.targets.isMet = checked.every(([name]) => result.targets[name].isMet);

    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, 'notify.json'), `${JSON.stringify(result, null, 2)}\n`);
    const rows = [
      ['chain: raw tx sent → log seen by all subscribers', result.chainSendToAllSubscribersMs],
      ['outbox: row committed → relay → all subscribers', result.outboxCommitToAllSubscribersMs],
      ['  of which: query + outbox row transaction', result.outboxCommitPhaseMs],
      ['submit → each agent notified (per query and agent)', result.submitToEachAgentMs],
      ['submit → last of the agents notified (per query)', result.submitToLastAgentMs],
      ['  SubmitQuery call itself (before the clock starts)', result.submitCallMs],
    ].filter(([, stats]) => stats);
    const verdicts = result.targets
      ? checked.map(([name]) => `${name}: p95 ${result.targets[name].p95} ms, ${result.targets[name].overChainP95Ms} ms over the chain's p95: ${result.targets[name].isMet ? 'met' : 'MISSED'}`)
      : [];
    const table = [
      `Notification latency, ${result.mode}, ${agentCount} subscriber processes / agents, n=${count} queries (ms)`,
      '',
      '| path | n | p50 | p95 | max |',
      '|---|---|---|---|---|',
      ...rows.map(([name, stats]) => `| ${name} | ${stats.n} | ${stats.p50} | ${stats.p95} | ${stats.max} |`),
      '',
      ...(result.targets ? [`target: p95 < ${TARGET_P95_MS} ms and ≤ ${TARGET_OVER_CHAIN_MS} ms over the chain's p95`, ...verdicts.map((line) => `- ${line}`)] : []),
    ].join('\n');
    writeFileSync(join(outDir, 'notify.md'), `${table}\n`);
    process.stdout.write(`${table}\n`);

    return result.targets ? result.targets.isMet : true;
  } finally {
    agents.stop();
    await chain.supervisor.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const isMet = await main();
  process.exit(isMet ? 0 : 1);
}
