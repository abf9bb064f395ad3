// Reads the registry's announcements from a stored cursor: resumes after a restart, notices a chain reset.
import { type Address, BlockNotFoundError, getAddress, type Hex, toHex } from 'viem';

import { GdsErrorCode, GdsException, type Logger } from '@gds/common';

import { assertChainReachable, assertRegistryDeployed, type ChainClients, firstLine } from './client.js';
import type { ChainCursor, CursorStore } from './cursor.store.js';
import { decodeRegistryLog, eventKey, MalformedLogError, type RegistryEvent } from './events.js';
import { NewHeadsWatcher } from './heads.js';
import { REGISTRY_EVENT_TOPICS } from './registry.js';

/** One announcement with where it is on chain. */
export interface ChainEventEnvelope {
  event: RegistryEvent;
  /** Same for the same announcement even when a chain reset made the relay send it again (see eventKey). */
  key: string;
  address: Address;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
}

/**
 * Acts on one announcement. Delivery is at least once: an event handled just before a crash (before the cursor
 * was saved) comes again, and so does everything after a chain reset. Make the effect idempotent on
 * `envelope.key` (the agent's execution store is), and the effects happen exactly once.
 * Throw only for what a retry can fix (GDS unreachable): the event then comes again after a delay, and no later
 * event is handed over before it.
 */
export type ChainEventHandler = (envelope: ChainEventEnvelope) => Promise<void>;

export interface ChainSubscriberOptions {
  clients: ChainClients;
  contractAddress: Address;
  /** Where reading starts without a cursor, and where it goes back to after a chain reset. */
  deployBlock: bigint;
  cursorStore: CursorStore;
  handler: ChainEventHandler;
  logger: Logger;
  /** Blocks on top of a log before it is handed over. */
  confirmations?: number;
  /** Widest eth_getLogs range. */
  logRange?: bigint;
  /** Head polling interval when the clients have no WebSocket. */
  pollMs?: number;
  /** Wakes the loop even without a new head (a dropped WebSocket). */
  backstopMs?: number;
  /** Refuse to start unless the registry's operator is this account. */
  expectedOperator?: Address;
}

export interface SubscriberStats {
  delivered: number;
  malformed: number;
  foreign: number;
  resets: number;
  failedPasses: number;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;

interface RawLog {
  address: Address;
  topics: Hex[];
  data: Hex;
  blockNumber: Hex;
  blockHash: Hex;
  logIndex: Hex;
  transactionHash: Hex;
}

interface ChainLog {
  address: Address;
  topics: Hex[];
  data: Hex;
  blockNumber: bigint;
  blockHash: Hex;
  logIndex: number;
  transactionHash: Hex;
}

/**
 * The loop: eth_getLogs from the cursor's block (inclusive) to head − confirmations, in ranges of `logRange`,
 * for the four announcement topics; sort by (block, logIndex); skip what is at or before the cursor; decode; hand
 * over; save the cursor. New heads (WebSocket newHeads, or polling) only wake it up: the data always comes from
 * eth_getLogs, so a dropped subscription loses nothing. A log from any other address (a look-alike registry, one
 * deployed by another account) is logged and ignored; one that does not decode is logged and skipped.
 * A chain reset (the cursor's block is beyond the head, or has another hash) rewinds to the deploy block.
 */
export class ChainSubscriber {
  readonly stats: SubscriberStats = { delivered: 0, malformed: 0, foreign: 0, resets: 0, failedPasses: 0 };
  private readonly contract: Address;
  private cursor: ChainCursor | null = null;
  private running: Promise<void> | null = null;
  private isWakeQueued = false;
  private isStopped = false;
  private consecutiveFailures = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private heads: NewHeadsWatcher | null = null;

  constructor(private readonly options: ChainSubscriberOptions) {
    this.contract = getAddress(options.contractAddress);
  }

  get position(): ChainCursor | null {
    return this.cursor ? { ...this.cursor } : null;
  }

  /** Checks the chain and the registry (clear errors naming the URL), loads the cursor and starts the loop. */
  async start(): Promise<void> {
    await this.prepare();
    this.watchHeads();
    const backstop = setInterval(() => this.wake(), this.options.backstopMs ?? 5000);
    backstop.unref();
    this.timers.add(backstop);
    this.wake();
  }

  /** Checks and loads without starting the loop (with syncOnce, for step-by-step use). */
  async prepare(): Promise<void> {
    await assertChainReachable(this.options.clients);
    const registry = await assertRegistryDeployed(this.options.clients, this.contract);
    if (this.options.expectedOperator && getAddress(this.options.expectedOperator) !== getAddress(registry.operator)) {
      throw new GdsException(GdsErrorCode.PRECONDITION_FAILED, `the registry at ${this.contract} is operated by ${registry.operator}, not ${this.options.expectedOperator}`, {
        contractAddress: this.contract,
      });
    }

    this.cursor = (await this.options.cursorStore.load()) ?? this.initialCursor();
    this.options.logger.info({
      event: 'chain.subscriber.started',
      contractAddress: this.contract,
      operator: registry.operator,
      isSameBuild: registry.isSameBuild,
      cursorBlock: this.cursor.blockNumber.toString(),
      cursorLogIndex: this.cursor.logIndex,
      wake: this.options.clients.wsUrl ? 'newHeads' : `poll ${this.options.pollMs ?? 1000} ms`,
    });
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    this.heads?.close();
    this.timers.forEach((timer) => clearTimeout(timer));
    this.timers.clear();
    await this.running;
  }

  /** Runs a pass now, or right after the one running. */
  wake(): void {
    if (this.isStopped) return;
    if (this.running) {
      this.isWakeQueued = true;
      return;
    }

    this.running = this.loop().finally(() => (this.running = null));
  }

  /** One pass up to the current head; throws what stopped it (the loop retries after a delay). */
  async syncOnce(): Promise<void> {
    const cursor = this.cursor ?? this.initialCursor();
    const client = this.options.clients.public;
    const [head, cursorHash] = await Promise.all([client.getBlockNumber({ cacheTime: 0 }), this.hashAt(cursor)]);

    if (cursor.blockNumber > head || cursorHash !== cursor.blockHash) {
      await this.rewind(cursor, head, cursorHash);
    }

    const target = head - BigInt(this.options.confirmations ?? 0);
    const logRange = this.options.logRange ?? 2000n;
    let from = this.cursor!.logIndex === null ? this.cursor!.blockNumber + 1n : this.cursor!.blockNumber;
    while (from <= target && !this.isStopped) {
      const to = from + logRange - 1n < target ? from + logRange - 1n : target;
      const [logs, toBlock] = await Promise.all([this.logsBetween(from, to), client.getBlock({ blockNumber: to })]);
      for (const log of logs) await this.deliver(log);

      await this.advance({ blockNumber: to, blockHash: toBlock.hash, logIndex: null });
      from = to + 1n;
    }
  }

  private async loop(): Promise<void> {
    do {
      this.isWakeQueued = false;
      try {
        await this.syncOnce();
        this.consecutiveFailures = 0;
      } catch (error) {
        this.onPassFailed(error);
        return;
      }
    } while (this.isWakeQueued && !this.isStopped);
  }

  private onPassFailed(error: unknown): void {
    this.stats.failedPasses += 1;
    this.consecutiveFailures += 1;
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (this.consecutiveFailures - 1));
    // One warning per outage, not per retry.
    const level = this.consecutiveFailures === 1 ? 'warn' : 'debug';
    this.options.logger[level]({ event: 'chain.subscriber.pass_failed', reason: firstLine(error), retryInMs: delayMs, failures: this.consecutiveFailures });

    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.wake();
    }, delayMs);
    this.timers.add(timer);
  }

  private async deliver(log: ChainLog): Promise<void> {
    if (this.isHandled(log)) return;

    const position = { blockNumber: log.blockNumber, blockHash: log.blockHash, logIndex: log.logIndex };
    const fields = { address: log.address, blockNumber: log.blockNumber.toString(), logIndex: log.logIndex, txHash: log.transactionHash };
    if (getAddress(log.address) !== this.contract) {
      this.stats.foreign += 1;
      this.options.logger.warn({ event: 'chain.log.foreign', ...fields, expected: this.contract });
      return;
    }

    let event: RegistryEvent;
    try {
      event = decodeRegistryLog(log);
    } catch (error) {
      if (!(error instanceof MalformedLogError)) throw error;

      this.stats.malformed += 1;
      this.options.logger.warn({ event: 'chain.log.malformed', ...fields, topic0: log.topics[0] ?? null, reason: error.message });
      await this.advance(position);
      return;
    }

    const key = eventKey(event, log);
    await this.options.handler({ event, key, address: this.contract, blockNumber: log.blockNumber, blockHash: log.blockHash, logIndex: log.logIndex, transactionHash: log.transactionHash });
    this.stats.delivered += 1;
    this.options.logger.debug({ event: 'chain.log.delivered', ...fields, key });
    await this.advance(position);
  }

  private isHandled(log: ChainLog): boolean {
    const cursor = this.cursor!;
    if (log.blockNumber !== cursor.blockNumber) return log.blockNumber < cursor.blockNumber;

    return cursor.logIndex === null || log.logIndex <= cursor.logIndex;
  }

  private async advance(cursor: ChainCursor): Promise<void> {
    this.cursor = cursor;
    await this.options.cursorStore.save(cursor);
  }

  private async rewind(cursor: ChainCursor, head: bigint, cursorHash: Hex | null): Promise<void> {
    const rewindTo = this.options.deployBlock <= head ? this.options.deployBlock : 0n;
    this.stats.resets += 1;
    this.options.logger.warn({
      event: 'chain.reset_detected',
      reason: cursor.blockNumber > head ? 'cursor_beyond_head' : 'block_hash_changed',
      cursorBlock: cursor.blockNumber.toString(),
      cursorHash: cursor.blockHash,
      chainHash: cursorHash,
      head: head.toString(),
      rewindTo: rewindTo.toString(),
    });

    await this.advance({ blockNumber: rewindTo, blockHash: null, logIndex: -1 });
  }

  /** The chain's hash at the cursor's block; the cursor's own (null) when it has none to compare. */
  private async hashAt(cursor: ChainCursor): Promise<Hex | null> {
    if (cursor.blockHash === null) return null;
    try {
      return (await this.options.clients.public.getBlock({ blockNumber: cursor.blockNumber })).hash;
    } catch (error) {
      if (error instanceof BlockNotFoundError) return null;
      throw error;
    }
  }

  private async logsBetween(from: bigint, to: bigint): Promise<ChainLog[]> {
    // By topic, not by address: look-alike registries (same events, another address) are seen, logged, ignored.
    const raw = (await this.options.clients.public.request({
      method: 'eth_getLogs',
      params: [{ fromBlock: toHex(from), toBlock: toHex(to), topics: [Object.values(REGISTRY_EVENT_TOPICS)] }],
    })) as RawLog[];

    return raw
      .map((log) => ({
        address: log.address,
        topics: log.topics,
        data: log.data,
        blockNumber: BigInt(log.blockNumber),
        blockHash: log.blockHash,
        logIndex: Number(log.logIndex),
        transactionHash: log.transactionHash,
      }))
      .sort((a, b) => (a.blockNumber === b.blockNumber ? a.logIndex - b.logIndex : a.blockNumber < b.blockNumber ? -1 : 1));
  }

  private watchHeads(): void {
    const wsUrl = this.options.clients.wsUrl;
    if (wsUrl) {
      this.heads = new NewHeadsWatcher(wsUrl, this.options.logger, () => this.wake());
      this.heads.start();
      return;
    }

    const poll = setInterval(() => this.wake(), this.options.pollMs ?? 1000);
    poll.unref();
    this.timers.add(poll);
  }

  private initialCursor(): ChainCursor {
    return { blockNumber: this.options.deployBlock, blockHash: null, logIndex: -1 };
  }
}
