import { describe, expect, it } from '@jest/globals';

import { clearedSessionCookie, readCookie, sessionCookie } from './session-cookie.js';

describe('session cookie', () => {
  it('should be HttpOnly, SameSite=Lax, on every path, and Secure only when asked', () => {
    const expiresAt = new Date(Date.now() + 30 * 86_400_000);

    expect(sessionCookie('abc', expiresAt, false)).toMatch(/^gds_session=abc; Path=\/; HttpOnly; SameSite=Lax; Max-Age=2592000; Expires=/);
    expect(sessionCookie('abc', expiresAt, true)).toMatch(/; Secure$/);
    expect(clearedSessionCookie(false)).toMatch(/^gds_session=; .*Max-Age=0/);
  });

  it('should read one cookie among others', () => {
    expect(readCookie('a=1; gds_session=tok-en_1; b=2', 'gds_session')).toBe('tok-en_1');
    expect(readCookie('xgds_session=1', 'gds_session')).toBeUndefined();
    expect(readCookie(undefined, 'gds_session')).toBeUndefined();
  });
});
