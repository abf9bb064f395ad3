// The BullMQ side of the outbox: the queue, its payload, the processor and the kicks that enqueue passes.
import type { Job, JobsOptions, Queue } from 'bullmq';

import type { Logger } from '@gds/common';

import { isTransportError, type OutboxPassResult, type OutboxRelay } from './relay.js';

/** One job = one relay pass. Producers: the API after committing an outbox row, the worker's backstop timer. */
export const CHAIN_OUTBOX_QUEUE = 'chain-outbox';

export const OutboxJobReason = {
  /** A row was committed (API, worker). */
  KICK: 'kick',
  /** The worker's periodic pass: rows committed while Redis was down, a kick lost in a crash. */
  BACKSTOP: 'backstop',
  /** Sent transactions are not mined yet (block-paced chains): look again shortly. */
  CONFIRM: 'confirm',
} as const;
export type OutboxJobReason = (typeof OutboxJobReason)[keyof typeof OutboxJobReason];

export interface ChainOutboxJob {
  reason: OutboxJobReason;
  /** ms since the epoch, for the queue-wait figure in the pass log line. */
  requestedAt: number;
}

/** Retries with backoff for what a retry can fix (chain or database unreachable); each job is one pass. */
export const CHAIN_OUTBOX_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: true,
  removeOnFail: 1000,
};


/**
 * Enqueues relay passes. Rows live in Postgres, so a lost job loses nothing: the backstop (in every worker)
 * enqueues a pass every few seconds, which also covers a Redis restart that dropped the queue.
 */
export class OutboxScheduler {
  private backstop: NodeJS.Timeout | null = null;
  private isKickQueued = false;

  constructor(
    private readonly queue: Queue<ChainOutboxJob>,
    private readonly logger: Logger,
  ) {}

  /** Enqueues a pass; never throws (the backstop covers a kick that could not be enqueued). */
  kick(reason: OutboxJobReason = OutboxJobReason.KICK): void {
    if (this.isKickQueued) return;

    // Kicks made in the same tick (several rows committed together) share one job.
    this.isKickQueued = true;
    queueMicrotask(() => {
      this.isKickQueued = false;
      this.add(reason, {});
    });
  }

  /** A pass in `delayMs`, to confirm transactions still waiting for their block. */
  confirmLater(delayMs: number): void {
    // One confirm poll per time slot: the id is taken while that job waits or runs, so the running one can still
    // enqueue its successor (in the next slot).
    const slot = Math.ceil((Date.now() + delayMs) / delayMs);
    this.add(OutboxJobReason.CONFIRM, { delay: delayMs, jobId: `chain-outbox-confirm-${slot}` });
  }

  /** Enqueues a pass now and then every `intervalMs` until `close()`. */
  startBackstop(intervalMs: number): void {
    this.kick(OutboxJobReason.BACKSTOP);
    this.backstop = setInterval(() => this.kick(OutboxJobReason.BACKSTOP), intervalMs);
    this.backstop.unref();
  }

  close(): void {
    if (this.backstop) clearInterval(this.backstop);
    this.backstop = null;
  }

  private add(reason: OutboxJobReason, options: JobsOptions): void {
    this.queue
      .add(reason, { reason, requestedAt: Date.now() }, { ...CHAIN_OUTBOX_JOB_OPTIONS, ...options })
      .catch((error: unknown) => this.logger.warn({ event: 'chain.outbox.enqueue_failed', reason, err: error }));
  }
}

export interface OutboxProcessorOptions {
  relay: OutboxRelay;
  logger: Logger;
  /** Used to look again at transactions not mined yet; without it the backstop does. */
  scheduler?: OutboxScheduler;
  confirmPollMs?: number;
}

/**
 * The BullMQ processor: one relay pass per job. Throws only what a retry can fix (the chain or the database did
 * not answer, the node refused a transaction); everything else is in the returned counts and the rows.
 */
export function createOutboxProcessor(options: OutboxProcessorOptions): (job: Job<ChainOutboxJob>) => Promise<OutboxPassResult> {
  const { relay, logger, scheduler, confirmPollMs = 1000 } = options;

  return async (job) => {
    const startedAt = Date.now();
    const context = { jobId: job.id, queue: CHAIN_OUTBOX_QUEUE, attempt: job.attemptsMade + 1, reason: job.data.reason };
    let result: OutboxPassResult;
    try {
      result = await relay.runOnce();
    } catch (error) {
      const level = isTransportError(error) ? 'warn' : 'error';
      logger[level]({ event: 'chain.outbox.pass_failed', ...context, err: error });
      throw error;
    }

    if (result.unconfirmed > 0) scheduler?.confirmLater(confirmPollMs);
    const hasWork = result.sent + result.confirmed + result.rejected + result.requeued + result.undone + result.rebroadcast > 0;
    if (hasWork || result.isLockBusy) {
      logger.info({
        event: 'chain.outbox.pass',
        ...context,
        ...result,
        queueWaitMs: startedAt - job.data.requestedAt,
        durationMs: Date.now() - startedAt,
      });
    }

    return result;
  };
}
