import { fileURLToPath } from 'node:url';

import { DEFAULT_QUEUE_PREFIX, parseEnvironment } from '@gds/common';
import { z } from 'zod';

/** gds_ml's folder in this repository: apps/worker/dist/config -> python. */
const REPO_PYTHON_PATH = fileURLToPath(new URL('../../../../python', import.meta.url));

const milliseconds = (fallback: number) => z.coerce.number().int().positive().default(fallback);

const schema = z.object({
  /** Postgres holding state and blobs (secret: may carry a password). */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/gds'),
  /** Redis of the BullMQ queues; the same one the API enqueues on. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix: the API's GDS_QUEUE_PREFIX, or the worker never sees the API's jobs. */
  GDS_QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 of A-Z a-z 0-9 _ -')
    .default(DEFAULT_QUEUE_PREFIX),
  /** The interpreter that runs the sidecar: needs torch and grpcio. */
  GDS_PYTHON: z.string().min(1).default('/usr/bin/python3'),
  /** Where the gds_ml package lives (PYTHONPATH of the sidecar). */
  GDS_PYTHON_PATH: z.string().min(1).default(REPO_PYTHON_PATH),
  /** Where the sidecar listens: `unix:/path` or `host:port` (port 0 picks one). Default: a socket in a temp folder. */
  GDS_SIDECAR_ADDRESS: z
    .string()
    .regex(/^(unix:\/\S+|[^\s:/]+:\d+)$/, 'expected unix:/absolute/path or host:port')
    .optional(),
  /** Have the sidecar hash every blob it receives and refuse one that differs from the blob store's SHA-256. */
  GDS_SIDECAR_VERIFY_SHA256: z.enum(['true', 'false']).default('true'),
  /** How often the worker asks the sidecar for its health, and how long it waits for an answer. */
  GDS_SIDECAR_HEALTH_INTERVAL_MS: milliseconds(5_000),
  GDS_SIDECAR_HEALTH_TIMEOUT_MS: milliseconds(5_000),
  /** Consecutive failed health calls after which the sidecar is killed and started again. */
  GDS_SIDECAR_HEALTH_FAILURES: z.coerce.number().int().positive().default(3),
  /** How long a (re)started sidecar may take to answer its first health call (it imports torch). */
  GDS_SIDECAR_START_TIMEOUT_MS: milliseconds(60_000),
  /** Deadline of one Check call, streaming included. */
  GDS_SIDECAR_CHECK_TIMEOUT_MS: milliseconds(3_600_000),
  /** Consistency jobs run at once by this process (each holds up to two results in the sidecar's memory). */
  GDS_WORKER_CONCURRENCY: z.coerce.number().int().positive().default(1),
  /** BullMQ job lock: a job whose worker stops renewing it for this long is taken over by another worker. */
  GDS_WORKER_LOCK_DURATION_MS: milliseconds(30_000),
  /** How often BullMQ looks for such stalled jobs. */
  GDS_WORKER_STALLED_INTERVAL_MS: milliseconds(30_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type WorkerConfig = Readonly<{
  databaseUrl: string;
  redisUrl: string;
  queuePrefix: string;
  python: string;
  pythonPath: string;
  sidecarAddress: string | undefined;
  verifySha256: boolean;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  healthFailures: number;
  sidecarStartTimeoutMs: number;
  checkTimeoutMs: number;
  concurrency: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  logLevel: string;
}>;

/** Nest injection token of the parsed config. */
export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

/** Parses the environment; throws listing every bad variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const values = parseEnvironment(schema, env);

  return Object.freeze({
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    queuePrefix: values.GDS_QUEUE_PREFIX,
    python: values.GDS_PYTHON,
    pythonPath: values.GDS_PYTHON_PATH,
    sidecarAddress: values.GDS_SIDECAR_ADDRESS,
    verifySha256: values.GDS_SIDECAR_VERIFY_SHA256 === 'true',
    healthIntervalMs: values.GDS_SIDECAR_HEALTH_INTERVAL_MS,
    healthTimeoutMs: values.GDS_SIDECAR_HEALTH_TIMEOUT_MS,
    healthFailures: values.GDS_SIDECAR_HEALTH_FAILURES,
    sidecarStartTimeoutMs: values.GDS_SIDECAR_START_TIMEOUT_MS,
    checkTimeoutMs: values.GDS_SIDECAR_CHECK_TIMEOUT_MS,
    concurrency: values.GDS_WORKER_CONCURRENCY,
    lockDurationMs: values.GDS_WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: values.GDS_WORKER_STALLED_INTERVAL_MS,
    logLevel: values.LOG_LEVEL,
  });
}

let parsedOnce: WorkerConfig | undefined;

/**
 * The process's config, parsed on first use. BullMQ's worker options (concurrency, lock, stalled interval) are
 * fixed by the @Processor decorator when its class is defined, before Nest can inject anything, so the decorator
 * reads them through this too; main.ts calls it first so that a bad environment fails before anything starts.
 */
export function workerConfig(): WorkerConfig {
  parsedOnce ??= loadWorkerConfig();

  return parsedOnce;
}
