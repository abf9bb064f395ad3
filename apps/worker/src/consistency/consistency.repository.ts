import { Inject, Injectable } from '@nestjs/common';
import type { Execution, Prisma, PrismaClient, Query } from '@gds/db';

import { ChainRelay } from '../chain/chain-relay.js';
import { PRISMA } from '../database/database.providers.js';

export type ExecutionForCheck = Execution & { resultBlob: { size: bigint; sha256: string } | null };

export type QueryForCheck = Query & {
  executions: ExecutionForCheck[];
  modelBlob: { id: string; size: bigint; sha256: string };
};

/** What the check decided for one execution. */
export interface ExecutionVerdict {
  executionId: string;
  isAccepted: boolean;
  rejectionReason: string | null;
}

/** Everything the check writes, at once. */
export interface CheckRecord {
  status: 'COMPLETED' | 'FAILED';
  verdict: 'CONSISTENT' | 'INCONSISTENT' | null;
  canonicalExecutionId: string | null;
  verifiedAt: Date | null;
  report: Prisma.InputJsonObject;
  executions: ExecutionVerdict[];
}

/** The only part of the worker that touches Prisma. */
@Injectable()
export class ConsistencyRepository {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    private readonly chain: ChainRelay,
  ) {}

  /** The query with its executions in a stable order (assignment, then id), their result blobs and the model's. */
  findForCheck(queryId: string): Promise<QueryForCheck | null> {
    return this.prisma.query.findUnique({
      where: { id: queryId },
      include: {
        executions: {
          orderBy: [{ assignedAtNs: 'asc' }, { id: 'asc' }],
          include: { resultBlob: { select: { size: true, sha256: true } } },
        },
        modelBlob: { select: { id: true, size: true, sha256: true } },
      },
    });
  }

  /**
   * Writes the outcome in one transaction, only if the query is still VERIFYING: the conditional update takes the
   * query's row lock first, so of two workers finishing the same query only one writes. Returns whether it did.
   */
  async save(queryId: string, record: CheckRecord): Promise<boolean> {
    const isSaved = await this.prisma.$transaction(async (tx) => {
      const moved = await tx.query.updateMany({
        where: { id: queryId, status: 'VERIFYING' },
        data: {
          status: record.status,
          verdict: record.verdict,
          canonicalExecutionId: record.canonicalExecutionId,
          verifiedAt: record.verifiedAt,
          report: record.report,
        },
      });
      if (moved.count === 0) return false;

      for (const execution of record.executions) {
        await tx.execution.update({
          where: { id: execution.executionId },
          data: { isAccepted: execution.isAccepted, rejectionReason: execution.rejectionReason },
        });
      }
      const canonicalSha256 = typeof record.report.canonicalSha256 === 'string' ? record.report.canonicalSha256 : null;
      await tx.queryEvent.create({
        data: {
          queryId,
          kind: record.verdict ? 'query.verified' : 'query.verification_failed',
          executionId: record.canonicalExecutionId,
          detail: { verdict: record.verdict, status: record.status, canonicalSha256 },
        },
      });
      await this.chain.recordVerdict(tx, queryId, record.verdict, canonicalSha256 || null);

      return true;
    });
    if (isSaved) {
      this.chain.kick();
    }

    return isSaved;
  }
}
