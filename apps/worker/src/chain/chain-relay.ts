import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  ChainMode,
  describeChainConfig,
  ensureEmbeddedChain,
  outboxRecord,
  parseChainConfig,
  type ChainConfig,
  type EmbeddedChain,
} from '@gds/chain';
import {
  CHAIN_OUTBOX_QUEUE,
  createOutboxProcessor,
  createOutboxRelay,
  OutboxScheduler,
  type ChainOutboxJob,
} from '@gds/chain/outbox';
import type { Logger } from '@gds/common';
import type { Prisma, PrismaClient } from '@gds/db';
import { Queue, Worker } from 'bullmq';

import { LOGGER } from '../common/logger.provider.js';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config.js';
import { PRISMA } from '../database/database.providers.js';

/**
 * The worker's side of chain notifications: the outbox relay (one pass at a time, one signing key, serial nonces)
 * fed by kicks from the API and by a backstop timer, and the verdict announcement recorded with the verdict.
 * With CHAIN_MODE=off (the default) it does nothing.
 */
@Injectable()
export class ChainRelay implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly chainConfig: ChainConfig;
  private embedded: EmbeddedChain | null = null;
  private queue: Queue<ChainOutboxJob> | undefined;
  private scheduler: OutboxScheduler | undefined;
  private worker: Worker<ChainOutboxJob> | undefined;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.chainConfig = parseChainConfig(process.env, { needsSigner: true });
  }

  get isEnabled(): boolean {
    return this.chainConfig.mode !== ChainMode.OFF;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.isEnabled) {
      return;
    }
    if (this.chainConfig.mode === ChainMode.EMBEDDED) {
      this.embedded = await ensureEmbeddedChain(this.chainConfig, this.logger);
    }

    const connection = { url: this.config.redisUrl, maxRetriesPerRequest: null };
    const relay = createOutboxRelay(this.chainConfig, { prisma: this.prisma, logger: this.logger });
    this.queue = new Queue<ChainOutboxJob>(CHAIN_OUTBOX_QUEUE, { connection, prefix: this.config.queuePrefix });
    this.scheduler = new OutboxScheduler(this.queue, this.logger);
    this.worker = new Worker<ChainOutboxJob>(
      CHAIN_OUTBOX_QUEUE,
      createOutboxProcessor({ relay, logger: this.logger, scheduler: this.scheduler }),
      { connection, prefix: this.config.queuePrefix, concurrency: 1 },
    );
    this.scheduler.startBackstop(this.chainConfig.backstopMs);
    this.logger.info({ event: 'chain.relay_started', chain: describeChainConfig(this.chainConfig) });
  }

  /** Records QUERY_VERIFIED in the transaction that stores the verdict; the relay sends it after commit. */
  async recordVerdict(
    tx: Prisma.TransactionClient,
    queryId: string,
    verdict: 'CONSISTENT' | 'INCONSISTENT' | null,
    canonicalSha256: string | null,
  ): Promise<void> {
    if (!this.isEnabled) {
      return;
    }
    const record = outboxRecord('QUERY_VERIFIED', {
      queryId,
      verdict: verdict ?? 'FAILED',
      canonicalResultHash: verdict === 'CONSISTENT' ? canonicalSha256 : null,
    });
    await tx.chainOutbox.createMany({ data: [record as Prisma.ChainOutboxCreateManyInput], skipDuplicates: true });
  }

  kick(): void {
    this.scheduler?.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.scheduler?.close();
    await this.worker?.close();
    await this.queue?.close();
    // An embedded chain started by someone else (the demo) is left running; one this worker started is stopped.
    await this.embedded?.supervisor.stop();
  }
}
