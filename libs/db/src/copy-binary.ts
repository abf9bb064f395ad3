// PostgreSQL's binary COPY format, only as far as the blob store needs it
// (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format").

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER = Buffer.concat([SIGNATURE, Buffer.alloc(8)]); // flags 0, header extension length 0
const TRAILER = Buffer.from([0xff, 0xff]);

/** Encodes ("blobId", seq, data) rows for `COPY "BlobChunk" FROM STDIN (FORMAT binary)`. */
export class CopyRowEncoder {
  private readonly blobId: Buffer;
  private seq = 0;

  constructor(blobId: string) {
    this.blobId = Buffer.from(blobId.replace(/-/g, ''), 'hex');
  }

  header(): Buffer {
    return HEADER;
  }

  /** One row, as one buffer (copies the data; rowPrefix avoids that). */
  row(data: Buffer): Buffer {
    return Buffer.concat([this.rowPrefix(data.length), data]);
  }

  /** Everything of the next row before its data, which must follow with exactly `length` bytes. */
  rowPrefix(length: number): Buffer {
    const prefix = Buffer.alloc(2 + 4 + 16 + 4 + 4 + 4);
    let at = prefix.writeInt16BE(3, 0);
    at = prefix.writeInt32BE(16, at);
    at += this.blobId.copy(prefix, at);
    at = prefix.writeInt32BE(4, at);
    at = prefix.writeInt32BE(this.seq++, at);
    prefix.writeInt32BE(length, at);

    return prefix;
  }

  trailer(): Buffer {
    return TRAILER;
  }
}

/**
 * Decodes the output of `COPY (SELECT data ...) TO STDOUT (FORMAT binary)`: one bytea column per row. Pieces arrive
 * cut anywhere; each complete value is returned once.
 */
export class CopyRowDecoder {
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private isHeaderRead = false;
  private isDone = false;

  *push(piece: Buffer): Generator<Buffer> {
    this.buffered.push(piece);
    this.bufferedBytes += piece.length;

    for (;;) {
      const value = this.next();
      if (value === undefined) {
        return;
      }
      yield value;
    }
  }

  end(): void {
    if (!this.isDone) {
      throw new Error(`COPY output ended early (${this.bufferedBytes} bytes left undecoded)`);
    }
  }

  private next(): Buffer | undefined {
    if (this.isDone) {
      return undefined;
    }
    if (!this.isHeaderRead) {
      if (!this.has(HEADER.length)) return undefined;
      const header = this.take(HEADER.length);
      if (!header.subarray(0, SIGNATURE.length).equals(SIGNATURE)) {
        throw new Error('not binary COPY output');
      }
      this.isHeaderRead = true;
    }

    if (!this.has(2)) return undefined;
    const fieldCount = this.peek(2).readInt16BE(0);
    if (fieldCount === -1) {
      this.take(2);
      this.isDone = true;
      return undefined;
    }
    if (!this.has(6)) return undefined;
    const length = this.peek(6).readInt32BE(2);
    if (length < 0) {
      throw new Error('a blob chunk is NULL');
    }
    if (!this.has(6 + length)) return undefined;
    this.take(6);

    return this.take(length);
  }

  private has(bytes: number): boolean {
    return this.bufferedBytes >= bytes;
  }

  private peek(bytes: number): Buffer {
    let count = 1;
    let length = this.buffered[0].length;
    while (length < bytes) {
      length += this.buffered[count++].length;
    }
    if (count > 1) {
      this.buffered.splice(0, count, Buffer.concat(this.buffered.slice(0, count), length));
    }

    return this.buffered[0].subarray(0, bytes);
  }

  private take(bytes: number): Buffer {
    if (bytes === 0) {
      return Buffer.alloc(0);
    }
    const first = this.buffered[0];
    if (first.length >= bytes) {
      this.buffered[0] = first.subarray(bytes);
      if (this.buffered[0].length === 0) this.buffered.shift();
      this.bufferedBytes -= bytes;
      return first.subarray(0, bytes);
    }

    const joined = Buffer.concat(this.buffered, this.bufferedBytes);
    this.buffered = joined.length > bytes ? [joined.subarray(bytes)] : [];
    this.bufferedBytes -= bytes;

    return joined.subarray(0, bytes);
  }
}
