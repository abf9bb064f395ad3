// Real chains for tests: an anvil of the test's own (free port, temp data dir), a logger whose lines can be read
// back, rows a ChainOutbox can point at, and a few raw anvil calls.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';

import { pino } from 'pino';
import { type Address, type Hex, toHex } from 'viem';

import {
  accountFromKey,
  type AnvilSupervisor,
  type ChainClients,
  type ChainDeployment,
  DEV_PRIVATE_KEYS,
  EMBEDDED_CHAIN_ID,
  encodeRegistryCall,
  gasLimitFor,
  type RegistryAccount,
  type RegistryEvent,
  startEmbeddedChain,
} from '@gds/chain';
import type { Logger } from '@gds/common';
import type { PrismaClient } from '@gds/db';

export const operator: RegistryAccount = accountFromKey(DEV_PRIVATE_KEYS[0]);
export const stranger: RegistryAccount = accountFromKey(DEV_PRIVATE_KEYS[1]);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TestLogger {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  events(name: string): Array<Record<string, unknown>>;
}

/** A debug-level pino logger that keeps every line in memory. */
export function createTestLogger(): TestLogger {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'debug', base: { service: 'test' } }, stream);

  return { logger, lines, events: (name) => lines.filter((line) => line.event === name) };
}

export interface TestChain {
  dataDir: string;
  port: number;
  supervisor: AnvilSupervisor;
  clients: ChainClients;
  deployment: ChainDeployment;
  /** Starts anvil again on the same port and data dir (same state file unless `isFresh`). */
  restart(options?: { isFresh?: boolean; signal?: NodeJS.Signals }): Promise<void>;
  stop(): Promise<void>;
}

/** An anvil of the test's own with the registry deployed (by `operator`). */
export async function startTestChain(log: Logger = createTestLogger().logger): Promise<TestChain> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gds-chain-'));
  const port = await freePort();
  const start = () => startEmbeddedChain({ dataDir, port, chainId: EMBEDDED_CHAIN_ID, account: operator, logger: log });
  let embedded = await start();

  const chain: TestChain = {
    dataDir,
    port,
    supervisor: embedded.supervisor,
    clients: embedded.clients,
    deployment: embedded.deployment,
    async restart({ isFresh = false, signal = 'SIGTERM' } = {}) {
      await embedded.supervisor.stop(signal);
      if (isFresh) {
        rmSync(join(dataDir, 'anvil-state.json'), { force: true });
        rmSync(join(dataDir, 'chain.json'), { force: true });
      }
      embedded = await start();
      Object.assign(chain, { supervisor: embedded.supervisor, clients: embedded.clients, deployment: embedded.deployment });
    },
    async stop() {
      await embedded.supervisor.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };

  return chain;
}

/** A raw JSON-RPC call (anvil's own methods: evm_setAutomine, evm_mine, evm_snapshot, anvil_setCode, ...). */
export async function rpc<T = unknown>(clients: ChainClients, method: string, params: unknown[] = []): Promise<T> {
  return (await clients.public.request({ method, params } as never)) as T;
}

/** Signs and sends a registry call directly (not through the outbox) and waits until it is mined; returns its hash. */
export async function sendEvent(clients: ChainClients, to: Address, event: RegistryEvent, account = operator): Promise<Hex> {
  const nonce = await clients.public.getTransactionCount({ address: account.address, blockTag: 'pending' });
  const serializedTransaction = await account.signTransaction({
    chainId: clients.chain.id,
    nonce,
    to,
    data: encodeRegistryCall(event),
    gas: gasLimitFor(event),
    maxFeePerGas: 50_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  });

  const hash = await clients.public.sendRawTransaction({ serializedTransaction });
  // anvil answers before it mines, even on automine; tests that change the chain next must not race it.
  if (await isAutomine(clients)) await receiptOf(clients, hash);

  return hash;
}

async function receiptOf(clients: ChainClients, hash: Hex) {
  for (;;) {
    const receipt = await clients.public.getTransactionReceipt({ hash }).catch(() => null);
    if (receipt) return receipt;

    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function isAutomine(clients: ChainClients): Promise<boolean> {
  return rpc<boolean>(clients, 'anvil_getAutomine');
}

export function querySubmitted(overrides: Partial<Extract<RegistryEvent, { kind: 'QUERY_SUBMITTED' }>> = {}): RegistryEvent {
  return {
    kind: 'QUERY_SUBMITTED',
    queryId: randomUUID(),
    customerId: randomUUID(),
    datasetHash: 'ab'.repeat(32),
    modelHash: 'cd'.repeat(32),
    dataOwnerIds: [randomUUID(), randomUUID(), randomUUID()],
    ...overrides,
  };
}

/** Block number as anvil's evm_* methods want it. */
export const hexBlock = (value: bigint | number) => toHex(value);

// ---------------------------------------------------------------------------------------------------------------
// Rows

/** A customer, a model blob and a query: what a ChainOutbox row needs to exist. */
export async function createQuery(prisma: PrismaClient, dataOwnerCount = 3): Promise<{ queryId: string; customerId: string; dataOwnerIds: string[] }> {
  const customer = await prisma.customer.create({ data: { name: 'chain test' } });
  const blob = await prisma.blob.create({ data: { id: randomUUID(), size: 1n, sha256: 'ef'.repeat(32) } });
  const query = await prisma.query.create({
    data: {
      customerId: customer.id,
      modelBlobId: blob.id,
      modelFormat: 'TORCHSCRIPT',
      trainingSpec: {},
      datasetHash: '12'.repeat(32),
      replication: dataOwnerCount,
      quorum: dataOwnerCount,
      tolerance: 1e-5,
      deadlineAt: new Date(Date.now() + 3600_000),
    },
  });

  return { queryId: query.id, customerId: customer.id, dataOwnerIds: Array.from({ length: dataOwnerCount }, () => randomUUID()) };
}
