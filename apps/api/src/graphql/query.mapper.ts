import type { ProgressEntry } from '@gds/db';

import type { ExecutionView, QueryView } from '../query/query-read.service.js';
import type { TimelineItem } from '../query/timeline.js';
import { TRAINING_DEFAULTS, type TrainingSpec as StoredTrainingSpec } from '../query/training-spec.js';
import { LossFunction, Optimizer, Verdict } from './types/enums.js';
import type {
  ConsistencyEntry,
  ConsistencyReport,
  Execution,
  GdsQuery,
  ProgressPoint,
  TimelineEntry,
  TrainingSpec,
} from './types/query.types.js';

/** A query as GraphQL shows it; timeline, datasetName and lossCurve are resolved on demand. */
export function toGdsQuery(query: QueryView, publicApiUrl: string): GdsQuery {
  const hasVerifiedResult =
    query.status === 'COMPLETED' && query.verdict === 'CONSISTENT' && !!query.canonicalExecutionId;

  return {
    id: query.id,
    name: query.name,
    status: query.status,
    createdAt: query.createdAt,
    updatedAt: query.updatedAt,
    deadlineAt: query.deadlineAt,
    datasetHash: query.datasetHash,
    replication: query.replication,
    quorum: query.quorum,
    tolerance: query.tolerance,
    training: toTrainingSpec(query.trainingSpec),
    modelFormat: query.modelFormat,
    modelSha256: query.modelBlob.sha256,
    modelSize: query.modelBlob.size,
    executions: query.executions.map(toExecution),
    report: toReport(query),
    resultDownloadUrl: hasVerifiedResult ? `${publicApiUrl}/queries/${query.id}/result` : null,
  };
}

export function toProgressPoint(entry: ProgressEntry): ProgressPoint {
  return { epoch: entry.epoch, totalEpochs: entry.totalEpochs, loss: entry.loss, reportedAt: entry.reportedAt };
}

export function toTimelineEntry(item: TimelineItem): TimelineEntry {
  return { ...item, detail: item.detail ?? null };
}

function toExecution(execution: ExecutionView): Execution {
  return {
    id: execution.id,
    dataOwnerId: execution.dataOwnerId,
    dataOwnerName: execution.dataOwner.name,
    status: execution.status,
    assignedAtNs: execution.assignedAtNs,
    startedAtNs: execution.startedAtNs,
    finishedAtNs: execution.finishedAtNs,
    progress:
      execution.progressEpoch === null
        ? null
        : {
            epoch: execution.progressEpoch,
            totalEpochs: execution.progressTotal ?? execution.progressEpoch,
            loss: execution.progressLoss ?? 0,
            reportedAt: nsToDate(execution.progressAtNs) ?? execution.updatedAt,
          },
    resultSha256: execution.resultBlob?.sha256 ?? null,
    resultSize: execution.resultBlob?.size ?? null,
    error: execution.errorCode ? { code: execution.errorCode, message: execution.errorMessage ?? '' } : null,
    accepted: execution.isAccepted,
    rejectionReason: execution.rejectionReason,
  };
}

function toTrainingSpec(stored: unknown): TrainingSpec {
  const spec = { ...TRAINING_DEFAULTS, ...(isRecord(stored) ? stored : {}) } as StoredTrainingSpec;

  return {
    epochs: spec.epochs,
    batchSize: spec.batchSize,
    optimizer: spec.optimizer.toUpperCase() as Optimizer,
    learningRate: spec.learningRate,
    loss: spec.loss.toUpperCase() as LossFunction,
    seed: BigInt(spec.seed),
    momentum: spec.momentum,
  };
}

/**
 * The worker stores the report as the gRPC ConsistencyReport in JSON (camelCase, VERDICT_ prefixes, -1 for "not
 * comparable"); snake_case keys are read too. The query's own columns win where both exist.
 */
function toReport(query: QueryView): ConsistencyReport | null {
  const raw = isRecord(query.report) ? query.report : {};
  const verdict = query.verdict ?? parseVerdict(field(raw, 'verdict'));
  if (!verdict) {
    return null;
  }
  const canonicalExecutionId = query.canonicalExecutionId ?? (text(field(raw, 'canonicalExecutionId')) || null);
  const canonical = query.executions.find((execution) => execution.id === canonicalExecutionId);
  const entries = field(raw, 'entries');

  return {
    verdict,
    canonicalExecutionId,
    canonicalSha256: text(field(raw, 'canonicalSha256')) || canonical?.resultBlob?.sha256 || null,
    quorum: finite(field(raw, 'quorum')) || query.quorum,
    tolerance: finite(field(raw, 'tolerance')) ?? query.tolerance,
    entries: (Array.isArray(entries) ? entries : []).filter(isRecord).map((entry) => toEntry(entry, query)),
    verifiedAt: query.verifiedAt ?? nsToDate(field(raw, 'verifiedAtNs')) ?? query.updatedAt,
  };
}

function toEntry(entry: Record<string, unknown>, query: QueryView): ConsistencyEntry {
  const executionId = text(field(entry, 'executionId'));
  const execution = query.executions.find((candidate) => candidate.id === executionId);

  return {
    executionId,
    dataOwnerId: text(field(entry, 'dataOwnerId')) || execution?.dataOwnerId || '',
    resultSha256: text(field(entry, 'resultSha256')) || execution?.resultBlob?.sha256 || '',
    accepted: field(entry, 'accepted') === true,
    maxAbsDiff: comparable(field(entry, 'maxAbsDiff')),
    relativeL2: comparable(field(entry, 'relativeL2')),
    reason: text(field(entry, 'reason')),
  };
}

function parseVerdict(value: unknown): Verdict | null {
  const byNumber: Record<number, string> = { 1: 'CONSISTENT', 2: 'INCONSISTENT' };
  const name = typeof value === 'string' ? value.replace(/^VERDICT_/, '') : (byNumber[value as number] ?? '');

  return name === 'CONSISTENT' || name === 'INCONSISTENT' ? Verdict[name] : null;
}

/** A camelCase key, or its snake_case spelling. */
function field(record: Record<string, unknown>, key: string): unknown {
  return record[key] ?? record[key.replace(/[A-Z0-9]+/g, (upper) => `_${upper.toLowerCase()}`)];
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function finite(value: unknown): number | undefined {
  const number = typeof value === 'string' ? Number(value) : value;
  return typeof number === 'number' && Number.isFinite(number) ? number : undefined;
}

function comparable(value: unknown): number | null {
  const number = finite(value);
  return number === undefined || number < 0 ? null : number;
}

function nsToDate(value: unknown): Date | null {
  if (value === null || value === undefined || value === '' || value === 0n || value === 0 || value === '0') {
    return null;
  }
  try {
    return new Date(Number(BigInt(value as string) / 1_000_000n));
  } catch {
    return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
