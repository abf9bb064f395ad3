import { createHash, type KeyObject } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';

import * as grpc from '@grpc/grpc-js';

import { GRPC_CLIENT_OPTIONS, MAX_CHUNK_BYTES, signCall, type Logger } from '@gds/common';
import {
  loadGoodData,
  methodPath,
  type Assignment__Output,
  type ExecutionError,
  type GetQueryInfoResponse__Output,
  type GoodDataServiceClient,
  type QueryCompletedRequest,
  type QueryCompletedResponse__Output,
  type QueryInfo__Output,
  type RegisterDataOwnerRequest,
  type RegisterDataOwnerResponse__Output,
  type ReportProgressRequest,
} from '@gds/proto';

const UNARY_DEADLINE_MS = 30_000;
const PROGRESS_DEADLINE_MS = 10_000;

/** A download with no message for this long is cancelled and retried: a half-open connection must not hang it. */
const DOWNLOAD_IDLE_MS = 60_000;

/** Upload deadline: at least 2 minutes, more for large results (assumes at least 256 KiB/s). */
const UPLOAD_MIN_MS = 120_000;
const UPLOAD_MIN_BYTES_PER_MS = 256;

const TRANSIENT_CODES = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.INTERNAL]);

/** A gRPC call that ended with a non-OK status. */
export class GdsCallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
    this.name = 'GdsCallError';
  }

  get codeName(): string {
    return grpc.status[this.code] ?? String(this.code);
  }

  /** Worth retrying with the same request: the server or the network may recover. */
  get isTransient(): boolean {
    return TRANSIENT_CODES.has(this.code);
  }
}

/** The downloaded model does not match the size or SHA-256 its header declared. */
export class ModelIntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelIntegrityError';
  }
}

export interface DownloadedModel {
  info: QueryInfo__Output;
  size: number;
  sha256: string;
}

export interface ResultHeader {
  queryId: string;
  resultSize: number;
  resultSha256: string;
  startedAtNs: string;
  finishedAtNs: string;
}

export interface GdsClientOptions {
  address: string;
  privateKey: KeyObject;
  logger: Logger;
  /** PEM CA bundle for TLS; undefined for the system roots. Ignored unless `useTls`. */
  caPem?: Buffer;
  useTls?: boolean;
}

/**
 * The agent's only door to GDS: owns the channel, signs every call afresh (new nonce and timestamp, so a retry is
 * never a replay), sets deadlines and streams model and result bytes with backpressure.
 */
export class GdsClient {
  private readonly client: GoodDataServiceClient;
  private readonly privateKey: KeyObject;
  private readonly logger: Logger;
  private readonly activeCalls = new Set<{ cancel(): void }>();

  constructor(options: GdsClientOptions) {
    const { GoodDataService } = loadGoodData().gooddata.v1;
    const credentials = options.useTls
      ? grpc.credentials.createSsl(options.caPem ?? null)
      : grpc.credentials.createInsecure();

    this.client = new GoodDataService(options.address, credentials, {
      ...GRPC_CLIENT_OPTIONS,
      // The assignment stream stays open for days; keepalive pings find a dead connection so the agent reconnects.
      'grpc.keepalive_time_ms': 60_000,
      'grpc.keepalive_timeout_ms': 20_000,
    });
    this.privateKey = options.privateKey;
    this.logger = options.logger;
  }

  static fromConfig(config: { gdsAddress: string; tls?: { caFile?: string } }, privateKey: KeyObject, logger: Logger) {
    const caPem = config.tls?.caFile ? readFileSync(config.tls.caFile) : undefined;

    return new GdsClient({ address: config.gdsAddress, privateKey, logger, caPem, useTls: !!config.tls });
  }

  async registerDataOwner(request: RegisterDataOwnerRequest): Promise<RegisterDataOwnerResponse__Output> {
    const metadata = this.sign('RegisterDataOwner', '', true);

    return this.unary((callback) =>
      this.client.registerDataOwner(request, metadata, { deadline: deadlineIn(UNARY_DEADLINE_MS) }, callback),
    );
  }

  /** The long-lived assignment stream. No deadline; the caller reconnects when it ends. */
  watchAssignments(): grpc.ClientReadableStream<Assignment__Output> {
    const call = this.client.watchAssignments({}, this.sign('WatchAssignments'));
    this.track(call);

    return call;
  }

  /** Reports one epoch. Resolves false when the execution no longer accepts work (cancelled or closed). */
  async reportProgress(request: ReportProgressRequest & { queryId: string }): Promise<boolean> {
    const metadata = this.sign('ReportProgress', request.queryId);
    const response = await this.unary<{ accepted: boolean }>((callback) =>
      this.client.reportProgress(request, metadata, { deadline: deadlineIn(PROGRESS_DEADLINE_MS) }, callback),
    );

    return response.accepted;
  }

  /**
   * GetQueryInfo's header only (the stream is cancelled once it arrived): what GDS says the work is, without the
   * model bytes. It also marks the execution started on the server, as any GetQueryInfo does.
   */
  async readQueryHeader(queryId: string): Promise<QueryInfo__Output> {
    const metadata = this.sign('GetQueryInfo', queryId);

    return new Promise<QueryInfo__Output>((resolve, reject) => {
      const call = this.client.getQueryInfo({ queryId }, metadata, { deadline: deadlineIn(UNARY_DEADLINE_MS) });
      const untrack = this.track(call);
      let isSettled = false;
      const settle = (error: Error | null, header?: QueryInfo__Output) => {
        if (isSettled) return;

        isSettled = true;
        untrack();
        call.cancel();
        if (error) reject(error);
        else resolve(header!);
      };

      call.on('data', (message: GetQueryInfoResponse__Output) =>
        message.payload === 'header' && message.header
          ? settle(null, message.header)
          : settle(new GdsCallError(grpc.status.INTERNAL, `GetQueryInfo began with ${message.payload ?? 'an empty message'}`)),
      );
      // Stays attached after settling: the cancellation itself ends the call with an error.
      call.on('error', (error) => settle(toCallError(error)));
      call.on('end', () => settle(new GdsCallError(grpc.status.INTERNAL, 'GetQueryInfo ended without a header')));
    });
  }

  /**
   * Streams the query's model into `destPath`, hashing as it goes. `onHeader` sees the header before any byte is
   * written and may throw to abandon the download. Throws ModelIntegrityError when size or hash differ from the header.
   */
  async downloadModel(
    queryId: string,
    destPath: string,
    options: { onHeader?: (info: QueryInfo__Output) => Promise<void> | void; signal?: AbortSignal } = {},
  ): Promise<DownloadedModel> {
    const call = this.client.getQueryInfo({ queryId }, this.sign('GetQueryInfo', queryId));
    const untrack = this.track(call);
    const idle = new IdleTimer(DOWNLOAD_IDLE_MS, () => call.cancel());
    const onAbort = () => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const hash = createHash('sha256');
    let info: QueryInfo__Output | undefined;
    let size = 0;

    async function* modelBytes(messages: AsyncIterable<GetQueryInfoResponse__Output>): AsyncGenerator<Buffer> {
      for await (const message of messages) {
        idle.reset();

        if (message.payload === 'header' && message.header && !info) {
          info = message.header;
          await options.onHeader?.(info);
          continue;
        }

        if (message.payload !== 'chunk' || !message.chunk || !info) {
          throw new GdsCallError(grpc.status.INTERNAL, `unexpected ${message.payload ?? 'empty'} message in GetQueryInfo`);
        }

        size += message.chunk.length;
        if (size > Number(info.modelSize)) {
          throw new ModelIntegrityError(`model has more than the ${info.modelSize} bytes its header declared`);
        }

        hash.update(message.chunk);
        yield message.chunk;
      }
    }

    try {
      await pipeline(call, modelBytes, createWriteStream(destPath, { flags: 'w', mode: 0o600 }));
    } catch (error) {
      call.cancel();
      options.signal?.throwIfAborted();
      throw idle.hasFired ? new GdsCallError(grpc.status.DEADLINE_EXCEEDED, 'GetQueryInfo went idle') : toCallError(error);
    } finally {
      idle.stop();
      untrack();
      options.signal?.removeEventListener('abort', onAbort);
    }

    if (!info) {
      throw new GdsCallError(grpc.status.INTERNAL, 'GetQueryInfo ended without a header');
    }

    const sha256 = hash.digest('hex');
    if (size !== Number(info.modelSize) || sha256 !== info.modelSha256) {
      throw new ModelIntegrityError(
        `model is ${size} bytes with sha256 ${sha256}; header declared ${info.modelSize} bytes with ${info.modelSha256}`,
      );
    }

    return { info, size, sha256 };
  }

  /** Streams a result: its header, then the file in chunks of at most MAX_CHUNK_BYTES. */
  async uploadResult(header: ResultHeader, filePath: string, signal?: AbortSignal): Promise<QueryCompletedResponse__Output> {
    const timeoutMs = Math.max(UPLOAD_MIN_MS, header.resultSize / UPLOAD_MIN_BYTES_PER_MS);

    return this.queryCompleted(header.queryId, timeoutMs, signal, async (send) => {
      await send({
        header: {
          queryId: header.queryId,
          resultSize: String(header.resultSize),
          resultSha256: header.resultSha256,
          startedAtNs: header.startedAtNs,
          finishedAtNs: header.finishedAtNs,
        },
      });

      for await (const chunk of createReadStream(filePath, { highWaterMark: MAX_CHUNK_BYTES }) as AsyncIterable<Buffer>) {
        await send({ chunk });
      }
    });
  }

  /** Tells GDS this execution failed: a header carrying only the error, and no chunks. */
  async reportFailure(queryId: string, error: ExecutionError, signal?: AbortSignal): Promise<QueryCompletedResponse__Output> {
    return this.queryCompleted(queryId, UNARY_DEADLINE_MS, signal, async (send) => {
      await send({ header: { queryId, resultSize: '0', error } });
    });
  }

  /** Cancels every open call and closes the channel. */
  close(): void {
    for (const call of this.activeCalls) {
      call.cancel();
    }
    this.client.close();
  }

  private async queryCompleted(
    queryId: string,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    writeAll: (send: (message: QueryCompletedRequest) => Promise<void>) => Promise<void>,
  ): Promise<QueryCompletedResponse__Output> {
    let call!: grpc.ClientWritableStream<QueryCompletedRequest>;
    const response = new Promise<QueryCompletedResponse__Output>((resolve, reject) => {
      const metadata = this.sign('QueryCompleted', queryId);
      call = this.client.queryCompleted(metadata, { deadline: deadlineIn(timeoutMs) }, (error, value) =>
        error || !value ? reject(toCallError(error)) : resolve(value),
      );
    });
    // The response may fail while chunks are still being written; it is awaited below, never left unhandled.
    response.catch(() => undefined);

    const untrack = this.track(call);
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });

    const send = async (message: QueryCompletedRequest): Promise<void> => {
      if (!call.write(message)) {
        await Promise.race([once(call, 'drain'), response]);
      }
    };

    try {
      await writeAll(send);
      call.end();

      return await response;
    } catch (error) {
      call.cancel();
      signal?.throwIfAborted();
      throw toCallError(error);
    } finally {
      untrack();
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private unary<T>(start: (callback: grpc.requestCallback<T>) => { cancel(): void }): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let untrack = () => {};
      const call = start((error, value) => {
        untrack();
        if (error || value === undefined) {
          reject(toCallError(error));
        } else {
          resolve(value);
        }
      });
      untrack = this.track(call);
    });
  }

  /** Fresh signed metadata; called once per call, never reused. */
  private sign(method: string, queryId = '', includePublicKey = false): grpc.Metadata {
    this.logger.debug({ method, queryId }, 'grpc.call_started');

    const metadata = new grpc.Metadata();
    const entries = signCall(this.privateKey, methodPath(method), queryId, { includePublicKey });
    for (const [key, value] of Object.entries(entries)) {
      metadata.set(key, value);
    }

    return metadata;
  }

  private track(call: { cancel(): void; once?(event: string, listener: () => void): unknown }): () => void {
    this.activeCalls.add(call);
    call.once?.('status', () => this.activeCalls.delete(call));

    return () => this.activeCalls.delete(call);
  }
}

/** Maps a grpc-js error to GdsCallError; anything else passes through unchanged. */
export function toCallError(error: unknown): Error {
  if (error instanceof GdsCallError || error instanceof ModelIntegrityError) {
    return error;
  }
  if (isServiceError(error)) {
    return new GdsCallError(error.code, error.details || error.message);
  }
  if (error instanceof Error) {
    return error;
  }

  return new GdsCallError(grpc.status.UNKNOWN, 'call failed without an error');
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && typeof (error as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in error;
}

function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

class IdleTimer {
  private timer: NodeJS.Timeout;
  hasFired = false;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.timer = this.start();
  }

  reset(): void {
    clearTimeout(this.timer);
    this.timer = this.start();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private start(): NodeJS.Timeout {
    return setTimeout(() => {
      this.hasFired = true;
      this.onIdle();
    }, this.ms);
  }
}
