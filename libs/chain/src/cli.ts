#!/usr/bin/env node
// gds-chain: run the embedded chain (demo, tests), deploy the registry on a network, show where things stand.
//   gds-chain embedded   start or reuse anvil under CHAIN_DATA_DIR, deploy when needed, print chain.ready, stop on
//                        SIGINT/SIGTERM
//   gds-chain deploy     deploy the registry with CHAIN_PRIVATE_KEY at CHAIN_RPC_URL (external networks)
//   gds-chain status     the chain's head and the registry's operator
// Configuration comes from the CHAIN_* environment variables (see config.ts).
import { createLogger } from '@gds/common';

import { accountFromKey, assertChainReachable, assertRegistryDeployed, createChainClients } from './client.js';
import { ChainConfigError, ChainMode, parseChainConfig } from './config.js';
import { deployRegistry } from './deployment.js';
import { ensureEmbeddedChain, resolveRegistry } from './setup.js';

const logger = createLogger('gds-chain');

function print(event: string, fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ event, ...fields }, (_key, value) => (typeof value === 'bigint' ? value.toString() : value))}\n`);
}

async function embedded(): Promise<void> {
  const config = parseChainConfig({ ...process.env, CHAIN_MODE: ChainMode.EMBEDDED }, { needsSigner: true });
  const chain = await ensureEmbeddedChain(config, logger);
  print('chain.ready', {
    rpcUrl: chain.clients.endpoint.rpcUrl,
    wsUrl: chain.clients.wsUrl,
    chainId: config.chainId,
    contractAddress: chain.deployment.address,
    deployBlock: chain.deployment.deployBlock,
    operator: chain.deployment.operator,
    dataDir: config.dataDir,
  });

  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await chain.supervisor.stop();
}

async function deploy(): Promise<void> {
  const config = parseChainConfig({ ...process.env, CHAIN_MODE: ChainMode.EXTERNAL }, { needsSigner: true, needsContract: false });
  const clients = createChainClients(config);
  await assertChainReachable(clients);
  const deployment = await deployRegistry(clients, accountFromKey(config.privateKey!));
  print('chain.registry.deployed', { ...deployment, env: `CHAIN_CONTRACT_ADDRESS=${deployment.address} CHAIN_DEPLOY_BLOCK=${deployment.deployBlock}` });
}

async function status(): Promise<void> {
  const config = parseChainConfig(process.env);
  const clients = createChainClients(config);
  await assertChainReachable(clients);
  const target = resolveRegistry(config);
  const registry = await assertRegistryDeployed(clients, target.contractAddress);
  const head = await clients.public.getBlockNumber();
  print('chain.status', { rpcUrl: config.rpcUrl, chainId: config.chainId, head, ...target, ...registry });
}

const commands: Record<string, () => Promise<void>> = { embedded, deploy, status };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  process.stderr.write('usage: gds-chain embedded|deploy|status (configured by CHAIN_* variables)\n');
  process.exit(2);
}

try {
  await command();
  process.exit(0);
} catch (error) {
  if (error instanceof ChainConfigError) process.stderr.write(`${error.message}\n`);
  else logger.error({ event: 'chain.cli.failed', command: process.argv[2], err: error });
  process.exit(1);
}
