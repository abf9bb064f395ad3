import { Inject, Injectable, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { QUERY_UPDATED_CHANNEL, type QueryUpdatedMessage } from '@gds/common';
import { Redis } from 'ioredis';

import { LOGGER, type Logger } from '../common/logger.provider.js';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config.js';

export const REDIS = Symbol('REDIS');

export const redisProviders: Provider[] = [
  {
    provide: REDIS,
    useFactory: (config: WorkerConfig) => new Redis(config.redisUrl, { maxRetriesPerRequest: 3 }),
    inject: [WORKER_CONFIG],
  },
];

/**
 * Announces "query X changed" to the API replicas (GraphQL subscriptions, the portal) over the API's Redis channel
 * (apps/api/src/query/query-updates.ts), once a verdict is stored. The message carries no state: listeners re-read.
 */
@Injectable()
export class QueryUpdates implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Never throws: a lost announcement costs freshness, and the verdict is already stored. */
  async publish(queryId: string, customerId: string): Promise<void> {
    const message: QueryUpdatedMessage = { queryId, customerId };
    await this.redis.publish(QUERY_UPDATED_CHANNEL, JSON.stringify(message)).catch((error: unknown) => {
      this.logger.warn({ event: 'query_updates.publish_failed', queryId, err: error });
    });
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
