import type { QueryUpdatedMessage } from '@gds/common';

export interface UpdateStreamOptions<T> {
  /** Subscribes to "query X changed" messages; resolves to the unsubscribe function. */
  listen: (listener: (message: QueryUpdatedMessage) => void) => Promise<() => void>;
  customerId: string;
  /** Only this query, when set. */
  queryId: string | null;
  /** Re-reads a query; null when it is gone. */
  read: (queryId: string) => Promise<T | null>;
  onEnd?: (events: number) => void;
}

/**
 * The queryUpdated subscription as an async iterator. Messages carry no state, only "query X of customer Y
 * changed"; the stream keeps the ids that changed since the last read and re-reads each once, so a burst of
 * progress reports becomes one event per query with the latest state.
 */
export async function queryUpdateStream<T>(options: UpdateStreamOptions<T>): Promise<AsyncIterableIterator<T>> {
  const changed = new Set<string>();
  let wake: (() => void) | undefined;
  let isClosed = false;
  let events = 0;

  const stopListening = await options.listen((message) => {
    if (message.customerId !== options.customerId) return;
    if (options.queryId && message.queryId !== options.queryId) return;
    changed.add(message.queryId);
    wake?.();
  });
  const close = () => {
    if (isClosed) return;
    isClosed = true;
    stopListening();
    wake?.();
    options.onEnd?.(events);
  };

  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      while (!isClosed) {
        const [queryId] = changed;
        if (queryId === undefined) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        changed.delete(queryId);
        const value = await options.read(queryId);
        if (value !== null && !isClosed) {
          events++;
          return { value, done: false };
        }
      }

      return { value: undefined, done: true };
    },
    async return(): Promise<IteratorResult<T>> {
      close();
      return { value: undefined, done: true };
    },
    async throw(error: unknown): Promise<IteratorResult<T>> {
      close();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  return iterator;
}
