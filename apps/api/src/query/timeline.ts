import type { ChainEventKind, PrismaClient } from '@gds/db';

/** One line of a query's audit trail: what the service recorded, or what it announced on chain. */
export interface TimelineItem {
  at: Date;
  source: 'service' | 'chain';
  /** Dotted: query.submitted, execution.succeeded, ...; chain entries are chain.<event name>. */
  kind: string;
  executionId: string | null;
  dataOwnerId: string | null;
  txHash: string | null;
  blockNumber: bigint | null;
  /** Chain entries: the outbox status (PENDING, SENT, CONFIRMED, REJECTED). */
  status: string | null;
  detail: unknown;
}

/** The registry contract's event names, as integrators see them on chain. */
const CHAIN_EVENT_NAMES: Record<ChainEventKind, string> = {
  QUERY_SUBMITTED: 'QuerySubmitted',
  EXECUTION_COMPLETED: 'ExecutionCompleted',
  QUERY_VERIFIED: 'QueryVerified',
  PROGRESS_LOGGED: 'ProgressLogged',
};

type TimelineDb = Pick<PrismaClient, 'queryEvent' | 'chainOutbox' | 'execution'>;

/**
 * The timelines of several queries at once (a page of the portal's list asks for each). Service events and chain
 * announcements are merged in time order; a chain event stands at its confirmation time if known, else when it was
 * sent, else when it was recorded. Ties keep service events first.
 */
export async function buildTimelines(
  db: TimelineDb,
  queryIds: readonly string[],
): Promise<Map<string, TimelineItem[]>> {
  const [events, outbox, executions] = await Promise.all([
    db.queryEvent.findMany({ where: { queryId: { in: [...queryIds] } }, orderBy: [{ at: 'asc' }, { id: 'asc' }] }),
    db.chainOutbox.findMany({ where: { queryId: { in: [...queryIds] } }, orderBy: { id: 'asc' } }),
    db.execution.findMany({
      where: { queryId: { in: [...queryIds] } },
      select: { id: true, queryId: true, dataOwnerId: true },
    }),
  ]);
  const executionOf = new Map(executions.map((e) => [`${e.queryId}/${e.dataOwnerId}`, e.id]));
  const timelines = new Map(queryIds.map((id): [string, Array<[TimelineItem, number]>] => [id, []]));

  events.forEach((event, order) => {
    timelines.get(event.queryId)?.push([
      {
        at: event.at,
        source: 'service',
        kind: event.kind,
        executionId: event.executionId,
        dataOwnerId: event.dataOwnerId,
        txHash: null,
        blockNumber: null,
        status: null,
        detail: event.detail,
      },
      order,
    ]);
  });
  outbox.forEach((row, order) => {
    const payload = (row.payload ?? {}) as Record<string, unknown>;
    const dataOwnerId = typeof payload.dataOwnerId === 'string' ? payload.dataOwnerId : null;
    timelines.get(row.queryId)?.push([
      {
        at: row.confirmedAt ?? row.sentAt ?? row.createdAt,
        source: 'chain',
        kind: `chain.${CHAIN_EVENT_NAMES[row.kind] ?? row.kind}`,
        executionId: dataOwnerId ? (executionOf.get(`${row.queryId}/${dataOwnerId}`) ?? null) : null,
        dataOwnerId,
        txHash: row.txHash,
        blockNumber: row.blockNumber,
        status: row.status,
        detail: row.lastError ? { ...payload, lastError: row.lastError } : payload,
      },
      events.length + order,
    ]);
  });

  const byTime = ([a, aOrder]: [TimelineItem, number], [b, bOrder]: [TimelineItem, number]) =>
    a.at.getTime() - b.at.getTime() || aOrder - bOrder;

  return new Map([...timelines].map(([queryId, items]) => [queryId, items.sort(byTime).map(([item]) => item)]));
}
