#!/usr/bin/env node
// Portal upload bench: a model file of N bytes (1 GiB by default) goes up through the portal's own path — Chromium
// (playwright-core) on the New-query page: SHA-256 in the page, then XMLHttpRequest send(file) to POST /uploads —
// and, in the same run against the same API process, through gRPC SubmitQuery (bench/transfer/api.mjs). The API's
// RSS is sampled from /proc/<pid>/status every 100 ms during each path.
//
//   node bench/portal-upload/run.mjs [--size-mib 1024] [--repeat 1] [--keep-file]
//
// Targets: portal upload MB/s >= 70 % of the gRPC SubmitQuery MB/s, and the API's RSS growth during the portal
// upload < 128 MiB. The hash phase (in the browser, before any byte is sent) is reported apart from the upload phase;
// the upload phase is timed by the page itself, from send() to the server's answer (the bytes are stored and their
// hash checked by then). Writes bench/out/portal-upload.json and .md, prints the table; progress goes to stderr as
// JSON lines. Exits 1 when a measurement fails or a target is missed.
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { buildPortal, startPortal } from '../../apps/web/scripts/portal.mjs';
import { createScriptLogger, ensureServices, redactUrl } from '../../scripts/lib/stack.mjs';
import { freePort, measureApi, prepareApiRun, readMemory, resetPeakRss, sampleMemory } from '../transfer/api.mjs';
import { MIB, mbPerSecond, payloadChunks, payloadSha256, writeWithBackpressure } from '../transfer/baselines.mjs';

const TARGET_SHARE = 0.7;
const TARGET_RSS_GROWTH_MIB = 128;
/** The same pickle-protocol-4 head bench/transfer sends, so the API's format check passes. */
const MODEL_HEAD = Buffer.from([0x80, 0x04, 0x95]);
const DATASET_NAME = 'bench-transfer-dataset';
const CHROMIUM = process.env.GDS_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const outDir = join(root, 'bench/out');
const log = createScriptLogger('bench-portal-upload', { stream: process.stderr });

const { values: args } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '1024' },
    repeat: { type: 'string', default: '1' },
    'keep-file': { type: 'boolean', default: false },
  },
});
const sizeMiB = Number(args['size-mib']);
const repeat = Number(args.repeat);
if (!(sizeMiB > 0)) throw new Error(`--size-mib takes a positive number; got ${args['size-mib']}`);
if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat takes a positive integer; got ${args.repeat}`);

const mib = (kib) => kib / 1024;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];

/** Writes the deterministic bench payload to a file once (reused while its size matches). */
async function writeModelFile(path, totalBytes) {
  if (existsSync(path) && statSync(path).size === totalBytes) return;
  const out = createWriteStream(path);
  for (const chunk of payloadChunks(totalBytes, { head: MODEL_HEAD })) await writeWithBackpressure(out, chunk);
  await new Promise((resolve, reject) => out.end((error) => (error ? reject(error) : resolve())));
}

async function signUp(page, portalUrl) {
  const tag = Date.now().toString(36);
  await page.goto(`${portalUrl}/sign-up`);
  await page.getByLabel('Name').fill('Bench QC');
  await page.getByLabel('Email').fill(`bench.${tag}@example.test`);
  await page.getByLabel('Password').fill(`bench-${tag}-password`);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(`${portalUrl}/queries`);
}

/**
 * One upload through the New-query page: sets the file input (Chromium reads the file from disk itself), waits for
 * the page's timing line, then submits the query so the upload is also proven usable. Samples the API's memory only
 * while the bytes travel (hash phase excluded: the API is idle then).
 */
async function measurePortal({ page, portalUrl, apiPid, filePath, totalBytes, sha256 }) {
  await page.goto(`${portalUrl}/queries/new`);
  await page.locator(`#dataset option[value="${DATASET_NAME}"]`).waitFor({ state: 'attached' });

  const baseline = readMemory(apiPid);
  const hwmReset = resetPeakRss(apiPid);
  await page.locator('#model-file').setInputFiles(filePath);
  await page.getByText('Step 2 of 2: uploading…').waitFor({ timeout: 600_000 });
  const sampler = sampleMemory(apiPid);
  const timings = page.getByTestId('upload-timings');
  await Promise.race([
    timings.waitFor({ timeout: 900_000 }),
    page
      .getByTestId('upload-error')
      .waitFor({ timeout: 900_000 })
      .then(async () => {
        throw new Error(`the portal reported: ${await page.getByTestId('upload-error').textContent()}`);
      }),
  ]);
  const memory = sampler.stop();

  const read = async (name) => Number(await timings.getAttribute(`data-${name}`));
  const [bytes, hashMs, sendMs, uploadMs] = await Promise.all(['bytes', 'hash-ms', 'send-ms', 'upload-ms'].map(read));
  const serverSha256 = await page.getByTestId('server-sha256').locator('code').textContent();
  if (bytes !== totalBytes) throw new Error(`the page uploaded ${bytes} bytes, expected ${totalBytes}`);
  if (serverSha256 !== sha256) throw new Error(`the server stored sha256 ${serverSha256}, expected ${sha256}`);

  // Submitting proves the upload is usable; a refusal (e.g. no active holder of the dataset) is reported, not fatal.
  const submit = {};
  try {
    await page.getByLabel('Dataset').selectOption(DATASET_NAME);
    await page.getByLabel('Data owners to train on it').fill('1');
    const submitStart = Date.now();
    await page.getByRole('button', { name: 'Submit query' }).click();
    await page.waitForURL(/\/queries\/[0-9a-f-]{36}$/, { timeout: 60_000 });
    submit.ms = Date.now() - submitStart;
    submit.queryId = page.url().split('/').pop();
  } catch (error) {
    submit.error = (await page.getByRole('alert').allTextContents()).join(' ') || error.message;
  }

  const peakKiB = hwmReset ? Math.max(memory.peakRssKiB, memory.hwmKiB) : memory.peakRssKiB;
  const result = {
    bytes,
    hash: { ms: hashMs, mbps: mbPerSecond(bytes, hashMs / 1000) },
    upload: { ms: uploadMs, sendMs, mbps: mbPerSecond(bytes, uploadMs / 1000) },
    endToEnd: { ms: hashMs + uploadMs, mbps: mbPerSecond(bytes, (hashMs + uploadMs) / 1000) },
    submit,
    rss: {
      baselineMiB: mib(baseline.rssKiB),
      peakMiB: mib(peakKiB),
      growthMiB: mib(peakKiB - baseline.rssKiB),
      samples: memory.samples,
      hwmReset,
    },
  };
  log('portal.upload', { ...result.upload, hashMbps: result.hash.mbps, rss: result.rss });

  return result;
}

function markdown(report) {
  const f = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits));
  const t = report.targets;
  const p = report.portal;
  const g = report.grpc;

  return [
    `# Portal upload bench (${report.startedAt})`,
    '',
    `Machine: ${report.machine.cpus} × ${report.machine.cpuModel}, Node ${report.machine.node}, ${report.machine.chromium}. ` +
      `${report.sizeMiB} MiB file, MB = 10^6 bytes, median of ${report.repeat} run(s). One API process serves both paths.`,
    '',
    '| path | phase | MB/s | time s | API RSS baseline → peak MiB | growth MiB |',
    '|---|---|---|---|---|---|',
    `| portal (browser) | SHA-256 in the page (API idle) | ${f(p?.hash.mbps)} | ${f(p && p.hash.ms / 1000, 2)} | — | — |`,
    `| portal (browser) | upload: XHR send(file) → POST /uploads → stored | ${f(p?.upload.mbps)} | ` +
      `${f(p && p.upload.ms / 1000, 2)} | ${f(p?.rss.baselineMiB)} → ${f(p?.rss.peakMiB)} | ${f(p?.rss.growthMiB)} |`,
    `| portal (browser) | hash + upload, as the user waits | ${f(p?.endToEnd.mbps)} | ${f(p && p.endToEnd.ms / 1000, 2)} | — | — |`,
    `| gRPC SubmitQuery | upload (stream → stored) | ${f(g?.upload.mbps)} | ${f(g?.upload.seconds, 2)} | ` +
      `${f(g?.rss.baselineMiB)} → ${f(g?.upload.peakRssMiB)} | ${f(g && g.upload.peakRssMiB - g.rss.baselineMiB)} |`,
    '',
    '| target | required | measured | verdict |',
    '|---|---|---|---|',
    `| portal upload ≥ 70 % of gRPC SubmitQuery | ≥ ${f(t.upload.requiredMbps)} MB/s | ${f(t.upload.portalMbps)} MB/s ` +
      `(${f(t.upload.share === null ? null : 100 * t.upload.share)} %) | ${t.upload.met === null ? 'not run' : t.upload.met ? 'met' : '**missed**'} |`,
    `| API RSS growth during the portal upload | < ${TARGET_RSS_GROWTH_MIB} MiB | ${f(t.rss.growthMiB)} MiB | ` +
      `${t.rss.met === null ? 'not run' : t.rss.met ? 'met' : '**missed**'} |`,
    '',
    p?.submit.error
      ? `Submitting the query from the uploaded model failed: ${p.submit.error}`
      : `Submitting the query from the uploaded model took ${f(p?.submit.ms)} ms.`,
    report.error ? `\nError: ${report.error}\n` : '',
  ].join('\n');
}

async function main() {
  mkdirSync(outDir, { recursive: true });
  const totalBytes = Math.round(sizeMiB * MIB);
  const report = {
    startedAt: new Date().toISOString(),
    sizeMiB,
    bytes: totalBytes,
    repeat,
    unit: 'MB/s = 10^6 bytes per second',
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      chromium: 'chromium',
    },
    target: { share: TARGET_SHARE, maxRssGrowthMiB: TARGET_RSS_GROWTH_MIB },
    portalRuns: [],
    grpcRuns: [],
  };
  const cleanups = [];
  let failed = false;

  try {
    const { chromium } = await import('playwright-core');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
    const services = await ensureServices({ dataDir: join(root, '.data'), log });
    cleanups.unshift(services.stop);

    log('portal.build', buildPortal());
    const webPort = await freePort();
    const apiPort = await freePort();
    const apiUrl = `http://localhost:${apiPort}`;
    // prepareApiRun passes the environment on to the API process.
    Object.assign(process.env, {
      GDS_HTTP_ADDRESS: `127.0.0.1:${apiPort}`,
      GDS_PUBLIC_API_URL: apiUrl,
      GDS_PORTAL_ORIGINS: `http://localhost:${webPort}`,
    });
    const ctx = await prepareApiRun({
      root,
      databaseUrl: services.databaseUrl,
      redisUrl: services.redisUrl,
      outDir,
      logFile: join(outDir, 'portal-upload-api.log'),
      log,
    });
    cleanups.unshift(ctx.stop);
    const portal = await startPortal({ apiUrl, port: webPort });
    cleanups.unshift(portal.stop);
    log('stack.ready', {
      portal: portal.url,
      api: apiUrl,
      apiPid: ctx.apiPid,
      database: redactUrl(services.databaseUrl),
    });

    const folder = join(tmpdir(), 'gds-portal-bench');
    mkdirSync(folder, { recursive: true });
    const filePath = join(folder, `model-${sizeMiB}mib.pkl`);
    await writeModelFile(filePath, totalBytes);
    if (!args['keep-file']) cleanups.push(async () => rmSync(filePath, { force: true }));
    const sha256 = payloadSha256(totalBytes, { head: MODEL_HEAD });
    log('file.ready', { filePath, bytes: totalBytes, sha256 });

    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    cleanups.unshift(() => browser.close());
    report.machine.chromium = `Chromium ${browser.version()}`;
    const page = await browser.newPage();
    await signUp(page, portal.url);

    for (let i = 0; i < repeat; i++) {
      report.portalRuns.push(
        await measurePortal({ page, portalUrl: portal.url, apiPid: ctx.apiPid, filePath, totalBytes, sha256 }),
      );
      const grpc = await measureApi({ ctx, totalBytes, verify: false, log });
      report.grpcRuns.push(grpc);
    }

    const pick = (runs, rate) => runs.find((run) => rate(run) === median(runs.map(rate)));
    report.portal = pick(report.portalRuns, (run) => run.upload.mbps);
    report.grpc = pick(report.grpcRuns, (run) => run.upload.mbps);
  } catch (error) {
    report.error = error.message;
    failed = true;
    log('bench.failed', { error: error.message, stack: error.stack });
  } finally {
    for (const cleanup of cleanups) await cleanup().catch((error) => log('cleanup.failed', { error: error.message }));
  }

  const portalMbps = report.portal?.upload.mbps ?? null;
  const grpcMbps = report.grpc?.upload.mbps ?? null;
  const growth = report.portal?.rss.growthMiB ?? null;
  report.targets = {
    upload: {
      grpcMbps,
      portalMbps,
      requiredMbps: grpcMbps === null ? null : TARGET_SHARE * grpcMbps,
      share: portalMbps === null || grpcMbps === null ? null : portalMbps / grpcMbps,
      met: portalMbps === null || grpcMbps === null ? null : portalMbps >= TARGET_SHARE * grpcMbps,
    },
    rss: {
      maxGrowthMiB: TARGET_RSS_GROWTH_MIB,
      growthMiB: growth,
      met: growth === null ? null : growth < TARGET_RSS_GROWTH_MIB,
    },
  };
  if (report.targets.upload.met === false || report.targets.rss.met === false) failed = true;

  const table = markdown(report);
  writeFileSync(join(outDir, 'portal-upload.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'portal-upload.md'), `${table}\n`);
  process.stdout.write(`${table}\n`);
  process.exit(failed ? 1 : 0);
}

await main();
