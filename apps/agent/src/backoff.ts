import { setTimeout as delay } from 'node:timers/promises';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

/** Reconnects to GDS: 0.5 s doubling up to 15 s. */
export const RECONNECT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 15_000 };

/**
 * Delay before retry number `attempt` (0 for the first retry): exponential, capped, with "equal jitter" (half fixed,
 * half random) so that agents restarted together do not all reconnect in the same instant.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt));

  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Sleeps, or rejects with the signal's reason as soon as it is aborted. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal });
}
