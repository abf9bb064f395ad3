// The real path for the notify bench: the built API with the chain on, the outbox relay, and reference agents in
// chain mode, all as processes of their own on this run's anvil. Agents get a stub trainer that exits at once (the
// bench measures notification, not training), so their work after each notification costs next to nothing.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import * as grpc from '@grpc/grpc-js';

import { EMBEDDED_CHAIN_ID } from '@gds/chain';
import { GRPC_CLIENT_OPTIONS } from '@gds/common';
import { loadGoodData } from '@gds/proto';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const STUB_TRAINER_PATH = join(root, 'bench/notify/stub-trainer');
const RELAY_PROCESS = join(root, 'tests/e2e/support/relay-process.mjs');
const DATASET = 'bench-notify';
const READY_TIMEOUT_MS = 30_000;

/** Spawns `node <script>`, keeps its JSON lines, resolves once a line has `event === readyEvent`. */
function startProcess(script, args, env, readyEvent, onLine = () => {}) {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (data) => (stderr = `${stderr}${data}`.slice(-4000)));

  const trace = process.env.BENCH_NOTIFY_TRACE;
  if (trace) child.stdout.on('data', (data) => appendFileSync(join(trace, `${script.split('/').pop()}-${child.pid}.jsonl`), data));
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready within ${READY_TIMEOUT_MS} ms: ${stderr}`)), READY_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      onLine(line);
      if (line.event === readyEvent) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });

  return { child, ready };
}

async function stopProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;

  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function chainEnv(chain) {
  return {
    CHAIN_MODE: 'embedded',
    CHAIN_RPC_URL: chain.clients.endpoint.rpcUrl,
    CHAIN_WS_URL: chain.clients.wsUrl,
    CHAIN_ID: String(EMBEDDED_CHAIN_ID),
    CHAIN_CONTRACT_ADDRESS: chain.deployment.address,
    CHAIN_DEPLOY_BLOCK: String(chain.deployment.deployBlock),
  };
}

/** A tiny CSV every agent declares under the same name (same content: one dataset, three holders). */
function writeDataset(folder) {
  const rows = ['x1,x2,x3,x4,x5,y', ...Array.from({ length: 32 }, (_, row) => `${row},1,2,3,4,${row % 2}`)];
  const path = join(folder, 'bench.csv');
  writeFileSync(path, `${rows.join('\n')}\n`);

  return path;
}

async function startAgent(folder, name, { apiAddress, chain, datasetPath, onNotified }) {
  mkdirSync(folder, { recursive: true });
  const configPath = join(folder, 'agent.json');
  const config = {
    gdsAddress: apiAddress,
    name,
    keyFile: 'agent.pem',
    stateDir: 'state',
    datasets: [{ name: DATASET, path: datasetPath, features: ['x1', 'x2', 'x3', 'x4', 'x5'], label: 'y' }],
    trainer: { python: process.env.GDS_PYTHON ?? '/usr/bin/python3', pythonPath: STUB_TRAINER_PATH, isolation: 'none' },
    notifications: 'chain',
    chain: {
      rpcUrl: chain.clients.endpoint.rpcUrl,
      wsUrl: chain.clients.wsUrl,
      chainId: EMBEDDED_CHAIN_ID,
      contractAddress: chain.deployment.address,
      deployBlock: Number(chain.deployment.deployBlock),
    },
  };
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const main = join(root, 'apps/agent/dist/main.js');
  const { stdout } = await promisify(execFile)(process.execPath, [main, 'register', '--config', configPath]);
  const { dataOwnerId } = JSON.parse(stdout.trim().split('\n').pop());
  const onLine = (line) => line.event === 'agent.chain.notified' && onNotified(name, line.queryId, Date.parse(line.time));
  const { child, ready } = startProcess(main, ['run', '--config', configPath], { LOG_LEVEL: 'info' }, 'agent.chain.following', onLine);
  await ready;

  return { name, dataOwnerId, child };
}

/**
 * Starts the API (CHAIN_MODE=embedded on `chain`), the relay and `agentCount` agents; returns `submit()`, which
 * makes one SubmitQuery and resolves `{ queryId, sentAt, returnedAt }` (ms since the epoch), and `notified`, the
 * map queryId → [{ agent, at }] filled from the agents' `agent.chain.notified` log lines (`time`, same machine clock).
 */
export async function startNotifyStack({ chain, databaseUrl, redisUrl, folder, agentCount, log = () => {} }) {
  // A prefix of this run's own: the API's kicks reach this relay and no other stack's worker on the same Redis.
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, GDS_QUEUE_PREFIX: `bench-notify-${process.pid}`, ...chainEnv(chain) };
  const processes = [];
  const notified = new Map();
  const onNotified = (agent, queryId, at) => notified.set(queryId, [...(notified.get(queryId) ?? []), { agent, at }]);

  try {
    const api = startProcess(join(root, 'apps/api/dist/main.js'), [], { ...env, GDS_GRPC_ADDRESS: '127.0.0.1:0', GDS_HTTP_ADDRESS: '127.0.0.1:0', LOG_LEVEL: 'info' }, 'grpc.listening');
    processes.push(api.child);
    const apiAddress = `127.0.0.1:${(await api.ready).port}`;
    log('bench.api.ready', { apiAddress });
    const relay = startProcess(RELAY_PROCESS, [], { ...env, RELAY_BACKSTOP_MS: '2000', LOG_LEVEL: 'info' }, 'relay.ready');
    processes.push(relay.child);
    await relay.ready;
    log('bench.relay.ready', {});

    const { stdout } = await promisify(execFile)(process.execPath, [join(root, 'apps/api/dist/cli.js'), 'create-customer', '--name', 'bench-notify'], { env: { ...process.env, DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } });
    const { token } = JSON.parse(stdout.trim().split('\n').pop());
    const datasetPath = writeDataset(folder);
    for (let index = 0; index < agentCount; index += 1) {
      const agent = await startAgent(join(folder, `do-${index}`), `do-${index}`, { apiAddress, chain, datasetPath, onNotified });
      processes.push(agent.child);
      log('bench.agent.ready', { name: agent.name, dataOwnerId: agent.dataOwnerId });
    }

    const client = new (loadGoodData().gooddata.v1.GoodDataService)(apiAddress, grpc.credentials.createInsecure(), GRPC_CLIENT_OPTIONS);

    return {
      notified,
      submit: () => submitTinyQuery(client, token, agentCount),
      stop: async () => {
        client.close();
        await Promise.all(processes.reverse().map(stopProcess));
      },
    };
  } catch (error) {
    await Promise.all(processes.map(stopProcess));
    throw error;
  }
}

/** A SubmitQuery with a few hundred bytes that pass the API's format sniffing (a zip's magic); never trainable. */
function submitTinyQuery(client, token, replication) {
  const model = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(252)]);
  const header = {
    dataset: DATASET,
    replication,
    training: { epochs: 1, batchSize: 32, optimizer: 'sgd', learningRate: 0.1, loss: 'mse', seed: 1 },
    modelSize: model.length,
    modelSha256: createHash('sha256').update(model).digest('hex'),
  };
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);

  return new Promise((resolve, reject) => {
    const sentAt = Date.now();
    const call = client.SubmitQuery(metadata, (error, response) =>
      error ? reject(error) : resolve({ queryId: response.queryId, sentAt, returnedAt: Date.now() }),
    );
    call.write({ header });
    call.write({ chunk: model });
    call.end();
  });
}
