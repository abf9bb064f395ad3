// The outbox relay as the worker will run it (the same library code: createOutboxRelay, a BullMQ Worker on
// CHAIN_OUTBOX_QUEUE with concurrency 1, OutboxScheduler.startBackstop), in a process of its own for e2e tests and
// benches until apps/worker registers it. Configured like the worker: DATABASE_URL, REDIS_URL, GDS_QUEUE_PREFIX (the
// API's, so its kicks arrive here) and the CHAIN_* variables (CHAIN_MODE=embedded with CHAIN_RPC_URL/CHAIN_WS_URL/CHAIN_CONTRACT_ADDRESS for a test's own anvil).
// Prints `relay.ready` once its BullMQ worker listens; stops on SIGTERM.
import { Queue, Worker } from 'bullmq';

import { parseChainConfig } from '@gds/chain';
import { CHAIN_OUTBOX_QUEUE, createOutboxProcessor, createOutboxRelay, OutboxScheduler } from '@gds/chain/outbox';
import { createLogger, DEFAULT_QUEUE_PREFIX } from '@gds/common';
import { createPrismaClient } from '@gds/db';

const logger = createLogger('relay-process');
const config = parseChainConfig(process.env, { needsSigner: true });
const connection = { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', maxRetriesPerRequest: null };
const prefix = process.env.GDS_QUEUE_PREFIX || DEFAULT_QUEUE_PREFIX;
const backstopMs = Number(process.env.RELAY_BACKSTOP_MS ?? config.backstopMs);

const prisma = createPrismaClient(process.env.DATABASE_URL, 3);
const relay = createOutboxRelay(config, { prisma, logger });
const queue = new Queue(CHAIN_OUTBOX_QUEUE, { connection, prefix });
const scheduler = new OutboxScheduler(queue, logger);
const worker = new Worker(CHAIN_OUTBOX_QUEUE, createOutboxProcessor({ relay, logger, scheduler }), { connection, prefix, concurrency: 1 });
worker.on('error', (error) => logger.warn({ event: 'relay.worker_error', err: error }));
// A failed pass (chain down) is retried by BullMQ and by the backstop; its line is logged by the processor.
worker.on('failed', () => {});

await worker.waitUntilReady();
scheduler.startBackstop(backstopMs);
logger.info({ event: 'relay.ready', prefix, backstopMs, contractAddress: config.contractAddress });

process.once('SIGTERM', async () => {
  scheduler.close();
  await worker.close();
  await queue.close();
  await prisma.$disconnect();
  process.exit(0);
});
