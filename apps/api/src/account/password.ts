import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * scrypt is memory-hard and built into Node, so no native add-on is needed (npm here blocks install scripts).
 * N = 2^15, r = 8 costs 32 MiB and roughly 50-100 ms per hash: slow for a guesser, fine for a sign-in.
 */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;

/** Bounds for parameters read back from the database, so a tampered row cannot make one check take forever. */
const MAX_N = 2 ** 20;

/** A random salt and the derived key, as `scrypt$N$r$p$salt$hash` (salt and hash in base64). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await deriveKey(password, salt, COST);

  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** Compares in constant time; a malformed hash never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return false;
  }
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (!isPowerOfTwo(N) || N > MAX_N || !(r >= 1 && r <= 32) || !(p >= 1 && p <= 16)) {
    return false;
  }
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (expected.length === 0) {
    return false;
  }

  const actual = await deriveKey(password, salt, { N, r, p }, expected.length);

  return timingSafeEqual(actual, expected);
}

/** A hash of no one's password: checked against when an email is unknown, so both cases take the same time. */
let decoy: Promise<string> | undefined;
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

function deriveKey(
  password: string,
  salt: Buffer,
  cost: { N: number; r: number; p: number },
  length = KEY_BYTES,
): Promise<Buffer> {
  // Node refuses by default above 32 MiB; scrypt needs 128 * N * r bytes plus a little.
  const options: ScryptOptions = { ...cost, maxmem: 128 * cost.N * cost.r * 2 };

  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, length, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 1 && (value & (value - 1)) === 0;
}
