import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import { Inject, Injectable } from '@nestjs/common';
import { GdsException, type Logger } from '@gds/common';

import { LOGGER } from '../common/logger.provider.js';
import { toHttpFailure } from './http-errors.js';

export interface HttpCall {
  requestId: string;
  /** Adds fields (ids, sizes) to the request's outcome log line. */
  annotate(fields: Record<string, unknown>): void;
}

/**
 * Wraps every HTTP handler (as GrpcCallContext does gRPC ones): a request id in X-Request-Id, one log line per
 * request outcome, and errors as `{"error":{"code","message","requestId"}}`. Domain errors keep their message;
 * anything else is logged with its stack and the caller gets only the request id.
 */
@Injectable()
export class HttpCallContext {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  async run(
    route: string,
    req: IncomingMessage,
    res: ServerResponse,
    handle: (call: HttpCall) => Promise<void>,
  ): Promise<void> {
    const requestId = randomUUID();
    const startedAt = performance.now();
    const fields: Record<string, unknown> = { route, method: req.method, requestId };
    res.setHeader('X-Request-Id', requestId);
    const log = (level: 'info' | 'debug' | 'error', outcome: Record<string, unknown>) => {
      const durationMs = Math.round(performance.now() - startedAt);
      this.logger[level]({ event: 'http.request', ...fields, ...outcome, durationMs });
    };

    try {
      await handle({ requestId, annotate: (more) => Object.assign(fields, more) });
      log(route === 'GET /health' ? 'debug' : 'info', { status: res.statusCode, code: 'OK' });
    } catch (error) {
      if (isClientGone(req, res, error)) {
        log('info', { status: res.headersSent ? res.statusCode : 499, code: 'ABORTED' });
        res.destroy();
        return;
      }
      if (error instanceof GdsException) {
        const failure = toHttpFailure(error);
        log('info', { status: failure.status, code: failure.code, reason: error.message });
        this.reply(req, res, failure.status, { code: failure.code, message: failure.message, requestId });
        return;
      }
      log('error', { status: 500, code: 'INTERNAL_SERVER_ERROR', err: error });
      const message = `internal error (request id ${requestId})`;
      this.reply(req, res, 500, { code: 'INTERNAL_SERVER_ERROR', message, requestId });
    }
  }

  private reply(req: IncomingMessage, res: ServerResponse, status: number, error: Record<string, unknown>): void {
    if (res.headersSent) {
      // Failing after the first byte: only cutting the connection tells the client the body is incomplete.
      res.destroy();
      return;
    }
    if (!req.complete) {
      // The body was refused unread: close rather than read gigabytes only to keep the connection alive.
      res.setHeader('Connection', 'close');
    }
    sendJson(res, status, { error });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_key, value) => (typeof value === 'bigint' ? value.toString() : value));
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function isClientGone(req: IncomingMessage, res: ServerResponse, error: unknown): boolean {
  const code = (error as { code?: string } | null)?.code;

  return (
    code === 'ECONNRESET' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    (error instanceof Error && error.message === 'aborted') ||
    (req.destroyed && !req.complete) ||
    (res.destroyed && !res.writableFinished)
  );
}
