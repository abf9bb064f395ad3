import { createHash } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';

import { ApiError, describeError } from './errors.js';
import { HASH_SLICE_BYTES, hashFile, parseUploadResponse } from './upload.js';

describe('hashFile', () => {
  it('should hash a file across slice boundaries exactly as a one-shot SHA-256 does, reporting progress', async () => {
    const bytes = new Uint8Array(HASH_SLICE_BYTES * 2 + 12345).map((_, i) => (i * 31) & 0xff);
    const seen: number[] = [];

    const hex = await hashFile(new Blob([bytes]), { onProgress: ({ done }) => seen.push(done) });

    expect(hex).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(seen).toEqual([HASH_SLICE_BYTES, HASH_SLICE_BYTES * 2, bytes.length]);
  });

  it('should hash an empty file', async () => {
    expect(await hashFile(new Blob([]))).toBe(createHash('sha256').digest('hex'));
  });

  it('should stop with ABORTED when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();

    await expect(hashFile(new Blob([new Uint8Array(10)]), { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });
});

describe('parseUploadResponse', () => {
  it('should return the server record of a stored upload, with its size as a string', () => {
    const body = JSON.stringify({ id: 'u1', sha256: 'ab', size: 42, modelFormat: 'PICKLE', fileName: 'm.pt' });

    expect(parseUploadResponse(201, body)).toEqual({
      id: 'u1',
      sha256: 'ab',
      size: '42',
      modelFormat: 'PICKLE',
      fileName: 'm.pt',
    });
  });

  it("should turn the API's error body into an ApiError with its code, and fall back on the status", () => {
    const refused = () =>
      parseUploadResponse(422, JSON.stringify({ error: { code: 'BAD_USER_INPUT', message: 'not a PyTorch model' } }));
    expect(refused).toThrow(ApiError);
    expect(refused).toThrow('not a PyTorch model');

    try {
      parseUploadResponse(413, 'too big');
    } catch (error) {
      expect(error).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      expect(describeError(error)).toMatch(/too large/);
    }
  });
});

describe('describeError', () => {
  it('should pass on user-facing messages and hide internal ones', () => {
    expect(describeError(new ApiError('BAD_USER_INPUT', 'replication must be at most 2'))).toBe(
      'replication must be at most 2',
    );
    expect(describeError(new ApiError('INTERNAL_SERVER_ERROR', 'stack trace', { requestId: 'r1' }))).toMatch(
      /request r1/,
    );
    expect(describeError(new ApiError('NOT_FOUND', 'x'))).toMatch(/another account/);
  });
});
