// node --test scripts/lib/stack.test.mjs
// Exercises the private-server paths on ports of their own (never 5432/6379/55432/56379), so it neither disturbs
// the machine's servers nor a running demo. Skips what the machine cannot run (no Debian Postgres, no redis-server).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import {
  canConnectPostgres, ensureDatabase, findPostgresBin, probePort, redisPing, startPrivatePostgres, startPrivateRedis,
  waitForPort,
} from './stack.mjs';

let dir;
before(() => { dir = mkdtempSync(join(tmpdir(), 'gds-stack-test-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function listenOnFreePort() {
  return new Promise((done) => {
    const server = createServer((socket) => socket.destroy());
    server.listen(0, '127.0.0.1', () => done(server));
  });
}

test('probePort and waitForPort', async () => {
  const server = await listenOnFreePort();
  const { port } = server.address();
  assert.equal(await probePort('127.0.0.1', port, 500), true);
  await waitForPort('127.0.0.1', port, 1000);
  await new Promise((done) => server.close(done));
  assert.equal(await probePort('127.0.0.1', port, 500), false);
  await assert.rejects(waitForPort('127.0.0.1', port, 300), /nothing answered/);
});

test('private Postgres starts, is reused, creates databases and stops', { skip: !findPostgresBin() }, async () => {
  const port = 55_400 + (process.pid % 50);
  const first = await startPrivatePostgres({ dataDir: dir, port });
  try {
    assert.equal(first.started, true);
    assert.equal(await canConnectPostgres(first.url), true);
    const url = await ensureDatabase(first.url, 'gds_stack_test');
    assert.match(url, /\/gds_stack_test$/);
    assert.equal(await ensureDatabase(first.url, 'gds_stack_test'), url);
    assert.equal(await canConnectPostgres(url), true);
    const second = await startPrivatePostgres({ dataDir: dir, port });
    assert.equal(second.started, false);
    await second.stop();
    assert.equal(await probePort('127.0.0.1', port), true, 'stop() of a reused server must not stop it');
  } finally {
    await first.stop();
  }
  assert.equal(await probePort('127.0.0.1', port), false);
});

test('private Redis starts, is reused and stops', { skip: !existsSync('/usr/bin/redis-server') }, async () => {
  const port = 56_400 + (process.pid % 50);
  const first = await startPrivateRedis({ dataDir: dir, port });
  try {
    assert.equal(first.started, true);
    assert.equal(await redisPing('127.0.0.1', port), true);
    const second = await startPrivateRedis({ dataDir: dir, port });
    assert.equal(second.started, false);
    await second.stop();
    assert.equal(await redisPing('127.0.0.1', port), true);
  } finally {
    await first.stop();
  }
  assert.equal(await probePort('127.0.0.1', port), false);
});
