import { Global, Module } from '@nestjs/common';
import { BullModule } from '@nestjs/bullmq';
import { CONSISTENCY_QUEUE } from '@gds/common';

import { createWorkerLogger, LOGGER } from './common/logger.provider.js';
import { WORKER_CONFIG, type WorkerConfig, workerConfig } from './config/worker.config.js';
import { ConsistencyProcessor } from './consistency/consistency.processor.js';
import { ConsistencyRepository } from './consistency/consistency.repository.js';
import { ConsistencyService } from './consistency/consistency.service.js';
import { databaseProviders, DatabaseShutdown } from './database/database.providers.js';
import { QueryUpdates, redisProviders } from './database/query-updates.js';
import { SidecarSupervisor } from './sidecar/sidecar.supervisor.js';
import { ChainRelay } from './chain/chain-relay.js';

/** Config and logger, for every module. */
@Global()
@Module({
  providers: [
    { provide: WORKER_CONFIG, useFactory: () => workerConfig() },
    {
      provide: LOGGER,
      useFactory: (config: WorkerConfig) => createWorkerLogger(config.logLevel),
      inject: [WORKER_CONFIG],
    },
  ],
  exports: [WORKER_CONFIG, LOGGER],
})
export class WorkerCoreModule {}

@Module({
  imports: [
    WorkerCoreModule,
    BullModule.forRootAsync({
      useFactory: (config: WorkerConfig) => ({
        connection: { url: config.redisUrl, maxRetriesPerRequest: null },
        prefix: config.queuePrefix,
      }),
      inject: [WORKER_CONFIG],
    }),
    BullModule.registerQueue({ name: CONSISTENCY_QUEUE }),
  ],
  providers: [...databaseProviders, DatabaseShutdown, ...redisProviders, QueryUpdates, SidecarSupervisor, ChainRelay,
    ConsistencyRepository, ConsistencyService, ConsistencyProcessor],
})
export class WorkerModule {}
