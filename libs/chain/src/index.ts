// @gds/chain: the registry contract's events, clients, the embedded anvil and the subscriber. No database code:
// agents import this entry point; the outbox relay and the timeline (Prisma, BullMQ) are in `@gds/chain/outbox`.
export * from './anvil.js';
export * from './client.js';
export * from './config.js';
export * from './cursor.store.js';
export * from './deployment.js';
export * from './events.js';
export * from './heads.js';
export * from './registry.js';
export * from './setup.js';
export * from './subscriber.js';
