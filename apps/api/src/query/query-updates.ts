import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { QUERY_UPDATED_CHANNEL, type QueryUpdatedMessage, type Logger } from '@gds/common';
import { Redis } from 'ioredis';

import { LOGGER } from '../common/logger.provider.js';
import { REDIS } from '../database/redis.provider.js';

type Listener = (message: QueryUpdatedMessage) => void;

/**
 * "Query X changed" across processes (API replicas, the worker), over Redis pub/sub. Listeners re-read the query;
 * the message carries no state, so a missed one costs freshness, never correctness.
 */
@Injectable()
export class QueryUpdates implements OnModuleDestroy {
  private subscriber: Redis | undefined;
  private readonly listeners = new Set<Listener>();

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Never throws: a failed announcement must not fail the change it announces. */
  async publish(queryId: string, customerId: string): Promise<void> {
    const message: QueryUpdatedMessage = { queryId, customerId };
    await this.redis.publish(QUERY_UPDATED_CHANNEL, JSON.stringify(message)).catch((error: unknown) => {
      this.logger.warn({ event: 'query_updates.publish_failed', queryId, err: error });
    });
  }

  async listen(listener: Listener): Promise<() => void> {
    if (!this.subscriber) {
      this.subscriber = this.redis.duplicate();
      this.subscriber.on('message', (_channel: string, text: string) => this.dispatch(text));
      await this.subscriber.subscribe(QUERY_UPDATED_CHANNEL);
    }
    this.listeners.add(listener);

    return () => this.listeners.delete(listener);
  }

  async onModuleDestroy(): Promise<void> {
    this.subscriber?.disconnect();
  }

  private dispatch(text: string): void {
    const message = JSON.parse(text) as QueryUpdatedMessage;
    this.listeners.forEach((listener) => listener(message));
  }
}
