import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, randomBytes, sign, verify } from 'node:crypto';

/** Metadata keys of a Data Owner's signed call (see libs/proto/gooddata/v1/gooddata.proto, "DoSignature"). */
export const DO_METADATA = {
  keyId: 'x-gds-key-id',
  publicKey: 'x-gds-public-key',
  queryId: 'x-gds-query-id',
  timestamp: 'x-gds-timestamp',
  nonce: 'x-gds-nonce',
  signature: 'x-gds-signature',
} as const;

export interface SignedCallFields {
  method: string;
  keyId: string;
  queryId: string;
  timestamp: string;
  nonce: string;
}

/** The exact bytes a Data Owner signs for one call. */
export function signingPayload(fields: SignedCallFields): Buffer {
  const text = ['gds-v1', fields.method, fields.keyId, fields.queryId, fields.timestamp, fields.nonce].join('\n');

  return Buffer.from(text, 'utf8');
}

/** Raw 32-byte Ed25519 public key of a key object. */
export function rawPublicKey(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });

  return spki.subarray(spki.length - 32);
}

/** Key id: hex SHA-256 of the raw public key. */
export function keyIdOf(rawKey: Buffer): string {
  return createHash('sha256').update(rawKey).digest('hex');
}

export function publicKeyFromRaw(rawKey: Buffer): KeyObject {
  if (rawKey.length !== 32) {
    throw new Error(`an Ed25519 public key has 32 bytes, got ${rawKey.length}`);
  }
  const spkiPrefix = Buffer.from('302a300506032b6570032100', 'hex');

  return createPublicKey({ key: Buffer.concat([spkiPrefix, rawKey]), format: 'der', type: 'spki' });
}

export function generateSigningKeyPem(): string {
  const { privateKey } = generateKeyPairSync('ed25519');

  return privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

export function loadSigningKey(pem: string): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new Error(`expected an Ed25519 private key, got ${key.asymmetricKeyType}`);
  }

  return key;
}

/** Builds the metadata entries of one signed Data Owner call. */
export function signCall(
  privateKey: KeyObject,
  method: string,
  queryId = '',
  options: { includePublicKey?: boolean; now?: number } = {},
): Record<string, string> {
  const rawKey = rawPublicKey(privateKey);
  const keyId = keyIdOf(rawKey);
  const timestamp = String(options.now ?? Date.now());
  const nonce = randomBytes(16).toString('hex');
  const signature = sign(null, signingPayload({ method, keyId, queryId, timestamp, nonce }), privateKey);

  const entries: Record<string, string> = {
    [DO_METADATA.keyId]: keyId,
    [DO_METADATA.queryId]: queryId,
    [DO_METADATA.timestamp]: timestamp,
    [DO_METADATA.nonce]: nonce,
    [DO_METADATA.signature]: signature.toString('base64'),
  };
  if (options.includePublicKey) {
    entries[DO_METADATA.publicKey] = rawKey.toString('base64');
  }

  return entries;
}

export function verifyCallSignature(publicKey: KeyObject, fields: SignedCallFields, signatureB64: string): boolean {
  const signature = Buffer.from(signatureB64, 'base64');
  if (signature.length !== 64) {
    return false;
  }

  return verify(null, signingPayload(fields), publicKey, signature);
}
