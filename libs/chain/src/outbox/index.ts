// @gds/chain/outbox: what the API and the worker use to announce state changes through the ChainOutbox table.
export * from './outbox.jobs.js';
export * from './relay.js';
export * from './setup.js';
