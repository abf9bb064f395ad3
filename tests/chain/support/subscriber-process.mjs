// A Data Owner's subscriber as its own process, for tests that SIGKILL it. Argument: a JSON object with
// rpcUrl, wsUrl, chainId, contractAddress, deployBlock, cursorPath, handledPath, deliveriesPath, handlerDelayMs.
// Every delivery is appended to deliveriesPath; the effect (a line in handledPath, fsynced) happens once per event
// key, as the agent's execution store does it. Uses the built library (libs/chain/dist).
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';

import { ChainSubscriber, createChainClients, FileCursorStore } from '@gds/chain';
import { createLogger } from '@gds/common';

const options = JSON.parse(process.argv[2]);
const logger = createLogger('subscriber-process', 'info');
const handled = new Set(existsSync(options.handledPath) ? readFileSync(options.handledPath, 'utf8').split('\n').filter(Boolean) : []);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function appendDurably(path, line) {
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

const clients = createChainClients({ rpcUrl: options.rpcUrl, wsUrl: options.wsUrl, chainId: options.chainId });
const subscriber = new ChainSubscriber({
  clients,
  contractAddress: options.contractAddress,
  deployBlock: BigInt(options.deployBlock),
  cursorStore: new FileCursorStore(options.cursorPath, { chainId: options.chainId, contractAddress: options.contractAddress }),
  logger,
  backstopMs: 500,
  handler: async ({ key }) => {
    appendFileSync(options.deliveriesPath, `${key}\n`);
    if (options.handlerDelayMs) await sleep(options.handlerDelayMs);
    if (handled.has(key)) return;

    appendDurably(options.handledPath, key);
    handled.add(key);
  },
});

await subscriber.start();
process.once('SIGTERM', async () => {
  await subscriber.stop();
  process.exit(0);
});
