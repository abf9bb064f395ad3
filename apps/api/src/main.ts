#!/usr/bin/env node
import 'reflect-metadata';

import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from '@gds/common';

import { AppModule, closeInfrastructure } from './app.module.js';
import { LOGGER } from './common/logger.provider.js';
import { APP_CONFIG, type AppConfig } from './config/app.config.js';

/** GraphQL documents and variables only: model bytes never travel in GraphQL. */
const GRAPHQL_BODY_LIMIT = '1mb';

/** A multi-GB model upload takes minutes; Node's default of 5 minutes per request would cut it. */
const REQUEST_TIMEOUT_MS = 60 * 60 * 1000;

async function bootstrap(): Promise<void> {
  // Nest's default parsers would read any JSON or form body, on any path; only GraphQL takes a parsed body. Uploads
  // must reach their handler as an untouched stream.
  const app = await NestFactory.create<NestExpressApplication>(AppModule, {
    logger: ['error', 'warn'],
    bodyParser: false,
  });
  app.useBodyParser('json', { limit: GRAPHQL_BODY_LIMIT, type: (req: IncomingMessage) => isGraphqlJson(req) });
  app.enableShutdownHooks();
  const config = app.get<AppConfig>(APP_CONFIG);
  const logger = app.get<Logger>(LOGGER);
  app.disable('x-powered-by');
  // The portal runs on its own origin and calls the API with credentials: exactly its origins, nothing else.
  app.enableCors({
    origin: [...config.portalOrigins],
    credentials: true,
    methods: ['GET', 'POST', 'OPTIONS'],
    allowedHeaders: [
      'Content-Type',
      'Authorization',
      'X-Content-SHA256',
      'X-File-Name',
      'X-Model-Format',
      'Apollo-Require-Preflight',
    ],
    exposedHeaders: ['X-Content-SHA256', 'X-Request-Id', 'Content-Disposition', 'Content-Length'],
    maxAge: 600,
  });

  const server = app.getHttpServer() as Server;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await app.listen(config.httpPort, config.httpHost);
  const { port } = server.address() as AddressInfo;
  logger.info({ event: 'http.listening', address: `${config.httpHost}:${port}`, port });
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

function isGraphqlJson(req: IncomingMessage): boolean {
  const path = req.url?.split('?')[0];

  return path === '/graphql' && /^application\/(graphql-response\+)?json\b/i.test(req.headers['content-type'] ?? '');
}

bootstrap().catch((error: unknown) => {
  const message = String((error as Error)?.message ?? error);
  console.error(JSON.stringify({ level: 'fatal', event: 'api.start_failed', message }));
  process.exit(1);
});
