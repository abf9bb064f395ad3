import { describe, expect, it } from '@jest/globals';

import { checkModelFile, detectContainer } from './model-file.js';

const bytes = (n: number) => `${n} B`;

describe('detectContainer', () => {
  it('should tell a zip archive (torch.save, TorchScript) and a pickle stream from their first bytes', () => {
    expect(detectContainer(Uint8Array.of(0x50, 0x4b, 0x03, 0x04, 0, 0))).toEqual({ container: 'zip' });
    expect(detectContainer(Uint8Array.of(0x80, 0x02, 0x63))).toEqual({ container: 'pickle', pickleProtocol: 2 });
    expect(detectContainer(Uint8Array.of(0x80, 0x01))).toEqual({});
    expect(detectContainer(new TextEncoder().encode('hello'))).toEqual({});
  });
});

describe('checkModelFile', () => {
  it('should refuse an empty file, one over the limit, and one that is not a model, saying why', () => {
    expect(checkModelFile(0, new Uint8Array(), 10, bytes)).toMatchObject({ ok: false, message: 'This file is empty.' });
    expect(checkModelFile(11, Uint8Array.of(0x80, 4), 10, bytes)).toMatchObject({
      ok: false,
      message: expect.stringContaining('10 B'),
    });
    expect(checkModelFile(5, new TextEncoder().encode('a,b,c'), 10, bytes)).toMatchObject({
      ok: false,
      message: expect.stringContaining('not a PyTorch model'),
    });
  });

  it('should accept a pickle stream and name its protocol', () => {
    expect(checkModelFile(9, Uint8Array.of(0x80, 4, 0x95), 10, bytes)).toMatchObject({
      ok: true,
      container: 'pickle',
      pickleProtocol: 4,
    });
  });
});
