// The built worker as a child process, with its log lines (stdout: the worker's pino JSON; stderr: the sidecar's).
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { PYTHON, REPO_ROOT } from '../../support/stack.js';

export type LogLine = Record<string, unknown>;

export interface RunningWorker {
  child: ChildProcess;
  logs: LogLine[];
  /** Resolves with the first log line (worker or sidecar) that matches, waiting for it if need be. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(): Promise<void>;
  /** Kills the worker process only (its sidecar follows by itself). */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `node apps/worker/dist/main.js` and waits until its sidecar answered. */
export async function startWorker(env: Record<string, string>): Promise<RunningWorker> {
  const child = spawn(process.execPath, [join(REPO_ROOT, 'apps/worker/dist/main.js')], {
    env: { ...process.env, GDS_PYTHON: PYTHON, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const listeners = new Set<(line: LogLine) => void>();
  const onLine = (source: string) => (text: string) => {
    const line = { source, ...parseJson(text) };
    logs.push(line);
    listeners.forEach((listener) => listener(line));
  };
  createInterface({ input: child.stdout! }).on('line', onLine('worker'));
  createInterface({ input: child.stderr! }).on('line', onLine('stderr'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // A test runner that exits without teardown must not leave workers consuming the queue.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  const waitForLog = (match: (line: LogLine) => boolean, timeoutMs = 60_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = logs.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines:\n${tail(logs)}`));
      }, timeoutMs);
      const listener = (line: LogLine) => {
        if (!match(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolve(line);
      };
      listeners.add(listener);
      void exited.then(() => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(new Error(`the worker exited (${child.exitCode ?? child.signalCode}); last lines:\n${tail(logs)}`));
      });
    });

  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  const stop = async () => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await kill('SIGTERM');
    clearTimeout(timer);
  };

  try {
    await waitForLog((line) => line.event === 'worker.ready', 90_000);
  } catch (error) {
    await kill('SIGKILL');
    throw error;
  }

  return { child, logs, waitForLog, stop, kill };
}

function parseJson(text: string): LogLine {
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null ? (parsed as LogLine) : { raw: text };
  } catch {
    return { raw: text };
  }
}

function tail(logs: LogLine[]): string {
  return logs.slice(-15).map((line) => JSON.stringify(line)).join('\n');
}
