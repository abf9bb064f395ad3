// One ordered list per query: what the service recorded (QueryEvent) and what it announced on chain (ChainOutbox).
import type { ChainEventKind, OutboxStatus, PrismaClient } from '@gds/db';

export interface ServiceTimelineEntry {
  source: 'service';
  at: Date;
  /** Dotted event name: query.submitted, execution.started, ... */
  kind: string;
  executionId: string | null;
  dataOwnerId: string | null;
  detail: unknown;
}

export interface ChainTimelineEntry {
  source: 'chain';
  /** When it happened on chain as far as GDS knows: confirmed, else sent, else recorded. */
  at: Date;
  kind: ChainEventKind;
  status: OutboxStatus;
  /** The Data Owner for EXECUTION_COMPLETED, `<dataOwnerId>:<key>` for PROGRESS_LOGGED, '' otherwise. */
  dedupeKey: string;
  txHash: string | null;
  blockNumber: bigint | null;
  blockHash: string | null;
  logIndex: number | null;
  recordedAt: Date;
  sentAt: Date | null;
  confirmedAt: Date | null;
  /** Why it was rejected, or the last transient failure. */
  lastError: string | null;
}

export type TimelineEntry = ServiceTimelineEntry | ChainTimelineEntry;

type TimelineDb = Pick<PrismaClient, 'queryEvent' | 'chainOutbox'>;

/**
 * The query's service and chain events in time order (ties: service first, then by id). A chain event stands at
 * its confirmation time, so the list shows when the Data Owners could first see it.
 */
export async function buildTimeline(prisma: TimelineDb, queryId: string): Promise<TimelineEntry[]> {
  const [events, outbox] = await Promise.all([
    prisma.queryEvent.findMany({ where: { queryId }, orderBy: [{ at: 'asc' }, { id: 'asc' }] }),
    prisma.chainOutbox.findMany({ where: { queryId }, orderBy: { id: 'asc' } }),
  ]);

  const service = events.map((event, order): [TimelineEntry, number] => [
    {
      source: 'service',
      at: event.at,
      kind: event.kind,
      executionId: event.executionId,
      dataOwnerId: event.dataOwnerId,
      detail: event.detail,
    },
    order,
  ]);
  const chain = outbox.map((row, order): [TimelineEntry, number] => [
    {
      source: 'chain',
      at: row.confirmedAt ?? row.sentAt ?? row.createdAt,
      kind: row.kind,
      status: row.status,
      dedupeKey: row.dedupeKey,
      txHash: row.txHash,
      blockNumber: row.blockNumber,
      blockHash: row.blockHash,
      logIndex: row.logIndex,
      recordedAt: row.createdAt,
      sentAt: row.sentAt,
      confirmedAt: row.confirmedAt,
      lastError: row.lastError,
    },
    events.length + order,
  ]);

  return [...service, ...chain]
    .sort(([a, aOrder], [b, bOrder]) => a.at.getTime() - b.at.getTime() || aOrder - bOrder)
    .map(([entry]) => entry);
}
