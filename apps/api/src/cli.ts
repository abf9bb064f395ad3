#!/usr/bin/env node
// Operator commands: `node apps/api/dist/cli.js create-customer --name <name> [--email <email>]` prints one JSON
// line with the new customer's id and API token (shown only this once).
import 'reflect-metadata';

import { parseArgs } from 'node:util';

import { NestFactory } from '@nestjs/core';

import { closeInfrastructure, CoreModule } from './app.module.js';
import { CustomerService } from './customer/customer.service.js';

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({ args: rest, options: { name: { type: 'string' }, email: { type: 'string' } } });
  if (command !== 'create-customer' || !values.name) {
    throw new Error('usage: cli.js create-customer --name <name> [--email <email>]');
  }

  const app = await NestFactory.createApplicationContext(CoreModule, { logger: ['error', 'warn'] });
  try {
    const created = await app.get(CustomerService).createCustomer(values.name, values.email);
    console.log(JSON.stringify(created));
  } finally {
    await app.close();
    await closeInfrastructure((token) => app.get(token));
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
