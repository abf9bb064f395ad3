#!/usr/bin/env node
// Consistency check bench: a query with N results of about S MiB each (default 5 x 1024 MiB), checked by the built
// worker and its sidecar, compared with the limits of the same machine measured in the same run.
//
//   node bench/consistency/run.mjs [--size-mib 1024] [--results 5] [--regenerate] [--skip-job] [--no-verify-run]
//
// Measured:
//   - the check itself: the sidecar's engine on the files (model structure to verdict, what the sidecar does once the
//     bytes are on its disk) beside bench/consistency/bare_compare.py, which only torch.loads each result and
//     compares it with the first. Target: within 1.5x. The sidecar's own figures inside the job are reported too.
//   - the whole job (worker: read the query, stream every blob from Postgres to the sidecar, check, write the
//     outcome) beside the blob store's raw read of the same bytes (BlobStore.read, bytes discarded), measured before
//     and after the job; the faster read is the baseline. Target: within 1.3x.
//   - the sidecar's peak RSS during the check (VmHWM, reset when the check starts). Target: under 2.5 results.
// The job runs with the worker's default, GDS_SIDECAR_VERIFY_SHA256=true (the sidecar hashes every blob it checks);
// a second run with it off is reported for information unless --no-verify-run is given.
//
// Fixtures are generated once per size under .data/bench-consistency/ (python -m gds_ml.consistency.fixtures) and
// stored in a database of their own, gds_bench_consistency, recreated on each run. Writes bench/out/consistency.json
// and .md, prints the table; progress goes to stderr as JSON lines. Exits 1 when a measurement fails or a target is
// missed.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import {
  createScriptLogger,
  ensureDatabase,
  ensurePython,
  ensureServices,
  redactUrl,
  run,
} from '../../scripts/lib/stack.mjs';
import { applyMigrations } from '../../scripts/lib/migrate.mjs';

const MIB = 1024 * 1024;
const DATABASE = 'gds_bench_consistency';
// The worker and the bench's enqueue share this BullMQ prefix, apart from any other stack on the same Redis.
const QUEUE_PREFIX = 'gds_bench_consistency';
const TARGETS = { check: 1.5, job: 1.3, rssResults: 2.5 };

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const log = createScriptLogger('bench-consistency', { stream: process.stderr });

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    results: { type: 'string', default: '5' },
    regenerate: { type: 'boolean', default: false },
    'skip-job': { type: 'boolean', default: false },
    'no-verify-run': { type: 'boolean', default: false },
  },
});
const sizeMiB = Number(args['size-mib']);
const resultCount = Number(args.results);
if (!Number.isInteger(sizeMiB) || sizeMiB < 1 || !Number.isInteger(resultCount) || resultCount < 2) {
  throw new Error('--size-mib takes a positive integer and --results an integer >= 2');
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

async function python(pythonPath, module, moduleArgs) {
  const result = await run(pythonPath, ['-m', module, ...moduleArgs], { env: { PYTHONPATH: join(root, 'python') } });
  if (result.code !== 0) throw new Error(`python -m ${module} failed: ${result.stderr.slice(-2000)}`);

  return result.stdout;
}

async function script(pythonPath, file, scriptArgs) {
  const result = await run(pythonPath, [join(root, 'bench/consistency', file), ...scriptArgs], {
    env: { PYTHONPATH: join(root, 'python') },
  });
  if (result.code !== 0) throw new Error(`${file} failed: ${result.stderr.slice(-2000)}`);

  return JSON.parse(result.stdout.trim().split('\n').pop());
}

/** The model and N honest results (its weights plus noise of 1e-8, a different seed each), made once per size. */
async function fixtures(pythonPath) {
  const dir = join(root, '.data/bench-consistency', `${sizeMiB}mib`);
  mkdirSync(dir, { recursive: true });
  const model = join(dir, 'model.pt');
  const results = Array.from({ length: resultCount }, (_, index) => join(dir, `result-${index + 1}.pt`));

  if (args.regenerate || !existsSync(model)) {
    log('fixtures.model', { sizeMiB });
    await python(pythonPath, 'gds_ml.consistency.fixtures', ['big-model', '--out', model, '--mib', String(sizeMiB)]);
  }
  const missing = results.filter((path) => args.regenerate || !existsSync(path));
  for (let at = 0; at < missing.length; at += 2) {
    log('fixtures.results', { files: missing.slice(at, at + 2) });
    await Promise.all(missing.slice(at, at + 2).map((path) =>
      python(pythonPath, 'gds_ml.consistency.fixtures',
        ['big-result', '--model', model, '--out', path, '--seed', path.match(/result-(\d+)/)[1]])));
  }

  return { model, results };
}

// ---------------------------------------------------------------------------------------------------------------
// Database

async function recreateDatabase(baseUrl) {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  const url = await ensureDatabase(baseUrl, DATABASE);
  await applyMigrations(url);

  return url;
}

function fileChunks(path) {
  return createReadStream(path, { highWaterMark: 3 * MIB });
}

async function sha256Of(path) {
  const hash = createHash('sha256');
  for await (const chunk of fileChunks(path)) hash.update(chunk);

  return hash.digest('hex');
}

/** Stores the blobs through the blob store and a VERIFYING query over them, as the API would have left it. */
async function seed(databaseUrl, files) {
  const { BlobStore, createPrismaClient } = await import('@gds/db');
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const prisma = createPrismaClient(databaseUrl, 2);
  const store = new BlobStore(pool);

  try {
    const write = async (path) => {
      const size = BigInt(statSync(path).size);
      const sha256 = await sha256Of(path);
      const started = Date.now();
      const blob = await store.write(fileChunks(path), { size, sha256 });
      log('seed.blob', { path, mib: Number(size) / MIB, seconds: (Date.now() - started) / 1000 });

      return blob;
    };
    const model = await write(files.model);
    const results = [];
    for (const path of files.results) results.push(await write(path));

    const customer = await prisma.customer.create({ data: { name: 'bench' } });
    const owners = [];
    for (const index of results.keys()) {
      const publicKey = randomBytes(32);
      owners.push(await prisma.dataOwner.create({
        data: { name: `bench-do-${index}`, publicKey, keyId: createHash('sha256').update(publicKey).digest('hex') },
      }));
    }
    const assignedAtNs = BigInt(Date.now()) * 1_000_000n;
    const query = await prisma.query.create({
      data: {
        customerId: customer.id, modelBlobId: model.blobId, modelFormat: 'TORCH_SAVE', trainingSpec: {},
        datasetHash: 'bench', replication: results.length, quorum: Math.floor(results.length / 2) + 1, tolerance: 1e-5,
        deadlineAt: new Date(Date.now() + 3_600_000), status: 'VERIFYING',
        executions: {
          create: results.map((blob, index) => ({
            dataOwnerId: owners[index].id, assignedAtNs, status: 'SUCCEEDED', resultBlobId: blob.blobId,
          })),
        },
      },
    });

    return { queryId: query.id, blobIds: [model.blobId, ...results.map((blob) => blob.blobId)] };
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurements

/** BlobStore.read of every blob, bytes discarded: the rate the job's input can be had at, at best. */
async function rawRead(databaseUrl, blobIds) {
  const { BlobStore } = await import('@gds/db');
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
  const store = new BlobStore(pool);
  let bytes = 0;
  const started = process.hrtime.bigint();
  try {
    for (const blobId of blobIds) {
      for await (const piece of store.read(blobId)) bytes += piece.length;
    }
  } finally {
    await pool.end();
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;

  return { bytes, seconds, mbps: bytes / seconds / 1e6 };
}

/** Starts the built worker, enqueues the query's job as the API would and waits for its outcome line. */
async function runJob(databaseUrl, redisUrl, queryId, verifySha256) {
  const { Queue } = await import('bullmq');
  const connection = { url: redisUrl, maxRetriesPerRequest: null };
  const queue = new Queue('consistency-check', { connection, prefix: QUEUE_PREFIX });
  await queue.obliterate({ force: true });

  const worker = spawn(process.execPath, [join(root, 'apps/worker/dist/main.js')], {
    env: {
      ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, GDS_QUEUE_PREFIX: QUEUE_PREFIX, LOG_LEVEL: 'info',
      GDS_SIDECAR_VERIFY_SHA256: String(verifySha256),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  const waiters = [];
  const onLine = (source) => (text) => {
    let line;
    try {
      line = { source, ...JSON.parse(text) };
    } catch {
      line = { source, raw: text };
    }
    lines.push(line);
    waiters.forEach((waiter) => waiter(line));
  };
  createInterface({ input: worker.stdout }).on('line', onLine('worker'));
  createInterface({ input: worker.stderr }).on('line', onLine('sidecar'));
  const waitFor = (match, timeoutMs) => new Promise((resolve, reject) => {
    const found = lines.find(match);
    if (found) return resolve(found);
    const fail = () => reject(new Error(`timed out; last lines: ${JSON.stringify(lines.slice(-10))}`));
    const timer = setTimeout(fail, timeoutMs);
    waiters.push((line) => {
      if (match(line)) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    worker.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${JSON.stringify(lines.slice(-10))}`)));
  });

  try {
    await waitFor((line) => line.event === 'worker.ready', 120_000);
    const enqueued = Date.now();
    await queue.add('check', { queryId }, { jobId: `consistency-${queryId}`, attempts: 1 });

    const isOutcome = (line) => /^consistency\.job_(verified|failed|unverifiable|skipped)$/.test(line.event);
    const done = await waitFor((line) => line.queryId === queryId && isOutcome(line), 3_600_000);
    const finished = lines.find((line) => line.msg === 'check.finished' && line.queryId === queryId);
    if (done.event !== 'consistency.job_verified') {
      throw new Error(`the job ended with ${done.event}: ${JSON.stringify(done)}`);
    }

    return {
      verifySha256,
      seconds: done.ms / 1000,
      enqueueToDoneSeconds: (Date.now() - enqueued) / 1000,
      streamSeconds: done.streamMs / 1000,
      verdict: done.verdict,
      sidecar: {
        receiveSeconds: finished?.receiveSeconds,
        checkSeconds: finished?.checkSeconds,
        afterReceiveSeconds: finished?.afterReceiveSeconds,
        loads: finished?.loads,
        comparisons: finished?.comparisons,
        peakRssBytes: Number(done.sidecar.peakRssBytes),
      },
    };
  } finally {
    await queue.close();
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
}

/** Puts the query back to VERIFYING for another run of the job. */
async function resetQuery(databaseUrl, queryId) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `UPDATE "Query" SET status = 'VERIFYING', verdict = NULL, "canonicalExecutionId" = NULL, report = NULL,
              "verifiedAt" = NULL WHERE id = $1`,
      [queryId],
    );
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Report

const fmt = (n, digits = 2) => (n === null || n === undefined ? '—' : Number(n).toFixed(digits));
const met = (ok) => (ok === null ? 'not run' : ok ? 'met' : '**missed**');

function evaluate(report) {
  const resultBytes = report.bytes.results / resultCount;
  const check = report.engine.seconds / report.bare.seconds;
  const inJob = report.job ? report.job.sidecar.checkSeconds / report.bare.seconds : null;
  const readSeconds = Math.min(...report.rawRead.map((read) => read.seconds));
  const job = report.job ? report.job.seconds / readSeconds : null;
  const rss = report.job ? report.job.sidecar.peakRssBytes / resultBytes : null;

  return {
    check: { ratio: check, inJobRatio: inJob, limit: TARGETS.check, met: check <= TARGETS.check },
    job: {
      ratio: job, readSeconds, limit: TARGETS.job, met: job === null ? null : job <= TARGETS.job,
      withoutHashRatio: report.jobWithoutHash ? report.jobWithoutHash.seconds / readSeconds : null,
    },
    rss: { results: rss, engineResults: report.engine.peakRssBytes / resultBytes, limit: TARGETS.rssResults,
      met: rss === null ? null : rss < TARGETS.rssResults },
  };
}

function markdown(report) {
  const t = report.targets;
  const gib = (bytes) => (bytes / 1024 ** 3).toFixed(2);
  const lines = [
    `# Consistency check bench (${report.startedAt})`,
    '',
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, ${gib(report.machine.memoryBytes)} GiB RAM, `
      + `Node ${report.machine.node}. ${resultCount} results of ${gib(report.bytes.results / resultCount)} GiB `
      + `(${report.tensors}), model ${gib(report.bytes.model)} GiB; all honest (weights + noise 1e-8).`,
    '',
    '| measurement | seconds | baseline | seconds | ratio | target | |',
    '|---|---|---|---|---|---|---|',
    `| the check: sidecar engine on the files (model structure → verdict; ${report.engine.loads} loads, `
      + `${report.engine.comparisons} comparisons) | ${fmt(report.engine.seconds)} | bare torch.load + compare `
      + `with the first | ${fmt(report.bare.seconds)} | ${fmt(t.check.ratio)}x | ≤ ${t.check.limit}x | `
      + `${met(t.check.met)} |`,
    `| the check inside the job: sidecar busy time (overlaps the receiving) | ${fmt(report.job?.sidecar.checkSeconds)} `
      + `| same bare script | ${fmt(report.bare.seconds)} | ${fmt(t.check.inJobRatio)}x | info | |`,
    `| the whole job (read query, stream ${gib(report.bytes.total)} GiB Postgres → sidecar, check, write outcome; `
      + `sidecar hashes every blob) | ${fmt(report.job?.seconds)} | BlobStore.read of the same bytes (best of `
      + `${report.rawRead.length}: ${report.rawRead.map((read) => fmt(read.seconds)).join(' / ')} s) | `
      + `${fmt(t.job.readSeconds)} | ${fmt(t.job.ratio)}x | ≤ ${t.job.limit}x | ${met(t.job.met)} |`,
    `| the whole job with GDS_SIDECAR_VERIFY_SHA256=false | ${fmt(report.jobWithoutHash?.seconds)} | same read `
      + `| ${fmt(t.job.readSeconds)} | ${fmt(t.job.withoutHashRatio)}x | info | |`,
    '',
    '| sidecar inside the job | value |',
    '|---|---|',
    `| first byte in → last byte on disk | ${fmt(report.job?.sidecar.receiveSeconds)} s |`,
    `| last byte on disk → verdict | ${fmt(report.job?.sidecar.afterReceiveSeconds)} s |`,
    `| loads / comparisons | ${report.job?.sidecar.loads ?? '—'} / ${report.job?.sidecar.comparisons ?? '—'} |`,
    `| peak RSS | ${gib(report.job?.sidecar.peakRssBytes ?? 0)} GiB = ${fmt(t.rss.results)} results `
      + `(target < ${t.rss.limit}: ${met(t.rss.met)}) |`,
    `| engine alone / bare script peak RSS | ${gib(report.engine.peakRssBytes)} / `
      + `${gib(report.bare.peakRssBytes)} GiB |`,
    `| verdict | ${report.job?.verdict ?? '—'} (engine alone: ${report.engine.verdict}) |`,
    '',
  ];

  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(outDir, { recursive: true });
  const services = await ensureServices({ dataDir: join(root, '.data'), log });
  const pythonPath = await ensurePython({ log });

  try {
    const files = await fixtures(pythonPath);
    const databaseUrl = await recreateDatabase(services.databaseUrl);
    log('seed.start', { database: redactUrl(databaseUrl) });
    const { queryId, blobIds } = await seed(databaseUrl, files);
    const modelBytes = statSync(files.model).size;
    const resultBytes = files.results.reduce((sum, path) => sum + statSync(path).size, 0);

    const report = {
      startedAt: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? 'unknown',
        memoryBytes: totalmem(),
        node: process.version,
      },
      sizeMiB, resultCount,
      tensors: `${Math.round(sizeMiB / 64) || 1} float32 tensors of up to 64 MiB`,
      bytes: { model: modelBytes, results: resultBytes, total: modelBytes + resultBytes },
      rawRead: [],
    };

    log('measure.raw_read');
    report.rawRead.push(await rawRead(databaseUrl, blobIds));
    log('measure.bare');
    report.bare = await script(pythonPath, 'bare_compare.py', files.results);
    log('measure.engine');
    report.engine = await script(pythonPath, 'engine_check.py', ['--model', files.model, ...files.results]);
    if (!args['skip-job']) {
      log('measure.job', { queryId, verifySha256: true });
      report.job = await runJob(databaseUrl, services.redisUrl, queryId, true);
      log('measure.raw_read');
      report.rawRead.push(await rawRead(databaseUrl, blobIds));
      if (!args['no-verify-run']) {
        await resetQuery(databaseUrl, queryId);
        log('measure.job', { queryId, verifySha256: false });
        report.jobWithoutHash = await runJob(databaseUrl, services.redisUrl, queryId, false);
      }
    }
    report.targets = evaluate(report);

    writeFileSync(join(outDir, 'consistency.json'), `${JSON.stringify(report, null, 2)}\n`);
    const table = markdown(report);
    writeFileSync(join(outDir, 'consistency.md'), table);
    process.stdout.write(table);

    const targets = [report.targets.check.met, report.targets.job.met, report.targets.rss.met];
    process.exitCode = targets.some((ok) => ok === false) ? 1 : 0;
  } finally {
    await services.stop();
  }
}

main().catch((error) => {
  log('bench.failed', { message: error.message, stack: error.stack });
  process.exitCode = 1;
});


