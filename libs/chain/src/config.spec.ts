import { describe, expect, it } from '@jest/globals';

import { ChainConfigError, DEV_PRIVATE_KEYS, describeChainConfig, parseChainConfig } from './config.js';

const KEY = `0x${'11'.repeat(32)}`;
const ADDRESS = '0x5FbDB2315678afecb367f032d93F642f64180aa3';

function problemsOf(env: Record<string, string>, options = {}): string[] {
  try {
    parseChainConfig(env, options);
  } catch (error) {
    if (error instanceof ChainConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('parseChainConfig', () => {
  it('should default to off', () => {
    expect(parseChainConfig({}).mode).toBe('off');
  });

  it('should need nothing in embedded mode: local anvil, chain 31337, the first development key', () => {
    const config = parseChainConfig({ CHAIN_MODE: 'embedded', CHAIN_ANVIL_PORT: '9545', GDS_DATA_DIR: '/data' });

    expect(config).toMatchObject({
      rpcUrl: 'http://127.0.0.1:9545',
      wsUrl: 'ws://127.0.0.1:9545',
      chainId: 31337,
      privateKey: DEV_PRIVATE_KEYS[0],
      dataDir: '/data/chain',
      confirmations: 0,
      deployBlock: 0n,
    });
  });

  it('should list every missing or bad variable at once', () => {
    const problems = problemsOf(
      { CHAIN_MODE: 'external', CHAIN_ID: 'x', CHAIN_WS_URL: 'http://nope', CHAIN_CONFIRMATIONS: '-1', CHAIN_PRIVATE_KEY: '0x12' },
      { needsSigner: true },
    );

    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual(
      ['CHAIN_CONFIRMATIONS', 'CHAIN_CONTRACT_ADDRESS', 'CHAIN_ID', 'CHAIN_PRIVATE_KEY', 'CHAIN_RPC_URL', 'CHAIN_WS_URL'].sort(),
    );
  });

  it('should refuse the public development keys outside embedded mode', () => {
    const env = { CHAIN_MODE: 'external', CHAIN_RPC_URL: 'http://node:8545', CHAIN_ID: '1337', CHAIN_CONTRACT_ADDRESS: ADDRESS };

    expect(problemsOf({ ...env, CHAIN_PRIVATE_KEY: DEV_PRIVATE_KEYS[0].toUpperCase().replace('0X', '0x') })).toEqual([
      'CHAIN_PRIVATE_KEY: a public development key is only allowed with CHAIN_MODE=embedded',
    ]);
    expect(parseChainConfig({ ...env, CHAIN_PRIVATE_KEY: KEY }, { needsSigner: true }).privateKey).toBe(KEY);
  });

  it('should let a reader (agent) go without a key, and poll without a WebSocket', () => {
    const config = parseChainConfig({ CHAIN_MODE: 'external', CHAIN_RPC_URL: 'https://node', CHAIN_ID: '10', CHAIN_CONTRACT_ADDRESS: ADDRESS.toLowerCase() });

    expect(config).toMatchObject({ privateKey: null, wsUrl: null, contractAddress: ADDRESS });
  });

  it('should never show the key when described for a log line', () => {
    const described = describeChainConfig(parseChainConfig({ CHAIN_MODE: 'embedded' }));

    expect(JSON.stringify(described)).not.toContain(DEV_PRIVATE_KEYS[0].slice(2));
    expect(described.signer).toBe('0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  });
});
