import { once } from 'node:events';

import type { ServerReadableStream, ServerWritableStream } from '@grpc/grpc-js';
import { MAX_CHUNK_BYTES } from '@gds/common';

import { invalidInput } from '@gds/common';

/** A client-streamed message: a header, then chunks (the `payload` oneof of our upload messages). */
interface UploadMessage<H> {
  payload?: 'header' | 'chunk';
  header?: H | null;
  chunk?: Buffer;
}

/**
 * Splits a client stream into its header and an iterable of its chunks. Reading pauses the stream, so a slow
 * consumer holds the client back through HTTP/2 flow control instead of buffering. A cancelled call ends the
 * iteration with an error.
 */
export async function readUpload<H, M extends UploadMessage<H>>(
  call: ServerReadableStream<M, unknown>,
): Promise<{ header: H; chunks: AsyncIterable<Buffer> }> {
  call.once('cancelled', () => call.destroy(new Error('client cancelled the call')));
  const iterator = call[Symbol.asyncIterator]() as AsyncIterator<M>;

  const first = await iterator.next();
  if (first.done || first.value.payload !== 'header' || !first.value.header) {
    throw invalidInput('the first message must be the header');
  }

  const chunks = {
    async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        if (next.value.payload !== 'chunk' || !next.value.chunk) {
          throw invalidInput('only chunks may follow the header');
        }
        if (next.value.chunk.length > MAX_CHUNK_BYTES) {
          throw invalidInput(`a chunk may carry at most ${MAX_CHUNK_BYTES} bytes`);
        }
        yield next.value.chunk;
      }
    },
  };

  return { header: first.value.header, chunks };
}

/** Writes one message, waiting for the client to catch up when the stream's buffer is full. */
export async function writeMessage<M>(call: ServerWritableStream<unknown, M>, message: M): Promise<void> {
  if (call.write(message)) {
    return;
  }
  if (call.cancelled) {
    throw new Error('client cancelled the call');
  }

  const controller = new AbortController();
  await Promise.race([
    once(call, 'drain', { signal: controller.signal }),
    once(call, 'cancelled', { signal: controller.signal }).then(() => {
      throw new Error('client cancelled the call');
    }),
  ]).finally(() => controller.abort());
}

/**
 * Streams bytes as chunk messages, never faster than the client reads.
 * TODO(download rate): GetQueryInfo reaches ~180 MB/s against ~900 MB/s for raw COPY out (bench/transfer): grpc-js
 * encodes and frames every message with two copies on the API's one thread, and a bare grpc-js server here tops
 * out at 270-600 MB/s. It stays because the target is above what grpc-js carries on this machine; serving the bytes
 * pre-framed (a custom serializer for chunk messages) or over the HTTP download path retires it.
 */
export async function writeChunks<M>(
  call: ServerWritableStream<unknown, M>,
  source: AsyncIterable<Buffer>,
  wrap: (chunk: Buffer) => M,
): Promise<void> {
  for await (const piece of source) {
    for (let at = 0; at < piece.length; at += MAX_CHUNK_BYTES) {
      await writeMessage(call, wrap(piece.subarray(at, at + MAX_CHUNK_BYTES)));
    }
  }
}
