#!/usr/bin/env node
import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';
import type { Logger } from '@gds/common';

import { AppModule, closeInfrastructure } from './app.module.js';
import { LOGGER } from './common/logger.provider.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  const logger = app.get<Logger>(LOGGER);
  logger.info({ event: 'api.started' });

  const stop = async (signal: string) => {
    logger.info({ event: 'api.stopping', signal });
    await app.close();
    await closeInfrastructure((token) => app.get(token));
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

bootstrap().catch((error: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', event: 'api.start_failed', message: String((error as Error)?.message ?? error) }));
  process.exit(1);
});
