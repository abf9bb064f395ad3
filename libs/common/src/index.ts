export * from './chunks.js';
export * from './logger.js';
export * from './signing.js';
export * from './gds.exception.js';
export * from './jobs.js';
export * from './config.js';
