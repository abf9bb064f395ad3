import { DEFAULT_QUEUE_PREFIX, parseEnvironment } from '@gds/common';
import { z } from 'zod';

const MIB = 1024 * 1024;

const schema = z.object({
  /** Postgres holding state and blobs. */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/gds'),
  /** Redis for replay protection, assignment fan-out and (with the worker) BullMQ queues. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix; the worker must use the same. */
  GDS_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default(DEFAULT_QUEUE_PREFIX),
  /** host:port the gRPC server listens on. */
  GDS_GRPC_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').default('127.0.0.1:50051'),
  /** When set, RegisterDataOwner requires this token (secret). */
  GDS_DO_ENROLLMENT_TOKEN: z.string().min(16, 'use at least 16 characters').optional(),
  /** Largest model a customer may submit, in bytes. */
  GDS_MAX_MODEL_BYTES: z.coerce.number().int().positive().default(8 * 1024 * MIB),
  /** Largest trained result a Data Owner may return, in bytes. */
  GDS_MAX_RESULT_BYTES: z.coerce.number().int().positive().default(8 * 1024 * MIB),
  /** How far a signed call's timestamp may be from the server's clock. */
  GDS_SIGNATURE_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  /** How often the API fails executions whose query deadline passed. */
  GDS_DEADLINE_SWEEP_MS: z.coerce.number().int().positive().default(5_000),
  /** host:port the HTTP server (GraphQL, uploads, result downloads) listens on; port 0 picks a free one. */
  GDS_HTTP_ADDRESS: z.string().regex(/^[^\s:]+:\d+$/, 'expected host:port').default('127.0.0.1:4000'),
  /** The API's address as browsers and integrators reach it; download links in GraphQL are built from it. */
  GDS_PUBLIC_API_URL: z.string().url().default('http://localhost:4000'),
  /** Comma-separated origins allowed to call the API with credentials (the portal), for CORS and graphql-ws. */
  GDS_PORTAL_ORIGINS: z.string().default('http://localhost:3000'),
  /** Marks the session cookie Secure; set to true wherever the API is served over HTTPS. */
  GDS_COOKIE_SECURE: z.enum(['true', 'false']).default('false'),
  /** Deepest field nesting a GraphQL operation may have (introspection gets its own, larger bound). */
  GDS_GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(2).default(8),
  /** Highest estimated cost of a GraphQL operation: fields, multiplied by the list sizes they sit in. */
  GDS_GRAPHQL_MAX_COST: z.coerce.number().int().positive().default(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AppConfig = Readonly<{
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  grpcAddress: string;
  enrollmentToken: string | undefined;
  maxModelBytes: number;
  maxResultBytes: number;
  signatureWindowMs: number;
  deadlineSweepMs: number;
  logLevel: string;
  httpHost: string;
  httpPort: number;
  publicApiUrl: string;
  portalOrigins: readonly string[];
  isCookieSecure: boolean;
  graphqlMaxDepth: number;
  graphqlMaxCost: number;
}>;

/** Nest injection token of the parsed config. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Parses the environment once; throws listing every bad variable. */
export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const values = parseEnvironment(schema, env);

  return Object.freeze({
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    queuePrefix: values.GDS_QUEUE_PREFIX,
    grpcAddress: values.GDS_GRPC_ADDRESS,
    enrollmentToken: values.GDS_DO_ENROLLMENT_TOKEN,
    maxModelBytes: values.GDS_MAX_MODEL_BYTES,
    maxResultBytes: values.GDS_MAX_RESULT_BYTES,
    signatureWindowMs: values.GDS_SIGNATURE_WINDOW_MS,
    deadlineSweepMs: values.GDS_DEADLINE_SWEEP_MS,
    logLevel: values.LOG_LEVEL,
    ...splitAddress(values.GDS_HTTP_ADDRESS),
    publicApiUrl: values.GDS_PUBLIC_API_URL.replace(/\/+$/, ''),
    portalOrigins: Object.freeze(parseOrigins(values.GDS_PORTAL_ORIGINS)),
    isCookieSecure: values.GDS_COOKIE_SECURE === 'true',
    graphqlMaxDepth: values.GDS_GRAPHQL_MAX_DEPTH,
    graphqlMaxCost: values.GDS_GRAPHQL_MAX_COST,
  });
}

function splitAddress(address: string): { httpHost: string; httpPort: number } {
  const at = address.lastIndexOf(':');

  return { httpHost: address.slice(0, at), httpPort: Number(address.slice(at + 1)) };
}

/** Origins compare as the browser sends them: scheme://host[:port], no path, no trailing slash. */
function parseOrigins(list: string): string[] {
  return list
    .split(',')
    .map((origin) => origin.trim().replace(/\/+$/, ''))
    .filter(Boolean);
}
