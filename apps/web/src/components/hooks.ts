'use client';

// Data hooks: a one-shot loader with reload, and a graphql-ws subscription that reports whether it is live.
import { type DependencyList, useCallback, useEffect, useRef, useState } from 'react';

import { useConfig, useSession } from '@/components/Providers';
import { ApiError } from '@/lib/errors';
import { liveConnection, watchConnection } from '@/lib/graphql/live';
import { toApiError } from '@/lib/graphql/request';

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | null;
  isLoading: boolean;
  reload(): Promise<void>;
  setData(update: (current: T | undefined) => T | undefined): void;
}

/**
 * Runs `load` now and on every `reload()`; keeps the last data while reloading. `isStale(next, current)` lets a
 * reload that answers after a newer live update leave that update in place.
 */
export function useLoad<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: DependencyList,
  isStale?: (next: T, current: T) => boolean,
): Loaded<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);
  const [isLoading, setLoading] = useState(true);
  const controller = useRef<AbortController | null>(null);
  const staleCheck = useRef(isStale);
  staleCheck.current = isStale;

  const run = useCallback(load, deps);

  const reload = useCallback(async () => {
    controller.current?.abort();
    const current = new AbortController();
    controller.current = current;
    setLoading(true);
    try {
      const value = await run(current.signal);
      if (current.signal.aborted) return;
      setDataState((previous) => (previous !== undefined && staleCheck.current?.(value, previous) ? previous : value));
      setError(null);
    } catch (caught) {
      if (current.signal.aborted) return;
      setError(caught instanceof ApiError ? caught : new ApiError('INTERNAL_SERVER_ERROR', String(caught)));
    } finally {
      if (!current.signal.aborted) setLoading(false);
    }
  }, [run]);

  useEffect(() => {
    void reload();

    return () => controller.current?.abort();
  }, [reload]);

  return { data, error, isLoading, reload, setData: setDataState };
}

/**
 * Subscribes while `enabled`; `onData` gets each payload's data. `onConnected` runs on every (re)connection, so the
 * caller can refetch what it may have missed. Returns whether the subscription is live and its last error.
 */
export function useSubscription<T>(
  query: string,
  variables: Record<string, unknown>,
  { enabled, onData, onConnected }: { enabled: boolean; onData(data: T): void; onConnected?(): void },
): { isLive: boolean; error: ApiError | null } {
  const { wsUrl } = useConfig();
  const { me, setMe } = useSession();
  const [isLive, setLive] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const handlers = useRef({ onData, onConnected });
  handlers.current = { onData, onConnected };
  const variablesKey = JSON.stringify(variables);
  const sessionKey = me?.id;

  useEffect(() => {
    if (!enabled || !sessionKey) return;

    const connection = liveConnection(wsUrl, sessionKey);
    const stopWatching = watchConnection(connection, (isConnected) => {
      setLive(isConnected);
      if (!isConnected) return;
      setError(null);
      handlers.current.onConnected?.();
    });
    const unsubscribe = connection.client.subscribe<T>(
      { query, variables: JSON.parse(variablesKey) },
      {
        next: (result) => {
          if (result.data) handlers.current.onData(result.data as T);
          if (result.errors?.length) setError(toApiError(result.errors));
        },
        error: (caught) => {
          const apiError = toApiError(caught);
          setLive(false);
          setError(apiError);
          if (apiError.code === 'UNAUTHENTICATED') setMe(null);
        },
        complete: () => setLive(false),
      },
    );

    return () => {
      unsubscribe();
      stopWatching();
      setLive(false);
    };
  }, [enabled, query, variablesKey, sessionKey, wsUrl, setMe]);

  return { isLive, error };
}

/** Calls `poll` every `intervalMs` while `active` (the fallback when the live connection is down). */
export function usePolling(active: boolean, poll: () => void, intervalMs = 3_000): void {
  const latest = useRef(poll);
  latest.current = poll;

  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => latest.current(), intervalMs);

    return () => clearInterval(timer);
  }, [active, intervalMs]);
}
