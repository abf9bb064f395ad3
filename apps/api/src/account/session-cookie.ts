/** The portal's session cookie: HttpOnly so page scripts never see the token, SameSite=Lax against CSRF. */
export const SESSION_COOKIE = 'gds_session';

export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export function sessionCookie(token: string, expiresAt: Date, isSecure: boolean): string {
  const maxAge = Math.max(0, Math.round((expiresAt.getTime() - Date.now()) / 1000));
  const attributes = [`${SESSION_COOKIE}=${token}`, 'Path=/', 'HttpOnly', 'SameSite=Lax', `Max-Age=${maxAge}`];
  attributes.push(`Expires=${expiresAt.toUTCString()}`);
  if (isSecure) attributes.push('Secure');

  return attributes.join('; ');
}

export function clearedSessionCookie(isSecure: boolean): string {
  return sessionCookie('', new Date(0), isSecure);
}

/** The value of one cookie in a `Cookie` request header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const at = pair.indexOf('=');
    if (at > 0 && pair.slice(0, at).trim() === name) {
      return pair.slice(at + 1).trim() || undefined;
    }
  }

  return undefined;
}
