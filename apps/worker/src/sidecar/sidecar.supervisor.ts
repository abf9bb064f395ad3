import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';

import { LOGGER, type Logger } from '../common/logger.provider.js';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config.js';
import { SidecarClient } from './sidecar.client.js';
import { sidecarUnavailable } from './sidecar.exception.js';

const RESTART_DELAYS_MS = [0, 1_000, 2_000, 5_000, 10_000];
const STOP_GRACE_MS = 5_000;

interface Generation {
  child: ChildProcess;
  client?: SidecarClient;
  isHealthy: boolean;
  failures: number;
}

/**
 * Owns the Python sidecar process: starts it, checks its health periodically, and starts a new one when it dies or
 * stops answering. Jobs ask for a healthy client; a job whose sidecar dies mid-check fails retryably.
 *
 * The sidecar gets a work folder of its own (its socket and the blobs of running checks). The folder is emptied
 * whenever a sidecar exits, so that a sidecar killed mid-check leaves nothing behind, and removed at shutdown.
 */
@Injectable()
export class SidecarSupervisor implements OnModuleInit, OnApplicationShutdown {
  private readonly workDir = mkdtempSync(join(tmpdir(), 'gds-worker-'));
  private current?: Generation;
  private healthTimer?: NodeJS.Timeout;
  private restarts = 0;
  private isStopping = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.start();
    this.healthTimer = setInterval(() => void this.checkHealth(), this.config.healthIntervalMs);
  }

  /** A client of a sidecar that answered its last health call; waits for one (e.g. after a restart). */
  async healthyClient(timeoutMs = this.config.sidecarStartTimeoutMs): Promise<SidecarClient> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isStopping) {
      const generation = this.current;
      if (generation?.isHealthy && generation.client) {
        return generation.client;
      }
      if (Date.now() >= deadline) break;
      await this.nextChange(deadline - Date.now());
    }

    throw sidecarUnavailable(`no healthy sidecar within ${timeoutMs} ms`);
  }

  /** The sidecar's pid, for logs and tests. */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  async onApplicationShutdown(): Promise<void> {
    this.isStopping = true;
    clearInterval(this.healthTimer);
    this.notify();

    const generation = this.current;
    if (generation && generation.child.exitCode === null && generation.child.signalCode === null) {
      const exited = new Promise((resolve) => generation.child.once('exit', resolve));
      generation.child.kill('SIGTERM');
      const timer = setTimeout(() => generation.child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.workDir, { recursive: true, force: true });
  }

  private start(): void {
    const address = this.config.sidecarAddress ?? `unix:${join(this.workDir, 'sidecar.sock')}`;
    const child = spawn(
      this.config.python,
      [
        '-m', 'gds_ml.sidecar', '--address', address, '--work-dir', this.workDir, '--exit-on-stdin-eof',
        // One handler thread per concurrent job, and two more so that health calls are answered during checks.
        '--max-workers', String(this.config.concurrency + 2),
        '--log-level', this.config.logLevel === 'silent' ? 'critical' : this.config.logLevel,
      ],
      {
        env: { ...process.env, PYTHONPATH: this.config.pythonPath, PYTHONUNBUFFERED: '1' },
        // stdin stays open and unused: the sidecar exits when it closes, i.e. when this process dies.
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const generation: Generation = { child, isHealthy: false, failures: 0 };
    this.current = generation;

    createInterface({ input: child.stdout! }).on('line', (line) => this.onOutput(generation, line));
    child.once('error', (error) => {
      // Spawning itself failed (no interpreter): no 'exit' follows, so handle it as one.
      this.logger.error({ event: 'sidecar.spawn_failed', err: error });
      if (child.pid === undefined) this.onExit(generation, null, null);
    });
    child.once('exit', (code, signal) => this.onExit(generation, code, signal));
    this.logger.info({ event: 'sidecar.started', sidecarPid: child.pid, restarts: this.restarts });
  }

  private onOutput(generation: Generation, line: string): void {
    const entry = parseJson(line);
    if (entry?.event !== 'sidecar.listening' || typeof entry.address !== 'string') {
      this.logger.debug({ event: 'sidecar.stdout', line });
      return;
    }

    generation.client = new SidecarClient(entry.address);
    this.logger.info({ event: 'sidecar.listening', sidecarPid: generation.child.pid, address: entry.address });
    void this.checkHealth();
  }

  private onExit(generation: Generation, code: number | null, signal: NodeJS.Signals | null): void {
    generation.client?.close();
    generation.isHealthy = false;
    rmSync(join(this.workDir, 'checks'), { recursive: true, force: true });
    if (this.isStopping || this.current !== generation) return;

    const delay = RESTART_DELAYS_MS[Math.min(this.restarts, RESTART_DELAYS_MS.length - 1)];
    this.restarts++;
    this.logger.warn({ event: 'sidecar.exited', sidecarPid: generation.child.pid, code, signal, restartInMs: delay });
    setTimeout(() => !this.isStopping && this.start(), delay).unref();
  }

  private async checkHealth(): Promise<void> {
    const generation = this.current;
    if (!generation?.client || this.isStopping) return;

    try {
      await generation.client.health(this.config.healthTimeoutMs);
      if (!generation.isHealthy) {
        this.logger.info({ event: 'sidecar.healthy', sidecarPid: generation.child.pid });
      }
      generation.isHealthy = true;
      generation.failures = 0;
      this.restarts = 0;
      this.notify();
    } catch (error) {
      this.onUnhealthy(generation, error as Error);
    }
  }

  private onUnhealthy(generation: Generation, error: Error): void {
    generation.failures++;
    this.logger.warn({ event: 'sidecar.health_failed', sidecarPid: generation.child.pid, failures: generation.failures,
      message: error.message });
    if (generation.failures < this.config.healthFailures) return;

    // onExit starts the next one.
    generation.isHealthy = false;
    this.logger.warn({ event: 'sidecar.unresponsive', sidecarPid: generation.child.pid });
    generation.child.kill('SIGKILL');
  }

  private nextChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, Math.max(0, Math.min(timeoutMs, this.config.healthIntervalMs)));
      this.waiters.add(wake);
    });
  }

  private notify(): void {
    [...this.waiters].forEach((wake) => wake());
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
