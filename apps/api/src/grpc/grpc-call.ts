import { randomUUID } from 'node:crypto';

import { Inject, Injectable } from '@nestjs/common';
import {
  Metadata,
  status,
  type sendUnaryData,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import type { Logger } from '@gds/common';

import { GdsException } from '@gds/common';
import { LOGGER } from '../common/logger.provider.js';
import { toGrpcStatus } from './grpc-status.js';

type AnyCall = { metadata: Metadata };

const contexts = new WeakMap<object, Record<string, unknown>>();

/** The call's metadata as plain strings (binary entries are skipped). */
export function metadataOf(call: AnyCall): Record<string, string | undefined> {
  const entries: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(call.metadata.getMap())) {
    if (typeof value === 'string') entries[key] = value;
  }

  return entries;
}

/**
 * Wraps every handler: gives the call a request id, logs one line per call outcome, and turns exceptions into gRPC
 * statuses. Domain errors keep their message; anything else is logged with its stack and the caller gets only the
 * request id.
 */
@Injectable()
export class GrpcCallContext {
  constructor(@Inject(LOGGER) private readonly logger: Logger) {}

  /** Adds fields (ids, sizes) to the call's outcome log line. */
  annotate(call: object, fields: Record<string, unknown>): void {
    Object.assign(contexts.get(call) ?? {}, fields);
  }

  unary<Req, Res>(method: string, handle: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const done = this.begin(method, call);
      handle(call).then(
        (response) => callback(null, response, done.ok()),
        (error: unknown) => callback(done.fail(error)),
      );
    };
  }

  clientStream<Req, Res>(method: string, handle: (call: ServerReadableStream<Req, Res>) => Promise<Res>) {
    return (call: ServerReadableStream<Req, Res>, callback: sendUnaryData<Res>) => {
      const done = this.begin(method, call);
      handle(call).then(
        (response) => callback(null, response, done.ok()),
        (error: unknown) => callback(done.fail(error)),
      );
    };
  }

  serverStream<Req, Res>(method: string, handle: (call: ServerWritableStream<Req, Res>) => Promise<void>) {
    return (call: ServerWritableStream<Req, Res>) => {
      const done = this.begin(method, call);
      handle(call).then(
        () => call.end(done.ok()),
        (error: unknown) => {
          const failure = done.fail(error);
          if (!call.cancelled) call.emit('error', failure);
        },
      );
    };
  }

  private begin(method: string, call: AnyCall & object) {
    const requestId = randomUUID();
    const startedAt = performance.now();
    const fields: Record<string, unknown> = { method, requestId };
    contexts.set(call, fields);
    const trailer = () => {
      const metadata = new Metadata();
      metadata.set('x-request-id', requestId);
      return metadata;
    };

    return {
      ok: () => {
        this.logger.info({ event: 'grpc.call', ...fields, code: 'OK', durationMs: elapsed(startedAt) });
        return trailer();
      },
      fail: (error: unknown) => {
        const failure = this.toServiceError(error, fields, requestId, elapsed(startedAt));
        return Object.assign(failure, { metadata: trailer() });
      },
    };
  }

  private toServiceError(error: unknown, fields: Record<string, unknown>, requestId: string, durationMs: number) {
    if (error instanceof GdsException) {
      const code = toGrpcStatus(error.code);
      this.logger.info({ event: 'grpc.call', ...fields, code: status[code], reason: error.message, durationMs });
      return { code, details: error.message };
    }
    if (isCancellation(error)) {
      this.logger.info({ event: 'grpc.call', ...fields, code: 'CANCELLED', durationMs });
      return { code: status.CANCELLED, details: 'cancelled' };
    }

    this.logger.error({ event: 'grpc.call', ...fields, code: 'INTERNAL', durationMs, err: error });
    return { code: status.INTERNAL, details: `internal error (request id ${requestId})` };
  }
}

function elapsed(startedAt: number): number {
  return Math.round(performance.now() - startedAt);
}

function isCancellation(error: unknown): boolean {
  return error instanceof Error && /cancelled the call|premature close|aborted/i.test(error.message);
}
