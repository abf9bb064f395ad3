// Queue names and job payloads shared by their producers (apps/api) and consumers (apps/worker).

/**
 * BullMQ key prefix (GDS_QUEUE_PREFIX). Producers and consumers of one deployment must agree on it; separate
 * deployments (or test stacks) sharing a Redis keep their jobs apart with different prefixes.
 */
export const DEFAULT_QUEUE_PREFIX = 'gds';

/** Verifies what the Data Owners returned for a query (apps/worker/src/consistency). */
export const CONSISTENCY_QUEUE = 'consistency-check';

export interface ConsistencyCheckJob {
  queryId: string;
}

/** One job per query: re-enqueueing a query that already has a job is a no-op. */
export function consistencyJobId(queryId: string): string {
  return `consistency-${queryId}`;
}

/** Redis pub/sub channel announcing that a query changed (status, progress, verdict, timeline). */
export const QUERY_UPDATED_CHANNEL = 'gds:query-updated';

export interface QueryUpdatedMessage {
  queryId: string;
  customerId: string;
}
