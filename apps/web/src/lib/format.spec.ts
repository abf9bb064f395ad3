import { describe, expect, it } from '@jest/globals';

import {
  elapsedMs,
  formatBytes,
  formatDistance,
  formatDuration,
  formatRate,
  formatTick,
  nsToMs,
  shortHash,
} from './format.js';

describe('format', () => {
  it('should write sizes in binary units, from numbers or BigInt strings', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes('1536')).toBe('1.50 KiB');
    expect(formatBytes(String(1024 ** 3))).toBe('1.00 GiB');
    expect(formatBytes(null)).toBe('—');
  });

  it('should write durations and rates', () => {
    expect(formatDuration(800)).toBe('0.8 s');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatRate(100_000_000, 2_000)).toBe('50.0 MB/s');
  });

  it('should measure elapsed time from assignment to finish, or to now while running', () => {
    const ns = (ms: number) => String(BigInt(ms) * 1_000_000n);
    expect(nsToMs(ns(1234))).toBe(1234);
    expect(elapsedMs({ assignedAtNs: ns(1_000), finishedAtNs: ns(4_000) }, 9_999)).toBe(3_000);
    expect(elapsedMs({ assignedAtNs: ns(1_000), finishedAtNs: null }, 1_500)).toBe(500);
  });

  it('should shorten hashes and write distances readably', () => {
    expect(shortHash('a'.repeat(64))).toBe(`${'a'.repeat(10)}…${'a'.repeat(6)}`);
    expect(formatDistance(0)).toBe('0');
    expect(formatDistance(1.5e-7)).toBe('1.50e-7');
    expect(formatDistance(null)).toBe('—');
    expect([0.5, 0.29, 0, 2e-5].map(formatTick)).toEqual(['0.5', '0.29', '0', '2.0e-5']);
  });
});
