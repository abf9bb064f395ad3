// Reference DO agents as real processes: a config file, `register`, then the `run` daemon.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

import { PYTHON, REPO_ROOT, stopChild } from './stack.js';

const AGENT_MAIN = join(REPO_ROOT, 'apps/agent/dist/main.js');

export interface AgentOptions {
  address: string;
  folder: string;
  name: string;
  datasetPath: string;
  datasetName?: string;
  allowPickle?: boolean;
  threads?: number;
  extra?: Record<string, unknown>;
}

export interface TestAgent {
  dataOwnerId: string;
  configPath: string;
  logs: Array<Record<string, unknown>>;
  start(): void;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

export function writeAgentConfig(options: AgentOptions): string {
  mkdirSync(options.folder, { recursive: true });
  const configPath = join(options.folder, 'agent.json');
  const config = {
    gdsAddress: options.address,
    name: options.name,
    keyFile: 'agent.pem',
    stateDir: 'state',
    datasets: [
      { name: options.datasetName ?? 'demo', path: options.datasetPath, features: ['x1', 'x2', 'x3', 'x4', 'x5'], label: 'y' },
    ],
    trainer: {
      python: PYTHON,
      allowPickle: options.allowPickle ?? true,
      moduleAliases: { __main__: 'gds_ml.demo_models' },
      isolation: 'netns',
      threads: options.threads ?? 1,
    },
    ...options.extra,
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  return configPath;
}

/** Registers an agent and returns a handle to start and stop its daemon. */
export async function createAgent(options: AgentOptions): Promise<TestAgent> {
  const configPath = writeAgentConfig(options);
  const { stdout } = await promisify(execFile)(process.execPath, [AGENT_MAIN, 'register', '--config', configPath]);
  const { dataOwnerId } = JSON.parse(stdout.trim().split('\n').pop()!);
  const logs: Array<Record<string, unknown>> = [];
  let child: ChildProcess | undefined;

  return {
    dataOwnerId,
    configPath,
    logs,
    start() {
      child = spawn(process.execPath, [AGENT_MAIN, 'run', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout!, child.stderr!]) {
        createInterface({ input: stream }).on('line', (line) => {
          try {
            logs.push(JSON.parse(line));
          } catch {
            logs.push({ raw: line });
          }
        });
      }
    },
    stop: async () => {
      if (child) await stopChild(child);
    },
    kill: async () => {
      if (child) await stopChild(child, 'SIGKILL');
    },
  };
}
