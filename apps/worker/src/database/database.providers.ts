import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { BlobStore, createPrismaClient, type PrismaClient } from '@gds/db';
import pg from 'pg';

import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config.js';

/** The Prisma client for rows; blob bytes go through BlobStore, which streams them with COPY. */
export const PRISMA = Symbol('PRISMA');
export const PG_POOL = Symbol('PG_POOL');

// Each job holds one pooled connection while it streams a blob, and Prisma a few while it writes the outcome.
const POOL_SIZE = 4;

export const databaseProviders: Provider[] = [
  {
    provide: PRISMA,
    useFactory: (config: WorkerConfig) => createPrismaClient(config.databaseUrl, POOL_SIZE),
    inject: [WORKER_CONFIG],
  },
  {
    provide: PG_POOL,
    useFactory: (config: WorkerConfig) =>
      new pg.Pool({ connectionString: config.databaseUrl, max: POOL_SIZE, idleTimeoutMillis: 10_000 }),
    inject: [WORKER_CONFIG],
  },
  { provide: BlobStore, useFactory: (pool: pg.Pool) => new BlobStore(pool), inject: [PG_POOL] },
];

/** Closes the database clients once the queue workers have stopped. */
@Injectable()
export class DatabaseShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(PG_POOL) private readonly pool: pg.Pool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    await this.pool.end();
  }
}
