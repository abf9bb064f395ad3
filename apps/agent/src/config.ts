import { readFileSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

import { chainSubscriptionConfigSchema, type ChainSubscriptionConfig } from '@gds/chain';

/** How the agent learns of new work. */
export const NotificationSource = {
  /** Reads the registry contract's QuerySubmitted events from a stored cursor (the `chain` section). */
  CHAIN: 'chain',
  /** Holds a WatchAssignments stream open to GDS: for Data Owners without access to the chain. */
  WATCH: 'watch',
} as const;
export type NotificationSource = (typeof NotificationSource)[keyof typeof NotificationSource];

/** `<repo>/python`, found from this file's place in apps/agent/{src,dist}. */
const DEFAULT_PYTHON_PATH = fileURLToPath(new URL('../../../python', import.meta.url));

const MAX_PORT = 65_535;

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/;

const hostPort = z.string().refine((value) => {
  const port = Number(HOST_PORT.exec(value)?.[2] ?? 0);

  return port >= 1 && port <= MAX_PORT;
}, 'expected host:port with a port from 1 to 65535, e.g. localhost:50051');

const nonEmpty = z.string().trim().min(1);

const datasetSchema = z
  .object({
    /** Name announced to GDS; Query Customers may pick a dataset by name. */
    name: nonEmpty,
    /** CSV file with a header line. */
    path: nonEmpty,
    features: z.array(nonEmpty).min(1),
    label: nonEmpty,
  })
  .strict();

const trainerSchema = z
  .object({
    /** Interpreter that runs `-m gds_ml.train`. */
    python: nonEmpty.default('/usr/bin/python3'),
    /** PYTHONPATH of the trainer; default `<repo>/python`. */
    pythonPath: nonEmpty.optional(),
    /** Lets the trainer unpickle models (torch.save / pickle formats). Pickle runs code on load: off by default. */
    allowPickle: z.boolean().default(false),
    /** `--module-alias KEY=VALUE` pairs, e.g. {"__main__": "gds_ml.demo_models"}. */
    moduleAliases: z.record(nonEmpty, nonEmpty).default({}),
    /** "netns": a trainer that may unpickle runs in a network namespace of its own, with no network at all. */
    isolation: z.enum(['netns', 'none']).default('netns'),
    /** Torch threads per trainer. */
    threads: z.number().int().min(1).max(1024).optional(),
  })
  .strict();

const tlsSchema = z
  .object({
    /** PEM bundle of the CAs that signed the GDS certificate; the system roots when absent. */
    caFile: nonEmpty.optional(),
  })
  .strict();

const configSchema = z
  .object({
    gdsAddress: hostPort,
    name: nonEmpty,
    /** PEM Ed25519 private key; `register` creates it (mode 0600) when absent. */
    keyFile: nonEmpty,
    /** Identity, execution records and temp files. */
    stateDir: nonEmpty,
    /** Required when the GDS operator set GDS_DO_ENROLLMENT_TOKEN. Secret. */
    enrollmentToken: nonEmpty.optional(),
    datasets: z
      .array(datasetSchema)
      .min(1)
      .refine((list) => new Set(list.map((dataset) => dataset.name)).size === list.length, 'dataset names must be unique'),
    trainer: trainerSchema.default({}),
    /** Executions trained at the same time. */
    concurrency: z.number().int().min(1).max(64).default(1),
    /** Absent: plaintext gRPC (development and the single-machine demo). */
    tls: tlsSchema.optional(),
    /** "chain": woken by the registry's events (needs `chain`); "watch": the WatchAssignments stream. */
    notifications: z.enum([NotificationSource.CHAIN, NotificationSource.WATCH]).default(NotificationSource.WATCH),
    /** Where the registry is and how to read it; required when notifications is "chain". */
    chain: chainSubscriptionConfigSchema.optional(),
  })
  .strict()
  .superRefine((config, context) => {
    if (config.notifications === NotificationSource.CHAIN && !config.chain) {
      context.addIssue({ code: z.ZodIssueCode.custom, path: ['chain'], message: 'required when notifications is "chain"' });
    }
  });

export type DatasetConfig = z.infer<typeof datasetSchema>;

export type TrainerConfig = Omit<z.infer<typeof trainerSchema>, 'pythonPath'> & { pythonPath: string };

export type AgentConfig = Omit<z.infer<typeof configSchema>, 'trainer' | 'chain'> & {
  trainer: TrainerConfig;
  chain?: ChainSubscriptionConfig;
  /** Absolute path of the file the config came from. */
  configPath: string;
};

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[] = [],
  ) {
    super(issues.length ? `${message}\n${issues.map((issue) => `  - ${issue}`).join('\n')}` : message);
    this.name = 'ConfigError';
  }
}

/** Reads and validates the agent's JSON config; relative paths resolve against the config file's folder. */
export function loadConfig(configPath: string): AgentConfig {
  const absolutePath = resolve(configPath);

  let text: string;
  try {
    text = readFileSync(absolutePath, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read agent config ${absolutePath}: ${(error as Error).message}`);
  }

  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`agent config ${absolutePath} is not valid JSON: ${(error as Error).message}`);
  }

  return parseConfig(raw, absolutePath);
}

/** Validates an already parsed config; every bad field is listed in one ConfigError. */
export function parseConfig(raw: unknown, configPath: string): AgentConfig {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`invalid agent config ${configPath}:`, formatIssues(parsed.error));
  }

  const baseDir = dirname(configPath);
  const config = parsed.data;
  const at = (path: string): string => resolve(baseDir, path);

  return {
    ...config,
    configPath,
    keyFile: at(config.keyFile),
    stateDir: at(config.stateDir),
    datasets: config.datasets.map((dataset) => ({ ...dataset, path: at(dataset.path) })),
    trainer: {
      ...config.trainer,
      python: resolveExecutable(baseDir, config.trainer.python),
      pythonPath: config.trainer.pythonPath ? resolveSearchPath(baseDir, config.trainer.pythonPath) : DEFAULT_PYTHON_PATH,
    },
    tls: config.tls && { caFile: config.tls.caFile && at(config.tls.caFile) },
    chain: config.chain && { ...config.chain, deploymentFile: config.chain.deploymentFile && at(config.chain.deploymentFile) },
  };
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.join('.') : '(root)';

    return `${field}: ${issue.message}`;
  });
}

/** A bare command name ("python3") is left for PATH lookup; anything with a slash is a path. */
function resolveExecutable(baseDir: string, command: string): string {
  return command.includes('/') ? resolve(baseDir, command) : command;
}

function resolveSearchPath(baseDir: string, searchPath: string): string {
  return searchPath
    .split(delimiter)
    .map((entry) => (isAbsolute(entry) ? entry : resolve(baseDir, entry)))
    .join(delimiter);
}
