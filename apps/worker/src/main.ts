#!/usr/bin/env node
// The worker: runs the queued jobs (the consistency check) next to its Python sidecar. Any number may run.
import 'reflect-metadata';

import { workerConfig } from './config/worker.config.js';

async function bootstrap(): Promise<void> {
  // Parsed first, so that a bad environment is reported (every variable at once) before anything starts.
  workerConfig();
  const { NestFactory } = await import('@nestjs/core');
  const { WorkerModule } = await import('./worker.module.js');
  const { LOGGER } = await import('./common/logger.provider.js');
  const { SidecarSupervisor } = await import('./sidecar/sidecar.supervisor.js');
  const { ConsistencyProcessor } = await import('./consistency/consistency.processor.js');

  const app = await NestFactory.createApplicationContext(WorkerModule, { logger: ['error', 'warn'] });
  const logger = app.get(LOGGER);
  logger.info({ event: 'worker.started', concurrency: workerConfig().concurrency });

  let isStopping = false;
  const stop = async (signal: string) => {
    if (isStopping) return;
    isStopping = true;
    logger.info({ event: 'worker.stopping', signal });
    // Let the running job finish while its sidecar is still there, and take no new one; then stop the rest.
    await app.get(ConsistencyProcessor).worker.close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));

  await app.get(SidecarSupervisor).healthyClient();
  logger.info({ event: 'worker.ready', sidecarPid: app.get(SidecarSupervisor).pid });
}

bootstrap().catch((error: unknown) => {
  const message = String((error as Error)?.message ?? error);
  console.error(JSON.stringify({ level: 'fatal', event: 'worker.start_failed', message }));
  process.exit(1);
});
