import pg from 'pg';

export const PG_POOL = Symbol('PG_POOL');

/** A node-postgres pool for streaming blob bytes with COPY, which Prisma cannot do. */
export function createPgPool(databaseUrl: string): pg.Pool {
  return new pg.Pool({ connectionString: databaseUrl, max: 10, idleTimeoutMillis: 10_000 });
}
