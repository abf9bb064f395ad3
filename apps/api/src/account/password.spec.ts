import { describe, expect, it } from '@jest/globals';

import { hashPassword, verifyPassword } from './password.js';

describe('password hashing', () => {
  it('should encode scrypt with its parameters and a random salt, and verify only the right password', async () => {
    const first = await hashPassword('correct horse battery');
    const second = await hashPassword('correct horse battery');

    expect(first).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword('correct horse battery', first)).toBe(true);
    expect(await verifyPassword('correct horse batterY', first)).toBe(false);
  });

  it('should never match a malformed or unreasonable hash', async () => {
    const valid = await hashPassword('x'.repeat(12));
    const [, , r, p, salt, key] = valid.split('$');

    expect(await verifyPassword('x'.repeat(12), 'bcrypt$whatever')).toBe(false);
    expect(await verifyPassword('x'.repeat(12), ['scrypt', 2 ** 30, r, p, salt, key].join('$'))).toBe(false);
    expect(await verifyPassword('x'.repeat(12), ['scrypt', 1000, r, p, salt, key].join('$'))).toBe(false);
    expect(await verifyPassword('x'.repeat(12), ['scrypt', 32768, r, p, salt, ''].join('$'))).toBe(false);
  });
});
