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
