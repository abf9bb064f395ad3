import { Module } from '@nestjs/common';
import { BlobStore } from '@gds/db';

import { CustomerAuthService } from './auth/customer-auth.service.js';
import { DataOwnerAuthService } from './auth/data-owner-auth.service.js';
import { createApiLogger, LOGGER } from './common/logger.provider.js';
import { APP_CONFIG, type AppConfig, loadAppConfig } from './config/app.config.js';
import { CustomerService } from './customer/customer.service.js';
import { DataOwnerService } from './data-owner/data-owner.service.js';
import { createPgPool, PG_POOL } from './database/pg-pool.provider.js';
import { PrismaService } from './database/prisma.service.js';
import { createRedis, REDIS } from './database/redis.provider.js';
import { AssignmentNotifier } from './query/assignment.notifier.js';
import { ChainOutbox } from './query/chain-outbox.js';
import { ConsistencyQueue } from './query/consistency.queue.js';
import { QueryUpdates } from './query/query-updates.js';
import { QueryService } from './query/query.service.js';

import type pg from 'pg';
import type { Redis } from 'ioredis';

// Kept apart from app.module.ts so that feature modules can import it without an import cycle.

const infrastructure = [
  { provide: APP_CONFIG, useFactory: () => loadAppConfig() },
  { provide: LOGGER, useFactory: (config: AppConfig) => createApiLogger(config.logLevel), inject: [APP_CONFIG] },
  { provide: PG_POOL, useFactory: (config: AppConfig) => createPgPool(config.databaseUrl), inject: [APP_CONFIG] },
  { provide: REDIS, useFactory: (config: AppConfig) => createRedis(config.redisUrl), inject: [APP_CONFIG] },
  PrismaService,
  { provide: BlobStore, useFactory: (pool: pg.Pool) => new BlobStore(pool), inject: [PG_POOL] },
];

/** Everything but the network listeners: what the CLI needs too. */
@Module({
  providers: [...infrastructure, CustomerAuthService, DataOwnerAuthService, CustomerService, DataOwnerService,
    AssignmentNotifier, ChainOutbox, ConsistencyQueue, QueryUpdates, QueryService],
  exports: [...infrastructure, CustomerAuthService, DataOwnerAuthService, CustomerService, DataOwnerService,
    AssignmentNotifier, ChainOutbox, ConsistencyQueue, QueryUpdates, QueryService],
})
export class CoreModule {}

/** Closes the raw clients Nest did not create as classes. */
export async function closeInfrastructure(get: <T>(token: symbol) => T): Promise<void> {
  await get<pg.Pool>(PG_POOL).end();
  get<Redis>(REDIS).disconnect();
}
