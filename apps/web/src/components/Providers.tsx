'use client';

// The portal's client-side context: where the API is (from the server at request time) and who is signed in.
import { usePathname, useRouter } from 'next/navigation';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';

import type { PortalConfig } from '@/lib/config';
import { ApiError } from '@/lib/errors';
import { ME, SIGN_OUT } from '@/lib/graphql/documents';
import { closeLiveClient } from '@/lib/graphql/live';
import { graphqlRequest } from '@/lib/graphql/request';
import type { Customer } from '@/lib/graphql/types';

interface Session {
  /** undefined while loading, null when signed out. */
  me: Customer | null | undefined;
  /** Set when `me` could not be loaded (API down); the page shows it instead of redirecting. */
  error: ApiError | null;
  setMe(me: Customer | null): void;
  refresh(): Promise<void>;
  signOut(): Promise<void>;
}

const ConfigContext = createContext<PortalConfig | null>(null);
const SessionContext = createContext<Session | null>(null);

export function useConfig(): PortalConfig {
  const config = useContext(ConfigContext);
  if (!config) throw new Error('useConfig outside <Providers>');

  return config;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside <Providers>');

  return session;
}

/** A GraphQL request function bound to the API; an UNAUTHENTICATED answer signs the tab out (pages then redirect). */
export function useGraphql(): <T>(
  query: string,
  variables?: Record<string, unknown>,
  signal?: AbortSignal,
) => Promise<T> {
  const { apiUrl } = useConfig();
  const { setMe } = useSession();

  return useCallback(
    async <T,>(query: string, variables?: Record<string, unknown>, signal?: AbortSignal) => {
      try {
        return await graphqlRequest<T>(apiUrl, query, variables, signal);
      } catch (error) {
        if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') setMe(null);
        throw error;
      }
    },
    [apiUrl, setMe],
  );
}

export function Providers({ config, children }: { config: PortalConfig; children: ReactNode }) {
  const router = useRouter();
  const [me, setMe] = useState<Customer | null | undefined>(undefined);
  const [error, setError] = useState<ApiError | null>(null);

  const refresh = useCallback(async () => {
    try {
      const data = await graphqlRequest<{ me: Customer | null }>(config.apiUrl, ME);
      setMe(data.me);
      setError(null);
    } catch (caught) {
      const apiError = caught instanceof ApiError ? caught : new ApiError('NETWORK_ERROR', String(caught));
      if (apiError.code === 'UNAUTHENTICATED') setMe(null);
      else setError(apiError);
    }
  }, [config.apiUrl]);

  const signOut = useCallback(async () => {
    await graphqlRequest(config.apiUrl, SIGN_OUT).catch(() => undefined);
    closeLiveClient();
    setMe(null);
    router.push('/sign-in');
  }, [config.apiUrl, router]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const session = useMemo(() => ({ me, error, setMe, refresh, signOut }), [me, error, refresh, signOut]);

  return (
    <ConfigContext.Provider value={config}>
      <SessionContext.Provider value={session}>{children}</SessionContext.Provider>
    </ConfigContext.Provider>
  );
}

/** Renders its children for a signed-in customer; sends anybody else to the sign-in page and back afterwards. */
export function RequireSession({ children }: { children: ReactNode }) {
  const { me, error } = useSession();
  const router = useRouter();
  const pathname = usePathname();

  useEffect(() => {
    if (me === null) router.replace(`/sign-in?next=${encodeURIComponent(pathname)}`);
  }, [me, pathname, router]);

  if (me) return <>{children}</>;
  if (error) {
    return (
      <p role="alert" className="notice notice-error">
        {error.message}
      </p>
    );
  }

  return (
    <p role="status" className="muted">
      {me === null ? 'Redirecting to sign in…' : 'Loading…'}
    </p>
  );
}
