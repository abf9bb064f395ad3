#!/usr/bin/env node
// `npm run demo`: the whole system on this machine with a worked example. Installs what is missing, starts
// Postgres and Redis (or uses running ones), the embedded chain, the API, the consistency worker, the portal and
// three Data Owner agents holding the same demo dataset, then submits the seed's toy model as the seed's Query Customer would, waits for the
// verified result, loads it with load_state_dict and prints it. Runs until Ctrl-C, which stops what it started.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { DATA_DIR, REPO_ROOT } from './lib/paths.mjs';

const DEMO_DIR = join(DATA_DIR, 'demo');
const LOG_DIR = join(DEMO_DIR, 'logs');
const GRPC_ADDRESS = process.env.GDS_GRPC_ADDRESS ?? '127.0.0.1:50051';
const API_URL = 'http://localhost:4000';
const PORTAL_PORT = 3000;
const DEMO_ACCOUNT = { name: 'Demo QC', email: 'demo@gooddata.local', password: 'gooddata-demo-2026' };
const AGENTS = ['do-alpha', 'do-beta', 'do-gamma'];
const CHAIN_DIR = join(DATA_DIR, 'chain');

const say = (event, fields = {}) => console.log(JSON.stringify({ event, ...fields }));
const children = [];

/** Starts a long-running child with its output in .data/demo/logs/<name>.log. */
function startChild(name, args, env) {
  const log = openSync(join(LOG_DIR, `${name}.log`), 'a');
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  children.push({ name, child });
  child.once('exit', (code, signal) => {
    if (!isStopping) say('demo.child_exited', { name, code, signal, log: join(LOG_DIR, `${name}.log`) });
  });

  return child;
}

/** Waits until a child's log shows the given event, failing if it exits first. */
async function waitForLogEvent(name, event, timeoutMs = 60_000) {
  const file = join(LOG_DIR, `${name}.log`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    if (text.includes(`"event":"${event}"`)) return;
    const entry = children.find((c) => c.name === name);
    if (entry && entry.child.exitCode !== null) throw new Error(`${name} exited; see ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not log ${event} within ${timeoutMs} ms; see ${file}`);
}

function runToEnd(command, args, env = {}, { capture = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
    });
    let out = '';
    child.stdout?.on('data', (data) => (out += data));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited with ${code}`))));
  });
}

/**
 * The demo account: signed up through the API (so it can sign in to the portal), with an API token for the Python
 * SDK, kept under .data/demo so that a second run reuses both.
 */
async function demoAccount() {
  const file = join(DEMO_DIR, 'account.json');
  const { ensureAccount, createApiToken } = await import('../apps/web/scripts/demo-account.mjs');
  const session = await ensureAccount({ apiUrl: API_URL, ...DEMO_ACCOUNT });
  if (existsSync(file)) return { ...JSON.parse(readFileSync(file, 'utf8')), session };

  const token = await createApiToken({ apiUrl: API_URL, session, name: 'demo sdk' });
  writeFileSync(file, JSON.stringify({ token }), { mode: 0o600 });

  return { token, session };
}

/**
 * The embedded chain: anvil with persistent state under .data/chain and the registry deployed. The API and worker
 * run with CHAIN_MODE=embedded and reuse this anvil; the agents read its deployment file.
 */
async function startChain() {
  startChild('chain', ['libs/chain/dist/cli.js', 'embedded'], { CHAIN_DATA_DIR: CHAIN_DIR });
  await waitForLogEvent('chain', 'chain.ready');
  const line = readFileSync(join(LOG_DIR, 'chain.log'), 'utf8').split('\n').filter((l) => l.includes('"chain.ready"')).pop();

  return JSON.parse(line);
}

async function startAgents(python, csvPath, chain) {
  for (const name of AGENTS) {
    const folder = join(DEMO_DIR, 'agents', name);
    mkdirSync(folder, { recursive: true });
    const config = {
      gdsAddress: GRPC_ADDRESS,
      name,
      keyFile: 'agent.pem',
      stateDir: 'state',
      datasets: [{ name: 'demo', path: csvPath, features: ['x1', 'x2', 'x3', 'x4', 'x5'], label: 'y' }],
      // The seed's QC pickles its model (torch.save(model)); these demo Data Owners opt in to loading such models,
      // in a network namespace, resolving the seed's `__main__.Net` to the same class shipped with gds_ml.
      trainer: { python, allowPickle: true, moduleAliases: { __main__: 'gds_ml.demo_models' }, isolation: 'netns', threads: 1 },
      // The agents learn of work from the chain's QuerySubmitted events (WatchAssignments stays off).
      notifications: 'chain',
      chain: { rpcUrl: chain.rpcUrl, wsUrl: chain.wsUrl, chainId: chain.chainId, deploymentFile: join(CHAIN_DIR, 'chain.json') },
    };
    const configPath = join(folder, 'agent.json');
    writeFileSync(configPath, JSON.stringify(config, null, 2));
    await runToEnd(process.execPath, ['apps/agent/dist/main.js', 'register', '--config', configPath], {}, { capture: true });
    startChild(name, ['apps/agent/dist/main.js', 'run', '--config', configPath], {});
  }
  await Promise.all(AGENTS.map((name) => waitForLogEvent(name, 'agent.started')));
}

/** The portal on localhost:3000 (built by `npm run build`), talking to the API on localhost:4000. */
async function startPortal() {
  const { startPortal: start } = await import('../apps/web/scripts/portal.mjs');
  const portal = await start({ apiUrl: API_URL, port: PORTAL_PORT });
  stopHooks.push(() => portal.stop());

  return `http://localhost:${PORTAL_PORT}`;
}

const stopHooks = [];
let isStopping = false;
let services;

async function stopAll(signal, exitCode = 0) {
  if (isStopping) return;
  isStopping = true;
  say('demo.stopping', { signal });
  for (const hook of stopHooks.splice(0).reverse()) await hook();
  for (const { child } of [...children].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await services?.stop();
  say('demo.stopped');
  process.exit(exitCode);
}

async function main() {
  mkdirSync(LOG_DIR, { recursive: true });
  const stack = await import('./lib/stack.mjs');
  await stack.ensureNodeModules({ root: REPO_ROOT });
  services = await stack.ensureServices({ dataDir: DATA_DIR });
  process.once('SIGINT', () => void stopAll('SIGINT'));
  process.once('SIGTERM', () => void stopAll('SIGTERM'));
  const python = await stack.ensurePython();

  const { build } = await import('./build.mjs');
  build({ stdio: ['ignore', 'ignore', 'inherit'] });
  const env = { DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl, GDS_PYTHON: python };
  await runToEnd(process.execPath, ['scripts/migrate.mjs'], env);

  const csvPath = join(DEMO_DIR, 'demo.csv');
  await runToEnd(python, ['-m', 'gds_ml.demo_data', '--out', csvPath, '--rows', '512', '--seed', '7'], { PYTHONPATH: join(REPO_ROOT, 'python') });

  const chain = await startChain();
  const chainEnv = { CHAIN_MODE: 'embedded', CHAIN_DATA_DIR: CHAIN_DIR };
  startChild('api', ['apps/api/dist/main.js'], {
    ...env,
    ...chainEnv,
    GDS_GRPC_ADDRESS: GRPC_ADDRESS,
    GDS_HTTP_ADDRESS: '127.0.0.1:4000',
    GDS_PUBLIC_API_URL: API_URL,
    GDS_PORTAL_ORIGINS: `http://localhost:${PORTAL_PORT}`,
  });
  await waitForLogEvent('api', 'http.listening');
  startChild('worker', ['apps/worker/dist/main.js'], { ...env, ...chainEnv });
  await waitForLogEvent('worker', 'worker.ready');
  const account = await demoAccount();
  await startAgents(python, csvPath, chain);
  const portal = await startPortal();
  say('demo.ready', { grpc: GRPC_ADDRESS, api: API_URL, portal, chain: chain.rpcUrl, contract: chain.contractAddress, logs: LOG_DIR, agents: AGENTS });

  // The seed's Query Customer: torch.save(model) -> SubmitQuery -> wait -> GetQueryExecutionInfo -> load_state_dict.
  await runToEnd(python, ['-m', 'gds_ml.qc', '--address', GRPC_ADDRESS, 'demo', '--dataset', 'demo', '--timeout', '600'], {
    PYTHONPATH: join(REPO_ROOT, 'python'),
    GDS_TOKEN: account.token,
  });

  say('demo.running', {
    message: 'GDS keeps running; press Ctrl-C to stop everything this demo started',
    portal,
    email: DEMO_ACCOUNT.email,
    password: DEMO_ACCOUNT.password,
    submitAnother: `GDS_TOKEN=${account.token} PYTHONPATH=python ${python} -m gds_ml.qc --address ${GRPC_ADDRESS} demo --dataset demo`,
  });
}

main().catch(async (error) => {
  console.error(JSON.stringify({ event: 'demo.failed', message: error.message }));
  await stopAll('error', 1);
});
