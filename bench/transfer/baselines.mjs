// The limits of this machine that the API's transfer rates are compared with, measured in the same run:
// raw loopback TCP and raw Postgres COPY into a table laid out like the blob store ("BlobChunk").
//
// Rates are MB/s with MB = 10^6 bytes. Payloads are streamed in 3 MiB chunks, never held whole in memory.
import { createCipheriv, createHash, randomUUID } from 'node:crypto';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';

export const MIB = 1024 * 1024;
/** Chunk size of every stream here: the gRPC contract's largest chunk (libs/common MAX_CHUNK_BYTES). */
export const CHUNK_BYTES = 3 * MIB;
/** Distinct chunks generated up front and cycled through, so generation costs nothing during a measurement. */
const POOL_CHUNKS = 8;

// ---------------------------------------------------------------------------------------------------------------
// Deterministic payload

let pool;

/** AES-128-CTR keystream with a fixed key: incompressible, identical in every run and every process. */
function chunkPool() {
  if (!pool) {
    const cipher = createCipheriv('aes-128-ctr', Buffer.from('gds-transfer-bch'), Buffer.alloc(16));
    const zeros = Buffer.alloc(CHUNK_BYTES);
    pool = Array.from({ length: POOL_CHUNKS }, () => cipher.update(zeros));
  }

  return pool;
}

/**
 * Yields `totalBytes` deterministic bytes in chunks of CHUNK_BYTES (the last one shorter). When `head` is given,
 * the payload starts with those bytes (e.g. a container magic the API inspects). Chunks are shared buffers: do not
 * modify them.
 */
export function* payloadChunks(totalBytes, { head } = {}) {
  const chunks = chunkPool();
  let first = chunks[0];
  if (head?.length) {
    first = Buffer.from(chunks[0]);
    head.copy(first, 0);
  }
  let sent = 0;
  for (let i = 0; sent < totalBytes; i++) {
    const chunk = i === 0 ? first : chunks[i % POOL_CHUNKS];
    const size = Math.min(CHUNK_BYTES, totalBytes - sent);
    yield size === CHUNK_BYTES ? chunk : chunk.subarray(0, size);
    sent += size;
  }
}

/** Hex SHA-256 of the payload `payloadChunks(totalBytes, options)` yields. */
export function payloadSha256(totalBytes, options) {
  const hash = createHash('sha256');
  for (const chunk of payloadChunks(totalBytes, options)) hash.update(chunk);

  return hash.digest('hex');
}

/** MB/s (10^6 bytes per second). */
export function mbPerSecond(bytes, seconds) {
  return seconds > 0 ? bytes / 1e6 / seconds : 0;
}

const seconds = (startNs) => Number(process.hrtime.bigint() - startNs) / 1e9;

/** Writes with backpressure: waits for 'drain' whenever the stream's buffer is full (rejects on 'error'). */
export async function writeWithBackpressure(stream, data) {
  if (!stream.write(data)) await once(stream, 'drain');
}

// ---------------------------------------------------------------------------------------------------------------
// Raw loopback TCP

/**
 * Streams `totalBytes` over loopback TCP each way between this process and a peer process (tcp-peer.mjs), so that
 * client and server each get their own core, as the API and its client do.
 * upload: this process sends, the peer discards and acknowledges the byte count once the stream ended.
 * download: the peer sends, this process counts.
 */
export async function measureTcp({ totalBytes, log = () => {} }) {
  const peerScript = fileURLToPath(new URL('./tcp-peer.mjs', import.meta.url));
  const peer = fork(peerScript, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    const [{ port }] = await once(peer, 'message');
    const upload = await tcpUpload(port, totalBytes);
    log('tcp.upload', upload);
    const download = await tcpDownload(port, totalBytes);
    log('tcp.download', download);

    return { upload, download };
  } finally {
    peer.kill('SIGTERM');
  }
}

async function connect(port) {
  const socket = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');

  return socket;
}

function requestLine(mode, totalBytes) {
  return Buffer.from(`${mode} ${totalBytes}\n`);
}

async function tcpUpload(port, totalBytes) {
  const socket = await connect(port);
  const acknowledged = readAll(socket);
  const start = process.hrtime.bigint();
  await writeWithBackpressure(socket, requestLine('discard', totalBytes));
  for (const chunk of payloadChunks(totalBytes)) await writeWithBackpressure(socket, chunk);
  socket.end();
  const reply = (await acknowledged).toString('utf8').trim();
  const elapsed = seconds(start);
  if (reply !== String(totalBytes)) throw new Error(`TCP peer acknowledged ${reply} of ${totalBytes} bytes`);

  return { bytes: totalBytes, seconds: elapsed, mbps: mbPerSecond(totalBytes, elapsed) };
}

async function tcpDownload(port, totalBytes) {
  const socket = await connect(port);
  const start = process.hrtime.bigint();
  socket.write(requestLine('source', totalBytes));
  let received = 0;
  for await (const piece of socket) received += piece.length;
  const elapsed = seconds(start);
  if (received !== totalBytes) throw new Error(`TCP download carried ${received} of ${totalBytes} bytes`);

  return { bytes: totalBytes, seconds: elapsed, mbps: mbPerSecond(totalBytes, elapsed) };
}

async function readAll(socket) {
  const parts = [];
  for await (const piece of socket) parts.push(piece);

  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------------------------
// Raw gRPC (informational: the ceiling of @grpc/grpc-js itself on this machine, not part of the target)

/**
 * Streams `totalBytes` through plain @grpc/grpc-js with the real contract, to a peer process (grpc-peer.mjs) that
 * has no Nest, auth or storage: SubmitQuery up, GetQueryInfo down, 3 MiB chunks, backpressure both ways.
 */
export async function measureGrpc({ totalBytes, log = () => {} }) {
  const grpc = await import('@grpc/grpc-js');
  const { loadGoodData } = await import('@gds/proto');
  const { GRPC_CLIENT_OPTIONS } = await import('@gds/common');
  const peerScript = fileURLToPath(new URL('./grpc-peer.mjs', import.meta.url));
  const peer = fork(peerScript, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const { gooddata } = loadGoodData();
  let client;
  try {
    const [{ port }] = await once(peer, 'message');
    client = new gooddata.v1.GoodDataService(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      ...GRPC_CLIENT_OPTIONS,
    });

    let call;
    const response = new Promise((done, fail) => {
      call = client.SubmitQuery((error, reply) => (error ? fail(error) : done(reply)));
    });
    response.catch(() => {});
    const upStart = process.hrtime.bigint();
    call.write({ header: { modelSize: String(totalBytes) } });
    for (const chunk of payloadChunks(totalBytes)) {
      if (!call.write({ chunk })) await Promise.race([once(call, 'drain'), response]);
    }
    call.end();
    const reply = await response;
    const upSeconds = seconds(upStart);
    if (Number(reply.modelSize) !== totalBytes) throw new Error(`gRPC peer received ${reply.modelSize} bytes`);
    const upload = { bytes: totalBytes, seconds: upSeconds, mbps: mbPerSecond(totalBytes, upSeconds) };
    log('grpc.upload', upload);

    const downStart = process.hrtime.bigint();
    let received = 0;
    for await (const message of client.GetQueryInfo({ queryId: String(totalBytes) })) {
      if (message.payload === 'chunk') received += message.chunk.length;
    }
    const downSeconds = seconds(downStart);
    if (received !== totalBytes) throw new Error(`gRPC download carried ${received} of ${totalBytes} bytes`);
    const download = { bytes: totalBytes, seconds: downSeconds, mbps: mbPerSecond(totalBytes, downSeconds) };
    log('grpc.download', download);

    return { upload, download };
  } finally {
    client?.close();
    peer.kill('SIGTERM');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Raw Postgres COPY, binary format, into a table laid out like "BlobChunk"

const COPY_SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** Binary COPY header: 11-byte signature, int32 flags 0, int32 header extension length 0. */
export function copyHeader() {
  const header = Buffer.alloc(COPY_SIGNATURE.length + 8);
  COPY_SIGNATURE.copy(header, 0);

  return header;
}

/** Binary COPY trailer: int16 -1. */
export function copyTrailer() {
  const trailer = Buffer.alloc(2);
  trailer.writeInt16BE(-1, 0);

  return trailer;
}

/**
 * The bytes of one (blob_id uuid, seq int4, data bytea) row before its data: field count, then length-prefixed
 * uuid and int4, then the length of data. The data itself is written after it, uncopied.
 */
export function copyRowPrefix(blobIdBytes, seq, dataLength) {
  const prefix = Buffer.alloc(2 + 4 + 16 + 4 + 4 + 4);
  let at = prefix.writeInt16BE(3, 0);
  at = prefix.writeInt32BE(16, at);
  at += blobIdBytes.copy(prefix, at);
  at = prefix.writeInt32BE(4, at);
  at = prefix.writeInt32BE(seq, at);
  prefix.writeInt32BE(dataLength, at);

  return prefix;
}

function uuidBytes(uuid) {
  return Buffer.from(uuid.replaceAll('-', ''), 'hex');
}

/**
 * Writes `totalBytes` as 3 MiB rows with COPY FROM STDIN (FORMAT binary) into a fresh table shaped like the blob
 * store (uuid, int, bytea STORAGE EXTERNAL, primary key (blob_id, seq); a regular, WAL-logged table, as the blob
 * store is), reads them back with COPY (SELECT data ... ORDER BY seq) TO STDOUT (FORMAT binary), then drops it.
 */
export async function measureCopy({ databaseUrl, totalBytes, log = () => {} }) {
  const { default: pg } = await import('pg');
  const { default: copyStreams } = await import('pg-copy-streams');
  const client = new pg.Client({ connectionString: databaseUrl });
  // A dropped connection surfaces through the running query; without a listener it would crash the process.
  client.on('error', (error) => log('copy.connection_error', { error: error.message }));
  await client.connect();
  const table = `bench_transfer_${process.pid}_${Date.now()}`;
  try {
    await client.query(`CREATE TABLE ${table} (blob_id uuid NOT NULL, seq int NOT NULL, data bytea NOT NULL,
      PRIMARY KEY (blob_id, seq))`);
    await client.query(`ALTER TABLE ${table} ALTER COLUMN data SET STORAGE EXTERNAL`);
    const blobId = randomUUID();

    const inStart = process.hrtime.bigint();
    const sink = client.query(copyStreams.from(`COPY ${table} (blob_id, seq, data) FROM STDIN (FORMAT binary)`));
    const finished = once(sink, 'finish');
    finished.catch(() => {});
    const idBytes = uuidBytes(blobId);
    await writeWithBackpressure(sink, copyHeader());
    let rows = 0;
    for (const chunk of payloadChunks(totalBytes)) {
      await writeWithBackpressure(sink, copyRowPrefix(idBytes, rows, chunk.length));
      await writeWithBackpressure(sink, chunk);
      rows += 1;
    }
    sink.end(copyTrailer());
    await finished;
    const inSeconds = seconds(inStart);
    const copyIn = { bytes: totalBytes, rows, seconds: inSeconds, mbps: mbPerSecond(totalBytes, inSeconds) };
    log('copy.in', copyIn);

    const outStart = process.hrtime.bigint();
    const source = client.query(copyStreams.to(
      `COPY (SELECT data FROM ${table} WHERE blob_id = '${blobId}' ORDER BY seq) TO STDOUT (FORMAT binary)`,
    ));
    let streamed = 0;
    for await (const piece of source) streamed += piece.length;
    const outSeconds = seconds(outStart);
    // Header (19) + per row: int16 field count + int32 length (6) + data, + trailer (2).
    const expected = COPY_SIGNATURE.length + 8 + rows * 6 + totalBytes + 2;
    if (streamed !== expected) throw new Error(`COPY TO streamed ${streamed} bytes, expected ${expected}`);
    const copyOut = { bytes: totalBytes, rows, seconds: outSeconds, mbps: mbPerSecond(totalBytes, outSeconds) };
    log('copy.out', copyOut);

    return { in: copyIn, out: copyOut };
  } finally {
    await client.query(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    await client.end().catch(() => {});
  }
}
