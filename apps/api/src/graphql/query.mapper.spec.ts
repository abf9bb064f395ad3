import { describe, expect, it } from '@jest/globals';

import type { QueryView } from '../query/query-read.service.js';
import { toGdsQuery } from './query.mapper.js';

const EXECUTION = {
  id: 'e1',
  queryId: 'q1',
  dataOwnerId: 'd1',
  dataOwner: { name: 'owner' },
  status: 'SUCCEEDED',
  assignedAtNs: 1n,
  startedAtNs: 2n,
  finishedAtNs: 3n,
  progressEpoch: 2,
  progressTotal: 5,
  progressLoss: 0.5,
  progressAtNs: 1_700_000_000_000_000_000n,
  resultBlobId: 'b1',
  resultBlob: { size: 10n, sha256: 'f'.repeat(64) },
  errorCode: null,
  errorMessage: null,
  isAccepted: true,
  rejectionReason: null,
  createdAt: new Date(0),
  updatedAt: new Date(0),
};

function query(fields: Partial<QueryView>): QueryView {
  return {
    id: 'q1',
    customerId: 'c1',
    name: null,
    modelBlobId: 'm1',
    modelFormat: 'PICKLE',
    trainingSpec: { epochs: 5, optimizer: 'adam', loss: 'cross_entropy', seed: '7' },
    datasetHash: 'a'.repeat(64),
    replication: 3,
    quorum: 2,
    tolerance: 1e-5,
    deadlineAt: new Date(0),
    status: 'VERIFYING',
    createdAt: new Date(0),
    updatedAt: new Date(1000),
    verdict: null,
    canonicalExecutionId: null,
    report: null,
    verifiedAt: null,
    executions: [EXECUTION],
    modelBlob: { size: 20n, sha256: 'e'.repeat(64) },
    ...fields,
  } as QueryView;
}

describe('toGdsQuery', () => {
  it('should fill training defaults and upper-case the enums', () => {
    expect(toGdsQuery(query({}), 'http://api').training).toEqual({
      epochs: 5,
      batchSize: 32,
      optimizer: 'ADAM',
      learningRate: 0.01,
      loss: 'CROSS_ENTROPY',
      seed: 7n,
      momentum: 0,
    });
  });

  it('should show the latest progress with its time from nanoseconds', () => {
    const [execution] = toGdsQuery(query({}), 'http://api').executions;

    expect(execution.progress).toEqual({ epoch: 2, totalEpochs: 5, loss: 0.5, reportedAt: new Date(1_700_000_000_000) });
  });

  it('should read a snake_case report, with -1 as not comparable, and offer the download only when verified', () => {
    const report = {
      verdict: 'VERDICT_INCONSISTENT',
      canonical_execution_id: '',
      quorum: 2,
      entries: [{ execution_id: 'e1', accepted: false, max_abs_diff: -1, relative_l2: 0.25, reason: 'NOT_FINITE' }],
      verified_at_ns: '2000000000',
    };

    const mapped = toGdsQuery(query({ report, status: 'FAILED' }), 'http://api');

    expect(mapped.report).toEqual({
      verdict: 'INCONSISTENT',
      canonicalExecutionId: null,
      canonicalSha256: null,
      quorum: 2,
      tolerance: 1e-5,
      entries: [
        {
          executionId: 'e1',
          dataOwnerId: 'd1',
          resultSha256: 'f'.repeat(64),
          accepted: false,
          maxAbsDiff: null,
          relativeL2: 0.25,
          reason: 'NOT_FINITE',
        },
      ],
      verifiedAt: new Date(2000),
    });
    expect(mapped.resultDownloadUrl).toBeNull();
    const verified = query({ status: 'COMPLETED', verdict: 'CONSISTENT', canonicalExecutionId: 'e1' });
    expect(toGdsQuery(verified, 'http://api').resultDownloadUrl).toBe('http://api/queries/q1/result');
  });
});
