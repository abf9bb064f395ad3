import { describe, expect, it } from '@jest/globals';

import { backoffDelayMs, RECONNECT_BACKOFF } from './backoff.js';

describe('backoffDelayMs', () => {
  it('should double from 0.5 s and stop at 15 s', () => {
    const ceiling = (attempt: number) => backoffDelayMs(attempt, { ...RECONNECT_BACKOFF, random: () => 1 });

    expect([0, 1, 2, 3, 4, 5, 6, 10].map(ceiling)).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('should keep at least half of the delay fixed', () => {
    expect(backoffDelayMs(3, { ...RECONNECT_BACKOFF, random: () => 0 })).toBe(2000);
  });
});
