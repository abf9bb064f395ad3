import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';

import type { Logger } from '@gds/common';
import type { Assignment__Output, QueryInfo__Output } from '@gds/proto';

import { backoffDelayMs, sleep } from './backoff.js';
import type { AgentConfig } from './config.js';
import type { DatasetCatalog, DatasetDescription } from './datasets.js';
import { ExecutionPhase, ExecutionStore, ResumeStep, type ExecutionRecord } from './execution-store.js';
import { digestFile, removeFiles, unixTimeFloat } from './files.js';
import { GdsCallError, ModelIntegrityError, type GdsClient } from './gds-client.js';
import { runTrainer, type TrainerEpochEvent } from './trainer.js';

/** Failure codes the agent itself reports; the trainer adds its own (CLASS_NOT_FOUND, PICKLE_NOT_ALLOWED, ...). */
export enum FailureCode {
  HASH_MISMATCH = 'HASH_MISMATCH',
  DATASET_UNAVAILABLE = 'DATASET_UNAVAILABLE',
  DOWNLOAD_FAILED = 'DOWNLOAD_FAILED',
  UPLOAD_FAILED = 'UPLOAD_FAILED',
  TRAINING_FAILED = 'TRAINING_FAILED',
  AGENT_ERROR = 'AGENT_ERROR',
}

/** How an assignment ended on this agent; returned as a value, never thrown. */
export enum ExecutionOutcome {
  UPLOADED = 'uploaded',
  FAILED_REPORTED = 'failed_reported',
  CANCELLED = 'cancelled',
  /** Already terminal in the store: nothing was redone. */
  SKIPPED = 'skipped',
}

/** Transient gRPC errors are retried this many times before the execution fails. */
const MAX_RETRIES = 5;
const RETRY_BACKOFF = { baseMs: 500, maxMs: 15_000 };

/** Codes by which GDS says the execution is no longer this agent's to work on. */
const REFUSING_CODES = new Set([grpc.status.FAILED_PRECONDITION, grpc.status.NOT_FOUND, grpc.status.PERMISSION_DENIED]);

/** A failure to report to GDS as the execution's outcome. */
class ExecutionFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ExecutionFailure';
  }
}

export interface ExecutorDeps {
  config: AgentConfig;
  client: GdsClient;
  store: ExecutionStore;
  catalog: DatasetCatalog;
}

/**
 * Runs one assignment through download → training → upload (or failure report), persisting each phase so a
 * restarted agent resumes without redoing finished work. Errors escape only when the execution must be retried
 * later (GDS unreachable while reporting) or the agent is shutting down.
 */
export class Executor {
  private readonly tmpDir: string;
  private readonly resultsDir: string;

  constructor(private readonly deps: ExecutorDeps) {
    this.tmpDir = join(deps.config.stateDir, 'tmp');
    this.resultsDir = join(deps.config.stateDir, 'results');
  }

  async execute(assignment: Assignment__Output, log: Logger, signal: AbortSignal): Promise<ExecutionOutcome> {
    const existing = await this.deps.store.get(assignment.executionId);
    const step = existing ? await this.deps.store.resumeStep(existing) : ResumeStep.DOWNLOAD;
    log.debug({ step, phase: existing?.phase }, 'execution.resuming');

    switch (step) {
      case ResumeStep.SKIP:
        return ExecutionOutcome.SKIPPED;
      case ResumeStep.UPLOAD:
        return this.upload(existing!, log, signal);
      case ResumeStep.REPORT_FAILURE:
        return this.reportFailure(existing!, log, signal);
      case ResumeStep.DOWNLOAD:
        await removeFiles([existing?.modelPath, existing?.resultPath, existing?.result?.path]);
        return this.runFromDownload(assignment, log, signal);
    }
  }

  private async runFromDownload(assignment: Assignment__Output, log: Logger, signal: AbortSignal) {
    await mkdir(this.tmpDir, { recursive: true });
    await mkdir(this.resultsDir, { recursive: true });

    let record = await this.deps.store.save({
      executionId: assignment.executionId,
      queryId: assignment.queryId,
      datasetHash: assignment.datasetHash || undefined,
      phase: ExecutionPhase.DOWNLOADING,
      modelPath: join(this.tmpDir, `model_${assignment.queryId}_start${unixTimeFloat()}.pt`),
    });

    try {
      const { info, dataset } = await this.download(record, assignment, log, signal);

      const resultPath = join(this.resultsDir, `model_${record.queryId}_completed${unixTimeFloat()}.pt`);
      record = await this.deps.store.save({ ...record, phase: ExecutionPhase.TRAINING, resultPath });

      return await this.train(record, info, dataset, log, signal);
    } catch (error) {
      return this.handleError(record, error, log, signal);
    }
  }

  private async download(record: ExecutionRecord, assignment: Assignment__Output, log: Logger, signal: AbortSignal) {
    // Checked before any byte moves; the header's hash is checked again below and is the one that counts.
    if (assignment.datasetHash && !(await this.deps.catalog.findByHash(assignment.datasetHash))) {
      throw datasetUnavailable(assignment.datasetHash);
    }

    let dataset: DatasetDescription | undefined;
    const onHeader = async (info: QueryInfo__Output) => {
      dataset = await this.deps.catalog.findByHash(info.datasetHash);
      if (!dataset) {
        throw datasetUnavailable(info.datasetHash);
      }
    };

    try {
      const started = Date.now();
      const model = await this.withRetries('GetQueryInfo', log, signal, () =>
        this.deps.client.downloadModel(record.queryId, record.modelPath!, { onHeader, signal }),
      );
      log.debug({ size: model.size, durationMs: Date.now() - started, dataset: dataset!.config.name }, 'model.downloaded');

      return { info: model.info, dataset: dataset! };
    } catch (error) {
      if (error instanceof ModelIntegrityError) {
        throw new ExecutionFailure(FailureCode.HASH_MISMATCH, error.message);
      }
      throw asTransferFailure(error, FailureCode.DOWNLOAD_FAILED, 'GetQueryInfo');
    }
  }

  private async train(
    record: ExecutionRecord,
    info: QueryInfo__Output,
    dataset: DatasetDescription,
    log: Logger,
    signal: AbortSignal,
  ): Promise<ExecutionOutcome> {
    const job = {
      queryId: record.queryId,
      modelPath: record.modelPath!,
      dataset: dataset.config,
      training: info.training,
      outPath: record.resultPath!,
      cwd: this.deps.config.stateDir,
    };
    const onEpoch = (event: TrainerEpochEvent) => this.reportProgress(record.queryId, event, log);

    const outcome = await runTrainer(this.deps.config.trainer, job, { logger: log, onEpoch, signal });
    if (outcome.kind === 'cancelled') {
      return this.finish(record, ExecutionPhase.CANCELLED, log, 'progress_rejected');
    }
    if (outcome.kind === 'failed') {
      throw new ExecutionFailure(outcome.code, outcome.message);
    }

    // The trainer's own report is checked: the process also ran the customer's model code.
    const digest = await digestFile(job.outPath).catch(() => undefined);
    if (!digest || digest.sha256 !== outcome.result.sha256 || digest.size !== outcome.result.size) {
      throw new ExecutionFailure(FailureCode.TRAINING_FAILED, 'the result file does not match what the trainer reported');
    }

    const { startedAtNs, finishedAtNs } = outcome.result;
    const result = { path: job.outPath, sha256: digest.sha256, size: digest.size, startedAtNs, finishedAtNs };
    const trained = await this.deps.store.save({ ...record, phase: ExecutionPhase.TRAINED, result });
    await removeFiles([record.modelPath]);

    return this.upload(trained, log, signal);
  }

  /** Progress is best effort: a failed report is logged and training goes on. False only when GDS said stop. */
  private async reportProgress(queryId: string, event: TrainerEpochEvent, log: Logger): Promise<boolean> {
    try {
      const { epoch, totalEpochs, loss } = event;

      return await this.deps.client.reportProgress({ queryId, epoch, totalEpochs, loss });
    } catch (error) {
      if (error instanceof GdsCallError && REFUSING_CODES.has(error.code)) {
        return false;
      }
      log.warn({ err: error, epoch: event.epoch }, 'progress.report_failed');

      return true;
    }
  }

  private async upload(record: ExecutionRecord, log: Logger, signal: AbortSignal): Promise<ExecutionOutcome> {
    const result = record.result!;
    const { startedAtNs, finishedAtNs } = result;
    const header = { queryId: record.queryId, resultSize: result.size, resultSha256: result.sha256, startedAtNs, finishedAtNs };

    try {
      await this.withRetries('QueryCompleted', log, signal, () =>
        this.deps.client.uploadResult(header, result.path, signal),
      );

      return await this.finish(record, ExecutionPhase.UPLOADED, log);
    } catch (error) {
      if (error instanceof GdsCallError && error.code === grpc.status.ALREADY_EXISTS) {
        log.debug({ reason: error.message }, 'result.already_uploaded');
        return this.finish(record, ExecutionPhase.UPLOADED, log);
      }

      return this.handleError(record, asTransferFailure(error, FailureCode.UPLOAD_FAILED, 'QueryCompleted'), log, signal);
    }
  }

  /** Routes an error to its terminal phase; rethrows what only a later attempt can settle. */
  private async handleError(record: ExecutionRecord, error: unknown, log: Logger, signal: AbortSignal) {
    if (signal.aborted) {
      throw error;
    }
    if (error instanceof GdsCallError && REFUSING_CODES.has(error.code)) {
      log.info({ code: error.codeName, reason: error.message }, 'execution.refused_by_server');
      return this.finish(record, ExecutionPhase.CANCELLED, log, `refused:${error.codeName}`);
    }
    if (error instanceof ExecutionFailure) {
      return this.fail(record, error.code, error.message, log, signal);
    }

    log.error({ err: error }, 'execution.agent_error');

    return this.fail(record, FailureCode.AGENT_ERROR, 'the Data Owner agent hit an internal error', log, signal);
  }

  private async fail(record: ExecutionRecord, code: string, message: string, log: Logger, signal: AbortSignal) {
    const failing = await this.deps.store.save({ ...record, phase: ExecutionPhase.FAILING, error: { code, message } });

    return this.reportFailure(failing, log, signal);
  }

  /** Sends the failure; if GDS stays unreachable the record stays `failing` and the error escapes for a later retry. */
  private async reportFailure(record: ExecutionRecord, log: Logger, signal: AbortSignal): Promise<ExecutionOutcome> {
    try {
      await this.withRetries('QueryCompleted', log, signal, () =>
        this.deps.client.reportFailure(record.queryId, record.error!, signal),
      );

      return await this.finish(record, ExecutionPhase.FAILED_REPORTED, log);
    } catch (error) {
      if (signal.aborted || !(error instanceof GdsCallError)) {
        throw error;
      }
      // GDS already holds an outcome from this agent: the report got through before a restart.
      if (error.code === grpc.status.ALREADY_EXISTS) {
        return this.finish(record, ExecutionPhase.FAILED_REPORTED, log);
      }
      if (REFUSING_CODES.has(error.code)) {
        return this.finish(record, ExecutionPhase.CANCELLED, log, `refused:${error.codeName}`);
      }
      throw error;
    }
  }

  /** Records a terminal phase, then deletes every temp file of the execution, whatever the outcome. */
  private async finish(record: ExecutionRecord, phase: ExecutionPhase, log: Logger, reason?: string) {
    await this.deps.store.save({ ...record, phase, reason });
    await removeFiles([record.modelPath, record.resultPath, record.result?.path]);
    log.debug({ phase, reason }, 'execution.terminal');

    return outcomeOf(phase);
  }

  private async withRetries<T>(call: string, log: Logger, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
    for (let retry = 0; ; retry += 1) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof GdsCallError) || !error.isTransient || retry >= MAX_RETRIES || signal.aborted) {
          throw error;
        }

        const delayMs = backoffDelayMs(retry, RETRY_BACKOFF);
        log.warn({ call, code: error.codeName, retry: retry + 1, delayMs }, 'grpc.retrying');
        await sleep(delayMs, signal);
      }
    }
  }
}

function datasetUnavailable(hash: string): ExecutionFailure {
  return new ExecutionFailure(FailureCode.DATASET_UNAVAILABLE, `this Data Owner holds no dataset with hash ${hash}`);
}

/** Transfer errors that are neither refusals nor failures already become a failure with `code`. */
function asTransferFailure(error: unknown, code: FailureCode, call: string): unknown {
  if (!(error instanceof GdsCallError) || REFUSING_CODES.has(error.code)) {
    return error;
  }

  return new ExecutionFailure(code, `${call} failed: ${error.codeName}: ${error.message}`);
}

function outcomeOf(phase: ExecutionPhase): ExecutionOutcome {
  switch (phase) {
    case ExecutionPhase.UPLOADED:
      return ExecutionOutcome.UPLOADED;
    case ExecutionPhase.FAILED_REPORTED:
      return ExecutionOutcome.FAILED_REPORTED;
    case ExecutionPhase.CANCELLED:
      return ExecutionOutcome.CANCELLED;
    default:
      throw new Error(`phase ${phase} is not terminal`);
  }
}
