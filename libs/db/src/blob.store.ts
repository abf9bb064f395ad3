import { createHash, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Writable } from 'node:stream';

import pg from 'pg';
import copyStreams from 'pg-copy-streams';

import { invalidInput, MAX_CHUNK_BYTES } from '@gds/common';

import { CopyRowDecoder, CopyRowEncoder } from './copy-binary.js';

/**
 * Rows are cut at this size: a whole gRPC chunk, so a streamed chunk becomes one row without being copied, and a
 * row read back becomes one chunk.
 */
const ROW_BYTES = MAX_CHUNK_BYTES;

/**
 * How much COPY data may wait in memory on each side of the socket. Streams default to 16 KiB, which makes every
 * chunk wait for the previous one to reach Postgres; a few MiB keep both ends busy at a bounded cost.
 */
const COPY_BUFFER_BYTES = 8 * 1024 * 1024;

export interface BlobExpectation {
  /** Exact number of bytes the stream must carry. */
  size: bigint;
  /** Hex SHA-256 the bytes must have. */
  sha256: string;
  /** Checked against the first bytes before anything is stored; throws to refuse the stream. */
  inspectHead?: (head: Buffer) => void;
}

export interface StoredBlob {
  blobId: string;
  size: bigint;
  sha256: string;
}

/**
 * Stores model and result bytes exactly as received, in Postgres, streaming both ways with COPY.
 *
 * A blob is written in one transaction: its row, then its chunks, then the size and hash check. A blob whose
 * stream fails, ends early, runs long or hashes differently is rolled back, so readers only ever see complete,
 * verified blobs.
 */
export class BlobStore {
  constructor(private readonly pool: pg.Pool) {}

  async write(source: AsyncIterable<Buffer>, expected: BlobExpectation): Promise<StoredBlob> {
    const blobId = randomUUID();
    const client = await this.pool.connect();
    let isHealthy = true;

    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO "Blob" (id, size, sha256) VALUES ($1, $2, $3)', [
        blobId,
        expected.size.toString(),
        expected.sha256,
      ]);
      await this.copyChunks(client, blobId, source, expected);
      await client.query('COMMIT');

      return { blobId, size: expected.size, sha256: expected.sha256 };
    } catch (error) {
      isHealthy = await rollback(client);
      throw error;
    } finally {
      client.release(isHealthy ? undefined : true);
    }
  }

  /** Streams a blob's bytes in order; the consumer's pace limits how much is read ahead. */
  async *read(blobId: string): AsyncGenerator<Buffer> {
    assertUuid(blobId);
    const client = await this.pool.connect();
    let isFinished = false;

    try {
      // COPY takes no parameters; blobId is a checked UUID.
      const sql = `COPY (SELECT data FROM "BlobChunk" WHERE "blobId" = '${blobId}' ORDER BY seq) TO STDOUT (FORMAT binary)`;
      const decoder = new CopyRowDecoder();
      for await (const piece of client.query(copyStreams.to(sql, { highWaterMark: COPY_BUFFER_BYTES }))) {
        yield* decoder.push(piece as Buffer);
      }
      decoder.end();
      isFinished = true;
    } finally {
      // A consumer that stops early leaves the COPY half read; that connection cannot be reused.
      client.release(isFinished ? undefined : true);
    }
  }

  async delete(blobId: string): Promise<void> {
    await this.pool.query('DELETE FROM "Blob" WHERE id = $1', [blobId]);
  }

  /** Removes blobs no query or execution refers to, older than the given age (left by a crash mid-submit). */
  async deleteUnreferenced(olderThanMs: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM "Blob" b
        WHERE b."createdAt" < now() - make_interval(secs => $1::float8 / 1000)
          AND NOT EXISTS (SELECT 1 FROM "Query" q WHERE q."modelBlobId" = b.id)
          AND NOT EXISTS (SELECT 1 FROM "Execution" e WHERE e."resultBlobId" = b.id)`,
      [olderThanMs],
    );

    return result.rowCount ?? 0;
  }

  private async copyChunks(
    client: pg.PoolClient,
    blobId: string,
    source: AsyncIterable<Buffer>,
    expected: BlobExpectation,
  ): Promise<void> {
    const sink = client.query(
      copyStreams.from('COPY "BlobChunk" ("blobId", seq, data) FROM STDIN (FORMAT binary)', {
        highWaterMark: COPY_BUFFER_BYTES,
      }),
    );
    const finished = once(sink, 'finish');
    finished.catch(() => undefined);
    const encoder = new CopyRowEncoder(blobId);
    const hash = createHash('sha256');
    const pending: Buffer[] = [];
    let pendingBytes = 0;
    let received = 0n;

    try {
      await writeTo(sink, encoder.header());
      for await (const chunk of source) {
        if (received === 0n && chunk.length > 0) {
          expected.inspectHead?.(chunk);
        }
        received += BigInt(chunk.length);
        if (received > expected.size) {
          throw invalidInput(`stream carries more than the declared ${expected.size} bytes`);
        }
        hash.update(chunk);
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= ROW_BYTES) {
          await writeRow(sink, encoder, pending, pendingBytes);
          pending.length = 0;
          pendingBytes = 0;
        }
      }
      if (pendingBytes > 0) {
        await writeRow(sink, encoder, pending, pendingBytes);
      }
    } catch (error) {
      sink.destroy(error as Error);
      throw error;
    }

    if (received !== expected.size) {
      sink.destroy(new Error('truncated'));
      throw invalidInput(`stream ended after ${received} of the declared ${expected.size} bytes`);
    }
    const actual = hash.digest('hex');
    if (actual !== expected.sha256) {
      sink.destroy(new Error('hash mismatch'));
      throw invalidInput(`SHA-256 mismatch: declared ${expected.sha256}, got ${actual}`);
    }

    sink.end(encoder.trailer());
    await finished;
  }
}

/** One row from the pending pieces; the pieces are written as they are, not copied into one buffer. */
async function writeRow(sink: Writable, encoder: CopyRowEncoder, pieces: Buffer[], length: number): Promise<void> {
  sink.write(encoder.rowPrefix(length));
  for (const piece of pieces.slice(0, -1)) {
    sink.write(piece);
  }
  await writeTo(sink, pieces[pieces.length - 1]);
}

async function writeTo(sink: Writable, bytes: Buffer): Promise<void> {
  if (!sink.write(bytes)) {
    await once(sink, 'drain');
  }
}

/** Returns whether the connection is still usable. */
async function rollback(client: pg.PoolClient): Promise<boolean> {
  try {
    await client.query('ROLLBACK');
    return true;
  } catch {
    return false;
  }
}

function assertUuid(value: string): void {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
    throw invalidInput(`not a blob id: ${value}`);
  }
}
