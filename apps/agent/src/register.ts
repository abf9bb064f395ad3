import type { Logger } from '@gds/common';

import type { AgentConfig } from './config.js';
import { describeDataset, toProtoDataset } from './datasets.js';
import { GdsClient } from './gds-client.js';
import { ensureSigningKey, localKeyId, writeIdentity, type AgentIdentity } from './identity.js';

/** Creates the key if needed, announces the key and datasets to GDS and records the identity GDS returns. */
export async function registerAgent(config: AgentConfig, logger: Logger): Promise<AgentIdentity> {
  const key = await ensureSigningKey(config.keyFile, logger);
  const datasets = await Promise.all(config.datasets.map(describeDataset));

  const client = GdsClient.fromConfig(config, key, logger);
  let identity: AgentIdentity;
  try {
    const response = await client.registerDataOwner({
      name: config.name,
      datasets: datasets.map(toProtoDataset),
      enrollmentToken: config.enrollmentToken ?? '',
    });
    identity = { dataOwnerId: response.dataOwnerId, keyId: response.keyId };
  } finally {
    client.close();
  }

  if (identity.keyId !== localKeyId(key)) {
    logger.warn({ keyId: identity.keyId, localKeyId: localKeyId(key) }, 'register.key_id_mismatch');
  }
  await writeIdentity(config.stateDir, identity);

  const registered = datasets.map(({ config: dataset, contentHash, rowCount }) => ({ name: dataset.name, contentHash, rowCount }));
  logger.debug({ ...identity, datasets: registered }, 'agent.registered');

  return identity;
}
