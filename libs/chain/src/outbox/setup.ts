import type { Logger } from '@gds/common';
import type { PrismaClient } from '@gds/db';

import { accountFromKey, createChainClients } from '../client.js';
import { type ChainConfig, ChainMode } from '../config.js';
import { resolveRegistry } from '../setup.js';
import { OutboxRelay } from './relay.js';

/**
 * The relay for this process's configuration (CHAIN_MODE embedded or external, with a signing key). It checks the
 * chain on its first pass, not here, so that a worker starts while the chain is down; call `verify()` to fail fast.
 */
export function createOutboxRelay(config: ChainConfig, deps: { prisma: PrismaClient; logger: Logger }): OutboxRelay {
  if (config.mode === ChainMode.OFF) throw new Error('CHAIN_MODE=off: there is no chain to relay to');
  if (!config.privateKey) throw new Error('the outbox relay needs CHAIN_PRIVATE_KEY');

  const target = resolveRegistry(config);

  return new OutboxRelay({
    prisma: deps.prisma,
    logger: deps.logger,
    clients: createChainClients(config),
    account: accountFromKey(config.privateKey),
    contractAddress: target.contractAddress,
    confirmations: config.confirmations,
    resendAfterMs: config.resendAfterMs,
  });
}
