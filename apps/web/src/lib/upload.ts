// The browser side of a model upload: hash the file in slices (the whole file never sits in memory), then stream it
// to POST /uploads with XMLHttpRequest, which reads from disk and reports upload progress. The API checks the bytes
// against X-Content-SHA256 and answers with its own hash.
//
// SHA-256 comes from hash-wasm (incremental, WebAssembly inlined in the bundle: nothing fetched). crypto.subtle.digest
// needs the whole file in memory; pure-JS @noble/hashes ran at ~60 MB/s in Chromium here against ~137 MB/s for
// hash-wasm, and the hash must be known before the first byte goes up (it travels as a request header).
import { createSHA256 } from 'hash-wasm';

import { ApiError } from './errors';
import type { ModelUploadInfo } from './graphql/types';

/** Slice size for hashing: big enough to amortize the awaits, small enough to keep the page responsive. */
export const HASH_SLICE_BYTES = 8 * 1024 * 1024;

export interface PhaseProgress {
  done: number;
  total: number;
}

/** Timestamps (performance.now(), ms) and sizes of one upload, shown to the user and read by the bench. */
export interface UploadTimings {
  bytes: number;
  hashMs: number;
  uploadMs: number;
  /** From send() until the last progress event: the bytes left the browser. */
  sendMs: number;
}

/** SHA-256 of a File or Blob, hex; reads the next slice while hashing the current one. */
export async function hashFile(
  file: Blob,
  { signal, onProgress }: { signal?: AbortSignal; onProgress?: (progress: PhaseProgress) => void } = {},
): Promise<string> {
  const hash = await createSHA256();
  const total = file.size;
  const read = (at: number) => file.slice(at, Math.min(total, at + HASH_SLICE_BYTES)).arrayBuffer();

  let next: Promise<ArrayBuffer> | undefined = total > 0 ? read(0) : undefined;
  for (let at = 0; next; ) {
    const buffer = await next;
    if (signal?.aborted) throw new ApiError('ABORTED', 'cancelled');
    at += buffer.byteLength;
    next = at < total ? read(at) : undefined;

    hash.update(new Uint8Array(buffer));
    onProgress?.({ done: at, total });
  }

  return hash.digest('hex');
}

/** Streams the file to POST {apiUrl}/uploads; resolves with the server's record of it. */
export function uploadModelFile(
  apiUrl: string,
  file: File,
  sha256Hex: string,
  { signal, onProgress }: { signal?: AbortSignal; onProgress?: (progress: PhaseProgress) => void } = {},
): Promise<{ upload: ModelUploadInfo; sendMs: number; uploadMs: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const startedAt = performance.now();
    let sentAt = startedAt;

    const onAbort = () => xhr.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const settle = () => signal?.removeEventListener('abort', onAbort);

    xhr.open('POST', `${apiUrl}/uploads`);
    xhr.withCredentials = true;
    xhr.responseType = 'text';
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.setRequestHeader('X-Content-SHA256', sha256Hex);
    xhr.setRequestHeader('X-File-Name', encodeURIComponent(file.name));

    xhr.upload.onprogress = (event) => {
      if (event.loaded >= file.size) sentAt = performance.now();
      onProgress?.({ done: event.loaded, total: file.size });
    };
    xhr.onload = () => {
      settle();
      const uploadMs = performance.now() - startedAt;
      try {
        resolve({ upload: parseUploadResponse(xhr.status, xhr.responseText), sendMs: sentAt - startedAt, uploadMs });
      } catch (error) {
        reject(error);
      }
    };
    xhr.onabort = () => {
      settle();
      reject(new ApiError('ABORTED', 'cancelled'));
    };
    xhr.onerror = () => {
      settle();
      reject(
        new ApiError(
          'NETWORK_ERROR',
          `The upload to ${apiUrl} was interrupted. The API may be down, or it closed the connection (for example ` +
            'because it refused the file).',
        ),
      );
    };

    xhr.send(file);
  });
}

/** 201 with the upload record, or the API's {"error":{"code","message"}} as an ApiError. */
export function parseUploadResponse(status: number, text: string): ModelUploadInfo {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }

  if (status === 201 || status === 200) {
    const upload = body as ModelUploadInfo | undefined;
    if (!upload?.id || !upload.sha256)
      throw new ApiError('INTERNAL_SERVER_ERROR', 'The API accepted the upload but sent no record of it.');

    return { ...upload, size: String(upload.size) };
  }

  const error = (body as { error?: { code?: string; message?: string; requestId?: string } } | undefined)?.error;
  const fallback =
    status === 413
      ? 'PAYLOAD_TOO_LARGE'
      : status === 401
        ? 'UNAUTHENTICATED'
        : status >= 500
          ? 'INTERNAL_SERVER_ERROR'
          : 'BAD_USER_INPUT';

  throw new ApiError(error?.code ?? fallback, error?.message ?? `The API answered ${status}.`, {
    status,
    requestId: error?.requestId,
  });
}
