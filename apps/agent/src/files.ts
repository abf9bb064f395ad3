import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface FileDigest {
  sha256: string;
  size: number;
  /** Number of lines: newline characters, plus one when the last line has none. */
  lineCount: number;
}

/** SHA-256, size and line count of a file, read once as a stream so large files never sit in memory. */
export async function digestFile(path: string): Promise<FileDigest> {
  const hash = createHash('sha256');
  let size = 0;
  let newlines = 0;
  let lastByte = -1;

  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    newlines += countNewlines(chunk);
    lastByte = chunk[chunk.length - 1];
  }

  const lineCount = size > 0 && lastByte !== 0x0a ? newlines + 1 : newlines;

  return { sha256: hash.digest('hex'), size, lineCount };
}

function countNewlines(chunk: Buffer): number {
  let count = 0;
  let index = chunk.indexOf(0x0a);
  while (index !== -1) {
    count += 1;
    index = chunk.indexOf(0x0a, index + 1);
  }

  return count;
}

/**
 * Writes a file so that readers see either the old or the new content, never a torn one: a temp file beside the
 * target, fsync, rename, then fsync of the folder so the rename itself survives a crash.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const folder = dirname(path);
  const tempPath = `${path}.${process.pid}.${Date.now()}.tmp`;
  await mkdir(folder, { recursive: true });

  const file = await open(tempPath, 'w', mode);
  try {
    await file.writeFile(content, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }

  await rename(tempPath, path);
  await syncFolder(folder);
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Deletes files that may or may not exist; a missing file is not an error. */
export async function removeFiles(paths: Array<string | undefined>): Promise<void> {
  await Promise.all(paths.filter((path): path is string => !!path).map((path) => rm(path, { force: true })));
}

/** Unix time as a float in seconds, as Python's time.time() prints it; used in the seed's temp file names. */
export function unixTimeFloat(): string {
  return ((performance.timeOrigin + performance.now()) / 1000).toFixed(6);
}
