// The API part of the transfer bench: a model of N bytes goes up through SubmitQuery (as a Query Customer) and down
// through GetQueryInfo (as the assigned Data Owner), with backpressure both ways, while the API process's memory is
// sampled from /proc/<pid>/status every 100 ms.
//
// The API runs as `node apps/api/dist/main.js` against a fresh database `gds_bench` (migrated with
// scripts/migrate.mjs, dropped afterwards), so a bench never touches the demo's data.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { ensureDatabase, run, waitForPort } from '../../scripts/lib/stack.mjs';
import { mbPerSecond, payloadChunks, payloadSha256 } from './baselines.mjs';

export const BENCH_DATABASE = 'gds_bench';
const DATASET_NAME = 'bench-transfer-dataset';
/** The payload starts like a pickle stream (protocol 4), so a head check of the declared format passes. */
const MODEL_HEAD = Buffer.from([0x80, 0x04, 0x95]);
const MODEL_FORMAT = 'MODEL_FORMAT_PICKLE';
const SAMPLE_MS = 100;
const KIB = 1024;

// ---------------------------------------------------------------------------------------------------------------
// Process memory

/** { rssKiB, hwmKiB } of a process from /proc/<pid>/status, or null when it is gone. */
export function readMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);

    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  } catch {
    return null;
  }
}

/** Resets the process's peak RSS (VmHWM) to its current RSS; false when the kernel does not allow it. */
export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');

    return true;
  } catch {
    return false;
  }
}

/** Samples a process's VmRSS every 100 ms; `stop()` returns { samples, peakRssKiB, hwmKiB }. */
export function sampleMemory(pid) {
  let samples = 0;
  let peakRssKiB = 0;
  let hwmKiB = 0;
  const take = () => {
    const memory = readMemory(pid);
    if (!memory) return;
    samples += 1;
    peakRssKiB = Math.max(peakRssKiB, memory.rssKiB);
    hwmKiB = Math.max(hwmKiB, memory.hwmKiB);
  };
  take();
  const timer = setInterval(take, SAMPLE_MS);

  return {
    stop() {
      clearInterval(timer);
      take();

      return { samples, peakRssKiB, hwmKiB };
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Starting the API and preparing a customer and a Data Owner

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function recreateBenchDatabase(baseUrl) {
  const { default: pg } = await import('pg');
  const admin = new URL(baseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
  } finally {
    await client.end();
  }

  return ensureDatabase(baseUrl, BENCH_DATABASE);
}

async function dropBenchDatabase(benchUrl) {
  const { default: pg } = await import('pg');
  const admin = new URL(benchUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

/** The one JSON object line of a command's stdout that has all the given keys (other lines may be logs). */
function jsonLineWith(stdout, keys) {
  for (const line of stdout.split('\n').reverse()) {
    try {
      const value = JSON.parse(line);
      if (value && keys.every((key) => key in value)) return value;
    } catch { /* a log line or noise */ }
  }

  return null;
}

/** Starts `node apps/api/dist/main.js`; resolves once its gRPC port answers. */
export async function startApi({ root, env, grpcPort, logFile }) {
  const out = openSync(logFile, 'w');
  // GDS_BENCH_API_NODE_ARGS passes flags to the API's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = process.env.GDS_BENCH_API_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'apps/api/dist/main.js')], {
    cwd: root,
    env: { ...process.env, ...env, GDS_GRPC_ADDRESS: `127.0.0.1:${grpcPort}` },
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`the API exited during start-up (${code ?? signal}); see ${logFile}`);
  });
  exited.catch(() => {});
  await Promise.race([waitForPort('127.0.0.1', grpcPort, 60_000), exited]);

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };

  return { pid: child.pid, address: `127.0.0.1:${grpcPort}`, stop };
}

/**
 * Everything a transfer measurement needs: a fresh migrated database, a running API, a customer token and one
 * registered Data Owner holding the dataset queries name. The API's output goes to logFile.
 * Returns { apiPid, grpc, client, token, dataOwnerId, signed, stop }.
 */
export async function prepareApiRun({
  root, databaseUrl, redisUrl, outDir, logFile = join(outDir, 'transfer-api.log'), log = () => {},
}) {
  if (!existsSync(join(root, 'apps/api/dist/main.js'))) {
    throw new Error('not wired: apps/api/dist/main.js is missing (run `npm run build` first)');
  }
  const grpc = await import('@grpc/grpc-js');
  const { loadGoodData, methodPath } = await import('@gds/proto');
  const { generateSigningKeyPem, loadSigningKey, signCall, GRPC_CLIENT_OPTIONS } = await import('@gds/common');

  const benchUrl = await recreateBenchDatabase(databaseUrl);
  const env = { DATABASE_URL: benchUrl, REDIS_URL: redisUrl, LOG_LEVEL: 'warn' };
  const migrated = await run(process.execPath, [join(root, 'scripts/migrate.mjs')], { cwd: root, env });
  if (migrated.code !== 0) throw new Error(`scripts/migrate.mjs failed:\n${migrated.stderr || migrated.stdout}`);
  log('api.migrated', {});

  const api = await startApi({ root, env, grpcPort: await freePort(), logFile });
  const stops = [api.stop, () => dropBenchDatabase(benchUrl)];
  const stop = async () => {
    for (const fn of stops.splice(0)) await fn().catch((error) => log('api.cleanup_failed', { error: error.message }));
  };
  try {
    log('api.started', { pid: api.pid, address: api.address });
    const cli = [join(root, 'apps/api/dist/cli.js'), 'create-customer', '--name', 'bench'];
    const created = await run(process.execPath, cli, { cwd: root, env });
    const customer = jsonLineWith(created.stdout, ['customerId', 'token']);
    if (created.code !== 0 || !customer) {
      throw new Error(`create-customer failed (exit ${created.code}):\n${created.stderr || created.stdout}`);
    }

    const { gooddata } = loadGoodData();
    const client = new gooddata.v1.GoodDataService(api.address, grpc.credentials.createInsecure(), {
      ...GRPC_CLIENT_OPTIONS,
    });
    stops.unshift(async () => client.close());
    const doKey = loadSigningKey(generateSigningKeyPem());
    const signed = (method, queryId = '', options = {}) => {
      const metadata = new grpc.Metadata();
      for (const [key, value] of Object.entries(signCall(doKey, methodPath(method), queryId, options))) {
        metadata.set(key, value);
      }

      return metadata;
    };
    const dataset = {
      name: DATASET_NAME,
      contentHash: createHash('sha256').update(DATASET_NAME).digest('hex'),
      rowCount: '1',
      schemaJson: JSON.stringify({ features: ['x'], label: 'y' }),
    };
    const registered = await new Promise((done, fail) => {
      client.RegisterDataOwner({ name: 'bench-do', datasets: [dataset] },
        signed('RegisterDataOwner', '', { includePublicKey: true }),
        (error, response) => (error ? fail(error) : done(response)));
    });
    log('api.data_owner', { dataOwnerId: registered.dataOwnerId });

    return {
      apiPid: api.pid, grpc, client, token: customer.token, dataOwnerId: registered.dataOwnerId, signed, stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measuring

const seconds = (startNs) => Number(process.hrtime.bigint() - startNs) / 1e9;
const mib = (kib) => kib / KIB;

/** Writes one message, waiting for 'drain' when the call's buffer is full, or failing as soon as the call does. */
async function writeMessage(call, message, failed) {
  if (!call.write(message)) await Promise.race([once(call, 'drain'), failed]);
}

async function upload(ctx, totalBytes, sha256) {
  const { grpc, client, token } = ctx;
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  let call;
  const response = new Promise((done, fail) => {
    call = client.SubmitQuery(metadata, (error, reply) => (error ? fail(error) : done(reply)));
  });
  response.catch(() => {});
  const start = process.hrtime.bigint();
  await writeMessage(call, {
    header: {
      dataset: DATASET_NAME, replication: 1, tolerance: 1e-5, modelFormat: MODEL_FORMAT,
      modelSize: String(totalBytes), modelSha256: sha256, deadlineSeconds: 3600, name: 'transfer-bench',
      training: { epochs: 1, batchSize: 32, optimizer: 'sgd', learningRate: 0.01, loss: 'mse', seed: '0' },
    },
  }, response);
  for (const chunk of payloadChunks(totalBytes, { head: MODEL_HEAD })) await writeMessage(call, { chunk }, response);
  call.end();
  const reply = await response;
  const elapsed = seconds(start);
  if (reply.modelSha256 !== sha256) throw new Error(`SubmitQuery stored sha256 ${reply.modelSha256}, sent ${sha256}`);
  if (!reply.assignedDataOwnerIds.includes(ctx.dataOwnerId)) {
    throw new Error(`the bench Data Owner was not assigned (assigned: ${reply.assignedDataOwnerIds.join(', ')})`);
  }

  const result = { bytes: totalBytes, seconds: elapsed, mbps: mbPerSecond(totalBytes, elapsed) };

  return { queryId: reply.queryId, result };
}

async function download(ctx, queryId, totalBytes, sha256, verify) {
  const start = process.hrtime.bigint();
  const call = ctx.client.GetQueryInfo({ queryId }, ctx.signed('GetQueryInfo', queryId));
  const hash = verify ? createHash('sha256') : null;
  let received = 0;
  let header = null;
  // Async iteration pulls one message at a time: the stream pauses (HTTP/2 flow control) while we are behind.
  for await (const message of call) {
    if (message.payload === 'header') header = message.header;
    else if (message.payload === 'chunk') {
      received += message.chunk.length;
      hash?.update(message.chunk);
    }
  }
  const elapsed = seconds(start);
  if (!header) throw new Error('GetQueryInfo sent no header');
  if (received !== totalBytes) throw new Error(`GetQueryInfo carried ${received} of ${totalBytes} bytes`);
  if (hash && hash.digest('hex') !== sha256) throw new Error('GetQueryInfo bytes do not hash to the submitted sha256');

  return { bytes: totalBytes, seconds: elapsed, mbps: mbPerSecond(totalBytes, elapsed), verified: Boolean(hash) };
}

/**
 * Uploads then downloads `totalBytes` through a prepared API run `ctx` (see prepareApiRun), sampling the API's memory.
 * Returns { upload, download, rss } with MB/s per direction and the API's RSS baseline, peaks and growth in MiB.
 */
export async function measureApi({ ctx: prepared, totalBytes, verify = true, log = () => {} }) {
  const sha256 = payloadSha256(totalBytes, { head: MODEL_HEAD });
  const pid = prepared.apiPid;
  const baseline = readMemory(pid);
  if (!baseline) throw new Error(`cannot read /proc/${pid}/status`);
  const hwmReset = resetPeakRss(pid);

  let sampler = sampleMemory(pid);
  const up = await upload(prepared, totalBytes, sha256);
  const upMemory = sampler.stop();
  log('api.upload', { ...up.result, peakRssMiB: mib(upMemory.peakRssKiB) });

  if (hwmReset) resetPeakRss(pid);
  sampler = sampleMemory(pid);
  const down = await download(prepared, up.queryId, totalBytes, sha256, verify);
  const downMemory = sampler.stop();
  log('api.download', { ...down, peakRssMiB: mib(downMemory.peakRssKiB) });

  // Without a HWM reset VmHWM includes start-up, so only the 100 ms samples count.
  const peakOf = (m) => (hwmReset ? Math.max(m.peakRssKiB, m.hwmKiB) : m.peakRssKiB);
  const peakKiB = Math.max(peakOf(upMemory), peakOf(downMemory));

  return {
    queryId: up.queryId,
    upload: { ...up.result, peakRssMiB: mib(peakOf(upMemory)) },
    download: { ...down, peakRssMiB: mib(peakOf(downMemory)) },
    rss: {
      baselineMiB: mib(baseline.rssKiB),
      peakMiB: mib(peakKiB),
      growthMiB: mib(peakKiB - baseline.rssKiB),
      hwmBeforeMiB: mib(baseline.hwmKiB),
      samples: upMemory.samples + downMemory.samples,
      hwmReset,
    },
  };
}
