import { setMaxListeners } from 'node:events';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';

import type { Logger } from '@gds/common';
import type { Assignment__Output } from '@gds/proto';

import { backoffDelayMs, RECONNECT_BACKOFF, sleep } from './backoff.js';
import type { ChainNotifier } from './chain-notifier.js';
import type { AgentConfig } from './config.js';
import { ExecutionPhase, ExecutionStore, isSafeId, isTerminal } from './execution-store.js';
import { ExecutionOutcome, type Executor } from './executor.js';
import { removeFiles } from './files.js';
import { GdsCallError, toCallError, type GdsClient } from './gds-client.js';

/** A stream that stayed up this long was healthy: the next reconnect starts again from the shortest delay. */
const HEALTHY_STREAM_MS = 30_000;

/** An execution that could not settle (GDS unreachable while reporting) is tried again this many times. */
const MAX_REQUEUES = 8;
const REQUEUE_BACKOFF = { baseMs: 5_000, maxMs: 120_000 };

/** How long a shutdown waits for running executions to notice the abort. */
const SHUTDOWN_GRACE_MS = 4_000;

export interface DaemonDeps {
  config: AgentConfig;
  client: GdsClient;
  store: ExecutionStore;
  executor: Executor;
  logger: Logger;
  /** Chain mode: assignments come from the registry's events, and WatchAssignments is never opened. */
  notifier?: ChainNotifier;
}

/**
 * Learns of assignments (the chain notifier, or WatchAssignments reconnecting with backoff) and runs them through
 * the executor with bounded concurrency. Each execution id is queued at most once at a time; finished ones are
 * skipped by the executor via the store.
 */
export class AgentDaemon {
  private readonly abort = new AbortController();
  private readonly queue: Assignment__Output[] = [];
  /** Queued or running execution ids. */
  private readonly inFlight = new Set<string>();
  private readonly requeues = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly requeueTimers = new Set<NodeJS.Timeout>();
  private stopWatch = () => {};

  constructor(private readonly deps: DaemonDeps) {
    // Every running execution listens on the one shutdown signal (trainer, calls, backoff sleeps).
    setMaxListeners(16 + deps.config.concurrency * 8, this.abort.signal);
  }

  async run(): Promise<void> {
    await this.sweepTempFiles();
    await this.resumeStoredExecutions();

    if (this.deps.notifier) {
      await this.followChain(this.deps.notifier);
    } else {
      await this.watchAssignments();
    }

    await this.settleRunning();
  }

  /** Chain mode: the notifier's handler feeds the queue until stop(). */
  private async followChain(notifier: ChainNotifier): Promise<void> {
    await notifier.start((assignment) => this.enqueue(assignment), this.abort.signal);
    if (!this.isStopping) {
      this.deps.logger.info({}, 'agent.chain.following');
      // The subscriber's timers are unref'd and its socket may be down (chain restarting): without a timer of our
      // own, Node would find nothing left to wait for and exit in the middle of an outage.
      const keepAlive = setInterval(() => {}, 60_000);
      await new Promise<void>((resolve) => this.abort.signal.addEventListener('abort', () => resolve(), { once: true }));
      clearInterval(keepAlive);
    }

    await notifier.stop();
  }

  private async watchAssignments(): Promise<void> {
    for (let attempt = 0; !this.isStopping; attempt += 1) {
      const startedAt = Date.now();
      const error = await this.watchOnce();
      if (this.isStopping) {
        break;
      }

      // Only time proves health: a server that accepts and drops every stream must not be hammered.
      if (Date.now() - startedAt >= HEALTHY_STREAM_MS) {
        attempt = 0;
      }
      const delayMs = backoffDelayMs(attempt, RECONNECT_BACKOFF);
      this.logReconnect(attempt, delayMs, error);
      await sleep(delayMs, this.abort.signal).catch(() => undefined);
    }
  }

  /** Stops taking work, kills running trainers and closes the stream; run() then returns. */
  stop(): void {
    if (this.isStopping) {
      return;
    }

    this.deps.logger.info({ running: this.running.size, queued: this.queue.length }, 'agent.stopping');
    this.abort.abort();
    this.stopWatch();
    this.requeueTimers.forEach(clearTimeout);
  }

  private get isStopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** A refused key needs a person (run `register`, fix the clock); anything else is the network or a restart. */
  private logReconnect(attempt: number, delayMs: number, error?: Error): void {
    const code = error instanceof GdsCallError ? error.code : undefined;
    const fields = { attempt: attempt + 1, delayMs, code: code === undefined ? undefined : status[code], reason: error?.message };

    if (code === status.UNAUTHENTICATED || code === status.PERMISSION_DENIED) {
      this.deps.logger.error(fields, 'watch.reconnecting');
    } else {
      this.deps.logger.warn(fields, 'watch.reconnecting');
    }
  }

  /** Reads one assignment stream to its end; resolves with the error that ended it, if any. */
  private async watchOnce(): Promise<Error | undefined> {
    const call = this.deps.client.watchAssignments();
    this.stopWatch = () => call.cancel();
    let isConnected = false;
    const onConnected = () => {
      if (!isConnected) {
        isConnected = true;
        this.deps.logger.info({}, 'watch.connected');
      }
    };
    call.once('metadata', onConnected);

    try {
      for await (const assignment of call as AsyncIterable<Assignment__Output>) {
        onConnected();
        this.enqueue(assignment);
      }

      return undefined;
    } catch (error) {
      return toCallError(error);
    }
  }

  private enqueue(assignment: Assignment__Output): void {
    const { executionId, queryId } = assignment;
    if (!isSafeId(executionId) || !isSafeId(queryId)) {
      this.deps.logger.warn({ executionId, queryId }, 'assignment.invalid_id');
      return;
    }
    if (this.inFlight.has(executionId) || this.isStopping) {
      this.deps.logger.debug({ executionId, queryId }, 'assignment.duplicate');
      return;
    }

    this.deps.logger.debug({ executionId, queryId }, 'assignment.received');
    this.inFlight.add(executionId);
    this.queue.push(assignment);
    this.pump();
  }

  private pump(): void {
    while (!this.isStopping && this.running.size < this.deps.config.concurrency && this.queue.length) {
      const assignment = this.queue.shift()!;
      const task = this.process(assignment).finally(() => {
        this.running.delete(task);
        this.inFlight.delete(assignment.executionId);
        this.pump();
      });
      this.running.add(task);
    }
  }

  /** One info line per outcome; an error escapes the executor only when a later attempt may settle it. */
  private async process(assignment: Assignment__Output): Promise<void> {
    const log = this.deps.logger.child({ executionId: assignment.executionId, queryId: assignment.queryId });
    const startedAt = Date.now();

    try {
      const outcome = await this.deps.executor.execute(assignment, log, this.abort.signal);
      this.requeues.delete(assignment.executionId);
      if (outcome === ExecutionOutcome.SKIPPED) {
        log.debug({ outcome }, 'execution.skipped');
        return;
      }
      log.info({ outcome, durationMs: Date.now() - startedAt }, 'execution.finished');
    } catch (error) {
      if (this.isStopping) {
        log.info({ durationMs: Date.now() - startedAt }, 'execution.interrupted');
        return;
      }
      this.scheduleRequeue(assignment, error, log);
    }
  }

  private scheduleRequeue(assignment: Assignment__Output, error: unknown, log: Logger): void {
    const count = this.requeues.get(assignment.executionId) ?? 0;
    if (count >= MAX_REQUEUES) {
      log.error({ err: error, attempts: count + 1 }, 'execution.unsettled');
      this.requeues.delete(assignment.executionId);
      return;
    }

    const delayMs = backoffDelayMs(count, REQUEUE_BACKOFF);
    log.warn({ err: error, attempt: count + 1, delayMs }, 'execution.requeued');
    this.requeues.set(assignment.executionId, count + 1);

    const timer = setTimeout(() => {
      this.requeueTimers.delete(timer);
      this.enqueue(assignment);
    }, delayMs);
    this.requeueTimers.add(timer);
  }

  /**
   * Executions left unfinished by a previous run are queued at once: GDS re-announces only pending ones, and a result
   * it already accepted (the agent stopped before recording it) must still reach a terminal phase here.
   */
  private async resumeStoredExecutions(): Promise<void> {
    const records = await this.deps.store.list();
    const unfinished = records.filter((record) => !isTerminal(record.phase));
    if (unfinished.length) {
      this.deps.logger.info({ count: unfinished.length }, 'executions.resuming');
    }

    for (const record of unfinished) {
      this.enqueue(storedAssignment(record.executionId, record.queryId, record.datasetHash));
    }
  }

  /**
   * Downloads always restart from scratch, so tmp/ is emptied; results/ keeps only files a `trained` record will
   * upload. Catches files orphaned by a crash between recording a terminal phase and deleting its files.
   */
  private async sweepTempFiles(): Promise<void> {
    const tmpDir = join(this.deps.config.stateDir, 'tmp');
    const resultsDir = join(this.deps.config.stateDir, 'results');
    await mkdir(tmpDir, { recursive: true });
    await mkdir(resultsDir, { recursive: true });

    const records = await this.deps.store.list();
    const kept = new Set(
      records.filter((record) => record.phase === ExecutionPhase.TRAINED && record.result).map((record) => record.result!.path),
    );

    const tmpFiles = (await readdir(tmpDir)).map((name) => join(tmpDir, name));
    const resultFiles = (await readdir(resultsDir)).map((name) => join(resultsDir, name)).filter((path) => !kept.has(path));
    await removeFiles([...tmpFiles, ...resultFiles]);
    this.deps.logger.debug({ removed: tmpFiles.length + resultFiles.length }, 'temp_files.swept');
  }

  private async settleRunning(): Promise<void> {
    const grace = sleep(SHUTDOWN_GRACE_MS).then(() => 'timeout' as const);
    const settled = Promise.allSettled([...this.running]).then(() => 'settled' as const);

    if ((await Promise.race([settled, grace])) === 'timeout') {
      this.deps.logger.warn({ running: this.running.size }, 'agent.shutdown_timeout');
    }
  }
}

function storedAssignment(executionId: string, queryId: string, datasetHash = ''): Assignment__Output {
  return { executionId, queryId, datasetHash, modelSha256: '', modelSize: '0', assignedAtNs: '0', deadlineAtNs: '0' };
}
