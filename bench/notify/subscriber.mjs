// One bench "agent": a ChainSubscriber in its own process that reports every delivered event key over IPC.
// Argument: JSON { rpcUrl, wsUrl, chainId, contractAddress, deployBlock }.
import { ChainSubscriber, createChainClients, MemoryCursorStore } from '@gds/chain';
import { createLogger } from '@gds/common';

const options = JSON.parse(process.argv[2]);
const subscriber = new ChainSubscriber({
  clients: createChainClients({ rpcUrl: options.rpcUrl, wsUrl: options.wsUrl, chainId: options.chainId }),
  contractAddress: options.contractAddress,
  deployBlock: BigInt(options.deployBlock),
  cursorStore: new MemoryCursorStore(),
  logger: createLogger('bench-subscriber', 'warn'),
  handler: async ({ key }) => {
    process.send({ key });
  },
});

await subscriber.start();
process.send({ ready: true });
process.on('disconnect', async () => {
  await subscriber.stop();
  process.exit(0);
});
