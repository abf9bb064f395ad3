import { defineConfig } from 'prisma/config';

// Used by `prisma generate` (scripts/gen.mjs). Migrations are applied by scripts/migrate.mjs, which reads the same
// folder; the URL below only matters to Prisma CLI commands that connect.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/gds' },
});
