import { describe, expect, it } from '@jest/globals';

import type { CheckResponse__Output, ResultOutcome__Output } from '../sidecar/sidecar.contract.js';
import { checkedExecutions, recordOfCheck, recordOfUnverifiable } from './consistency.report.js';
import type { ExecutionForCheck, QueryForCheck } from './consistency.repository.js';

const VERIFIED_AT = new Date('2026-12-03T12:00:00.000Z');

function execution(id: string, dataOwnerId: string, overrides: Partial<ExecutionForCheck> = {}): ExecutionForCheck {
  return {
    id,
    dataOwnerId,
    status: 'SUCCEEDED',
    resultBlobId: `blob-${id}`,
    resultBlob: { size: 10n, sha256: `sha-${id}` },
    errorCode: null,
    errorMessage: null,
    ...overrides,
  } as ExecutionForCheck;
}

function query(executions: ExecutionForCheck[]): QueryForCheck {
  return { id: 'q', quorum: 2, tolerance: 1e-5, executions } as unknown as QueryForCheck;
}

function outcome(executionId: string, overrides: Partial<ResultOutcome__Output> = {}): ResultOutcome__Output {
  return { executionId, accepted: true, rule: 'RULE_UNSPECIFIED', reason: '', maxAbsDiff: 0, relativeL2: 0,
    sha256: `sha-${executionId}`, ...overrides };
}

function response(verdict: string, canonical: string, results: ResultOutcome__Output[]): CheckResponse__Output {
  return { verdict, canonicalExecutionId: canonical, results } as CheckResponse__Output;
}

describe('checkedExecutions', () => {
  it('should keep succeeded executions with a result, ordered by Data Owner', () => {
    const executions = [execution('e1', 'do-b'), execution('e2', 'do-c', { status: 'FAILED', resultBlob: null }),
      execution('e3', 'do-a')];

    expect(checkedExecutions(query(executions)).map((e) => e.id)).toEqual(['e3', 'e1']);
  });
});

describe('recordOfCheck', () => {
  it('should complete a consistent query and name the rejected result with its rule', () => {
    const executions = [execution('e1', 'do-a'), execution('e2', 'do-b'), execution('e3', 'do-c')];
    const checked = response('VERDICT_CONSISTENT', 'e1', [
      outcome('e1'),
      outcome('e2', { maxAbsDiff: 1e-8 }),
      outcome('e3', { accepted: false, rule: 'RULE_OUT_OF_TOLERANCE', reason: 'fc1.weight differs', maxAbsDiff: 0.1 }),
    ]);

    const record = recordOfCheck(query(executions), checked, VERIFIED_AT);

    expect(record).toMatchObject({ status: 'COMPLETED', verdict: 'CONSISTENT', canonicalExecutionId: 'e1' });
    expect(record.report).toEqual({
      verdict: 'VERDICT_CONSISTENT',
      canonicalExecutionId: 'e1',
      canonicalSha256: 'sha-e1',
      quorum: 2,
      tolerance: 1e-5,
      verifiedAtNs: '1796299200000000000',
      entries: [
        { executionId: 'e1', dataOwnerId: 'do-a', resultSha256: 'sha-e1', accepted: true, maxAbsDiff: 0,
          relativeL2: 0, reason: '' },
        { executionId: 'e2', dataOwnerId: 'do-b', resultSha256: 'sha-e2', accepted: true, maxAbsDiff: 1e-8,
          relativeL2: 0, reason: '' },
        { executionId: 'e3', dataOwnerId: 'do-c', resultSha256: 'sha-e3', accepted: false, maxAbsDiff: 0.1,
          relativeL2: 0, reason: 'OUT_OF_TOLERANCE: fc1.weight differs' },
      ],
    });
    expect(record.executions[2]).toEqual({ executionId: 'e3', isAccepted: false,
      rejectionReason: 'OUT_OF_TOLERANCE: fc1.weight differs' });
  });

  it('should fail an inconsistent query and list executions without a result with their error', () => {
    const executions = [execution('e1', 'do-a'), execution('e2', 'do-b', {
      status: 'FAILED', resultBlob: null, resultBlobId: null, errorCode: 'DEADLINE_EXCEEDED',
      errorMessage: 'no result before the deadline' })];
    const checked = response('VERDICT_INCONSISTENT', '', [
      outcome('e1', { accepted: false, rule: 'RULE_NO_QUORUM', reason: 'no group', maxAbsDiff: -1, relativeL2: -1 }),
    ]);

    const record = recordOfCheck(query(executions), checked, VERIFIED_AT);

    expect(record).toMatchObject({ status: 'FAILED', verdict: 'INCONSISTENT', canonicalExecutionId: null });
    expect(record.report).toMatchObject({ verdict: 'VERDICT_INCONSISTENT', canonicalExecutionId: '' });
    expect(record.report.entries).toEqual([
      expect.objectContaining({ accepted: false, reason: 'NO_QUORUM: no group' }),
      { executionId: 'e2', dataOwnerId: 'do-b', resultSha256: '', accepted: false, maxAbsDiff: -1, relativeL2: -1,
        reason: 'DEADLINE_EXCEEDED: no result before the deadline' },
    ]);
  });

  it('should report a distance too large for JSON as the largest double', () => {
    const checked = response('VERDICT_CONSISTENT', 'e1', [outcome('e1'), outcome('e2', { accepted: false,
      rule: 'RULE_OUT_OF_TOLERANCE', reason: 'far', maxAbsDiff: Infinity })]);

    const record = recordOfCheck(query([execution('e1', 'a'), execution('e2', 'b')]), checked, VERIFIED_AT);

    expect(JSON.parse(JSON.stringify(record.report)).entries[1].maxAbsDiff).toBe(Number.MAX_VALUE);
  });
});

describe('recordOfUnverifiable', () => {
  it('should fail the query without a verdict and say why on every execution', () => {
    const record = recordOfUnverifiable(query([execution('e1', 'a')]), 'sidecar refused Check: bad header');

    expect(record).toMatchObject({ status: 'FAILED', verdict: null, verifiedAt: null });
    expect(record.report).toMatchObject({ verdict: 'VERDICT_UNSPECIFIED' });
    expect(record.executions).toEqual([
      { executionId: 'e1', isAccepted: false, rejectionReason: 'CHECK_FAILED: sidecar refused Check: bad header' },
    ]);
  });
});
