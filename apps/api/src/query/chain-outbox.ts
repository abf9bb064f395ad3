import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { ChainMode, outboxRecord, parseChainConfig, type ChainConfig, type ChainEventPayload } from '@gds/chain';
import { CHAIN_OUTBOX_QUEUE, OutboxScheduler, type ChainOutboxJob } from '@gds/chain/outbox';
import type { Logger } from '@gds/common';
import type { ChainEventKind, Prisma } from '@gds/db';
import { Queue } from 'bullmq';

import { LOGGER } from '../common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from '../config/app.config.js';

/**
 * The API's side of chain notifications: an event is recorded in the transaction that makes the change it
 * announces, and the worker's relay is kicked once that transaction committed. With CHAIN_MODE=off (the default)
 * both do nothing. The API never signs: the worker holds the chain key.
 */
@Injectable()
export class ChainOutbox implements OnModuleDestroy {
  private readonly config: ChainConfig;
  private readonly scheduler: OutboxScheduler | undefined;
  private readonly queue: Queue<ChainOutboxJob> | undefined;

  constructor(@Inject(APP_CONFIG) appConfig: AppConfig, @Inject(LOGGER) logger: Logger) {
    this.config = parseChainConfig(process.env);
    if (this.config.mode === ChainMode.OFF) {
      return;
    }
    this.queue = new Queue<ChainOutboxJob>(CHAIN_OUTBOX_QUEUE, {
      connection: { url: appConfig.redisUrl, maxRetriesPerRequest: null },
      prefix: appConfig.queuePrefix,
    });
    this.scheduler = new OutboxScheduler(this.queue, logger);
  }

  get isEnabled(): boolean {
    return this.scheduler !== undefined;
  }

  async record<K extends ChainEventKind>(tx: Prisma.TransactionClient, kind: K, payload: ChainEventPayload<K>): Promise<void> {
    if (!this.isEnabled) {
      return;
    }
    await tx.chainOutbox.createMany({ data: [outboxRecord(kind, payload) as Prisma.ChainOutboxCreateManyInput], skipDuplicates: true });
  }

  /** After commit: asks the relay for a pass. Never throws; the worker's backstop covers a lost kick. */
  kick(): void {
    this.scheduler?.kick();
  }

  async onModuleDestroy(): Promise<void> {
    this.scheduler?.close();
    await this.queue?.close();
  }
}
