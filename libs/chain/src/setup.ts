// Wiring from configuration: where the registry is, the embedded chain, and a subscriber for an agent.
import { join } from 'node:path';

import { type Address, getAddress, isAddress } from 'viem';
import { z } from 'zod';

import { GdsErrorCode, GdsException, type Logger } from '@gds/common';

import { type EmbeddedChain, startEmbeddedChain } from './anvil.js';
import { accountFromKey, createChainClients } from './client.js';
import { type ChainConfig, ChainMode } from './config.js';
import { FileCursorStore } from './cursor.store.js';
import { readDeployment, readDeploymentFile } from './deployment.js';
import { type ChainEventHandler, ChainSubscriber } from './subscriber.js';

export interface RegistryTarget {
  contractAddress: Address;
  deployBlock: bigint;
}

/** The registry: CHAIN_CONTRACT_ADDRESS when set, else (embedded mode) what `<dataDir>/chain.json` records. */
export function resolveRegistry(config: ChainConfig): RegistryTarget {
  if (config.contractAddress) return { contractAddress: config.contractAddress, deployBlock: config.deployBlock };

  const deployment = config.mode === ChainMode.EMBEDDED ? readDeployment(config.dataDir) : null;
  if (!deployment) {
    throw new GdsException(
      GdsErrorCode.PRECONDITION_FAILED,
      `no registry address: set CHAIN_CONTRACT_ADDRESS, or start the embedded chain first (${join(config.dataDir, 'chain.json')} is missing)`,
      { dataDir: config.dataDir },
    );
  }

  return { contractAddress: deployment.address, deployBlock: deployment.deployBlock };
}

/** Embedded mode: starts anvil under `config.dataDir` (or reuses the running one) with the registry deployed. */
export async function ensureEmbeddedChain(config: ChainConfig, logger: Logger): Promise<EmbeddedChain> {
  if (config.mode !== ChainMode.EMBEDDED) throw new Error(`ensureEmbeddedChain needs CHAIN_MODE=embedded, not ${config.mode}`);

  return startEmbeddedChain({
    dataDir: config.dataDir,
    port: config.anvilPort,
    chainId: config.chainId,
    blockTime: config.anvilBlockTime,
    account: accountFromKey(config.privateKey!),
    logger,
  });
}

const address = z
  .string()
  .refine((value) => isAddress(value, { strict: false }), 'expected a 0x-prefixed 20-byte address')
  .transform((value) => getAddress(value));

/** The `chain` section of an agent's config file: how a Data Owner's agent reads the registry. */
export const chainSubscriptionConfigSchema = z
  .object({
    /** JSON-RPC over HTTP(S) of any node of the network. */
    rpcUrl: z.string().url(),
    /** JSON-RPC over WebSocket, for newHeads (wake-up only); without it the agent polls every pollMs. */
    wsUrl: z.string().url().optional(),
    chainId: z.number().int().positive(),
    /** The registry GDS announces on. */
    contractAddress: address.optional(),
    /** Single-machine demo: read contractAddress and deployBlock from GDS's chain.json instead. */
    deploymentFile: z.string().min(1).optional(),
    deployBlock: z
      .union([z.number().int().min(0), z.string().regex(/^\d+$/)])
      .transform((value) => BigInt(value))
      .default(0),
    confirmations: z.number().int().min(0).default(0),
    pollMs: z.number().int().min(50).default(1000),
    backstopMs: z.number().int().min(100).default(5000),
    logRange: z.number().int().min(1).default(2000),
    /** Refuse a registry operated by any other account (the GDS operator's address, published by GDS). */
    operatorAddress: address.optional(),
  })
  .strict()
  .refine((value) => value.contractAddress || value.deploymentFile, 'contractAddress or deploymentFile is required');

export type ChainSubscriptionConfig = z.output<typeof chainSubscriptionConfigSchema>;

export interface AgentSubscriberOptions {
  config: ChainSubscriptionConfig;
  /** The cursor file, in the agent's state dir. */
  cursorPath: string;
  handler: ChainEventHandler;
  logger: Logger;
}

/** A subscriber with a file cursor, built from an agent's `chain` config section. Call `start()`. */
export function createChainSubscriber(options: AgentSubscriberOptions): ChainSubscriber {
  const { config } = options;
  const target = agentRegistryTarget(config);
  const clients = createChainClients({ rpcUrl: config.rpcUrl, wsUrl: config.wsUrl ?? null, chainId: config.chainId });

  return new ChainSubscriber({
    clients,
    contractAddress: target.contractAddress,
    deployBlock: target.deployBlock,
    cursorStore: new FileCursorStore(options.cursorPath, { chainId: config.chainId, contractAddress: target.contractAddress }),
    handler: options.handler,
    logger: options.logger,
    confirmations: config.confirmations,
    logRange: BigInt(config.logRange),
    pollMs: config.pollMs,
    backstopMs: config.backstopMs,
    expectedOperator: config.operatorAddress,
  });
}

function agentRegistryTarget(config: ChainSubscriptionConfig): RegistryTarget {
  if (config.contractAddress) return { contractAddress: config.contractAddress, deployBlock: config.deployBlock };

  const deployment = readDeploymentFile(config.deploymentFile!);
  if (!deployment) {
    throw new GdsException(GdsErrorCode.PRECONDITION_FAILED, `${config.deploymentFile} does not exist: is the GDS chain started?`, {});
  }

  return { contractAddress: deployment.address, deployBlock: deployment.deployBlock };
}
