import { describe, expect, it } from '@jest/globals';

import { ConfigError, parseConfig } from './config.js';

function validConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gdsAddress: 'localhost:50051',
    name: 'do-1',
    keyFile: 'keys/agent.pem',
    stateDir: 'state',
    datasets: [{ name: 'toy', path: 'data/toy.csv', features: ['x1', 'x2'], label: 'y' }],
    ...overrides,
  };
}

function issuesOf(raw: unknown): string[] {
  try {
    parseConfig(raw, '/etc/gds/agent.json');
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).issues;
  }

  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('should apply defaults and resolve paths against the config folder', () => {
    const config = parseConfig(validConfig(), '/etc/gds/agent.json');

    expect(config.keyFile).toBe('/etc/gds/keys/agent.pem');
    expect(config.stateDir).toBe('/etc/gds/state');
    expect(config.datasets[0].path).toBe('/etc/gds/data/toy.csv');
    expect(config.concurrency).toBe(1);
    expect(config.trainer).toMatchObject({ python: '/usr/bin/python3', allowPickle: false, isolation: 'netns', moduleAliases: {} });
    expect(config.trainer.pythonPath).toMatch(/\/python$/);
  });

  it('should keep a bare python command for PATH lookup and resolve a relative pythonPath', () => {
    const config = parseConfig(validConfig({ trainer: { python: 'python3', pythonPath: '../py' } }), '/etc/gds/agent.json');

    expect(config.trainer.python).toBe('python3');
    expect(config.trainer.pythonPath).toBe('/etc/py');
  });

  it('should list every bad field in one error', () => {
    const issues = issuesOf({
      gdsAddress: 'no-port',
      name: '',
      stateDir: 'state',
      datasets: [{ name: 'toy', path: 'toy.csv', features: [] }],
      trainer: { isolation: 'chroot', typo: true },
      concurrency: 0,
    });

    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^gdsAddress: /),
        expect.stringMatching(/^name: /),
        expect.stringMatching(/^keyFile: /),
        expect.stringMatching(/^datasets\.0\.features: /),
        expect.stringMatching(/^datasets\.0\.label: /),
        expect.stringMatching(/^trainer\.isolation: /),
        expect.stringMatching(/^trainer: .*typo/),
        expect.stringMatching(/^concurrency: /),
      ]),
    );
    expect(issues).toHaveLength(8);
  });

  it('should refuse a port out of range', () => {
    expect(issuesOf(validConfig({ gdsAddress: 'localhost:70000' }))).toEqual([expect.stringMatching(/^gdsAddress: /)]);
  });

  it('should accept an IPv6 address', () => {
    expect(parseConfig(validConfig({ gdsAddress: '[::1]:50051' }), '/a.json').gdsAddress).toBe('[::1]:50051');
  });

  it('should refuse duplicate dataset names', () => {
    const dataset = { name: 'toy', path: 'a.csv', features: ['x'], label: 'y' };

    expect(issuesOf(validConfig({ datasets: [dataset, { ...dataset, path: 'b.csv' }] }))).toEqual([
      'datasets: dataset names must be unique',
    ]);
  });
});

describe('parseConfig: notifications', () => {
  const chain = { rpcUrl: 'http://127.0.0.1:8545', wsUrl: 'ws://127.0.0.1:8545', chainId: 31337, deploymentFile: '../gds/chain/chain.json' };

  it('should default to the WatchAssignments stream, with no chain section', () => {
    const config = parseConfig(validConfig(), '/etc/gds/agent.json');

    expect(config.notifications).toBe('watch');
    expect(config.chain).toBeUndefined();
  });

  it('should require the chain section when notifications is "chain"', () => {
    expect(issuesOf(validConfig({ notifications: 'chain' }))).toEqual(['chain: required when notifications is "chain"']);
  });

  it('should apply the chain defaults and resolve the deployment file against the config folder', () => {
    const config = parseConfig(validConfig({ notifications: 'chain', chain }), '/etc/gds/agent.json');

    expect(config.chain).toMatchObject({ chainId: 31337, confirmations: 0, deployBlock: 0n, deploymentFile: '/etc/gds/chain/chain.json' });
  });

  it('should checksum a contract address and take a deploy block given as a string', () => {
    const address = '0x5fbdb2315678afecb367f032d93f642f64180aa3';
    const config = parseConfig(
      validConfig({ notifications: 'chain', chain: { rpcUrl: chain.rpcUrl, chainId: 1, contractAddress: address, deployBlock: '42' } }),
      '/a.json',
    );

    expect(config.chain).toMatchObject({ contractAddress: '0x5FbDB2315678afecb367f032d93F642f64180aa3', deployBlock: 42n });
  });

  it('should name every bad field of the chain section', () => {
    const issues = issuesOf(
      validConfig({ notifications: 'chain', chain: { rpcUrl: 'not a url', chainId: 0, contractAddress: '0x12', typo: 1 } }),
    );

    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^chain\.rpcUrl: /),
        expect.stringMatching(/^chain\.chainId: /),
        expect.stringMatching(/^chain\.contractAddress: /),
        expect.stringMatching(/^chain: .*typo/),
      ]),
    );
  });

  it('should refuse a chain section that says nowhere where the registry is', () => {
    expect(issuesOf(validConfig({ notifications: 'chain', chain: { rpcUrl: chain.rpcUrl, chainId: 1 } }))).toEqual([
      'chain: contractAddress or deploymentFile is required',
    ]);
  });

  it('should refuse an unknown notification source', () => {
    expect(issuesOf(validConfig({ notifications: 'email' }))).toEqual([expect.stringMatching(/^notifications: /)]);
  });
});
