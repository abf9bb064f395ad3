#!/usr/bin/env node
// Model transfer bench: N bytes up through SubmitQuery and down through GetQueryInfo, compared with the limits of
// the same machine in the same run (raw loopback TCP, raw Postgres COPY in the blob store's layout).
//
//   node bench/transfer/run.mjs [--size-mib 1024[,256,...]] [--repeat 1] [--skip-api] [--no-verify]
//
// Target per size: each API direction >= 70 % of the slower of (TCP, COPY) for that direction, and the API's RSS
// growth < 128 MiB. A raw @grpc/grpc-js run (same contract, no Nest/auth/storage) is reported for information: it
// is the ceiling gRPC itself sets on this machine. With --repeat N every measurement runs N times and the median of
// each direction is reported (all rates stay in the JSON), which steadies the numbers on a shared machine.
//
// Writes bench/out/transfer.json and bench/out/transfer.md and prints the table on stdout; progress events go to
// stderr as JSON lines. Exits 1 when a measurement fails or a target is missed.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { createScriptLogger, ensureDatabase, ensureServices, redactUrl } from '../../scripts/lib/stack.mjs';
import { measureApi, prepareApiRun } from './api.mjs';
import { MIB, measureCopy, measureGrpc, measureTcp } from './baselines.mjs';

const TARGET_SHARE = 0.7;
const TARGET_RSS_GROWTH_MIB = 128;
const COPY_DATABASE = 'gds_bench_copy';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const log = createScriptLogger('bench-transfer', { stream: process.stderr });

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    repeat: { type: 'string', default: '1' },
    'skip-api': { type: 'boolean', default: false },
    'no-verify': { type: 'boolean', default: false },
  },
});
const sizesMiB = args['size-mib'].split(',').map((s) => Number(s.trim()));
if (sizesMiB.some((s) => !Number.isFinite(s) || s <= 0)) {
  throw new Error(`--size-mib takes positive numbers, comma-separated; got ${args['size-mib']}`);
}

const repeat = Number(args.repeat);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a positive integer; got ${args.repeat}`);

/** Runs `measure` `repeat` times; per direction keeps the run with the median rate, plus every rate seen. */
async function repeated(measure, directions) {
  const results = [];
  for (let i = 0; i < repeat; i++) results.push(await measure());
  if (repeat === 1) return results[0];
  const summary = { ...results[Math.floor(repeat / 2)] };
  for (const direction of directions) {
    const sorted = results.map((r) => r[direction]).sort((a, b) => a.mbps - b.mbps);
    summary[direction] = { ...sorted[Math.floor((sorted.length - 1) / 2)], allMbps: sorted.map((r) => r.mbps) };
  }

  return summary;
}

/** Compares the API with the slower baseline of each direction; null fields when the API part did not run. */
function evaluate(tcp, copy, api) {
  const upLimit = Math.min(tcp.upload.mbps, copy.in.mbps);
  const downLimit = Math.min(tcp.download.mbps, copy.out.mbps);
  const targets = {
    upload: { limitMbps: upLimit, requiredMbps: TARGET_SHARE * upLimit, apiMbps: null, share: null, met: null },
    download: { limitMbps: downLimit, requiredMbps: TARGET_SHARE * downLimit, apiMbps: null, share: null, met: null },
    rss: { maxGrowthMiB: TARGET_RSS_GROWTH_MIB, growthMiB: null, met: null },
  };
  if (api?.upload) {
    for (const [direction, measured] of [['upload', api.upload], ['download', api.download]]) {
      const target = targets[direction];
      target.apiMbps = measured.mbps;
      target.share = measured.mbps / target.limitMbps;
      target.met = measured.mbps >= target.requiredMbps;
    }
    targets.rss.growthMiB = api.rss.growthMiB;
    targets.rss.met = api.rss.growthMiB < TARGET_RSS_GROWTH_MIB;
  }
  targets.met = api?.upload ? targets.upload.met && targets.download.met && targets.rss.met : null;

  return targets;
}

const fmt = (n, digits = 0) => (n === null || n === undefined ? '—' : n.toFixed(digits));
const verdict = (met) => (met === null ? 'not run' : met ? 'met' : '**missed**');

function markdown(report) {
  const lines = [
    `# Model transfer bench (${report.startedAt})`,
    '',
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, `
      + `${report.machine.postgres}. MB = 10^6 bytes; 3 MiB chunks; median of ${report.repeat} run(s).`,
    '',
    '| size | direction | TCP MB/s | COPY MB/s | limit (slower) | API MB/s | API / limit | target (≥ 70 %) '
      + '| raw gRPC MB/s (info) |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of report.runs) {
    const t = r.targets;
    if (!t) {
      lines.push(`| ${r.sizeMiB} MiB | — | — | — | — | — | — | failed: ${r.error} | — |`);
      continue;
    }
    const rows = [
      ['upload (QC → API)', r.tcp.upload, r.copy.in, t.upload, r.grpc?.upload],
      ['download (API → DO)', r.tcp.download, r.copy.out, t.download, r.grpc?.download],
    ];
    for (const [name, tcp, copy, target, grpc] of rows) {
      lines.push(`| ${r.sizeMiB} MiB | ${name} | ${fmt(tcp.mbps)} | ${fmt(copy.mbps)} | ${fmt(target.limitMbps)} | `
        + `${fmt(target.apiMbps)} | ${target.share === null ? '—' : `${fmt(100 * target.share)} %`} | `
        + `${verdict(target.met)} | ${fmt(grpc?.mbps)} |`);
    }
  }
  lines.push('', '| size | API RSS baseline MiB | API RSS peak MiB | growth MiB | target (< 128 MiB) | API part |',
    '|---|---|---|---|---|---|');
  for (const r of report.runs) {
    const rss = r.api?.rss;
    const note = r.api?.skipped ?? r.api?.error ?? (rss ? 'ran' : '—');
    lines.push(`| ${r.sizeMiB} MiB | ${fmt(rss?.baselineMiB)} | ${fmt(rss?.peakMiB)} | ${fmt(rss?.growthMiB)} | `
      + `${verdict(r.targets?.rss.met ?? null)} | ${String(note).replaceAll('|', '/').replaceAll('\n', ' ')} |`);
  }

  return `${lines.join('\n')}\n`;
}

async function postgresVersion(databaseUrl) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query('SHOW server_version')).rows[0].server_version.replace(/ .*/, '');
  } finally {
    await client.end();
  }
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const services = await ensureServices({ dataDir: join(root, '.data'), log });
  const report = {
    startedAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      postgres: `PostgreSQL ${await postgresVersion(services.databaseUrl)}`,
      databaseUrl: redactUrl(services.databaseUrl),
    },
    unit: 'MB/s = 10^6 bytes per second',
    repeat,
    target: { share: TARGET_SHARE, maxRssGrowthMiB: TARGET_RSS_GROWTH_MIB },
    runs: [],
  };
  let failed = false;
  try {
    // The COPY baseline gets a database of its own: others may terminate sessions on the shared one.
    const copyUrl = await ensureDatabase(services.databaseUrl, COPY_DATABASE).catch((error) => {
      log('copy.own_database_failed', { error: error.message, fallback: redactUrl(services.databaseUrl) });

      return services.databaseUrl;
    });
    for (const sizeMiB of sizesMiB) {
      const totalBytes = Math.round(sizeMiB * MIB);
      const entry = { sizeMiB, bytes: totalBytes };
      report.runs.push(entry);
      try {
        log('size.start', { sizeMiB });
        entry.tcp = await repeated(() => measureTcp({ totalBytes, log }), ['upload', 'download']);
        entry.copy = await repeated(() => measureCopy({ databaseUrl: copyUrl, totalBytes, log }),
          ['in', 'out']);
        try {
          entry.grpc = await repeated(() => measureGrpc({ totalBytes, log }), ['upload', 'download']);
        } catch (error) {
          entry.grpc = { error: error.message };
          log('grpc.failed', { error: error.message });
        }
        if (args['skip-api']) {
          entry.api = { skipped: '--skip-api' };
        } else {
          entry.api = await runApiPart(services, totalBytes);
        }
        entry.targets = evaluate(entry.tcp, entry.copy, entry.api);
        if (entry.api.error || entry.targets.met === false) failed = true;
      } catch (error) {
        entry.error = error.message;
        failed = true;
        log('size.failed', { sizeMiB, error: error.message });
      }
    }
  } finally {
    await services.stop();
  }

  const table = markdown(report);
  writeFileSync(join(outDir, 'transfer.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'transfer.md'), table);
  process.stdout.write(table);
  process.exitCode = failed ? 1 : 0;
}

async function runApiPart(services, totalBytes) {
  let ctx;
  try {
    const logFile = join(outDir, `transfer-api-${totalBytes / MIB}mib.log`);
    const { databaseUrl, redisUrl } = services;
    ctx = await prepareApiRun({ root, databaseUrl, redisUrl, outDir, logFile, log });
  } catch (error) {
    if (/^not wired/.test(error.message)) {
      log('api.skipped', { reason: error.message });

      return { skipped: error.message };
    }
    log('api.failed', { stage: 'prepare', error: error.message });

    return { error: `prepare: ${error.message}` };
  }
  try {
    const results = [];
    const verify = !args['no-verify'];
    for (let i = 0; i < repeat; i++) results.push(await measureApi({ ctx, totalBytes, verify, log }));
    if (repeat === 1) return results[0];
    const summary = { ...results[0] };
    for (const direction of ['upload', 'download']) {
      const sorted = results.map((r) => r[direction]).sort((a, b) => a.mbps - b.mbps);
      summary[direction] = { ...sorted[Math.floor((sorted.length - 1) / 2)], allMbps: sorted.map((r) => r.mbps) };
    }
    // Memory: the worst run counts.
    summary.rss = results.map((r) => r.rss).sort((a, b) => b.growthMiB - a.growthMiB)[0];

    return summary;
  } catch (error) {
    log('api.failed', { stage: 'measure', error: error.message });

    return { error: `measure: ${error.message}` };
  } finally {
    await ctx.stop();
  }
}

await main();
