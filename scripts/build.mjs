#!/usr/bin/env node
// `npm run build`: generates the contract code (gRPC types, Python stubs, Prisma client), then builds every
// workspace project in dependency order with Nx.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { REPO_ROOT } from './lib/paths.mjs';

export function build({ stdio = 'inherit' } = {}) {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts/gen.mjs')], { cwd: REPO_ROOT, stdio });
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/nx/dist/bin/nx.js'), 'run-many', '-t', 'build', '--output-style=static'], {
    cwd: REPO_ROOT,
    stdio,
    env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', NX_SKIP_NX_CACHE: 'true' },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  build();
}
