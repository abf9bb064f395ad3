#!/usr/bin/env node
// `npm test`: every test, unit to end-to-end, against real Postgres, Redis and Python. Prepares what is missing
// (node_modules, services, Debian's Python packages), builds, then runs jest and pytest.
// Extra arguments go to jest (`npm test -- tests/api`); GDS_SKIP_PYTEST=1 skips pytest.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { DATA_DIR, REPO_ROOT } from './lib/paths.mjs';

const CHROMIUM = '/usr/bin/chromium';

/** The portal's browser test drives Debian's chromium (a test tool's own browser download cannot work offline). */
async function ensureChromium(stack) {
  if (existsSync(CHROMIUM)) return;
  if (!stack.aptUsable()) {
    throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`);
  }
  await stack.aptInstall(['chromium'], stack.createScriptLogger('test'));
}

function runStep(name, command, args, env = {}) {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const child = spawn(command, args, { cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...env } });
    child.once('exit', (code, signal) => {
      console.log(JSON.stringify({ event: 'test.step', step: name, code, signal, seconds: (Date.now() - startedAt) / 1000 }));
      resolve(code === 0);
    });
  });
}

const stack = await import('./lib/stack.mjs');
await stack.ensureNodeModules({ root: REPO_ROOT });
const services = await stack.ensureServices({ dataDir: DATA_DIR });
const python = await stack.ensurePython();
await ensureChromium(stack);
const env = { DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, GDS_PYTHON: python };

let isGreen = false;
try {
  const { build } = await import('./build.mjs');
  build();

  const jestArgs = process.argv.slice(2);
  isGreen = await runStep('migrations-in-sync', process.execPath, [join(REPO_ROOT, 'scripts/migrations.mjs'), 'check'], env);
  isGreen = (await runStep('dev-stack', process.execPath, ['--test', join(REPO_ROOT, 'scripts/lib/stack.test.mjs')], env)) && isGreen;
  isGreen = (await runStep('contracts-in-sync', process.execPath, [join(REPO_ROOT, 'scripts/compile-contracts.mjs'), '--check'], env)) && isGreen;
  isGreen = (await runStep('graphql-schema-in-sync', process.execPath, [join(REPO_ROOT, 'apps/api/dist/print-schema.js'), '--check'], env)) && isGreen;
  isGreen =
    (await runStep('jest', process.execPath, [join(REPO_ROOT, 'node_modules/jest/bin/jest.js'), ...jestArgs], {
      ...env,
      NODE_OPTIONS: '--experimental-vm-modules --no-warnings=ExperimentalWarning',
    })) && isGreen;
  if (process.env.GDS_SKIP_PYTEST !== '1' && jestArgs.length === 0) {
    isGreen = (await runStep('pytest', python, ['-m', 'pytest', '-q', 'python/tests'], { ...env, PYTHONPATH: join(REPO_ROOT, 'python') })) && isGreen;
  }
} finally {
  await services.stop();
}

process.exit(isGreen ? 0 : 1);
