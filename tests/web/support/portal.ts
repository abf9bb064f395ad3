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

import { REDIS_URL, REPO_ROOT, stopChild } from '../../support/stack.js';

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

async function waitForHttp(url: string, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`process exited before ${url} answered`);
    try {
      const response = await fetch(url);
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
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
  const child = spawn(process.execPath, [join(REPO_ROOT, 'apps/api/dist/main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: WEB_REDIS_URL,
      GDS_GRPC_ADDRESS: '127.0.0.1:0',
      GDS_HTTP_ADDRESS: `127.0.0.1:${httpPort}`,
      GDS_PUBLIC_API_URL: url,
      GDS_PORTAL_ORIGINS: portalOrigin,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const jsonLogs: Array<Record<string, unknown>> = [];
  const logs: string[] = [];
  child.stderr!.on('data', (data) => logs.push(String(data)));

  const grpcPort = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`API exited with ${code} before listening: ${logs.join('')}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = parseJson(line);
      jsonLogs.push(entry);
      if (entry.event === 'grpc.listening') resolve(entry.port as number);
    });
  });
  await waitForHttp(`http://127.0.0.1:${httpPort}/health`, 30_000, child);

  return { url, pid: child.pid!, logs, jsonLogs, grpcAddress: `127.0.0.1:${grpcPort}`, stop: () => stopChild(child) };
}

/** The consistency worker (apps/worker), or undefined when it is not built. `env`: e.g. CHAIN_MODE for its relay. */
export async function startWorker(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningProcess | undefined> {
  const main = join(REPO_ROOT, 'apps/worker/dist/main.js');
  if (!existsSync(main)) return undefined;

  const child = spawn(process.execPath, [main], {
    env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: WEB_REDIS_URL, LOG_LEVEL: 'info', ...env },
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

function parseJson(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line);
  } catch {
    return { raw: line };
  }
}
