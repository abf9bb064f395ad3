import { describe, expect, it } from '@jest/globals';

import { loadWorkerConfig } from './worker.config.js';

describe('loadWorkerConfig', () => {
  it('should fill every default', () => {
    const config = loadWorkerConfig({});

    expect(config).toMatchObject({
      python: '/usr/bin/python3',
      queuePrefix: 'gds',
      sidecarAddress: undefined,
      verifySha256: true,
      concurrency: 1,
      lockDurationMs: 30_000,
      stalledIntervalMs: 30_000,
      logLevel: 'info',
    });
    expect(config.pythonPath).toMatch(/\/python$/);
  });

  it('should list every bad variable at once', () => {
    const env = { DATABASE_URL: 'nope', GDS_WORKER_CONCURRENCY: '0', GDS_SIDECAR_ADDRESS: 'there', LOG_LEVEL: 'loud' };

    expect(() => loadWorkerConfig(env)).toThrow(
      /DATABASE_URL[\s\S]*GDS_SIDECAR_ADDRESS[\s\S]*GDS_WORKER_CONCURRENCY[\s\S]*LOG_LEVEL/,
    );
  });

  it('should accept a unix socket or a host and port for the sidecar', () => {
    expect(loadWorkerConfig({ GDS_SIDECAR_ADDRESS: 'unix:/tmp/s.sock' }).sidecarAddress).toBe('unix:/tmp/s.sock');
    expect(loadWorkerConfig({ GDS_SIDECAR_ADDRESS: '127.0.0.1:0' }).sidecarAddress).toBe('127.0.0.1:0');
  });
});
