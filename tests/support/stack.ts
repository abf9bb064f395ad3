// Real parts for tests: a private database per test file, the built API as a child process, the operator CLI.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import pg from 'pg';

// @ts-expect-error plain ESM script without types
import { applyMigrations } from '../../scripts/lib/migrate.mjs';

export const REPO_ROOT = join(import.meta.dirname, '../..');
export const PYTHON = process.env.GDS_PYTHON ?? '/usr/bin/python3';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const SERVER_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gds';
const TEMPLATE = 'gds_test_template';

function urlFor(database: string): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the migrated template once per server; every test database is a copy of it. */
async function ensureTemplate(): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock(7270)');
    try {
      const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [TEMPLATE]);
      if (exists.rowCount === 0) {
        await admin.query(`CREATE DATABASE ${TEMPLATE}`);
      }
      await applyMigrations(urlFor(TEMPLATE));
    } finally {
      await admin.query('SELECT pg_advisory_unlock(7270)');
    }
  });
}

export interface TestDatabase {
  url: string;
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

/** A fresh, migrated database of this test file's own. */
export async function createTestDatabase(): Promise<TestDatabase> {
  await ensureTemplate();
  const name = `gds_test_${randomBytes(6).toString('hex')}`;
  await withAdmin(async (admin) => {
    await admin.query('SELECT pg_advisory_lock(7270)');
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
    } finally {
      await admin.query('SELECT pg_advisory_unlock(7270)');
    }
  });
  const pool = new pg.Pool({ connectionString: urlFor(name), max: 2 });

  return {
    url: urlFor(name),
    query: (sql, params) => pool.query(sql, params as unknown[]),
    drop: async () => {
      await pool.end();
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export interface RunningApi {
  /** host:port of the gRPC server. */
  address: string;
  /** Port of the HTTP server (GraphQL, uploads, downloads). */
  httpPort: number;
  pid: number;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Starts the built API (gRPC and HTTP on free ports unless `env` says otherwise) and waits until both listen. */
export async function startApi(databaseUrl: string, env: Record<string, string> = {}): Promise<RunningApi> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'apps/api/dist/main.js')], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      REDIS_URL,
      GDS_GRPC_ADDRESS: '127.0.0.1:0',
      GDS_HTTP_ADDRESS: '127.0.0.1:0',
      // Test files run in parallel against one Redis: each stack gets its own queues.
      GDS_QUEUE_PREFIX: queuePrefixFor(databaseUrl),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr!.on('data', (data) => (stderr += data));

  const ports = await new Promise<{ grpc: number; http: number }>((resolve, reject) => {
    const seen: { grpc?: number; http?: number } = {};
    child.once('exit', (code) => reject(new Error(`API exited with ${code} before listening: ${stderr}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = parseJson(line);
      logs.push(entry);
      if (entry.event === 'grpc.listening') seen.grpc = entry.port as number;
      if (entry.event === 'http.listening') seen.http = entry.port as number;
      if (seen.grpc && seen.http) resolve({ grpc: seen.grpc, http: seen.http });
    });
  });

  return { address: `127.0.0.1:${ports.grpc}`, httpPort: ports.http, pid: child.pid!, logs, stop: () => stopChild(child) };
}

/** The BullMQ prefix of the test stack using this database; its worker must use the same. */
export function queuePrefixFor(databaseUrl: string): string {
  return new URL(databaseUrl).pathname.slice(1);
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Creates a customer with the operator CLI; returns its id and API token. */
export async function createCustomer(databaseUrl: string, name = 'test'): Promise<{ customerId: string; token: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'apps/api/dist/cli.js'), 'create-customer', '--name', name], {
    env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL },
  });

  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** Runs `python -m <module> <args>` with the repo's Python package on the path. */
export async function runPython(module: string, args: string[], options: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await promisify(execFile)(PYTHON, ['-m', module, ...args], {
    cwd: options.cwd,
    env: { ...process.env, PYTHONPATH: join(REPO_ROOT, 'python') },
    maxBuffer: 64 * 1024 * 1024,
  });

  return stdout;
}

function parseJson(line: string): Record<string, unknown> {
  try {
    return JSON.parse(line);
  } catch {
    return { raw: line };
  }
}
