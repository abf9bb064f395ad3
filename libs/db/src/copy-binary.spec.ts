import { describe, expect, it } from '@jest/globals';

import { CopyRowDecoder, CopyRowEncoder } from './copy-binary.js';

/** Builds COPY TO output for the given values, as Postgres would send it. */
function copyOutput(values: Buffer[]): Buffer {
  const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
  const rows = values.map((value) => {
    const prefix = Buffer.alloc(6);
    prefix.writeInt16BE(1, 0);
    prefix.writeInt32BE(value.length, 2);
    return Buffer.concat([prefix, value]);
  });

  return Buffer.concat([header, ...rows, Buffer.from([0xff, 0xff])]);
}

describe('CopyRowDecoder', () => {
  it('should return every value once whatever the cut points', () => {
    const values = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(70_000, 7), Buffer.from('last')];
    const output = copyOutput(values);

    for (const step of [1, 3, 5, 64, 4096, output.length]) {
      const decoder = new CopyRowDecoder();
      const seen: Buffer[] = [];
      for (let at = 0; at < output.length; at += step) {
        seen.push(...decoder.push(output.subarray(at, at + step)));
      }
      decoder.end();
      expect(Buffer.concat(seen)).toEqual(Buffer.concat(values));
      expect(seen.filter((v) => v.length > 0)).toHaveLength(3);
    }
  });

  it('should refuse output that ends before the trailer', () => {
    const output = copyOutput([Buffer.from('abc')]);
    const decoder = new CopyRowDecoder();
    [...decoder.push(output.subarray(0, output.length - 2))];

    expect(() => decoder.end()).toThrow(/ended early/);
  });
});

describe('CopyRowEncoder', () => {
  it('should frame a row as three fields with the blob id, sequence and data', () => {
    const encoder = new CopyRowEncoder('00000000-0000-0000-0000-000000000001');
    encoder.row(Buffer.from('x'));
    const row = encoder.row(Buffer.from('data'));

    expect(row.readInt16BE(0)).toBe(3);
    expect(row.readInt32BE(2)).toBe(16);
    expect(row.readInt32BE(2 + 4 + 16 + 4)).toBe(1);
    expect(row.subarray(row.length - 4).toString()).toBe('data');
  });
});
