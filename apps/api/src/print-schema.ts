#!/usr/bin/env node
// Prints the GraphQL schema built from the resolvers to apps/api/schema.graphql (committed, read by the portal).
// `--check` writes nothing and exits 1 when the committed file differs from what the code builds.
import 'reflect-metadata';

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { NestFactory } from '@nestjs/core';
import { GraphQLSchemaBuilderModule, GraphQLSchemaFactory } from '@nestjs/graphql';
import { lexicographicSortSchema, printSchema } from 'graphql';

import { RESOLVERS, SCHEMA_BUILD_OPTIONS } from './graphql/resolvers.js';

const SCHEMA_FILE = join(import.meta.dirname, '../schema.graphql');
const HEADER = '# Generated from the resolvers by apps/api/src/print-schema.ts (`npm run schema -w @gds/api`).\n\n';

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(GraphQLSchemaBuilderModule, { logger: false });
  const schema = await app.get(GraphQLSchemaFactory).create(RESOLVERS, SCHEMA_BUILD_OPTIONS);
  await app.close();
  const text = HEADER + printSchema(lexicographicSortSchema(schema)) + '\n';

  if (!process.argv.includes('--check')) {
    writeFileSync(SCHEMA_FILE, text);
    console.log(JSON.stringify({ event: 'schema.written', file: SCHEMA_FILE }));
    return;
  }
  const committed = readFileOrEmpty(SCHEMA_FILE);
  if (committed !== text) {
    console.error(`${SCHEMA_FILE} is out of date: run \`npm run schema -w @gds/api\` and commit the result`);
    process.exit(1);
  }
  console.log(JSON.stringify({ event: 'schema.up_to_date', file: SCHEMA_FILE }));
}

function readFileOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
