export * from './events.js';
export * from './registry.js';
