// Deploying the registry, and embedded mode's record of where it is (`<dataDir>/chain.json`).
import { existsSync, readFileSync } from 'node:fs';

import { type Address, getAddress, type Hex, keccak256 } from 'viem';

import type { Logger } from '@gds/common';

import { assertChainReachable, type ChainClients, type RegistryAccount } from './client.js';
import { deploymentFile } from './config.js';
import { currentFees } from './fees.js';
import { writeFileAtomic } from './files.js';
import { registryBytecode, registryCodeHash } from './registry.js';

export interface ChainDeployment {
  address: Address;
  /** The block of the deployment: where subscribers start. */
  deployBlock: bigint;
  chainId: number;
  txHash: Hex;
  operator: Address;
  deployedAt: string;
}

const RECEIPT_TIMEOUT_MS = 60_000;

/** Deploys this build's registry from `account`, which becomes its operator. */
export async function deployRegistry(clients: ChainClients, account: RegistryAccount): Promise<ChainDeployment> {
  const client = clients.public;
  const [nonce, fees] = await Promise.all([
    client.getTransactionCount({ address: account.address, blockTag: 'pending' }),
    currentFees(client),
  ]);
  const gas = await client.estimateGas({ account: account.address, data: registryBytecode });
  const serializedTransaction = await account.signTransaction({
    chainId: clients.chain.id,
    nonce,
    data: registryBytecode,
    gas: (gas * 12n) / 10n,
    ...fees,
  } as Parameters<RegistryAccount['signTransaction']>[0]);

  const txHash = await client.sendRawTransaction({ serializedTransaction });
  const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 50, timeout: RECEIPT_TIMEOUT_MS });
  if (receipt.status !== 'success' || !receipt.contractAddress) {
    throw new Error(`deploying the registry failed in transaction ${txHash}`);
  }

  return {
    address: getAddress(receipt.contractAddress),
    deployBlock: receipt.blockNumber,
    chainId: clients.chain.id,
    txHash,
    operator: account.address,
    deployedAt: new Date().toISOString(),
  };
}

/** Embedded mode's record in `<dataDir>/chain.json`, null before the first deployment. */
export function readDeployment(dataDir: string): ChainDeployment | null {
  return readDeploymentFile(deploymentFile(dataDir));
}

export function readDeploymentFile(path: string): ChainDeployment | null {
  if (!existsSync(path)) return null;

  const stored = JSON.parse(readFileSync(path, 'utf8')) as ChainDeployment & { deployBlock: string };

  return { ...stored, address: getAddress(stored.address), deployBlock: BigInt(stored.deployBlock) };
}

export async function writeDeployment(dataDir: string, deployment: ChainDeployment): Promise<void> {
  const stored = { ...deployment, deployBlock: deployment.deployBlock.toString() };
  await writeFileAtomic(deploymentFile(dataDir), `${JSON.stringify(stored, null, 2)}\n`);
}

/**
 * Embedded mode: the registry recorded in chain.json when this build's code is still there, otherwise a fresh
 * deployment (first start, a chain reset, or a changed contract), recorded for the next start and for agents.
 */
export async function ensureRegistry(clients: ChainClients, account: RegistryAccount, dataDir: string, logger: Logger): Promise<ChainDeployment> {
  await assertChainReachable(clients);
  const recorded = readDeployment(dataDir);
  const reason = await staleReason(clients, recorded);
  if (!reason) return recorded!;

  const deployment = await deployRegistry(clients, account);
  await writeDeployment(dataDir, deployment);
  logger.info({
    event: 'chain.registry.deployed',
    reason,
    address: deployment.address,
    deployBlock: deployment.deployBlock.toString(),
    previousAddress: recorded?.address ?? null,
  });

  return deployment;
}

async function staleReason(clients: ChainClients, recorded: ChainDeployment | null): Promise<string | null> {
  if (!recorded) return 'first_start';
  if (recorded.chainId !== clients.chain.id) return 'other_chain';

  const code = await clients.public.getCode({ address: recorded.address });
  if (!code || code === '0x') return 'no_code';
  if (keccak256(code) !== registryCodeHash) return 'other_build';

  const block = await clients.public.getBlock({ blockNumber: recorded.deployBlock }).catch(() => null);

  return block ? null : 'chain_reset';
}
