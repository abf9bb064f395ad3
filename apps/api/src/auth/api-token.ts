import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'gds_';

/** A new API token: shown once to its owner, stored only as its hash. */
export function generateApiToken(): { token: string; tokenHash: string; prefix: string } {
  const token = PREFIX + randomBytes(32).toString('base64url');

  return { token, tokenHash: hashApiToken(token), prefix: token.slice(0, PREFIX.length + 6) };
}

/** Tokens carry 256 random bits, so a fast hash is enough; a slow KDF would only cost every request. */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function looksLikeApiToken(value: string): boolean {
  return value.startsWith(PREFIX) && value.length === PREFIX.length + 43;
}
