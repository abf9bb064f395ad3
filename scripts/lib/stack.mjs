// Environment set-up shared by `npm run demo`, `npm test`, the benches and `.ci/run`: Postgres, Redis, the Python
// interpreter with torch/grpc/pytest, and node_modules. Uses what the machine already runs when it answers, and
// otherwise starts private servers under the project's `.data/` folder (installing Debian packages when it can).
//
// Only Node built-ins are imported at the top level: `pg` is loaded lazily, so `ensureNodeModules` works on a clean
// clone before `npm ci` has run.
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join, resolve } from 'node:path';

export const SYSTEM_POSTGRES_PORT = 5432;
export const SYSTEM_REDIS_PORT = 6379;
export const PRIVATE_POSTGRES_PORT = 55432;
export const PRIVATE_REDIS_PORT = 56379;
export const DEFAULT_DATABASE = 'gds';
export const DEFAULT_PYTHON = '/usr/bin/python3';
export const PYTHON_MODULES = ['torch', 'grpc', 'grpc_tools', 'pytest'];
export const PYTHON_DEBIAN_PACKAGES = [
  'python3-torch', 'python3-grpcio', 'python3-protobuf', 'python3-grpc-tools', 'python3-pytest', 'python3-numpy',
];

const LOCALHOST = '127.0.0.1';
const PROBE_TIMEOUT_MS = 500;

// ---------------------------------------------------------------------------------------------------------------
// Logging

/** A logger `(event, fields)` that writes one JSON line per event (stdout unless another stream is given). */
export function createScriptLogger(name, { stream = process.stdout } = {}) {
  return (event, fields = {}) => {
    stream.write(`${JSON.stringify({ time: new Date().toISOString(), script: name, event, ...fields })}\n`);
  };
}

/** The URL with its password (if any) replaced, for logs. */
export function redactUrl(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';

    return parsed.toString();
  } catch {
    return '[unparsable url]';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small process and network helpers

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Resolves true when a TCP connection to host:port succeeds within timeoutMs, false otherwise. Never rejects. */
export function probePort(host, port, timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    const finish = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Resolves when host:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(host, port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (await probePort(host, port, Math.max(50, Math.min(PROBE_TIMEOUT_MS, left)))) return;
    if (Date.now() >= deadline) throw new Error(`nothing answered on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Resolves true when a Redis server on host:port answers PING with +PONG (or asks for auth). */
export function redisPing(host, port, timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((done) => {
    const socket = createConnection({ host, port });
    let reply = '';
    const finish = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      reply += data.toString('latin1');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
    socket.once('error', () => finish(false));
    socket.once('close', () => finish(false));
  });
}

/**
 * Runs a command; resolves { code, stdout, stderr } (never rejects on a non-zero exit unless `check` is set).
 * Output is captured, not printed, unless `inherit` is set.
 */
export function run(cmd, args, { cwd, env, check = false, inherit = false, input } = {}) {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, {
      cwd,
      env: env ? { ...process.env, ...env } : process.env,
      stdio: [input === undefined ? 'ignore' : 'pipe', inherit ? 'inherit' : 'pipe', inherit ? 'inherit' : 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => { stdout += d; });
    child.stderr?.on('data', (d) => { stderr += d; });
    if (input !== undefined) child.stdin.end(input);
    child.once('error', (error) => {
      if (check) fail(new Error(`${cmd} could not be started: ${error.message}`));
      else done({ code: -1, stdout, stderr: String(error.message) });
    });
    child.once('close', (code, signal) => {
      const result = { code: code ?? 128, signal, stdout, stderr };
      if (check && code !== 0) {
        const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-15).join('\n');
        fail(new Error(`${cmd} ${args.join(' ')} exited with ${code ?? signal}:\n${tail}`));
      } else done(result);
    });
  });
}

/** True when the process exists and is not a zombie (daemons reparented to a non-reaping init linger as zombies). */
function pidAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');

    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

function readPid(file) {
  try {
    return Number.parseInt(readFileSync(file, 'utf8').split('\n')[0].trim(), 10);
  } catch {
    return NaN;
  }
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

// ---------------------------------------------------------------------------------------------------------------
// apt

let aptUpdated = false;

/** True when this process may install Debian packages: running as root with apt-get present. */
export function aptUsable() {
  return isRoot() && existsSync('/usr/bin/apt-get');
}

/** Installs Debian packages non-interactively (waits up to 900 s for the dpkg lock); apt-get update once if needed. */
export async function aptInstall(packages, log = () => {}) {
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const args = ['-o', 'DPkg::Lock::Timeout=900', 'install', '-y', ...packages];
  log('apt.install', { packages });
  let result = await run('apt-get', args, { env });
  const missingLists = /Unable to locate package|has no installation candidate|Failed to fetch|404\s+Not Found/i;
  if (result.code !== 0 && !aptUpdated && missingLists.test(`${result.stdout}\n${result.stderr}`)) {
    aptUpdated = true;
    log('apt.update', {});
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=900', 'update'], { env, check: true });
    result = await run('apt-get', args, { env });
  }
  if (result.code !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`apt-get install ${packages.join(' ')} failed (exit ${result.code}):\n${tail}`);
  }
  log('apt.installed', { packages });
}

// ---------------------------------------------------------------------------------------------------------------
// Postgres

async function loadPg() {
  try {
    return (await import('pg')).default;
  } catch (error) {
    throw new Error(`the npm package "pg" is not installed (run npm ci at the repository root): ${error.message}`);
  }
}

function withDatabase(url, name) {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(name)}`;

  return parsed.toString();
}

/** Opens a pg client on `url`, runs fn(client) and always closes the client. */
async function withClient(url, fn, connectTimeoutMs = 3000) {
  const pg = await loadPg();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Resolves true when a real Postgres login to `url` succeeds. */
export async function canConnectPostgres(url, timeoutMs = 3000) {
  try {
    await withClient(url, (c) => c.query('SELECT 1'), timeoutMs);

    return true;
  } catch {
    return false;
  }
}

/**
 * Creates database `name` on the server of `baseUrl` if it does not exist and returns its URL (the base URL with
 * the database replaced). Connects to the base URL's database, or to `postgres` when that one does not exist.
 */
export async function ensureDatabase(baseUrl, name) {
  const create = async (client) => {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      } catch (error) {
        // 42P04 duplicate_database, 23505 unique_violation: another process created it at the same moment.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      }
    }
  };
  try {
    await withClient(baseUrl, create);
  } catch (error) {
    if (error.code !== '3D000') throw error; // 3D000 invalid_catalog_name: the base database itself is missing
    await withClient(withDatabase(baseUrl, 'postgres'), create);
  }

  return withDatabase(baseUrl, name);
}

/** The bin folder of the newest Debian PostgreSQL (`/usr/lib/postgresql/<ver>/bin`), or null. */
export function findPostgresBin() {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin/pg_ctl')) && existsSync(join(base, v, 'bin/initdb')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));

  return versions.length ? join(base, versions[0], 'bin') : null;
}

async function requirePostgresBin(log) {
  let bin = findPostgresBin();
  if (bin) return bin;
  if (!aptUsable()) {
    throw new Error(
      'No Postgres answers on 127.0.0.1:5432 and PostgreSQL server binaries are not installed. Install them with '
        + '`sudo apt-get install -y postgresql` (Debian/Ubuntu), or start a Postgres and set DATABASE_URL.',
    );
  }
  await aptInstall(['postgresql'], log);
  bin = findPostgresBin();
  if (!bin) throw new Error('apt-get installed postgresql but /usr/lib/postgresql/<ver>/bin/pg_ctl is still missing');

  return bin;
}

/** Runs a Postgres server binary as the `postgres` user when we are root (initdb and postgres refuse root). */
function runPostgresTool(bin, tool, args) {
  const path = join(bin, tool);
  if (isRoot()) return run('runuser', ['-u', 'postgres', '--', path, ...args], { cwd: '/' });

  return run(path, args, { cwd: '/' });
}

function postgresPaths(dataDir) {
  const root = resolve(dataDir, 'postgres');

  const data = join(root, 'data');

  return { root, data, logFile: join(root, 'postgres.log'), pidFile: join(data, 'postmaster.pid') };
}

/**
 * Starts (or reuses) a private Postgres cluster under `<dataDir>/postgres` on 127.0.0.1:<port>, trust auth, unix
 * socket in the same folder. Returns { url, started, stop }; `stop` stops the server only if this call started it.
 */
export async function startPrivatePostgres({ dataDir, port = PRIVATE_POSTGRES_PORT, log = () => {} }) {
  const paths = postgresPaths(dataDir);
  const url = `postgresql://postgres@${LOCALHOST}:${port}/postgres`;
  const bin = await requirePostgresBin(log);
  const pgCtl = (...args) => runPostgresTool(bin, 'pg_ctl', ['-D', paths.data, ...args]);

  if (pidAlive(readPid(paths.pidFile))) {
    if (await probePort(LOCALHOST, port, 2000) && await canConnectPostgres(url)) {
      log('postgres.reuse', { dataDir: paths.root, port, pid: readPid(paths.pidFile) });

      return { url, started: false, stop: async () => {} };
    }
    log('postgres.restart', { reason: 'running but not answering on the expected port', port });
    await pgCtl('-m', 'fast', '-w', 'stop');
  }

  mkdirSync(paths.root, { recursive: true });
  if (isRoot()) {
    const { uid, gid } = await postgresUser();
    chownSync(paths.root, uid, gid);
    // dataDir belongs to this project: let the postgres user traverse it (o+x, no listing) if it cannot.
    const dataDirMode = statSync(resolve(dataDir)).mode;
    if ((dataDirMode & 0o001) === 0) chmodSync(resolve(dataDir), (dataDirMode & 0o7777) | 0o001);
    const access = await run('runuser', ['-u', 'postgres', '--', 'test', '-w', paths.root]);
    if (access.code !== 0) {
      throw new Error(`the postgres user cannot write ${paths.root}: make every parent folder traversable (o+x)`);
    }
  }
  const stalePid = readPid(paths.pidFile);
  if (Number.isInteger(stalePid) && !pidAlive(stalePid)) {
    // A crashed server's lock file; postgres itself would refuse to start if the dead pid lingers as a zombie.
    log('postgres.stale_pid_file', { pid: stalePid });
    rmSync(paths.pidFile, { force: true });
  }
  for (const name of existsSync(paths.root) ? readdirSync(paths.root) : []) {
    const match = /^(\.s\.PGSQL\.\d+)\.lock$/.exec(name);
    if (match && !pidAlive(readPid(join(paths.root, name)))) {
      rmSync(join(paths.root, name), { force: true });
      rmSync(join(paths.root, match[1]), { force: true });
    }
  }
  if (!existsSync(join(paths.data, 'PG_VERSION'))) {
    const began = Date.now();
    const init = await runPostgresTool(bin, 'initdb', [
      '-D', paths.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C',
    ]);
    if (init.code !== 0) throw new Error(`initdb failed (exit ${init.code}):\n${init.stderr || init.stdout}`);
    log('postgres.initdb', { dataDir: paths.data, ms: Date.now() - began });
  }
  const began = Date.now();
  // pg_ctl hands -o to a shell: quote the socket folder.
  const options = `-p ${port} -k '${paths.root.replaceAll("'", "'\\''")}' -c listen_addresses=${LOCALHOST}`;
  const start = await pgCtl('-l', paths.logFile, '-w', '-t', '60', 'start', '-o', options);
  if (start.code !== 0) {
    let logTail = '';
    try {
      logTail = readFileSync(paths.logFile, 'utf8').trim().split('\n').slice(-10).join('\n');
    } catch { /* no log yet */ }
    throw new Error(`pg_ctl start failed (exit ${start.code}):\n${start.stderr || start.stdout}\n${logTail}`);
  }
  await waitForPort(LOCALHOST, port, 10_000);
  log('postgres.started', { dataDir: paths.root, port, ms: Date.now() - began });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const result = await pgCtl('-m', 'fast', '-w', 'stop');
    log('postgres.stopped', { port, code: result.code });
  };

  return { url, started: true, stop };
}

async function postgresUser() {
  const { stdout, code } = await run('getent', ['passwd', 'postgres']);
  if (code !== 0) {
    throw new Error('running as root, but there is no `postgres` user to run initdb as (apt-get install postgresql '
      + 'creates it)');
  }
  const [, , uid, gid] = stdout.trim().split(':');

  return { uid: Number(uid), gid: Number(gid) };
}

/** Finds a Postgres on 127.0.0.1:5432 that lets us log in as `postgres` or `root`; returns its URL or null. */
async function findSystemPostgres(log) {
  if (!(await probePort(LOCALHOST, SYSTEM_POSTGRES_PORT))) return null;
  for (const user of ['postgres', 'root']) {
    const url = `postgresql://${user}@${LOCALHOST}:${SYSTEM_POSTGRES_PORT}/postgres`;
    if (await canConnectPostgres(url)) return url;
  }
  log('postgres.system_refused', { port: SYSTEM_POSTGRES_PORT, note: 'port answers but login as postgres/root fails' });

  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Redis

function redisPaths(dataDir) {
  const root = resolve(dataDir, 'redis');

  return { root, pidFile: join(root, 'redis.pid'), logFile: join(root, 'redis.log') };
}

/**
 * Starts (or reuses) a private, non-persistent Redis under `<dataDir>/redis` on 127.0.0.1:<port>.
 * Returns { url, started, stop }; `stop` stops the server only if this call started it.
 */
export async function startPrivateRedis({ dataDir, port = PRIVATE_REDIS_PORT, log = () => {} }) {
  const paths = redisPaths(dataDir);
  const url = `redis://${LOCALHOST}:${port}`;
  const oldPid = readPid(paths.pidFile);
  if (pidAlive(oldPid)) {
    if (await redisPing(LOCALHOST, port, 2000)) {
      log('redis.reuse', { dataDir: paths.root, port, pid: oldPid });

      return { url, started: false, stop: async () => {} };
    }
    log('redis.restart', { reason: 'pid file alive but not answering', pid: oldPid });
    try { process.kill(oldPid, 'SIGTERM'); } catch { /* gone already */ }
    await sleep(300);
  }

  let server = '/usr/bin/redis-server';
  if (!existsSync(server)) {
    const onPath = await run('sh', ['-c', 'command -v redis-server']);
    if (onPath.code === 0 && onPath.stdout.trim()) server = onPath.stdout.trim();
    else if (aptUsable()) await aptInstall(['redis-server'], log);
    else {
      throw new Error('No Redis answers on 127.0.0.1:6379 and redis-server is not installed. Install it with '
        + '`sudo apt-get install -y redis-server` (Debian/Ubuntu), or start a Redis and set REDIS_URL.');
    }
  }

  mkdirSync(paths.root, { recursive: true });
  const began = Date.now();
  await run(server, [
    '--port', String(port), '--bind', LOCALHOST, '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
    '--pidfile', paths.pidFile, '--logfile', paths.logFile, '--dir', paths.root,
  ], { check: true });
  const deadline = Date.now() + 10_000;
  while (!(await redisPing(LOCALHOST, port))) {
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}; see ${paths.logFile}`);
    await sleep(50);
  }
  log('redis.started', { dataDir: paths.root, port, ms: Date.now() - began });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const pid = readPid(paths.pidFile);
    const cli = await run('redis-cli', ['-h', LOCALHOST, '-p', String(port), 'shutdown', 'nosave']);
    if (cli.code !== 0 && pidAlive(pid)) {
      try { process.kill(pid, 'SIGTERM'); } catch { /* gone already */ }
    }
    for (let i = 0; i < 50 && pidAlive(pid); i++) await sleep(50);
    log('redis.stopped', { port });
  };

  return { url, started: true, stop };
}

// ---------------------------------------------------------------------------------------------------------------
// Public entry points

/**
 * Makes Postgres and Redis available. DATABASE_URL / REDIS_URL win when set; otherwise the machine's servers on
 * 5432 / 6379 are used when they answer; otherwise private servers are started (or reused) under dataDir.
 * `privateOnly` (default: env GDS_PRIVATE_SERVICES=1) skips the machine's servers; `postgresPort` / `redisPort`
 * change the private ports (55432 / 56379).
 * Returns { databaseUrl, redisUrl, stop }: databaseUrl points at database `gds` (created if missing) unless
 * DATABASE_URL was given; `stop()` stops only the servers this call started.
 */
export async function ensureServices({
  dataDir,
  log = createScriptLogger('stack'),
  privateOnly = process.env.GDS_PRIVATE_SERVICES === '1',
  postgresPort = PRIVATE_POSTGRES_PORT,
  redisPort = PRIVATE_REDIS_PORT,
} = {}) {
  if (!dataDir) throw new Error('ensureServices needs dataDir (the project\'s .data/ folder)');
  const stops = [];
  const stop = async () => {
    for (const fn of stops.splice(0).reverse()) await fn();
  };

  try {
    let databaseUrl = process.env.DATABASE_URL;
    if (databaseUrl) {
      log('postgres.env', { url: redactUrl(databaseUrl) });
    } else {
      const systemUrl = privateOnly ? null : await findSystemPostgres(log);
      if (systemUrl) {
        databaseUrl = await ensureDatabase(systemUrl, DEFAULT_DATABASE);
        log('postgres.system', { url: redactUrl(databaseUrl) });
      } else {
        const pg = await startPrivatePostgres({ dataDir, port: postgresPort, log });
        if (pg.started) stops.push(pg.stop);
        databaseUrl = await ensureDatabase(pg.url, DEFAULT_DATABASE);
        log('postgres.private', { url: databaseUrl, started: pg.started });
      }
    }

    let redisUrl = process.env.REDIS_URL;
    if (redisUrl) {
      log('redis.env', { url: redactUrl(redisUrl) });
    } else if (!privateOnly && await redisPing(LOCALHOST, SYSTEM_REDIS_PORT)) {
      redisUrl = `redis://${LOCALHOST}:${SYSTEM_REDIS_PORT}`;
      log('redis.system', { url: redisUrl });
    } else {
      const redis = await startPrivateRedis({ dataDir, port: redisPort, log });
      if (redis.started) stops.push(redis.stop);
      redisUrl = redis.url;
      log('redis.private', { url: redisUrl, started: redis.started });
    }

    return { databaseUrl, redisUrl, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

async function pythonMissing(python) {
  const code = `import importlib, sys
missing = []
for name in ${JSON.stringify(PYTHON_MODULES)}:
    try:
        importlib.import_module(name)
    except Exception as error:
        missing.append(f"{name} ({type(error).__name__}: {error})")
print("; ".join(missing))`;
  const result = await run(python, ['-c', code]);
  if (result.code !== 0) return [`${python} did not run: ${(result.stderr || result.stdout).trim()}`];
  const out = result.stdout.trim();

  return out ? out.split('; ') : [];
}

/**
 * Returns the path of a Python with torch, grpc, grpc_tools and pytest: GDS_PYTHON, else /usr/bin/python3.
 * Installs the Debian packages when they are missing and apt is usable (Debian's python only); otherwise throws.
 */
export async function ensurePython({ log = createScriptLogger('stack') } = {}) {
  const python = process.env.GDS_PYTHON || DEFAULT_PYTHON;
  let missing = await pythonMissing(python);
  if (missing.length === 0) {
    log('python.ok', { python });

    return python;
  }
  log('python.missing', { python, missing });
  if (python === DEFAULT_PYTHON && aptUsable()) {
    await aptInstall(PYTHON_DEBIAN_PACKAGES, log);
    missing = await pythonMissing(python);
    if (missing.length === 0) {
      log('python.ok', { python, installed: true });

      return python;
    }
  }
  const how = python === DEFAULT_PYTHON
    ? `install the Debian packages: sudo apt-get install -y ${PYTHON_DEBIAN_PACKAGES.join(' ')}`
    : `install them into ${python}, or unset GDS_PYTHON to use ${DEFAULT_PYTHON} with the Debian packages `
      + PYTHON_DEBIAN_PACKAGES.join(' ');
  throw new Error(`${python} lacks ${missing.join(', ')}: ${how}`);
}

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return NaN;
  }
}

/** True when the installed tree (npm's hidden lockfile) holds every non-optional package of package-lock.json. */
function installedMatchesLock(root) {
  try {
    const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
    const hidden = JSON.parse(readFileSync(join(root, 'node_modules/.package-lock.json'), 'utf8')).packages ?? {};
    for (const [key, entry] of Object.entries(lock)) {
      if (key === '' || entry.optional || entry.peer) continue;
      const have = hidden[key];
      if (!have || have.version !== entry.version || Boolean(have.link) !== Boolean(entry.link)) return false;
    }

    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `npm ci` in root when node_modules is missing, or when it is older than package-lock.json and does not hold
 * what the lock file lists. Returns true when it ran npm ci.
 */
export async function ensureNodeModules({ root, log = createScriptLogger('stack') } = {}) {
  if (!root) throw new Error('ensureNodeModules needs root (the repository root)');
  const lockTime = mtimeMs(join(root, 'package-lock.json'));
  const installedTime = Math.max(mtimeMs(join(root, 'node_modules/.package-lock.json')) || 0,
    mtimeMs(join(root, 'node_modules')) || 0);
  let reason = null;
  if (!existsSync(join(root, 'node_modules'))) reason = 'node_modules missing';
  else if (lockTime > installedTime && !installedMatchesLock(root)) reason = 'node_modules older than the lock file';
  if (!reason) {
    log('node_modules.ok', { root });

    return false;
  }
  log('npm.ci', { root, reason });
  const began = Date.now();
  // npm's own output goes to stderr so a caller's stdout stays machine-readable.
  const result = await new Promise((done, fail) => {
    const child = spawn('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: ['ignore', 2, 2] });
    child.once('error', fail);
    child.once('close', (code) => done(code));
  });
  if (result !== 0) throw new Error(`npm ci failed in ${root} (exit ${result})`);
  log('npm.ci.done', { ms: Date.now() - began });

  return true;
}
