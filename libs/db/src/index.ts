export * from './blob.store.js';
export * from './copy-binary.js';
export * from './generated/prisma/client.js';
export * from './prisma.js';
