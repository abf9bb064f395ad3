// Building and starting the portal from other scripts (`npm run demo`, the browser tests, the upload bench).
// Only Node built-ins: usable before anything else of the repo is built.
//
//   import { buildPortal, startPortal } from './apps/web/scripts/portal.mjs';
//   buildPortal();                                        // `next build`, skipped while .next is up to date
//   const portal = await startPortal({ apiUrl: 'http://localhost:4000', port: 3000 });
//   console.log(portal.url); ... await portal.stop();
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const WEB_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = join(WEB_ROOT, '../..');
const NEXT_BIN = join(REPO_ROOT, 'node_modules/next/dist/bin/next');
const SOURCES = ['src', 'next.config.mjs', 'package.json', 'tsconfig.json'];

function newestMtime(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;

  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** True when .next/BUILD_ID is newer than every source of the portal. */
export function isPortalBuilt() {
  const buildId = join(WEB_ROOT, '.next/BUILD_ID');
  if (!existsSync(buildId)) return false;

  return statSync(buildId).mtimeMs > Math.max(...SOURCES.map((path) => newestMtime(join(WEB_ROOT, path))));
}

/** Runs `next build` in apps/web unless the build is up to date (or `force`). Returns { built }. */
export function buildPortal({ force = false, stdio = ['ignore', 'pipe', 'inherit'] } = {}) {
  if (!force && isPortalBuilt()) return { built: false };

  execFileSync(process.execPath, [NEXT_BIN, 'build'], {
    cwd: WEB_ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio,
  });

  return { built: true };
}

export function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `next start` for the built portal; resolves once it answers. Options:
 * - apiUrl: the API's HTTP address as the browser reaches it (NEXT_PUBLIC_GDS_API_URL), read at request time;
 * - port (default: a free one) and host (default 127.0.0.1);
 * - env: more variables (NEXT_PUBLIC_GDS_WS_URL, GDS_MAX_MODEL_BYTES).
 * Returns { url, pid, logs, stop() }. The URL uses "localhost": the API's SameSite=Lax session cookie needs the
 * portal and the API on the same site, so open both as localhost (or both as the same host name).
 */
export async function startPortal({ apiUrl, port, host = '127.0.0.1', env = {}, timeoutMs = 30_000 } = {}) {
  if (!existsSync(join(WEB_ROOT, '.next/BUILD_ID')))
    throw new Error('the portal is not built: call buildPortal() first');
  const webPort = port ?? (await freePort(host));
  const child = spawn(process.execPath, [NEXT_BIN, 'start', '-p', String(webPort), '-H', host], {
    cwd: WEB_ROOT,
    env: {
      ...process.env,
      NEXT_TELEMETRY_DISABLED: '1',
      ...(apiUrl ? { NEXT_PUBLIC_GDS_API_URL: apiUrl } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => logs.push(line));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };

  const probe = `http://${host.includes(':') ? `[${host}]` : host}:${webPort}/sign-in`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${logs.join('\n')}`);
    const answered = await fetch(probe).then(
      (response) => response.status < 500,
      () => false,
    );
    if (answered) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the portal did not answer on ${probe} within ${timeoutMs} ms:\n${logs.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  const publicHost = host === '127.0.0.1' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;

  return { url: `http://${publicHost}:${webPort}`, pid: child.pid, logs, stop };
}
