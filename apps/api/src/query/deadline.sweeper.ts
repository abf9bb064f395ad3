import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Logger } from '@gds/common';

import { BlobStore } from '@gds/db';
import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';
import { QueryService } from './query.service.js';

/** Blobs written by a submit that crashed before its query row existed are removed after this long. */
const ORPHAN_BLOB_AGE_MS = 60 * 60 * 1000;

/**
 * Periodic housekeeping: fails executions past their query's deadline and removes orphaned blobs. Each step is an
 * idempotent conditional update, so any number of API replicas may run it at once.
 */
@Injectable()
export class DeadlineSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private isRunning = false;

  constructor(
    private readonly queries: QueryService,
    private readonly blobs: BlobStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.sweep(), this.config.deadlineSweepMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  async sweep(): Promise<void> {
    if (this.isRunning) {
      return;
    }
    this.isRunning = true;

    try {
      const overdue = await this.queries.failOverdueExecutions();
      const orphans = await this.blobs.deleteUnreferenced(ORPHAN_BLOB_AGE_MS);
      const requeued = await this.queries.requeueVerifying();
      if (overdue > 0 || orphans > 0 || requeued > 0) {
        this.logger.info({ event: 'sweep.done', overdueExecutions: overdue, orphanBlobs: orphans, requeued });
      }
    } catch (error) {
      this.logger.warn({ event: 'sweep.failed', err: error });
    } finally {
      this.isRunning = false;
    }
  }
}
