import { Inject } from '@nestjs/common';
import { Processor, WorkerHost } from '@nestjs/bullmq';
import { CONSISTENCY_QUEUE, type ConsistencyCheckJob } from '@gds/common';
import type { Job } from 'bullmq';

import { LOGGER, type Logger } from '../common/logger.provider.js';
import { workerConfig } from '../config/worker.config.js';
import { isRetryable } from '../sidecar/sidecar.exception.js';
import { ConsistencyService, type ConsistencyJobResult } from './consistency.service.js';

const options = workerConfig();

/**
 * Runs the consistency check of each query the API hands over (apps/api/src/query/consistency.queue.ts sets the
 * attempts and backoff). A worker that dies mid-job stops renewing its lock; BullMQ's stalled-job check then hands
 * the job to another worker, which runs it again from the start: the check is deterministic and its write is
 * conditional on the query still being VERIFYING.
 */
@Processor(CONSISTENCY_QUEUE, {
  concurrency: options.concurrency,
  lockDuration: options.lockDurationMs,
  stalledInterval: options.stalledIntervalMs,
  maxStalledCount: 1,
})
export class ConsistencyProcessor extends WorkerHost {
  constructor(
    private readonly consistency: ConsistencyService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    super();
  }

  async process(job: Job<ConsistencyCheckJob>): Promise<ConsistencyJobResult> {
    const attempt = job.attemptsMade + 1;
    const log = this.logger.child({ queue: CONSISTENCY_QUEUE, jobId: job.id, queryId: job.data.queryId, attempt });
    const started = Date.now();
    log.info({ event: 'consistency.job_started' });

    try {
      const result = await this.consistency.check(job.data.queryId, { jobId: job.id ?? '', attempt }, log);
      log.info({ event: `consistency.job_${result.outcome}`, ...result, ms: Date.now() - started });
      return result;
    } catch (error) {
      return this.onFailure(job, error, log);
    }
  }

  /** Rethrows what a retry can fix; a check that can never run fails the query instead of leaving it VERIFYING. */
  private async onFailure(job: Job<ConsistencyCheckJob>, error: unknown, log: Logger): Promise<ConsistencyJobResult> {
    const maxAttempts = job.opts.attempts ?? 1;
    if (isRetryable(error)) {
      const isLast = job.attemptsMade + 1 >= maxAttempts;
      log[isLast ? 'error' : 'warn']({ event: 'consistency.job_failed', willRetry: !isLast, err: error });
      throw error;
    }

    log.error({ event: 'consistency.job_unverifiable', err: error });
    return this.consistency.failUnverifiable(job.data.queryId, (error as Error).message);
  }
}
