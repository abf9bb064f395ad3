import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { CONSISTENCY_QUEUE, consistencyJobId, type ConsistencyCheckJob } from '@gds/common';
import { Queue } from 'bullmq';

import { APP_CONFIG, type AppConfig } from '../config/app.config.js';

/** Hands finished queries to the worker's consistency check. */
@Injectable()
export class ConsistencyQueue implements OnModuleDestroy {
  private readonly queue: Queue<ConsistencyCheckJob>;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.queue = new Queue<ConsistencyCheckJob>(CONSISTENCY_QUEUE, {
      connection: { url: config.redisUrl, maxRetriesPerRequest: null },
      prefix: config.queuePrefix,
      defaultJobOptions: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 2_000 },
        removeOnComplete: { age: 7 * 86_400 },
        removeOnFail: { age: 30 * 86_400 },
      },
    });
  }

  /**
   * Idempotent: the job id is derived from the query, so a second enqueue of a waiting or running check is
   * ignored. A check that failed for good (every attempt used, say during a long sidecar outage) is removed first,
   * or BullMQ would ignore the new job too and the query would stay VERIFYING.
   */
  async enqueue(queryId: string): Promise<void> {
    const jobId = consistencyJobId(queryId);
    const previous = await this.queue.getJob(jobId);
    if (previous && (await previous.isFailed())) {
      await previous.remove();
    }
    await this.queue.add('check', { queryId }, { jobId });
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }
}
