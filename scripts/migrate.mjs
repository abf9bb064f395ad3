#!/usr/bin/env node
// Applies pending migrations from prisma/migrations to DATABASE_URL (`npm run migrate`). Works offline: it is the
// part of `prisma migrate deploy` GDS needs, keeping Prisma's `_prisma_migrations` bookkeeping so that Prisma's
// own CLI (`migrate status`, `migrate deploy`) agrees with it wherever that CLI can run.
import { applyMigrations } from './lib/migrate.mjs';

const url = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gds';
const applied = await applyMigrations(url);
console.log(JSON.stringify({ event: 'migrations.applied', count: applied.length, names: applied }));
