// Where the browser finds the API. Read on the server at request time (the root layout is dynamic), so one build
// serves any API address: set NEXT_PUBLIC_GDS_API_URL when starting `next start`, not when building.

export interface PortalConfig {
  /** Base URL of the API's HTTP side: POST /graphql, POST /uploads, GET /queries/:id/result. */
  apiUrl: string;
  /** graphql-ws endpoint. */
  wsUrl: string;
  /** Largest model the portal lets through before asking the server; the server's own limit still applies. */
  maxModelBytes: number;
}

const DEFAULT_API_URL = 'http://localhost:4000';
const DEFAULT_MAX_MODEL_BYTES = 8 * 1024 ** 3;

/** Reads the portal's configuration from the environment; server-only (the browser gets it from the layout). */
export function readPortalConfig(env: Record<string, string | undefined> = process.env): PortalConfig {
  // Indexed access on purpose: Next inlines `process.env.NEXT_PUBLIC_*` at build time, which would freeze the URL.
  const apiUrl = (env['NEXT_PUBLIC_GDS_API_URL'] || DEFAULT_API_URL).replace(/\/+$/, '');
  const wsUrl = env['NEXT_PUBLIC_GDS_WS_URL'] || `${apiUrl.replace(/^http/, 'ws')}/graphql`;
  const maxModelBytes = Number(env['GDS_MAX_MODEL_BYTES'] || DEFAULT_MAX_MODEL_BYTES);

  return {
    apiUrl,
    wsUrl,
    maxModelBytes: Number.isFinite(maxModelBytes) && maxModelBytes > 0 ? maxModelBytes : DEFAULT_MAX_MODEL_BYTES,
  };
}
