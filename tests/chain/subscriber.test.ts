// The chain subscriber on a real anvil: exactly-once effects across SIGKILLs (between events and mid-batch),
// look-alike registries and malformed logs ignored, chain resets noticed, a dead chain refused with a clear error.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { concatHex, type Hex, padHex } from 'viem';

import {
  type ChainEventEnvelope,
  chainSubscriptionConfigSchema,
  ChainSubscriber,
  createChainClients,
  createChainSubscriber,
  deployRegistry,
  eventKey,
  MemoryCursorStore,
  REGISTRY_EVENT_TOPICS,
  registryDeployedBytecode,
} from '@gds/chain';
import { GdsErrorCode, GdsException } from '@gds/common';

import { createTestLogger, freePort, querySubmitted, rpc, sendEvent, startTestChain, stranger, type TestChain } from './support/chain.js';

let chain: TestChain;
let workDir: string;

beforeAll(async () => {
  chain = await startTestChain();
  workDir = mkdtempSync(join(tmpdir(), 'gds-subscriber-'));
});

afterAll(async () => {
  await chain?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}

/** Announces `count` new queries, one block each; returns their keys. */
async function announceMany(count: number): Promise<string[]> {
  const keys: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const event = querySubmitted();
    await sendEvent(chain.clients, chain.deployment.address, event);
    keys.push(eventKey(event));
  }

  return keys;
}

/** Announces `count` new queries in one block (automine off, then one evm_mine). */
async function announceBatch(count: number): Promise<string[]> {
  await rpc(chain.clients, 'evm_setAutomine', [false]);
  try {
    const keys: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const event = querySubmitted();
      await sendEvent(chain.clients, chain.deployment.address, event);
      keys.push(eventKey(event));
    }
    await rpc(chain.clients, 'evm_mine');

    return keys;
  } finally {
    await rpc(chain.clients, 'evm_setAutomine', [true]);
  }
}

function collectingSubscriber(overrides: Partial<ConstructorParameters<typeof ChainSubscriber>[0]> = {}) {
  const log = createTestLogger();
  const delivered: ChainEventEnvelope[] = [];
  const subscriber = new ChainSubscriber({
    clients: chain.clients,
    contractAddress: chain.deployment.address,
    deployBlock: chain.deployment.deployBlock,
    cursorStore: new MemoryCursorStore(),
    logger: log.logger,
    backstopMs: 200,
    handler: async (envelope) => {
      delivered.push(envelope);
    },
    ...overrides,
  });

  return { subscriber, delivered, log, keys: () => delivered.map((envelope) => envelope.key) };
}

describe('ChainSubscriber in a process that is SIGKILLed', () => {
  const dir = () => join(workDir, 'kill');
  const paths = () => ({ cursorPath: join(dir(), 'cursor.json'), handledPath: join(dir(), 'handled.log'), deliveriesPath: join(dir(), 'deliveries.log') });
  let child: ChildProcess | null = null;

  function startChild(handlerDelayMs = 0): void {
    const args = {
      rpcUrl: chain.clients.endpoint.rpcUrl,
      wsUrl: chain.clients.wsUrl,
      chainId: chain.clients.chain.id,
      contractAddress: chain.deployment.address,
      deployBlock: chain.deployment.deployBlock.toString(),
      handlerDelayMs,
      ...paths(),
    };
    child = spawn(process.execPath, [join(import.meta.dirname, 'support/subscriber-process.mjs'), JSON.stringify(args)], { stdio: 'ignore' });
  }

  async function killChild(): Promise<void> {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child!.kill('SIGKILL');
    await exited;
    child = null;
  }

  afterAll(async () => {
    if (child) await killChild();
  });

  it('should handle every event exactly once across kills between events and mid-batch', async () => {
    rmSync(dir(), { recursive: true, force: true });
    mkdirSync(dir(), { recursive: true });
    const { handledPath, deliveriesPath } = paths();
    const expected: string[] = [];
    let kills = 0;

    // Killed while idle, between events.
    startChild();
    expected.push(...(await announceMany(10)));
    await waitFor(() => lines(handledPath).length === 10);
    await killChild();
    kills += 1;

    // Events announced while it is down.
    expected.push(...(await announceMany(10)));
    startChild(15);
    await waitFor(() => lines(handledPath).length === 20);

    // Killed after 7 of a block's 20 events (the handler takes 15 ms each).
    expected.push(...(await announceBatch(20)));
    await waitFor(() => lines(handledPath).length >= 27, 30_000);
    await killChild();
    kills += 1;
    expect(lines(handledPath).length).toBeLessThan(40);
    startChild(15);
    await waitFor(() => lines(handledPath).length === 40, 30_000);

    // Killed while events arrive one by one, three times at random moments.
    for (let round = 0; round < 3; round += 1) {
      const batch = announceMany(8);
      await sleep(20 + Math.random() * 80);
      await killChild();
      kills += 1;
      expected.push(...(await batch));
      startChild(5);
    }
    await waitFor(() => lines(handledPath).length === expected.length, 30_000);
    await sleep(300);

    const handled = lines(handledPath);
    const deliveries = lines(deliveriesPath);
    expect(handled).toHaveLength(expected.length);
    expect(new Set(handled)).toEqual(new Set(expected));
    // At least once: a kill between the effect and the cursor save delivers that one event again, no more.
    expect(deliveries.length - handled.length).toBeLessThanOrEqual(kills);
    expect(new Set(deliveries)).toEqual(new Set(expected));
  });
});

describe('ChainSubscriber', () => {
  it('should ignore and log the logs of a look-alike registry deployed by another account', async () => {
    const fake = await deployRegistry(chain.clients, stranger);
    const forged = querySubmitted();
    await sendEvent(chain.clients, fake.address, forged, stranger);
    const real = querySubmitted();
    await sendEvent(chain.clients, chain.deployment.address, real);
    const { subscriber, keys, log } = collectingSubscriber({ deployBlock: fake.deployBlock });

    await subscriber.prepare();
    await subscriber.syncOnce();

    expect(keys()).toEqual([eventKey(real)]);
    expect(subscriber.stats.foreign).toBeGreaterThanOrEqual(1);
    expect(log.events('chain.log.foreign').map((line) => String(line.address).toLowerCase())).toContain(fake.address.toLowerCase());
  });

  it('should skip and log malformed logs from the registry and go on', async () => {
    const start = await chain.clients.public.getBlockNumber();
    // Swap the registry's code for one that emits two undecodable announcements, call it, swap it back.
    const malformedEmitter = concatHex([
      '0x7f', REGISTRY_EVENT_TOPICS.QUERY_SUBMITTED, '0x60036000a1', // LOG1: QuerySubmitted without its indexed topics
      '0x600160027f', REGISTRY_EVENT_TOPICS.EXECUTION_COMPLETED, '0x60006000a3', // LOG3: ExecutionCompleted, no data
      '0x00',
    ]);
    await rpc(chain.clients, 'anvil_setCode', [chain.deployment.address, malformedEmitter]);
    await sendEvent(chain.clients, chain.deployment.address, querySubmitted());
    await rpc(chain.clients, 'anvil_setCode', [chain.deployment.address, registryDeployedBytecode]);
    const valid = querySubmitted();
    await sendEvent(chain.clients, chain.deployment.address, valid);
    const { subscriber, keys, log } = collectingSubscriber({ deployBlock: start + 1n });

    await subscriber.prepare();
    await subscriber.syncOnce();

    expect(keys()).toEqual([eventKey(valid)]);
    expect(subscriber.stats.malformed).toBe(2);
    expect(log.events('chain.log.malformed')).toHaveLength(2);
  });

  it('should hand an event over again after its handler failed, before any later event', async () => {
    const start = await chain.clients.public.getBlockNumber();
    const [first, second] = await announceMany(2);
    let calls = 0;
    const seen: string[] = [];
    const { subscriber } = collectingSubscriber({
      deployBlock: start + 1n,
      handler: async ({ key }) => {
        calls += 1;
        if (calls === 1) throw new Error('GDS unreachable');
        seen.push(key);
      },
    });
    await subscriber.prepare();

    await expect(subscriber.syncOnce()).rejects.toThrow('GDS unreachable');
    await subscriber.syncOnce();

    expect(seen).toEqual([first, second]);
  });

  it('should notice blocks replaced under its cursor and read again from the deploy block', async () => {
    const start = await chain.clients.public.getBlockNumber();
    const { subscriber, keys, log } = collectingSubscriber({ deployBlock: start + 1n });
    await subscriber.prepare();
    const snapshot = await rpc<Hex>(chain.clients, 'evm_snapshot');
    const lost = await announceMany(3);
    await subscriber.syncOnce();
    expect(keys()).toEqual(lost);

    await rpc(chain.clients, 'evm_revert', [snapshot]);
    const replacing = await announceMany(5);
    await subscriber.syncOnce();

    expect(log.events('chain.reset_detected')).toMatchObject([{ reason: 'block_hash_changed' }]);
    expect(keys()).toEqual([...lost, ...replacing]);
  });

  it('should notice a reset chain while running, and deliver what the new chain announces', async () => {
    const { subscriber, keys, log } = collectingSubscriber();
    await subscriber.start();
    try {
      const before = await announceMany(2);
      await waitFor(() => before.every((key) => keys().includes(key)));

      await chain.restart({ isFresh: true });
      const after = await announceMany(2);
      await waitFor(() => after.every((key) => keys().includes(key)));

      expect(log.events('chain.reset_detected')).toMatchObject([{ reason: 'cursor_beyond_head' }]);
      expect(subscriber.stats.resets).toBe(1);
    } finally {
      await subscriber.stop();
    }
  });

  it("should resume from its cursor file when built from an agent's chain config", async () => {
    const config = chainSubscriptionConfigSchema.parse({
      rpcUrl: chain.clients.endpoint.rpcUrl,
      wsUrl: chain.clients.wsUrl,
      chainId: chain.clients.chain.id,
      deploymentFile: join(chain.dataDir, 'chain.json'),
    });
    const cursorPath = join(workDir, 'agent-cursor.json');
    const delivered: string[] = [];
    const build = () => createChainSubscriber({ config, cursorPath, logger: createTestLogger().logger, handler: async ({ key }) => void delivered.push(key) });

    const first = build();
    await first.start();
    const [before] = await announceMany(1);
    await waitFor(() => delivered.includes(before));
    await first.stop();
    const countBefore = delivered.length;
    const [whileDown] = await announceMany(1);
    const second = build();
    await second.start();
    await waitFor(() => delivered.includes(whileDown));
    await second.stop();

    expect(delivered.slice(countBefore)).toEqual([whileDown]);
  });

  it('should hand an event over only once it has CHAIN_CONFIRMATIONS blocks on top', async () => {
    const start = await chain.clients.public.getBlockNumber();
    const [key] = await announceMany(1);
    const { subscriber, keys } = collectingSubscriber({ deployBlock: start + 1n, confirmations: 2 });
    await subscriber.prepare();

    await subscriber.syncOnce();
    const early = keys();
    await rpc(chain.clients, 'anvil_mine', ['0x2']);
    await subscriber.syncOnce();

    expect(early).toEqual([]);
    expect(keys()).toEqual([key]);
  });

  it('should poll for heads when there is no WebSocket URL', async () => {
    const clients = createChainClients({ rpcUrl: chain.clients.endpoint.rpcUrl, wsUrl: null, chainId: chain.clients.chain.id });
    const { subscriber, keys } = collectingSubscriber({ clients, pollMs: 50, backstopMs: 60_000, deployBlock: await chain.clients.public.getBlockNumber() });
    await subscriber.start();
    try {
      const [key] = await announceMany(1);

      await waitFor(() => keys().includes(key), 5000);
    } finally {
      await subscriber.stop();
    }
  });

  it('should refuse to start with a clear error when the chain does not answer', async () => {
    const deadUrl = `http://127.0.0.1:${await freePort()}`;
    const clients = createChainClients({ rpcUrl: deadUrl, chainId: 31337 });
    const { subscriber } = collectingSubscriber({ clients });

    const error = await subscriber.start().catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(GdsException);
    expect((error as GdsException).code).toBe(GdsErrorCode.UNAVAILABLE);
    expect((error as Error).message).toMatch(new RegExp(`the chain at ${deadUrl} does not answer eth_chainId: .*ECONNREFUSED`));
  });

  it('should refuse another chain id and an address without the registry', async () => {
    const otherChain = createChainClients({ rpcUrl: chain.clients.endpoint.rpcUrl, chainId: 5 });
    const wrongChain = await collectingSubscriber({ clients: otherChain }).subscriber.start().catch((caught: unknown) => caught);
    const empty = padHex('0x1234', { size: 20 });
    const noRegistry = await collectingSubscriber({ contractAddress: empty }).subscriber.start().catch((caught: unknown) => caught);

    expect((wrongChain as Error).message).toMatch(/has chain id 31337, CHAIN_ID is 5/);
    expect((noRegistry as Error).message).toMatch(/no contract at 0x/);
  });

  it('should refuse a registry operated by another account than the expected operator', async () => {
    const error = await collectingSubscriber({ expectedOperator: stranger.address }).subscriber.start().catch((caught: unknown) => caught);

    expect((error as Error).message).toMatch(/is operated by 0x/);
  });
});
