import type { KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

import { generateSigningKeyPem, keyIdOf, loadSigningKey, rawPublicKey, type Logger } from '@gds/common';

import { writeFileAtomic } from './files.js';

/** What GDS answered to RegisterDataOwner; kept in `<stateDir>/identity.json`. */
export interface AgentIdentity {
  dataOwnerId: string;
  keyId: string;
}

export class MissingKeyError extends Error {
  constructor(keyFile: string) {
    super(`no signing key at ${keyFile}: run \`gds-agent register --config ...\` first`);
    this.name = 'MissingKeyError';
  }
}

/** Loads the agent's Ed25519 key; warns when the file is readable by others than its owner. */
export async function readSigningKey(keyFile: string, logger: Logger): Promise<KeyObject> {
  const pem = await readFile(keyFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new MissingKeyError(keyFile);
    }
    throw error;
  });

  const { mode } = await stat(keyFile);
  if (mode & 0o077) {
    logger.warn({ keyFile, mode: (mode & 0o777).toString(8) }, 'key.permissions_too_open');
  }

  return loadSigningKey(pem);
}

/** Loads the key, creating it first (mode 0600) when the file does not exist. */
export async function ensureSigningKey(keyFile: string, logger: Logger): Promise<KeyObject> {
  await mkdir(dirname(keyFile), { recursive: true, mode: 0o700 });

  try {
    // 'wx' never overwrites: a key that appeared meanwhile (another register running) wins.
    await writeFile(keyFile, generateSigningKeyPem(), { mode: 0o600, flag: 'wx' });
    logger.info({ keyFile }, 'key.created');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw error;
    }
  }

  return readSigningKey(keyFile, logger);
}

export function localKeyId(key: KeyObject): string {
  return keyIdOf(rawPublicKey(key));
}

export function identityPath(stateDir: string): string {
  return join(stateDir, 'identity.json');
}

export async function writeIdentity(stateDir: string, identity: AgentIdentity): Promise<void> {
  await writeFileAtomic(identityPath(stateDir), `${JSON.stringify(identity, null, 2)}\n`);
}

export async function readIdentity(stateDir: string): Promise<AgentIdentity | undefined> {
  const text = await readFile(identityPath(stateDir), 'utf8').catch(() => undefined);

  return text === undefined ? undefined : (JSON.parse(text) as AgentIdentity);
}
