// Config for Prisma 6.19's wasm schema engine, used only to diff schemas into SQL (scripts/migrations.mjs).
// Prisma 7's CLI needs a native schema engine it downloads at run time; 6.19 with engine "js" runs offline.
// The engine opens the adapter's connection even for a schema-to-schema diff, so it needs a reachable Postgres
// (any database; nothing is written).
import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma6/config';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: process.env.GDS_PRISMA6_SCHEMA,
  adapter: async () => {
    const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
    return new PrismaPg({
      host: url.hostname,
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username || 'postgres'),
      password: decodeURIComponent(url.password) || undefined,
      database: url.pathname.slice(1) || 'postgres',
      idleTimeoutMillis: 1000,
    });
  },
});
