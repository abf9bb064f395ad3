import type { ConsistencyEntry, ConsistencyReport } from '@gds/proto';

import type { CheckResponse__Output, ResultOutcome__Output } from '../sidecar/sidecar.contract.js';
import type { CheckRecord, ExecutionForCheck, QueryForCheck } from './consistency.repository.js';

type ReportVerdict = 'VERDICT_CONSISTENT' | 'VERDICT_INCONSISTENT' | 'VERDICT_UNSPECIFIED';

// Type aliases rather than interfaces: only those count as JSON objects for Prisma's Json columns.

/** One line of the stored report: the camelCase JSON of gooddata.v1.ConsistencyEntry, every field present. */
export type ConsistencyEntryJson = {
  executionId: string;
  dataOwnerId: string;
  resultSha256: string;
  accepted: boolean;
  maxAbsDiff: number;
  relativeL2: number;
  reason: string;
}

/**
 * The stored report: the JSON the API's proto-loader (longs: String, enums: String) turns into
 * gooddata.v1.ConsistencyReport for GetQueryExecutionInfo. Checked against the generated type below.
 */
export type ConsistencyReportJson = {
  verdict: ReportVerdict;
  canonicalExecutionId: string;
  canonicalSha256: string;
  quorum: number;
  tolerance: number;
  entries: ConsistencyEntryJson[];
  verifiedAtNs: string;
}

// Fails to compile when the proto's ConsistencyReport and this shape drift apart.
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const reportMatchesProto: Exact<keyof ConsistencyReportJson, keyof ConsistencyReport> &
  Exact<keyof ConsistencyEntryJson, keyof ConsistencyEntry> = true;
void reportMatchesProto;

/**
 * The executions whose results go to the sidecar, ordered by Data Owner: the order breaks ties (the first valid
 * result is the anchor, and the canonical result is the earliest anchor in the largest group), so the same results
 * from the same Data Owners give the same report, retry after retry and query after query.
 */
export function checkedExecutions(query: QueryForCheck): ExecutionForCheck[] {
  return query.executions
    .filter((execution) => execution.status === 'SUCCEEDED' && execution.resultBlob !== null)
    .sort((a, b) => a.dataOwnerId.localeCompare(b.dataOwnerId) || a.id.localeCompare(b.id));
}

/** The record of a finished check: the sidecar's verdict, plus every execution that sent no result. */
export function recordOfCheck(
  query: QueryForCheck,
  response: CheckResponse__Output | null,
  verifiedAt: Date,
): CheckRecord {
  const outcomes = new Map((response?.results ?? []).map((outcome) => [outcome.executionId, outcome]));
  const entries = query.executions.map((execution) => entryOf(execution, outcomes.get(execution.id)));
  const isConsistent = response?.verdict === 'VERDICT_CONSISTENT' && response.canonicalExecutionId !== '';
  const canonical = isConsistent
    ? entries.find((entry) => entry.executionId === response.canonicalExecutionId)
    : undefined;

  const report: ConsistencyReportJson = {
    verdict: isConsistent ? 'VERDICT_CONSISTENT' : 'VERDICT_INCONSISTENT',
    canonicalExecutionId: canonical?.executionId ?? '',
    canonicalSha256: canonical?.resultSha256 ?? '',
    quorum: query.quorum,
    tolerance: query.tolerance,
    entries,
    verifiedAtNs: toNs(verifiedAt),
  };

  return {
    status: isConsistent ? 'COMPLETED' : 'FAILED',
    verdict: isConsistent ? 'CONSISTENT' : 'INCONSISTENT',
    canonicalExecutionId: canonical?.executionId ?? null,
    verifiedAt,
    report,
    executions: entries.map(verdictOf),
  };
}

/** The record of a check that cannot run at all (the sidecar refuses the request): the query fails unverified. */
export function recordOfUnverifiable(query: QueryForCheck, message: string): CheckRecord {
  const entries = query.executions.map((execution) => ({
    ...entryOf(execution, undefined),
    reason: `CHECK_FAILED: ${message}`,
  }));
  const report: ConsistencyReportJson = {
    verdict: 'VERDICT_UNSPECIFIED',
    canonicalExecutionId: '',
    canonicalSha256: '',
    quorum: query.quorum,
    tolerance: query.tolerance,
    entries,
    verifiedAtNs: '0',
  };

  return { status: 'FAILED', verdict: null, canonicalExecutionId: null, verifiedAt: null, report,
    executions: entries.map(verdictOf) };
}

function entryOf(execution: ExecutionForCheck, outcome: ResultOutcome__Output | undefined): ConsistencyEntryJson {
  const base = {
    executionId: execution.id,
    dataOwnerId: execution.dataOwnerId,
    resultSha256: outcome?.sha256 || execution.resultBlob?.sha256 || '',
  };
  if (!outcome) {
    return { ...base, accepted: false, maxAbsDiff: -1, relativeL2: -1, reason: reasonWithoutResult(execution) };
  }

  return {
    ...base,
    accepted: outcome.accepted,
    maxAbsDiff: finite(outcome.maxAbsDiff),
    relativeL2: finite(outcome.relativeL2),
    reason: outcome.accepted ? '' : `${outcome.rule.replace(/^RULE_/, '')}: ${outcome.reason}`,
  };
}

function reasonWithoutResult(execution: ExecutionForCheck): string {
  if (execution.status === 'FAILED' || execution.status === 'CANCELLED') {
    return `${execution.errorCode ?? execution.status}: ${execution.errorMessage ?? 'no result'}`;
  }

  return `NO_RESULT: the execution was ${execution.status.toLowerCase()} when the check ran`;
}

function verdictOf(entry: ConsistencyEntryJson) {
  return {
    executionId: entry.executionId,
    isAccepted: entry.accepted,
    rejectionReason: entry.accepted ? null : entry.reason,
  };
}

/** JSON has no infinity; a distance too large for a double is reported as the largest one. */
function finite(value: number): number {
  return Number.isFinite(value) ? value : Number.MAX_VALUE;
}

function toNs(date: Date): string {
  return (BigInt(date.getTime()) * 1_000_000n).toString();
}
