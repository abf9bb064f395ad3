// The outbox relay as its own process, for tests that SIGKILL it. Argument: a JSON object with databaseUrl,
// rpcUrl, chainId, contractAddress, privateKey and crashBeforeBroadcast (SIGKILL itself once rows are SENT).
// Prints the pass result as one JSON line. Uses the built library (libs/chain/dist).
import { accountFromKey, createChainClients } from '@gds/chain';
import { OutboxRelay } from '@gds/chain/outbox';
import { createLogger } from '@gds/common';
import { createPrismaClient } from '@gds/db';

const options = JSON.parse(process.argv[2]);
const prisma = createPrismaClient(options.databaseUrl, 3);
const relay = new OutboxRelay({
  prisma,
  clients: createChainClients({ rpcUrl: options.rpcUrl, chainId: options.chainId }),
  account: accountFromKey(options.privateKey),
  contractAddress: options.contractAddress,
  logger: createLogger('relay-process', 'warn'),
  beforeBroadcast: () => {
    if (options.crashBeforeBroadcast) process.kill(process.pid, 'SIGKILL');
  },
});

const result = await relay.runOnce();
process.stdout.write(`${JSON.stringify(result)}\n`);
await prisma.$disconnect();
