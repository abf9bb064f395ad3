// The portal and the API's HTTP side as real processes for browser tests: build the portal once (skipped while
// .next is newer than its sources), start `next start`, start the API with GDS_HTTP_ADDRESS, the consistency worker,
// and Debian's Chromium through playwright-core.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { type Browser, chromium } from 'playwright-core';

// @ts-expect-error plain ESM script without types
import * as portalScripts from '../../../apps/web/scripts/portal.mjs';

import { queuePrefixFor, REDIS_URL, REPO_ROOT, startApi, stopChild } from '../../support/stack.js';

export const CHROMIUM = process.env.GDS_CHROMIUM ?? '/usr/bin/chromium';

/**
 * The portal tests' own Redis database: BullMQ queues have fixed names, so an API and worker of another test file
 * running at the same time on database 0 would take this file's consistency jobs (and fail them against their own
 * Postgres). Pub/sub ignores the database number, which is harmless: query ids do not collide.
 */
export const WEB_REDIS_URL = (() => {
  const url = new URL(REDIS_URL);
  url.pathname = `/${process.env.GDS_WEB_TEST_REDIS_DB ?? '11'}`;

  return url.toString();
})();

/** The flags the machine notes require for Chromium as root with no network but loopback. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `next build` unless .next is newer than the portal's sources (apps/web/scripts/portal.mjs). */
export function buildPortal(): { built: boolean } {
  return portalScripts.buildPortal();
}

export interface RunningProcess {
  url: string;
  pid: number;
  logs: string[];
  stop(): Promise<void>;
}

/** `next start` on a loopback port, serving the built portal against `apiUrl`; its URL says localhost. */
export function startPortal(apiUrl: string, port?: number): Promise<RunningProcess> {
  return portalScripts.startPortal({ apiUrl, port });
}

export interface RunningHttpApi extends RunningProcess {
  /** gRPC host:port, for agents. */
  grpcAddress: string;
  jsonLogs: Array<Record<string, unknown>>;
}

/**
 * The built API with its HTTP side on a port chosen here, reachable as http://localhost:<port> (same site as the
 * portal, so the SameSite=Lax session cookie travels) and allowing the portal's origin.
 */
export async function startHttpApi(
  databaseUrl: string,
  portalOrigin: string,
  env: Record<string, string> = {},
): Promise<RunningHttpApi> {
  const httpPort = await freePort();
  const url = `http://localhost:${httpPort}`;
  const api = await startApi(databaseUrl, {
    REDIS_URL: WEB_REDIS_URL,
    GDS_HTTP_ADDRESS: `127.0.0.1:${httpPort}`,
    GDS_PUBLIC_API_URL: url,
    GDS_PORTAL_ORIGINS: portalOrigin,
    ...env,
  });

  return { url, pid: api.pid, logs: [], jsonLogs: api.logs, grpcAddress: api.address, stop: api.stop };
}

/** The consistency worker (apps/worker), or undefined when it is not built. `env`: e.g. CHAIN_MODE for its relay. */
export async function startWorker(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningProcess | undefined> {
  const main = join(REPO_ROOT, 'apps/worker/dist/main.js');
  if (!existsSync(main)) return undefined;

  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: WEB_REDIS_URL,
      GDS_QUEUE_PREFIX: queuePrefixFor(databaseUrl),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs = collect(child);
  await new Promise((resolve) => setTimeout(resolve, 500));
  if (child.exitCode !== null) throw new Error(`the worker exited with ${child.exitCode}: ${logs.join('\n')}`);

  return { url: '', pid: child.pid!, logs, stop: () => stopChild(child) };
}

/** Debian's Chromium, headless; playwright-core gives every launch a new, empty profile of its own. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: apt-get -o DPkg::Lock::Timeout=900 install -y chromium`);
  }

  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

function collect(child: ChildProcess): string[] {
  const logs: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => logs.push(line));
  }

  return logs;
}
