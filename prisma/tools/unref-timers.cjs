// Prisma 6.19's wasm engine leaves 10 s and 60 s timers behind after it is done; let the process exit anyway.
const original = globalThis.setTimeout;
globalThis.setTimeout = function setTimeoutUnrefLong(fn, ms, ...args) {
  const timer = original(fn, ms, ...args);
  if (ms >= 5000 && timer && typeof timer.unref === 'function') timer.unref();
  return timer;
};
