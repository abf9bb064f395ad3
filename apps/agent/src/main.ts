#!/usr/bin/env node
import { parseArgs } from 'node:util';

import { createLogger, type Logger } from '@gds/common';

import { ChainNotifier } from './chain-notifier.js';
import { ConfigError, loadConfig, NotificationSource, type AgentConfig } from './config.js';
import { AgentDaemon } from './daemon.js';
import { DatasetCatalog } from './datasets.js';
import { ExecutionStore } from './execution-store.js';
import { Executor } from './executor.js';
import { GdsCallError, GdsClient } from './gds-client.js';
import { MissingKeyError, readIdentity, readSigningKey, type AgentIdentity } from './identity.js';
import { registerAgent } from './register.js';
import { assertTrainerAvailable, IsolationUnavailableError, TrainerUnavailableError } from './trainer.js';

const USAGE = `Usage: gds-agent <register|run> [--config PATH]

  register   create the signing key if missing, hash the datasets and register them with GDS
  run        learn of assignments (the chain, or WatchAssignments: the config's "notifications") and train them
             until SIGTERM/SIGINT

  --config PATH   agent config (JSON); default: the GDS_AGENT_CONFIG environment variable
`;

/** Exit codes: 0 done, 1 runtime failure, 2 bad usage or config. */
enum ExitCode {
  OK = 0,
  FAILURE = 1,
  USAGE = 2,
}

/** A clean shutdown must finish within this; past it the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 8_000;

async function main(argv: string[]): Promise<ExitCode> {
  const args = parseCommandLine(argv);
  if (!args) {
    process.stderr.write(USAGE);
    return ExitCode.USAGE;
  }

  const { values, positionals } = args;
  const command = positionals[0];
  const configPath = values.config ?? process.env.GDS_AGENT_CONFIG;

  if (values.help || !command || !['register', 'run'].includes(command) || positionals.length > 1 || !configPath) {
    process.stderr.write(USAGE);
    return values.help ? ExitCode.OK : ExitCode.USAGE;
  }

  const config = loadConfig(configPath);
  const logger = createLogger('agent').child({ agent: config.name });

  return command === 'register' ? register(config, logger) : run(config, logger);
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch {
    return undefined;
  }
}

async function register(config: AgentConfig, logger: Logger): Promise<ExitCode> {
  const identity = await registerAgent(config, logger);
  process.stdout.write(`${JSON.stringify(identity)}\n`);

  return ExitCode.OK;
}

async function run(config: AgentConfig, logger: Logger): Promise<ExitCode> {
  assertTrainerAvailable(config.trainer);
  const key = await readSigningKey(config.keyFile, logger);
  const identity = await readIdentity(config.stateDir);

  const client = GdsClient.fromConfig(config, key, logger);
  const store = new ExecutionStore(config.stateDir);
  const catalog = new DatasetCatalog(config.datasets, logger);
  const executor = new Executor({ config, client, store, catalog });
  const notifier = config.notifications === NotificationSource.CHAIN ? createNotifier(config, identity, client, store, logger) : undefined;
  const daemon = new AgentDaemon({ config, client, store, executor, logger, notifier });

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'agent.signal');
    setTimeout(() => process.exit(ExitCode.OK), SHUTDOWN_DEADLINE_MS).unref();
    daemon.stop();
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);

  logger.info(
    {
      dataOwnerId: identity?.dataOwnerId,
      gdsAddress: config.gdsAddress,
      concurrency: config.concurrency,
      notifications: config.notifications,
    },
    'agent.started',
  );
  await daemon.run();
  client.close();
  logger.info({}, 'agent.stopped');

  return ExitCode.OK;
}

/** Chain mode reads announcements for this Data Owner: its id comes from `register`. */
function createNotifier(
  config: AgentConfig,
  identity: AgentIdentity | undefined,
  client: GdsClient,
  store: ExecutionStore,
  logger: Logger,
): ChainNotifier {
  if (!identity) {
    throw new ConfigError(`notifications "chain" needs this agent's Data Owner id: run \`gds-agent register --config ${config.configPath}\` first`);
  }

  return new ChainNotifier({ chain: config.chain!, stateDir: config.stateDir, dataOwnerId: identity.dataOwnerId, client, store, logger });
}

/** Expected failures get their message only; anything else its stack, for a bug report. */
function describeFatal(error: unknown): string {
  if (error instanceof GdsCallError) {
    return `the call to GDS failed: ${error.codeName}: ${error.message}`;
  }

  const expected = [ConfigError, MissingKeyError, IsolationUnavailableError, TrainerUnavailableError];
  if (expected.some((type) => error instanceof type)) {
    return (error as Error).message;
  }

  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`gds-agent: ${describeFatal(error)}\n`);
    process.exit(error instanceof ConfigError ? ExitCode.USAGE : ExitCode.FAILURE);
  },
);
