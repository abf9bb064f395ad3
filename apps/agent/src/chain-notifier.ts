// Chain mode: the registry's QuerySubmitted events wake the agent; GDS confirms what the work is.
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';

import {
  ChainEventKind,
  createChainSubscriber,
  isAssignedTo,
  type ChainEventEnvelope,
  type ChainSubscriber,
  type ChainSubscriptionConfig,
  type RegistryEvent,
} from '@gds/chain';
import { GdsException, type Logger } from '@gds/common';
import type { Assignment__Output, QueryInfo__Output } from '@gds/proto';

import { backoffDelayMs, RECONNECT_BACKOFF, sleep } from './backoff.js';
import { ExecutionPhase, isSafeId, type ExecutionStore } from './execution-store.js';
import { GdsCallError, type GdsClient } from './gds-client.js';

/** Codes by which GDS says the announced work is not this agent's (any more): skipped, never retried. */
const REFUSING_CODES = new Set([
  grpc.status.NOT_FOUND,
  grpc.status.PERMISSION_DENIED,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.INVALID_ARGUMENT,
]);

type QuerySubmitted = Extract<RegistryEvent, { kind: 'QUERY_SUBMITTED' }>;

export interface ChainNotifierDeps {
  chain: ChainSubscriptionConfig;
  stateDir: string;
  /** This agent's Data Owner id, from `<stateDir>/identity.json`. */
  dataOwnerId: string;
  client: Pick<GdsClient, 'readQueryHeader'>;
  store: ExecutionStore;
  logger: Logger;
  /** Builds the subscriber; tests inject one. */
  createSubscriber?: typeof createChainSubscriber;
}

/** Where the agent's chain cursor is kept. */
export function chainCursorPath(stateDir: string): string {
  return join(stateDir, 'chain-cursor.json');
}

/**
 * Reads the registry from the cursor in `<stateDir>/chain-cursor.json` and hands each QuerySubmitted assigned to
 * this Data Owner, once GDS confirmed it (GetQueryInfo's header: the execution id, the same model hash), to
 * `enqueue`. The chain says that there is work, GDS says what it is.
 *
 * Exactly once: before the cursor moves past an event, the execution is recorded (phase `queued`) in the execution
 * store, the same store that makes a restarted agent resume its unfinished work. A redelivered event (a crash
 * before the cursor was saved, a chain reset replaying history) finds the query recorded and is skipped.
 */
export class ChainNotifier {
  private subscriber: ChainSubscriber | null = null;
  /** Queries this agent has an execution record for: announcements about them are redeliveries. */
  private readonly knownQueries = new Set<string>();
  private enqueue: (assignment: Assignment__Output) => void = () => {};

  constructor(private readonly deps: ChainNotifierDeps) {}

  /** Starts reading; retries with backoff while the chain or the registry cannot be reached. */
  async start(enqueue: (assignment: Assignment__Output) => void, signal: AbortSignal): Promise<void> {
    this.enqueue = enqueue;
    const records = await this.deps.store.list();
    records.forEach((record) => this.knownQueries.add(record.queryId));

    const create = this.deps.createSubscriber ?? createChainSubscriber;
    for (let attempt = 0; !signal.aborted; attempt += 1) {
      try {
        this.subscriber = create({
          config: this.deps.chain,
          cursorPath: chainCursorPath(this.deps.stateDir),
          handler: (envelope) => this.handle(envelope),
          logger: this.deps.logger,
        });
        await this.subscriber.start();
        return;
      } catch (error) {
        this.subscriber = null;
        const delayMs = backoffDelayMs(attempt, RECONNECT_BACKOFF);
        this.logStartFailed(error, attempt, delayMs);
        await sleep(delayMs, signal).catch(() => undefined);
      }
    }
  }

  async stop(): Promise<void> {
    await this.subscriber?.stop();
  }

  /** The subscriber's handler: returns once the work is recorded; throws only what a retry fixes. */
  async handle(envelope: ChainEventEnvelope): Promise<void> {
    const { event, key } = envelope;
    const log = this.deps.logger;
    if (event.kind !== ChainEventKind.QUERY_SUBMITTED) {
      log.debug({ key, blockNumber: envelope.blockNumber.toString(), txHash: envelope.transactionHash }, 'agent.chain.event');
      return;
    }
    if (!isAssignedTo(event, this.deps.dataOwnerId)) {
      log.debug({ key }, 'agent.chain.not_assigned');
      return;
    }
    if (this.knownQueries.has(event.queryId)) {
      log.debug({ key, queryId: event.queryId }, 'agent.chain.duplicate');
      return;
    }

    const startedAt = Date.now();
    const info = await this.confirm(event, key);
    if (!info) return;

    await this.record(event, info, envelope, Date.now() - startedAt);
  }

  /** GetQueryInfo's header, checked against the announcement; undefined when there is nothing to do. */
  private async confirm(event: QuerySubmitted, key: string): Promise<QueryInfo__Output | undefined> {
    const log = this.deps.logger.child({ queryId: event.queryId, key });
    let info: QueryInfo__Output;
    try {
      info = await this.deps.client.readQueryHeader(event.queryId);
    } catch (error) {
      if (error instanceof GdsCallError && REFUSING_CODES.has(error.code)) {
        log.info({ code: error.codeName, reason: error.message }, 'agent.chain.refused_by_server');
        return undefined;
      }
      throw error;
    }

    const mismatch = headerMismatch(event, info);
    if (mismatch) {
      log.warn({ executionId: info.executionId, ...mismatch }, 'agent.chain.announcement_mismatch');
      return undefined;
    }
    if (!isSafeId(info.executionId)) {
      log.warn({ executionId: info.executionId }, 'assignment.invalid_id');
      return undefined;
    }

    return info;
  }

  private async record(event: QuerySubmitted, info: QueryInfo__Output, envelope: ChainEventEnvelope, confirmMs: number) {
    const { executionId } = info;
    const fields = { queryId: event.queryId, executionId, key: envelope.key };
    this.knownQueries.add(event.queryId);
    if (await this.deps.store.get(executionId)) {
      this.deps.logger.debug(fields, 'agent.chain.duplicate');
      return;
    }

    await this.deps.store.save({ executionId, queryId: event.queryId, phase: ExecutionPhase.QUEUED, datasetHash: info.datasetHash });
    this.deps.logger.info(
      { ...fields, blockNumber: envelope.blockNumber.toString(), txHash: envelope.transactionHash, confirmMs },
      'agent.chain.notified',
    );
    this.enqueue(assignmentOf(info));
  }

  /** A chain that is down is an outage (warn); a wrong chain id or registry needs a person (error). */
  private logStartFailed(error: unknown, attempt: number, delayMs: number): void {
    const fields = { attempt: attempt + 1, delayMs, reason: error instanceof Error ? error.message : String(error) };
    const isOutage = error instanceof GdsException && error.code === 'UNAVAILABLE';

    if (isOutage || attempt > 0) this.deps.logger.warn(fields, 'agent.chain.start_failed');
    else this.deps.logger.error(fields, 'agent.chain.start_failed');
  }
}

/** What differs between the announcement and GDS's answer; null when they agree. */
function headerMismatch(event: QuerySubmitted, info: QueryInfo__Output): Record<string, string> | null {
  if (info.modelSha256.toLowerCase() !== event.modelHash) {
    return { field: 'modelHash', announced: event.modelHash, gds: info.modelSha256 };
  }
  if (info.datasetHash.toLowerCase() !== event.datasetHash) {
    return { field: 'datasetHash', announced: event.datasetHash, gds: info.datasetHash };
  }

  return null;
}

function assignmentOf(info: QueryInfo__Output): Assignment__Output {
  return {
    executionId: info.executionId,
    queryId: info.queryId,
    datasetHash: info.datasetHash,
    modelSha256: info.modelSha256,
    modelSize: info.modelSize,
    assignedAtNs: '0',
    deadlineAtNs: info.deadlineAtNs,
  };
}
