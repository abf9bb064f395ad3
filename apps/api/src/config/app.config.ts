import { z } from 'zod';

const MIB = 1024 * 1024;

const schema = z.object({
  /** Postgres holding state and blobs. */
  DATABASE_URL: z.string().url().default('postgresql://postgres@127.0.0.1:5432/gds'),
  /** Redis for replay protection, assignment fan-out and (with the worker) BullMQ queues. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
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
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type AppConfig = Readonly<{
  databaseUrl: string;
  redisUrl: string;
  grpcAddress: string;
  enrollmentToken: string | undefined;
  maxModelBytes: number;
  maxResultBytes: number;
  signatureWindowMs: number;
  deadlineSweepMs: number;
  logLevel: string;
}>;

/** Nest injection token of the parsed config. */
export const APP_CONFIG = Symbol('APP_CONFIG');

/** Parses the environment once; throws listing every bad variable. */
export function loadAppConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const values = parsed.data;

  return Object.freeze({
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    grpcAddress: values.GDS_GRPC_ADDRESS,
    enrollmentToken: values.GDS_DO_ENROLLMENT_TOKEN,
    maxModelBytes: values.GDS_MAX_MODEL_BYTES,
    maxResultBytes: values.GDS_MAX_RESULT_BYTES,
    signatureWindowMs: values.GDS_SIGNATURE_WINDOW_MS,
    deadlineSweepMs: values.GDS_DEADLINE_SWEEP_MS,
    logLevel: values.LOG_LEVEL,
  });
}
