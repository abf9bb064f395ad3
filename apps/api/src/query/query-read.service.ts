import { Injectable } from '@nestjs/common';
import { invalidInput, notFound } from '@gds/common';
import type { Prisma, ProgressEntry, QueryStatus } from '@gds/db';

import type { CustomerCaller } from '../auth/caller.js';
import { PrismaService } from '../database/prisma.service.js';
import { buildTimelines, type TimelineItem } from './timeline.js';

const QUERY_VIEW_INCLUDE = {
  executions: {
    orderBy: { assignedAtNs: 'asc' },
    include: { resultBlob: { select: { size: true, sha256: true } }, dataOwner: { select: { name: true } } },
  },
  modelBlob: { select: { size: true, sha256: true } },
} satisfies Prisma.QueryInclude;

/** A query with what every reader of it shows: its executions (with their Data Owner's name) and its model. */
export type QueryView = Prisma.QueryGetPayload<{ include: typeof QUERY_VIEW_INCLUDE }>;
export type ExecutionView = QueryView['executions'][number];

export interface QueryPage {
  nodes: QueryView[];
  hasNextPage: boolean;
  totalCount: number;
  cursorOf(query: QueryView): string;
}

export const MAX_PAGE_SIZE = 100;

/** What customers read about their queries (GraphQL); writes stay in QueryService. */
@Injectable()
export class QueryReadService {
  constructor(private readonly prisma: PrismaService) {}

  async findForCustomer(customer: CustomerCaller, queryId: string): Promise<QueryView> {
    const query = isUuid(queryId)
      ? await this.prisma.query.findUnique({ where: { id: queryId }, include: QUERY_VIEW_INCLUDE })
      : null;
    // Another customer's query is reported exactly like a missing one, so ids reveal nothing.
    if (!query || query.customerId !== customer.customerId) {
      throw notFound(`query ${queryId} not found`);
    }

    return query;
  }

  /** Newest first; the cursor is the position of the last query seen (createdAt, then id). */
  async list(
    customer: CustomerCaller,
    page: { first: number; after?: string | null; status?: QueryStatus | null },
  ): Promise<QueryPage> {
    if (!Number.isInteger(page.first) || page.first < 1 || page.first > MAX_PAGE_SIZE) {
      throw invalidInput(`first must be 1..${MAX_PAGE_SIZE}`);
    }
    const filter: Prisma.QueryWhereInput = {
      customerId: customer.customerId,
      ...(page.status ? { status: page.status } : {}),
    };
    const position = page.after ? decodeCursor(page.after) : undefined;
    const after: Prisma.QueryWhereInput = position
      ? { OR: [{ createdAt: { lt: position.createdAt } }, { createdAt: position.createdAt, id: { lt: position.id } }] }
      : {};

    const [rows, totalCount] = await Promise.all([
      this.prisma.query.findMany({
        where: { AND: [filter, after] },
        include: QUERY_VIEW_INCLUDE,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: page.first + 1,
      }),
      this.prisma.query.count({ where: filter }),
    ]);

    const nodes = rows.slice(0, page.first);

    return { nodes, hasNextPage: rows.length > page.first, totalCount, cursorOf: encodeCursor };
  }

  /** Every reported epoch of each execution, in epoch order. */
  async lossCurves(executionIds: readonly string[]): Promise<Map<string, ProgressEntry[]>> {
    const entries = await this.prisma.progressEntry.findMany({
      where: { executionId: { in: [...executionIds] } },
      orderBy: [{ executionId: 'asc' }, { epoch: 'asc' }],
    });

    return groupBy(executionIds, entries, (entry) => entry.executionId);
  }

  async timelines(queryIds: readonly string[]): Promise<Map<string, TimelineItem[]>> {
    return buildTimelines(this.prisma, queryIds);
  }

  /** A readable name for each dataset hash: what its holders call it (the first name alphabetically if they differ). */
  async datasetNames(hashes: readonly string[]): Promise<Map<string, string | null>> {
    const rows = await this.prisma.dataset.findMany({
      where: { contentHash: { in: [...hashes] } },
      select: { contentHash: true, name: true },
      orderBy: { name: 'asc' },
    });
    const names = new Map<string, string | null>(hashes.map((hash) => [hash, null]));
    for (const row of rows) {
      if (!names.get(row.contentHash)) names.set(row.contentHash, row.name);
    }

    return names;
  }
}

function encodeCursor(query: { createdAt: Date; id: string }): string {
  return Buffer.from(`${query.createdAt.getTime()}:${query.id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const match = Buffer.from(cursor, 'base64url').toString('utf8').match(/^(\d{1,15}):([0-9a-f-]{36})$/);
  if (!match || !isUuid(match[2])) {
    throw invalidInput('after is not a cursor from this API');
  }

  return { createdAt: new Date(Number(match[1])), id: match[2] };
}

function groupBy<T>(keys: readonly string[], items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map(keys.map((key): [string, T[]] => [key, []]));
  for (const item of items) groups.get(keyOf(item))?.push(item);

  return groups;
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);
}
