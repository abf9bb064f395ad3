// Embedded mode: a local anvil (from npm) with its state under the data folder, and the registry deployed on it.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import type { Logger } from '@gds/common';

import { type ChainClients, chainUnavailable, createChainClients } from './client.js';
import { type ChainDeployment, ensureRegistry } from './deployment.js';
import { writeFileAtomic } from './files.js';
import type { RegistryAccount } from './client.js';

const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

export interface AnvilOptions {
  /** State file, pid file, log and chain.json go here. */
  dataDir: string;
  port: number;
  chainId: number;
  /** Seconds per block; 0 = automine (a block per transaction). */
  blockTime?: number;
  /** Keep no state: a fresh chain each start (tests of a chain reset). */
  isEphemeral?: boolean;
  /** Path of the anvil binary; default the one npm installed (@foundry-rs/anvil-<platform>-<arch>). */
  binary?: string;
  logger: Logger;
}

export interface AnvilStatus {
  pid: number;
  rpcUrl: string;
  wsUrl: string;
  /** True when an anvil started earlier (its pid file alive and answering) was reused instead. */
  isReused: boolean;
}

interface PidRecord {
  pid: number;
  port: number;
  chainId: number;
  startedAt: string;
}

/**
 * Starts anvil with `--state <dataDir>/anvil-state.json --state-interval 1`, so a restart keeps its blocks (at most
 * the last second is lost after a SIGKILL), waits until it answers eth_chainId, and stops it by pid. An anvil left
 * running by an earlier process (its pid file alive, same port and chain id) is reused and left running on stop.
 */
export class AnvilSupervisor {
  private child: ChildProcess | null = null;
  private status: AnvilStatus | null = null;
  private readonly onExit = () => this.child?.kill('SIGTERM');

  constructor(private readonly options: AnvilOptions) {}

  get rpcUrl(): string {
    return `http://127.0.0.1:${this.options.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.options.port}`;
  }

  get stateFile(): string {
    return join(this.options.dataDir, 'anvil-state.json');
  }

  private get pidFile(): string {
    return join(this.options.dataDir, 'anvil.pid');
  }

  async start(): Promise<AnvilStatus> {
    mkdirSync(this.options.dataDir, { recursive: true });
    const reused = await this.findRunning();
    if (reused) {
      this.status = { pid: reused.pid, rpcUrl: this.rpcUrl, wsUrl: this.wsUrl, isReused: true };
      this.options.logger.info({ event: 'chain.anvil.reused', pid: reused.pid, port: this.options.port });

      return this.status;
    }

    const startedAt = Date.now();
    const child = this.spawnAnvil();
    this.child = child;
    process.once('exit', this.onExit);
    await this.waitUntilReady(child);

    await writeFileAtomic(this.pidFile, JSON.stringify(this.pidRecord(child.pid!)));
    this.status = { pid: child.pid!, rpcUrl: this.rpcUrl, wsUrl: this.wsUrl, isReused: false };
    this.options.logger.info({
      event: 'chain.anvil.started',
      pid: child.pid,
      port: this.options.port,
      stateFile: this.options.isEphemeral ? null : this.stateFile,
      durationMs: Date.now() - startedAt,
    });

    return this.status;
  }

  /** Stops the anvil this supervisor started (SIGTERM, so it writes its state; SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (!child) return;

    this.child = null;
    process.removeListener('exit', this.onExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    this.options.logger.info({ event: 'chain.anvil.stopped', pid: child.pid, signal });
  }

  private spawnAnvil(): ChildProcess {
    const { port, chainId, blockTime, isEphemeral, dataDir } = this.options;
    const args = ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(chainId)];
    if (!isEphemeral) args.push('--state', this.stateFile, '--state-interval', '1');
    if (blockTime) args.push('--block-time', String(blockTime));

    const log = openSync(join(dataDir, 'anvil.log'), 'a');
    try {
      return spawn(this.options.binary ?? anvilBinary(), args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    let exitCode: number | string | null = null;
    child.once('exit', (code, signal) => (exitCode = code ?? signal));
    child.once('error', (error) => (exitCode = error.message));
    const deadline = Date.now() + READY_TIMEOUT_MS;

    while (Date.now() < deadline) {
      if (exitCode !== null) {
        throw chainUnavailable(`anvil exited (${exitCode}) before answering on ${this.rpcUrl}: ${this.logTail()}`, {
          rpcUrl: this.rpcUrl,
        });
      }
      if ((await rpcChainId(this.rpcUrl)) === this.options.chainId) return;

      await sleep(50);
    }

    child.kill('SIGKILL');
    throw chainUnavailable(`anvil did not answer on ${this.rpcUrl} within ${READY_TIMEOUT_MS} ms: ${this.logTail()}`, {
      rpcUrl: this.rpcUrl,
    });
  }

  private async findRunning(): Promise<PidRecord | null> {
    const record = readJson<PidRecord>(this.pidFile);
    if (!record || record.port !== this.options.port || record.chainId !== this.options.chainId) return null;
    if (!isAnvilAlive(record.pid)) return null;

    return (await rpcChainId(this.rpcUrl)) === this.options.chainId ? record : null;
  }

  private pidRecord(pid: number): PidRecord {
    return { pid, port: this.options.port, chainId: this.options.chainId, startedAt: new Date().toISOString() };
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.options.dataDir, 'anvil.log'), 'utf8').trim().split('\n').slice(-5).join(' | ');
    } catch {
      return 'no anvil.log';
    }
  }
}

/**
 * The anvil binary of this platform. It comes in @foundry-rs/anvil's optional dependency
 * @foundry-rs/anvil-<platform>-<arch>; the npm wrapper's postinstall is not needed (npm 11 skips it anyway), but
 * `--omit=optional` leaves no binary.
 */
export function anvilBinary(): string {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const packageName = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const require = createRequire(import.meta.url);
  let packageJson: string;
  try {
    packageJson = require.resolve(`${packageName}/package.json`);
  } catch {
    throw new Error(`${packageName} is not installed: run npm ci without --omit=optional, or set the anvil binary path`);
  }

  return join(dirname(packageJson), 'bin', process.platform === 'win32' ? 'anvil.exe' : 'anvil');
}

/** eth_chainId over plain fetch, null when nothing answers (used while anvil boots). */
async function rpcChainId(rpcUrl: string): Promise<number | null> {
  try {
    const response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    const body = (await response.json()) as { result?: string };

    return body.result ? Number.parseInt(body.result, 16) : null;
  } catch {
    return null;
  }
}

function isAnvilAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);

    return state !== 'Z' && stat.includes('(anvil)');
  } catch {
    return false;
  }
}

function readJson<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface EmbeddedChain {
  supervisor: AnvilSupervisor;
  clients: ChainClients;
  deployment: ChainDeployment;
}

/** Starts (or reuses) the embedded anvil and makes sure this build's registry is deployed on it. */
export async function startEmbeddedChain(options: AnvilOptions & { account: RegistryAccount }): Promise<EmbeddedChain> {
  const supervisor = new AnvilSupervisor(options);
  const status = await supervisor.start();
  const clients = createChainClients({ rpcUrl: status.rpcUrl, wsUrl: status.wsUrl, chainId: options.chainId });
  try {
    const deployment = await ensureRegistry(clients, options.account, options.dataDir, options.logger);

    return { supervisor, clients, deployment };
  } catch (error) {
    await supervisor.stop();
    throw error;
  }
}
