import { Inject, Injectable } from '@nestjs/common';
import { isSha256Hex, nowNs, type Logger } from '@gds/common';

import type { CustomerCaller, DataOwnerCaller } from '../auth/caller.js';
import { BlobStore } from '@gds/db';
import {
  forbidden,
  GdsErrorCode,
  GdsException,
  invalidInput,
  notFound,
  preconditionFailed,
} from '@gds/common';
import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { PrismaService } from '../database/prisma.service.js';
import type { Execution, ModelFormat, Prisma, Query } from '@gds/db';
import { AssignmentNotifier } from './assignment.notifier.js';
import { ChainOutbox } from './chain-outbox.js';
import { ConsistencyQueue } from './consistency.queue.js';
import { QueryUpdates } from './query-updates.js';
import { assertResultContainer, resolveModelFormat } from './model-format.js';
import { normalizeTrainingSpec, type TrainingSpec, type TrainingSpecInput } from './training-spec.js';

export interface SubmissionHeader {
  dataset: string;
  replication: number;
  tolerance: number;
  training: TrainingSpecInput | null;
  modelFormat: ModelFormat | undefined;
  modelSize: bigint;
  modelSha256: string;
  deadlineSeconds: number;
  name: string;
  quorum: number;
}

interface SubmissionPlan {
  datasetHash: string;
  replication: number;
  quorum: number;
  tolerance: number;
  training: TrainingSpec;
  deadlineSeconds: number;
}

export interface CompletionHeader {
  queryId: string;
  resultSize: bigint;
  resultSha256: string;
  startedAtNs: bigint;
  finishedAtNs: bigint;
  error: { code: string; message: string } | null;
}

export type ExecutionWithResult = Execution & { resultBlob?: { size: bigint; sha256: string } | null };

export type QueryWithExecutions = Query & {
  executions: ExecutionWithResult[];
  modelBlob: { size: bigint; sha256: string };
};

const ACTIVE_EXECUTION: Execution['status'][] = ['ASSIGNED', 'RUNNING'];
const TERMINAL_QUERY: Query['status'][] = ['COMPLETED', 'FAILED', 'CANCELLED'];

export const SUBMISSION_DEFAULTS = { replication: 3, tolerance: 1e-5, deadlineSeconds: 3600 } as const;

/** The query lifecycle: submission, assignment, download, progress, completion and what the customer sees. */
@Injectable()
export class QueryService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly blobs: BlobStore,
    private readonly notifier: AssignmentNotifier,
    private readonly consistency: ConsistencyQueue,
    private readonly updates: QueryUpdates,
    private readonly chain: ChainOutbox,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Checks a submission header before any byte is read, so a hopeless upload is refused at once. */
  async planSubmission(header: SubmissionHeader): Promise<SubmissionPlan> {
    if (header.modelSize <= 0n) {
      throw invalidInput('modelSize must be declared and positive');
    }
    if (header.modelSize > BigInt(this.config.maxModelBytes)) {
      throw new GdsException(GdsErrorCode.TOO_LARGE, `model of ${header.modelSize} bytes exceeds ${this.config.maxModelBytes}`);
    }
    if (!isSha256Hex(header.modelSha256)) {
      throw invalidInput('modelSha256 must be 64 lowercase hex characters');
    }
    const replication = header.replication || SUBMISSION_DEFAULTS.replication;
    const plan: SubmissionPlan = {
      datasetHash: await this.resolveDataset(header.dataset),
      replication,
      quorum: header.quorum || Math.floor(replication / 2) + 1,
      tolerance: header.tolerance || SUBMISSION_DEFAULTS.tolerance,
      training: normalizeTrainingSpec(header.training),
      deadlineSeconds: header.deadlineSeconds || SUBMISSION_DEFAULTS.deadlineSeconds,
    };
    validatePlan(plan);

    await this.pickDataOwners(this.prisma, plan.datasetHash, plan.replication);

    return plan;
  }

  /** Stores the model, then records the query and its executions; either both exist or neither. */
  async submit(
    customer: CustomerCaller,
    header: SubmissionHeader,
    plan: SubmissionPlan,
    chunks: AsyncIterable<Buffer>,
  ): Promise<{ query: Query; dataOwnerIds: string[] }> {
    let format: ModelFormat | undefined;
    const blob = await this.blobs.write(chunks, {
      size: header.modelSize,
      sha256: header.modelSha256,
      inspectHead: (head) => (format = resolveModelFormat(head, header.modelFormat)),
    });

    try {
      return await this.createQuery(customer, header, plan, blob.blobId, format!);
    } catch (error) {
      await this.blobs.delete(blob.blobId);
      throw error;
    }
  }

  /**
   * Submits a model the customer streamed up earlier (HTTP upload endpoint). The header's size, hash and format are
   * taken from the stored upload; the upload is claimed in the same transaction that creates the query.
   */
  async submitUploaded(
    customer: CustomerCaller,
    header: Omit<SubmissionHeader, 'modelSize' | 'modelSha256' | 'modelFormat'>,
    uploadId: string,
  ): Promise<{ query: Query; dataOwnerIds: string[] }> {
    assertUuid(uploadId, 'upload');
    const upload = await this.prisma.modelUpload.findUnique({ where: { id: uploadId }, include: { blob: true } });
    if (!upload || upload.customerId !== customer.customerId) {
      throw notFound(`upload ${uploadId} not found`);
    }
    if (upload.claimedAt) {
      throw new GdsException(GdsErrorCode.ALREADY_EXISTS, `upload ${uploadId} was already submitted`);
    }

    const full: SubmissionHeader = {
      ...header,
      modelSize: upload.blob.size,
      modelSha256: upload.blob.sha256,
      modelFormat: upload.modelFormat === 'TORCH_ARCHIVE' ? undefined : upload.modelFormat,
    };
    const plan = await this.planSubmission(full);

    return this.createQuery(customer, full, plan, upload.blobId, upload.modelFormat, uploadId);
  }

  /** Stops a query: its unfinished executions are cancelled and agents are told to stop at their next call. */
  async cancelQuery(customer: CustomerCaller, queryId: string): Promise<QueryWithExecutions> {
    const query = await this.getForCustomer(customer, queryId);
    if (TERMINAL_QUERY.includes(query.status)) {
      throw preconditionFailed(`query ${queryId} is already ${query.status.toLowerCase()}`);
    }

    await this.prisma.$transaction(async (tx) => {
      const moved = await tx.query.updateMany({
        where: { id: queryId, status: { notIn: TERMINAL_QUERY } },
        data: { status: 'CANCELLED' },
      });
      if (moved.count === 0) {
        throw preconditionFailed(`query ${queryId} finished meanwhile`);
      }
      await tx.execution.updateMany({
        where: { queryId, status: { in: ACTIVE_EXECUTION } },
        data: { status: 'CANCELLED', finishedAtNs: nowNs() },
      });
      await recordEvent(tx, queryId, 'query.cancelled', { detail: { by: customer.customerId } });
    });
    this.logger.info({ event: 'query.cancelled', queryId, customerId: customer.customerId });
    await this.updates.publish(queryId, customer.customerId);

    return this.getForCustomer(customer, queryId);
  }

  /** Executions a Data Owner still has to work on. */
  async listPendingAssignments(dataOwnerId: string): Promise<Array<Execution & { query: QueryWithExecutions }>> {
    return this.prisma.execution.findMany({
      where: { dataOwnerId, status: { in: ACTIVE_EXECUTION }, query: { status: { notIn: TERMINAL_QUERY } } },
      include: { query: { include: { executions: true, modelBlob: { select: { size: true, sha256: true } } } } },
      orderBy: { assignedAtNs: 'asc' },
    });
  }

  /** Lets an assigned Data Owner download a query; the execution counts as running from then on. */
  async startDownload(caller: DataOwnerCaller, queryId: string): Promise<{ query: QueryWithExecutions; execution: Execution }> {
    const { query, execution } = await this.findAssignment(caller, queryId);
    if (!ACTIVE_EXECUTION.includes(execution.status)) {
      throw preconditionFailed(`execution ${execution.id} is ${execution.status.toLowerCase()}`);
    }

    await this.prisma.$transaction(async (tx) => {
      const started = await tx.execution.updateMany({
        where: { id: execution.id, status: 'ASSIGNED' },
        data: { status: 'RUNNING', startedAtNs: nowNs() },
      });
      await tx.query.updateMany({ where: { id: query.id, status: 'PENDING' }, data: { status: 'RUNNING' } });
      if (started.count > 0) {
        await recordEvent(tx, query.id, 'execution.started', { execution });
      }
    });
    await this.updates.publish(query.id, query.customerId);

    return { query, execution };
  }

  /** Records one epoch's progress. Returns false when the execution no longer accepts work. */
  async reportProgress(
    caller: DataOwnerCaller,
    report: { queryId: string; epoch: number; totalEpochs: number; loss: number },
  ): Promise<boolean> {
    const { query, execution } = await this.findAssignment(caller, report.queryId);
    if (!ACTIVE_EXECUTION.includes(execution.status)) {
      return false;
    }
    if (report.epoch < 1 || report.totalEpochs < report.epoch || !Number.isFinite(report.loss)) {
      throw invalidInput('progress needs 1 <= epoch <= totalEpochs and a finite loss');
    }

    const reportedAtNs = nowNs();
    const isAccepted = await this.prisma.$transaction(async (tx) => {
      // Conditional on the execution still working: a cancel that lands meanwhile must not be undone.
      const moved = await tx.execution.updateMany({
        where: { id: execution.id, status: { in: ACTIVE_EXECUTION } },
        data: {
          status: 'RUNNING',
          progressEpoch: report.epoch,
          progressTotal: report.totalEpochs,
          progressLoss: report.loss,
          progressAtNs: reportedAtNs,
        },
      });
      if (moved.count === 0) {
        return false;
      }
      await tx.progressEntry.upsert({
        where: { executionId_epoch: { executionId: execution.id, epoch: report.epoch } },
        create: { executionId: execution.id, epoch: report.epoch, totalEpochs: report.totalEpochs, loss: report.loss },
        update: { totalEpochs: report.totalEpochs, loss: report.loss },
      });
      return true;
    });
    if (!isAccepted) {
      return false;
    }
    await this.updates.publish(execution.queryId, query.customerId);

    return true;
  }

  /** Takes a Data Owner's outcome: a trained state_dict streamed in chunks, or an error. */
  async complete(caller: DataOwnerCaller, header: CompletionHeader, chunks: AsyncIterable<Buffer>): Promise<Execution> {
    const { execution } = await this.findAssignment(caller, header.queryId);
    this.assertAcceptsOutcome(execution, header);

    if (header.error) {
      return this.recordFailure(execution, header);
    }
    if (header.resultSize <= 0n) {
      throw invalidInput('resultSize must be declared and positive');
    }
    if (header.resultSize > BigInt(this.config.maxResultBytes)) {
      throw new GdsException(GdsErrorCode.TOO_LARGE, `result of ${header.resultSize} bytes exceeds ${this.config.maxResultBytes}`);
    }
    if (!isSha256Hex(header.resultSha256)) {
      throw invalidInput('resultSha256 must be 64 lowercase hex characters');
    }

    const blob = await this.blobs.write(chunks, {
      size: header.resultSize,
      sha256: header.resultSha256,
      inspectHead: assertResultContainer,
    });

    return this.recordSuccess(execution, header, blob.blobId);
  }

  async getForCustomer(customer: CustomerCaller, queryId: string): Promise<QueryWithExecutions> {
    assertUuid(queryId, 'query id');
    const query = await this.prisma.query.findUnique({
      where: { id: queryId },
      include: {
        executions: { orderBy: { assignedAtNs: 'asc' }, include: { resultBlob: { select: { size: true, sha256: true } } } },
        modelBlob: { select: { size: true, sha256: true } },
      },
    });
    // Another customer's query is reported exactly like a missing one, so ids reveal nothing.
    if (!query || query.customerId !== customer.customerId) {
      throw notFound(`query ${queryId} not found`);
    }

    return query;
  }

  /** The result a customer asked for, when it exists. */
  async getResult(
    query: QueryWithExecutions,
    executionId: string,
  ): Promise<{ execution: Execution; blobId: string; size: bigint; sha256: string }> {
    const execution = query.executions.find((candidate) => candidate.id === executionId);
    if (!execution) {
      throw notFound(`execution ${executionId} is not part of query ${query.id}`);
    }
    if (execution.status !== 'SUCCEEDED' || !execution.resultBlobId) {
      throw preconditionFailed(`execution ${executionId} has no result (${execution.status.toLowerCase()})`);
    }
    const blob = await this.prisma.blob.findUniqueOrThrow({ where: { id: execution.resultBlobId } });

    return { execution, blobId: blob.id, size: blob.size, sha256: blob.sha256 };
  }

  /** The canonical result chosen by the consistency check. */
  async getVerifiedResult(query: QueryWithExecutions): Promise<{ execution: Execution; blobId: string; size: bigint; sha256: string }> {
    if (query.status !== 'COMPLETED' || query.verdict !== 'CONSISTENT' || !query.canonicalExecutionId) {
      throw preconditionFailed(`query ${query.id} has no verified result (${query.status.toLowerCase()})`);
    }

    return this.getResult(query, query.canonicalExecutionId);
  }

  /** Fails executions whose query deadline passed, so that no query stays "running" forever. */
  async failOverdueExecutions(): Promise<number> {
    const overdue = await this.prisma.execution.findMany({
      where: { status: { in: ACTIVE_EXECUTION }, query: { deadlineAt: { lt: new Date() } } },
      select: { id: true, queryId: true },
    });
    for (const execution of overdue) {
      await this.prisma.$transaction(async (tx) => {
        const moved = await tx.execution.updateMany({
          where: { id: execution.id, status: { in: ACTIVE_EXECUTION } },
          data: { status: 'FAILED', errorCode: 'DEADLINE_EXCEEDED', errorMessage: 'no result before the deadline' },
        });
        if (moved.count > 0) {
          await recordEvent(tx, execution.queryId, 'execution.deadline_exceeded', { executionId: execution.id });
        }
      });
      await this.refreshQueryStatus(execution.queryId);
    }

    return overdue.length;
  }

  private async resolveDataset(dataset: string): Promise<string> {
    const hash = dataset.replace(/^sha256:/, '');
    if (isSha256Hex(hash)) {
      return hash;
    }
    if (!dataset) {
      throw invalidInput('dataset is required: a registered dataset name or its content hash');
    }

    const rows = await this.prisma.dataset.findMany({
      where: { name: dataset, dataOwner: { status: 'ACTIVE' } },
      distinct: ['contentHash'],
      select: { contentHash: true },
    });
    if (rows.length === 0) {
      throw notFound(`no active Data Owner holds a dataset named "${dataset}"`);
    }
    if (rows.length > 1) {
      const hashes = rows.map((row) => row.contentHash).join(', ');
      throw invalidInput(`dataset name "${dataset}" is ambiguous; name one content hash of: ${hashes}`);
    }

    return rows[0].contentHash;
  }

  /** Active holders of the dataset, least busy first. */
  private async pickDataOwners(db: Prisma.TransactionClient, datasetHash: string, replication: number): Promise<string[]> {
    const holders = await db.dataOwner.findMany({
      where: { status: 'ACTIVE', datasets: { some: { contentHash: datasetHash } } },
      select: {
        id: true,
        lastSeenAt: true,
        _count: { select: { executions: { where: { status: { in: ACTIVE_EXECUTION } } } } },
      },
    });
    if (holders.length < replication) {
      throw preconditionFailed(
        `replication ${replication} needs as many active Data Owners holding dataset ${datasetHash}; ${holders.length} do`,
      );
    }

    holders.sort(
      (a, b) =>
        a._count.executions - b._count.executions ||
        (b.lastSeenAt?.getTime() ?? 0) - (a.lastSeenAt?.getTime() ?? 0) ||
        a.id.localeCompare(b.id),
    );

    return holders.slice(0, replication).map((holder) => holder.id);
  }

  private async createQuery(
    customer: CustomerCaller,
    header: SubmissionHeader,
    plan: SubmissionPlan,
    blobId: string,
    format: ModelFormat,
    uploadId?: string,
  ): Promise<{ query: Query; dataOwnerIds: string[] }> {
    const created = await this.prisma.$transaction(async (tx) => {
      if (uploadId) {
        const claimed = await tx.modelUpload.updateMany({ where: { id: uploadId, claimedAt: null }, data: { claimedAt: new Date() } });
        if (claimed.count === 0) {
          throw new GdsException(GdsErrorCode.ALREADY_EXISTS, `upload ${uploadId} was already submitted`);
        }
      }
      const dataOwnerIds = await this.pickDataOwners(tx, plan.datasetHash, plan.replication);
      const assignedAtNs = nowNs();

      const query = await tx.query.create({
        data: {
          customerId: customer.customerId,
          name: header.name || null,
          modelBlobId: blobId,
          modelFormat: format,
          trainingSpec: { ...plan.training },
          datasetHash: plan.datasetHash,
          replication: plan.replication,
          quorum: plan.quorum,
          tolerance: plan.tolerance,
          deadlineAt: new Date(Date.now() + plan.deadlineSeconds * 1000),
          executions: { create: dataOwnerIds.map((dataOwnerId) => ({ dataOwnerId, assignedAtNs })) },
        },
      });
      await recordEvent(tx, query.id, 'query.submitted', {
        detail: { modelSha256: header.modelSha256, modelSize: header.modelSize.toString(), assigned: dataOwnerIds },
      });
      await this.chain.record(tx, 'QUERY_SUBMITTED', {
        queryId: query.id,
        customerId: customer.customerId,
        datasetHash: plan.datasetHash,
        modelHash: header.modelSha256,
        dataOwnerIds,
      });

      return { query, dataOwnerIds };
    });
    this.chain.kick();

    this.logger.info({ event: 'query.submitted', queryId: created.query.id, assigned: created.dataOwnerIds.length });
    await this.updates.publish(created.query.id, customer.customerId);
    // The query exists now; a lost wake-up only delays the agents until their next resync.
    await this.notifier.notify(created.dataOwnerIds).catch((error: unknown) =>
      this.logger.warn({ event: 'assignment.notify_failed', queryId: created.query.id, err: error }),
    );

    return created;
  }

  private async findAssignment(caller: DataOwnerCaller, queryId: string): Promise<{ query: QueryWithExecutions; execution: Execution }> {
    assertUuid(queryId, 'query id');
    if (caller.queryId !== queryId) {
      throw forbidden('the signed x-gds-query-id differs from the query id in the request');
    }

    const query = await this.prisma.query.findUnique({
      where: { id: queryId },
      include: { executions: true, modelBlob: { select: { size: true, sha256: true } } },
    });
    if (!query) {
      throw notFound(`query ${queryId} not found`);
    }
    const execution = query.executions.find((candidate) => candidate.dataOwnerId === caller.dataOwnerId);
    if (!execution) {
      throw forbidden(`query ${queryId} is not assigned to this Data Owner`);
    }

    return { query, execution };
  }

  private assertAcceptsOutcome(execution: Execution, header: CompletionHeader): void {
    if (execution.status === 'SUCCEEDED') {
      const stored = execution.resultBlobId ? 'a result' : 'an outcome';
      throw new GdsException(GdsErrorCode.ALREADY_EXISTS, `execution ${execution.id} already has ${stored}`, {
        resultSha256: header.resultSha256,
      });
    }
    if (!ACTIVE_EXECUTION.includes(execution.status)) {
      throw preconditionFailed(`execution ${execution.id} is ${execution.status.toLowerCase()}`);
    }
  }

  private async recordFailure(execution: Execution, header: CompletionHeader): Promise<Execution> {
    const code = (header.error!.code || 'UNKNOWN').slice(0, 64);
    const updated = await this.prisma.$transaction(async (tx) => {
      const moved = await tx.execution.updateMany({
        where: { id: execution.id, status: { in: ACTIVE_EXECUTION } },
        data: {
          status: 'FAILED',
          errorCode: code,
          errorMessage: header.error!.message.slice(0, 4000),
          finishedAtNs: header.finishedAtNs || nowNs(),
        },
      });
      if (moved.count > 0) {
        await recordEvent(tx, execution.queryId, 'execution.failed', { execution, detail: { code } });
      }
      return moved;
    });
    if (updated.count === 0) {
      throw preconditionFailed(`execution ${execution.id} changed state meanwhile`);
    }
    this.logger.info({ event: 'execution.failed', executionId: execution.id, queryId: execution.queryId, code });
    await this.refreshQueryStatus(execution.queryId);

    return this.prisma.execution.findUniqueOrThrow({ where: { id: execution.id } });
  }

  private async recordSuccess(execution: Execution, header: CompletionHeader, blobId: string): Promise<Execution> {
    const updated = await this.prisma.$transaction(async (tx) => {
      const moved = await tx.execution.updateMany({
        where: { id: execution.id, status: { in: ACTIVE_EXECUTION } },
        data: {
          status: 'SUCCEEDED',
          resultBlobId: blobId,
          startedAtNs: header.startedAtNs || execution.startedAtNs,
          finishedAtNs: header.finishedAtNs || nowNs(),
        },
      });
      if (moved.count > 0) {
        await recordEvent(tx, execution.queryId, 'execution.succeeded', {
          execution,
          detail: { resultSha256: header.resultSha256, resultSize: header.resultSize.toString() },
        });
        await this.chain.record(tx, 'EXECUTION_COMPLETED', {
          queryId: execution.queryId,
          dataOwnerId: execution.dataOwnerId,
          resultHash: header.resultSha256,
        });
      }
      return moved;
    });
    this.chain.kick();
    if (updated.count === 0) {
      await this.blobs.delete(blobId);
      throw preconditionFailed(`execution ${execution.id} changed state while its result was uploading`);
    }
    this.logger.info({ event: 'execution.succeeded', executionId: execution.id, queryId: execution.queryId, blobId });
    await this.refreshQueryStatus(execution.queryId);

    return this.prisma.execution.findUniqueOrThrow({ where: { id: execution.id } });
  }

  /**
   * Moves a query on once none of its executions is still working: to VERIFYING (and the consistency check) when
   * at least its quorum of results came in, else to FAILED. Conditional updates keep concurrent callers harmless.
   */
  private async refreshQueryStatus(queryId: string): Promise<void> {
    const query = await this.prisma.query.findUniqueOrThrow({ where: { id: queryId }, include: { executions: true } });
    const isWorking = query.executions.some((execution) => ACTIVE_EXECUTION.includes(execution.status));
    const succeeded = query.executions.filter((execution) => execution.status === 'SUCCEEDED').length;
    const next: Query['status'] = isWorking ? 'RUNNING' : succeeded >= query.quorum ? 'VERIFYING' : 'FAILED';

    const moved = await this.prisma.$transaction(async (tx) => {
      const changed = await tx.query.updateMany({
        where: { id: queryId, status: { notIn: [...TERMINAL_QUERY, 'VERIFYING', next] } },
        data: { status: next },
      });
      if (changed.count > 0 && next !== 'RUNNING') {
        await recordEvent(tx, queryId, `query.${next.toLowerCase()}`, { detail: { succeeded, quorum: query.quorum } });
      }
      return changed;
    });
    await this.updates.publish(queryId, query.customerId);
    if (moved.count > 0 && next === 'VERIFYING') {
      await this.consistency.enqueue(queryId);
    }
    if (moved.count > 0 && next !== 'RUNNING') {
      this.logger.info({ event: 'query.finished_executions', queryId, status: next, succeeded, quorum: query.quorum });
    }
  }

  /** Re-enqueues checks of queries left in VERIFYING (the enqueue after the status change may have failed). */
  async requeueVerifying(): Promise<number> {
    const stuck = await this.prisma.query.findMany({
      where: { status: 'VERIFYING', updatedAt: { lt: new Date(Date.now() - 30_000) } },
      select: { id: true },
    });
    for (const query of stuck) {
      await this.consistency.enqueue(query.id);
    }

    return stuck.length;
  }

}

/** Appends to the query's service timeline, inside the transaction that made the change. */
async function recordEvent(
  tx: Prisma.TransactionClient,
  queryId: string,
  kind: string,
  fields: { execution?: Execution; executionId?: string; detail?: Record<string, unknown> },
): Promise<void> {
  await tx.queryEvent.create({
    data: {
      queryId,
      kind,
      executionId: fields.execution?.id ?? fields.executionId ?? null,
      dataOwnerId: fields.execution?.dataOwnerId ?? null,
      detail: (fields.detail ?? {}) as Prisma.InputJsonValue,
    },
  });
}

function validatePlan(plan: SubmissionPlan): void {
  if (!Number.isInteger(plan.replication) || plan.replication < 1 || plan.replication > 64) {
    throw invalidInput('replication must be 1..64');
  }
  if (!Number.isInteger(plan.quorum) || plan.quorum < 1 || plan.quorum > plan.replication) {
    throw invalidInput('quorum must be 1..replication');
  }
  if (!Number.isFinite(plan.tolerance) || plan.tolerance < 0) {
    throw invalidInput('tolerance must be a finite number >= 0');
  }
  if (!Number.isInteger(plan.deadlineSeconds) || plan.deadlineSeconds < 10 || plan.deadlineSeconds > 7 * 86_400) {
    throw invalidInput('deadlineSeconds must be 10..604800');
  }
}

function assertUuid(value: string, what: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value)) {
    throw notFound(`${what} "${value}" not found`);
  }
}
