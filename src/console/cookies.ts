/**
 * The two console cookies. Named `__Host-…` so no subdomain and no plain-http page can set or
 * overwrite them (cookie tossing); browsers take such a cookie only with Secure, Path=/ and no
 * Domain. Secure is set on TLS and on loopback origins (where browsers accept it over http); a
 * plain-http origin elsewhere gets the unprefixed names and no Secure, since browsers would drop
 * the prefixed cookie there.
 */
export interface CookieNames {
  session: string;
  preSession: string;
  secure: boolean;
}

export function cookieNames(origin: string, tls: boolean): CookieNames {
  const url = new URL(origin);
  const loopback = url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
  const secure = tls || url.protocol === 'https:' || loopback;
  const prefix = secure ? '__Host-' : '';
  return { session: `${prefix}herald-console`, preSession: `${prefix}herald-console-pre`, secure };
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

/** A Set-Cookie value: HttpOnly, SameSite=Strict, Path=/; `maxAgeSeconds` 0 deletes it. */
export function setCookie(names: CookieNames, name: string, value: string, maxAgeSeconds: number | null): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (names.secure) parts.push('Secure');
  if (maxAgeSeconds !== null) parts.push(`Max-Age=${maxAgeSeconds}`);
  return parts.join('; ');
}
