import { Inject, Injectable } from '@nestjs/common';
import { MAX_CHUNK_BYTES } from '@gds/common';
import { BlobStore } from '@gds/db';

import type { Logger } from '../common/logger.provider.js';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config.js';
import type { CheckHeader, CheckMessage, CheckResponse__Output } from '../sidecar/sidecar.contract.js';
import { QueryUpdates } from '../database/query-updates.js';
import { SidecarSupervisor } from '../sidecar/sidecar.supervisor.js';
import { ConsistencyRepository, type ExecutionForCheck, type QueryForCheck } from './consistency.repository.js';
import { checkedExecutions, recordOfCheck, recordOfUnverifiable } from './consistency.report.js';

export interface JobContext {
  jobId: string;
  attempt: number;
}

/** What a consistency job ended with; only failures a retry can fix are thrown instead. */
export type ConsistencyJobResult =
  | { outcome: 'skipped'; reason: string }
  | { outcome: 'unverifiable'; reason: string }
  | {
      outcome: 'verified';
      status: 'COMPLETED' | 'FAILED';
      verdict: string;
      canonicalExecutionId: string | null;
      rejected: number;
      streamMs: number;
      sidecar: { receiveSeconds: number; checkSeconds: number; afterReceiveSeconds: number; peakRssBytes: string };
    };

/** Verifies a query's results with the sidecar and records the outcome. */
@Injectable()
export class ConsistencyService {
  constructor(
    private readonly repository: ConsistencyRepository,
    private readonly blobs: BlobStore,
    private readonly sidecar: SidecarSupervisor,
    private readonly updates: QueryUpdates,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {}

  async check(queryId: string, job: JobContext, log: Logger): Promise<ConsistencyJobResult> {
    const query = isUuid(queryId) ? await this.repository.findForCheck(queryId) : null;
    if (!query) {
      return { outcome: 'skipped', reason: 'no such query' };
    }
    if (query.status !== 'VERIFYING') {
      return { outcome: 'skipped', reason: `query is ${query.status}` };
    }

    const executions = checkedExecutions(query);
    const started = Date.now();
    const response = executions.length > 0 ? await this.runCheck(query, executions, job, log) : null;
    const streamMs = Date.now() - started;

    const record = recordOfCheck(query, response, new Date());
    if (!(await this.repository.save(query.id, record))) {
      return { outcome: 'skipped', reason: 'query left VERIFYING during the check' };
    }
    await this.updates.publish(query.id, query.customerId);

    return {
      outcome: 'verified',
      status: record.status,
      verdict: record.verdict ?? 'INCONSISTENT',
      canonicalExecutionId: record.canonicalExecutionId,
      rejected: record.executions.filter((execution) => !execution.isAccepted).length,
      streamMs,
      sidecar: {
        receiveSeconds: response?.timings?.receiveSeconds ?? 0,
        checkSeconds: response?.timings?.checkSeconds ?? 0,
        afterReceiveSeconds: response?.timings?.afterReceiveSeconds ?? 0,
        peakRssBytes: response?.peakRssBytes ?? '0',
      },
    };
  }

  /** Fails a query whose check cannot run at all, so that it does not stay VERIFYING for ever. */
  async failUnverifiable(queryId: string, reason: string): Promise<ConsistencyJobResult> {
    const query = isUuid(queryId) ? await this.repository.findForCheck(queryId) : null;
    if (!query || query.status !== 'VERIFYING') {
      return { outcome: 'skipped', reason: 'query is no longer VERIFYING' };
    }
    if (await this.repository.save(query.id, recordOfUnverifiable(query, reason))) {
      await this.updates.publish(query.id, query.customerId);
    }

    return { outcome: 'unverifiable', reason };
  }

  private async runCheck(
    query: QueryForCheck,
    executions: ExecutionForCheck[],
    job: JobContext,
    log: Logger,
  ): Promise<CheckResponse__Output> {
    const client = await this.sidecar.healthyClient();
    const header: CheckHeader = {
      queryId: query.id,
      jobId: job.jobId,
      attempt: job.attempt,
      // The relative L2 bound follows the query's tolerance (proto default: 10 x max_abs_diff).
      tolerance: { maxAbsDiff: query.tolerance, relativeL2: 0 },
      quorum: query.quorum,
      model: { size: query.modelBlob.size.toString(), sha256: query.modelBlob.sha256 },
      results: executions.map((execution) => ({
        executionId: execution.id,
        size: execution.resultBlob!.size.toString(),
        sha256: execution.resultBlob!.sha256,
      })),
      verifySha256: this.config.verifySha256,
    };
    log.debug({ event: 'consistency.streaming', results: executions.length, sidecarPid: this.sidecar.pid });

    return client.check(this.messages(header, query, executions), this.config.checkTimeoutMs);
  }

  /** The header, then the model, then each result, as BlobStart + chunks of at most 3 MiB, read as they are sent. */
  private async *messages(
    header: CheckHeader,
    query: QueryForCheck,
    executions: ExecutionForCheck[],
  ): AsyncGenerator<CheckMessage> {
    yield { header };
    yield { blob: { executionId: '' } };
    yield* chunked(this.blobs.read(query.modelBlob.id));
    for (const execution of executions) {
      yield { blob: { executionId: execution.id } };
      yield* chunked(this.blobs.read(execution.resultBlobId!));
    }
  }
}

/**
 * Regroups the blob store's pieces into 3 MiB messages: fewer, larger messages for the sidecar.
 * TODO(consistency job speed): relaying every byte Postgres -> worker -> sidecar over gRPC costs ~7-8 core-seconds
 * per GiB on two cores, so a 5 x 1 GiB job takes 5.5x the raw blob read (target 1.3x, bench/consistency). It stays
 * because the sidecar contract is the one place results enter Python; letting the sidecar read blobs from Postgres
 * by id (a sidecar.proto change, estimated ~1.5x) or more cores retires it.
 */
async function* chunked(pieces: AsyncIterable<Buffer>): AsyncGenerator<CheckMessage> {
  let pending: Buffer[] = [];
  let size = 0;

  for await (const piece of pieces) {
    for (let at = 0; at < piece.length; ) {
      const take = Math.min(piece.length - at, MAX_CHUNK_BYTES - size);
      pending.push(piece.subarray(at, at + take));
      size += take;
      at += take;
      if (size === MAX_CHUNK_BYTES) {
        yield { chunkPieces: pending };
        pending = [];
        size = 0;
      }
    }
  }
  if (size > 0) {
    yield { chunkPieces: pending };
  }
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
