import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

import type { Logger } from '@gds/common';
import type { TrainingSpec__Output } from '@gds/proto';
import { z } from 'zod';

import type { DatasetConfig, TrainerConfig } from './config.js';

/** Exit codes of `python -m gds_ml.train`. */
export enum TrainerExitCode {
  OK = 0,
  FAILED = 2,
  INTERNAL = 3,
}

const KILL_GRACE_MS = 3_000;
const MAX_CODE_LENGTH = 64;
const MAX_MESSAGE_LENGTH = 2_000;

const nsField = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

const eventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('train.started') }).passthrough(),
  z.object({
    event: z.literal('train.epoch'),
    epoch: z.number().int().nonnegative(),
    totalEpochs: z.number().int().nonnegative(),
    // Python's json writes NaN for a diverged loss; parseTrainerLine turns it into null, reported as NaN.
    loss: z
      .number()
      .nullable()
      .transform((loss) => loss ?? Number.NaN),
  }),
  z.object({
    event: z.literal('train.done'),
    out: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    size: z.number().int().nonnegative(),
    startedAtNs: nsField,
    finishedAtNs: nsField,
  }),
  z.object({
    event: z.literal('train.failed'),
    code: z.string().min(1).transform((code) => code.slice(0, MAX_CODE_LENGTH)),
    message: z
      .string()
      .default('')
      .transform((message) => message.slice(0, MAX_MESSAGE_LENGTH)),
  }),
]);

export type TrainerEvent = z.infer<typeof eventSchema>;
export type TrainerEpochEvent = Extract<TrainerEvent, { event: 'train.epoch' }>;
export type TrainerDoneEvent = Extract<TrainerEvent, { event: 'train.done' }>;

/** Parses one stdout line of the trainer; undefined for blank lines, non-JSON and unknown or malformed events. */
export function parseTrainerLine(line: string): TrainerEvent | undefined {
  const raw = parseJsonLenient(line.trim());
  if (raw === undefined) {
    return undefined;
  }

  const parsed = eventSchema.safeParse(withExactNanoseconds(raw, line));

  return parsed.success ? parsed.data : undefined;
}

function parseJsonLenient(text: string): unknown {
  if (!text.startsWith('{')) {
    return undefined;
  }

  try {
    return JSON.parse(text);
  } catch {
    // Python's json.dumps emits the bare tokens NaN and Infinity, which JSON does not allow.
    try {
      return JSON.parse(text.replace(/(?<=[:,\[]\s*)-?(NaN|Infinity)(?=\s*[,}\]])/g, 'null'));
    } catch {
      return undefined;
    }
  }
}

/**
 * Nanosecond timestamps exceed 2^53, so JSON.parse rounds them; the digits are taken from the line itself instead.
 */
function withExactNanoseconds(raw: unknown, line: string): unknown {
  if (typeof raw !== 'object' || raw === null || (raw as { event?: unknown }).event !== 'train.done') {
    return raw;
  }

  const exact = { ...(raw as Record<string, unknown>) };
  for (const field of ['startedAtNs', 'finishedAtNs']) {
    const match = new RegExp(`"${field}"\\s*:\\s*(\\d+)\\s*[,}]`).exec(line);
    if (match) {
      exact[field] = match[1];
    }
  }

  return exact;
}

export interface TrainerJob {
  queryId: string;
  modelPath: string;
  dataset: DatasetConfig;
  training: TrainingSpec__Output | null;
  outPath: string;
  cwd: string;
}

export interface TrainerCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** The trainer's command line; a trainer that may unpickle runs without network when isolation is "netns". */
export function buildTrainerCommand(config: TrainerConfig, job: TrainerJob): TrainerCommand {
  const args = [
    '-m',
    'gds_ml.train',
    ...['--query-id', job.queryId, '--model', job.modelPath, '--data', job.dataset.path],
    ...['--features', job.dataset.features.join(','), '--label', job.dataset.label],
    ...['--spec', trainingSpecJson(job.training), '--out', job.outPath],
  ];
  if (config.allowPickle) {
    args.push('--allow-pickle');
  }
  for (const [module, alias] of Object.entries(config.moduleAliases)) {
    args.push('--module-alias', `${module}=${alias}`);
  }
  if (config.threads) {
    args.push('--threads', String(config.threads));
  }

  const env = trainerEnv(config);
  if (config.allowPickle && config.isolation === 'netns') {
    return { command: 'unshare', args: ['--net', '--map-root-user', config.python, ...args], env };
  }

  return { command: config.python, args, env };
}

/** Thrown at start when the configured isolation cannot work on this host. */
export class IsolationUnavailableError extends Error {
  constructor(detail: string) {
    super(
      'trainer.isolation is "netns" and trainer.allowPickle is true, but `unshare --net --map-root-user true` failed ' +
        `(${detail}). Enable unprivileged user namespaces (kernel.unprivileged_userns_clone=1, or in a container ` +
        'allow the unshare syscall), or set trainer.isolation to "none" to accept unpickling with network access.',
    );
    this.name = 'IsolationUnavailableError';
  }
}

/** Thrown at start when the interpreter or the gds_ml package cannot be found. */
export class TrainerUnavailableError extends Error {
  constructor(config: TrainerConfig, detail: string) {
    super(
      `cannot run the trainer: ${config.python} with PYTHONPATH=${config.pythonPath} does not find gds_ml.train ` +
        `(${detail}); check trainer.python and trainer.pythonPath`,
    );
    this.name = 'TrainerUnavailableError';
  }
}

const PROBE_TIMEOUT_MS = 20_000;

/**
 * Checks once at start that the trainer can run: the interpreter finds gds_ml.train (without importing torch), and
 * a network namespace can be made when a pickle-loading trainer will need one. An agent that cannot train must not
 * accept work only to fail it.
 */
export function assertTrainerAvailable(config: TrainerConfig): void {
  const findSpec = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('gds_ml.train') else 1)";
  const python = spawnSync(config.python, ['-c', findSpec], {
    encoding: 'utf8',
    env: trainerEnv(config),
    timeout: PROBE_TIMEOUT_MS,
  });
  if (python.error || python.status !== 0) {
    throw new TrainerUnavailableError(config, probeFailure(python));
  }

  if (!config.allowPickle || config.isolation !== 'netns') {
    return;
  }

  const unshare = spawnSync('unshare', ['--net', '--map-root-user', 'true'], { encoding: 'utf8', timeout: PROBE_TIMEOUT_MS });
  if (unshare.error || unshare.status !== 0) {
    throw new IsolationUnavailableError(probeFailure(unshare));
  }
}

function probeFailure(probe: ReturnType<typeof spawnSync>): string {
  return probe.error?.message ?? (String(probe.stderr ?? '').trim().split('\n').pop() || `exit code ${probe.status}`);
}

/** Only what Python needs: the trainer may run a customer's pickle, which should not see the agent's environment. */
function trainerEnv(config: TrainerConfig): NodeJS.ProcessEnv {
  const inherited = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', 'LOG_LEVEL', 'LD_LIBRARY_PATH', 'CUDA_VISIBLE_DEVICES'];
  const env: NodeJS.ProcessEnv = { PYTHONPATH: config.pythonPath, PYTHONUNBUFFERED: '1' };
  for (const name of inherited) {
    if (process.env[name] !== undefined) {
      env[name] = process.env[name];
    }
  }

  return env;
}

/** The spec with the proto's documented defaults applied to unset (zero) fields. */
export function trainingSpecJson(training: TrainingSpec__Output | null): string {
  const seed = training?.seed && /^\d+$/.test(training.seed) ? training.seed : '0';
  const spec = {
    epochs: training?.epochs || 5,
    batchSize: training?.batchSize || 32,
    optimizer: training?.optimizer || 'sgd',
    learningRate: training?.learningRate || 0.01,
    loss: training?.loss || 'mse',
    seed: '__SEED__',
    momentum: training?.momentum ?? 0,
  };

  // The uint64 seed goes out as a bare integer with every digit; a JS number would round it above 2^53.
  return JSON.stringify(spec).replace('"__SEED__"', seed);
}

export type TrainerOutcome =
  | { kind: 'done'; result: TrainerDoneEvent }
  | { kind: 'failed'; code: string; message: string }
  | { kind: 'cancelled' };

export interface TrainerHooks {
  logger: Logger;
  /** Called once per epoch, in order; resolving false stops the trainer (the execution was cancelled). */
  onEpoch: (event: TrainerEpochEvent) => Promise<boolean>;
  /** Aborting kills the trainer; runTrainer then rejects with the signal's reason. */
  signal: AbortSignal;
}

/** Runs the trainer to its end and turns its events and exit status into one outcome. */
export async function runTrainer(config: TrainerConfig, job: TrainerJob, hooks: TrainerHooks): Promise<TrainerOutcome> {
  hooks.signal.throwIfAborted();

  const { command, args, env } = buildTrainerCommand(config, job);
  // Its own process group, so that killing it also stops any worker processes torch started.
  const child = spawn(command, args, { cwd: job.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = waitForExit(child);
  const killer = new GroupKiller(child.pid);
  const onAbort = () => killer.kill();
  hooks.signal.addEventListener('abort', onAbort, { once: true });
  hooks.logger.debug({ command, args }, 'trainer.spawned');

  const events = collectEvents(child.stdout, hooks, () => killer.kill());
  forwardLogs(child.stderr, hooks.logger);

  try {
    const [exit, collected] = await Promise.all([exited, events]);
    hooks.signal.throwIfAborted();

    return decideOutcome(exit, collected);
  } finally {
    killer.dispose();
    hooks.signal.removeEventListener('abort', onAbort);
  }
}

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  spawnError?: Error;
}

interface CollectedEvents {
  done?: TrainerDoneEvent;
  failed?: { code: string; message: string };
  isCancelled: boolean;
}

/** Exported for tests: the outcome of a finished trainer from its exit status and the events it printed. */
export function decideOutcome(exit: ExitStatus, events: CollectedEvents): TrainerOutcome {
  if (events.isCancelled) {
    return { kind: 'cancelled' };
  }
  if (exit.spawnError) {
    return { kind: 'failed', code: 'TRAINER_UNAVAILABLE', message: `cannot start the trainer: ${exit.spawnError.message}` };
  }
  if (events.failed) {
    return { kind: 'failed', ...events.failed };
  }
  if (exit.code === TrainerExitCode.OK && events.done) {
    return { kind: 'done', result: events.done };
  }

  // Details stay in the agent's log: stderr may quote the DO's data, which must not travel to the customer.
  const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;

  return { kind: 'failed', code: 'TRAINING_FAILED', message: `the trainer ${how} without a result` };
}

function waitForExit(child: ReturnType<typeof spawn>): Promise<ExitStatus> {
  return new Promise((resolve) => {
    child.once('error', (spawnError) => resolve({ code: null, signal: null, spawnError }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
}

async function collectEvents(
  stdout: NodeJS.ReadableStream,
  hooks: TrainerHooks,
  stop: () => void,
): Promise<CollectedEvents> {
  const collected: CollectedEvents = { isCancelled: false };
  let progress = Promise.resolve();

  const lines = createInterface({ input: stdout, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const event = parseTrainerLine(line);
    if (!event) {
      hooks.logger.debug({ line: line.slice(0, 500) }, 'trainer.unparsed_output');
      return;
    }

    if (event.event === 'train.epoch') {
      // Reports go out one at a time, in epoch order, without holding up the trainer's output.
      progress = progress.then(async () => {
        if (!collected.isCancelled && !(await hooks.onEpoch(event))) {
          collected.isCancelled = true;
          stop();
        }
      });
    } else if (event.event === 'train.done') {
      collected.done = event;
    } else if (event.event === 'train.failed') {
      collected.failed = { code: event.code, message: event.message };
    }
  });

  await once(lines, 'close');
  await progress;

  return collected;
}

function forwardLogs(stderr: NodeJS.ReadableStream, logger: Logger): void {
  const lines = createInterface({ input: stderr, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const text = line.trim();
    if (!text) {
      return;
    }

    try {
      logger.debug({ trainer: JSON.parse(text) as unknown }, 'trainer.log');
    } catch {
      logger.debug({ line: text.slice(0, 2_000) }, 'trainer.output');
    }
  });
}

/** SIGTERM to the trainer's process group, then SIGKILL if it is still there after a grace period. */
class GroupKiller {
  private escalation?: NodeJS.Timeout;

  constructor(private readonly pid: number | undefined) {}

  kill(): void {
    if (this.escalation || this.pid === undefined) {
      return;
    }

    this.signal('SIGTERM');
    this.escalation = setTimeout(() => this.signal('SIGKILL'), KILL_GRACE_MS);
    this.escalation.unref();
  }

  dispose(): void {
    clearTimeout(this.escalation);
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid!, signal);
    } catch {
      // Already gone.
    }
  }
}
