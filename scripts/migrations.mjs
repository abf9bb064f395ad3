#!/usr/bin/env node
// Schema migrations in Prisma's layout (prisma/migrations/<timestamp>_<name>/migration.sql).
//   node scripts/migrations.mjs new <name>   diff the last migrated schema against prisma/schema.prisma into a new
//                                            migration folder (no database needed)
//   node scripts/migrations.mjs check        fail when prisma/schema.prisma has changes no migration captures
// Applying them is scripts/migrate.mjs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from './lib/paths.mjs';

const schemaPath = join(REPO_ROOT, 'prisma/schema.prisma');
const migrationsDir = join(REPO_ROOT, 'prisma/migrations');
// The schema as of the newest migration: the "from" side of the next diff.
const snapshotPath = join(migrationsDir, 'schema.snapshot.prisma');

/** Prisma 6 wants the url in the schema and chokes on Prisma 7 generator options, so diff a derived copy. */
function toPrisma6Schema(source, name) {
  const text = source
    .replace(/generator client \{[^}]*\}/, '')
    .replace(/provider = "postgresql"/, 'provider = "postgresql"\n  url      = env("DATABASE_URL")');
  const file = join(tmpdir(), `gds-${name}-${process.pid}.prisma`);
  writeFileSync(file, text);

  return file;
}

function diff(fromSource) {
  const to = toPrisma6Schema(readFileSync(schemaPath, 'utf8'), 'to');
  const fromArgs = fromSource === null ? ['--from-empty'] : ['--from-schema-datamodel', toPrisma6Schema(fromSource, 'from')];
  const out = execFileSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/prisma6/build/index.js'), 'migrate', 'diff', ...fromArgs,
      '--to-schema-datamodel', to, '--script', '--config', join(REPO_ROOT, 'prisma/tools/prisma6.config.mjs')],
    {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        GDS_PRISMA6_SCHEMA: to,
        PRISMA_QUERY_ENGINE_LIBRARY: '/bin/false',
        CHECKPOINT_DISABLE: '1',
        NODE_OPTIONS: `--require ${join(REPO_ROOT, 'prisma/tools/unref-timers.cjs')}`,
      },
    },
  );

  return out.replace(/^-- CreateSchema\nCREATE SCHEMA IF NOT EXISTS "public";\n\n/m, '');
}

function isEmptyDiff(sql) {
  return sql.trim() === '' || sql.includes('This is an empty migration');
}

function previousSchema() {
  return existsSync(snapshotPath) ? readFileSync(snapshotPath, 'utf8') : null;
}

function createMigration(name) {
  if (!/^[a-z0-9_]+$/.test(name ?? '')) {
    throw new Error('usage: migrations.mjs new <name>, name in lower_snake_case');
  }
  const sql = diff(previousSchema());
  if (isEmptyDiff(sql)) {
    console.log(JSON.stringify({ event: 'migrations.unchanged' }));
    return;
  }

  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const folder = join(migrationsDir, `${stamp}_${name}`);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'migration.sql'), sql);
  writeFileSync(snapshotPath, readFileSync(schemaPath, 'utf8'));
  console.log(JSON.stringify({ event: 'migrations.created', folder }));
}

function checkMigrations() {
  const sql = diff(previousSchema());
  if (!isEmptyDiff(sql)) {
    console.error(sql);
    throw new Error('prisma/schema.prisma has changes without a migration: run `node scripts/migrations.mjs new <name>`');
  }
  console.log(JSON.stringify({ event: 'migrations.in_sync' }));
}

const [command, name] = process.argv.slice(2);
if (command === 'new') createMigration(name);
else if (command === 'check') checkMigrations();
else throw new Error('usage: migrations.mjs new <name> | check');
