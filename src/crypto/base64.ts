/**
 * Base64 in the two alphabets Web Push mixes in practice. Browsers hand out base64url keys, but
 * application servers copy keys from everywhere, so key inputs are read leniently; what Herald
 * itself issues (tokens) is read strictly, so each token has exactly one spelling.
 */

const FLEXIBLE = /^[A-Za-z0-9+/_-]*$/;
const URL_SAFE = /^[A-Za-z0-9_-]*$/;

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** base64url or standard base64, padded or not; null for anything that is not one of those. */
export function fromBase64Flexible(text: string): Buffer | null {
  let body = text;
  const padStart = body.indexOf('=');
  if (padStart !== -1) {
    const padding = body.slice(padStart);
    body = body.slice(0, padStart);
    // Padding is only meaningful when it completes the last quantum exactly.
    if (padding !== '=' && padding !== '==') return null;
    if ((body.length + padding.length) % 4 !== 0) return null;
  }
  if (!FLEXIBLE.test(body)) return null;
  return decodeCanonical(body.replace(/\+/g, '-').replace(/\//g, '_'));
}

/** base64url without padding, as Herald writes it; null for any other spelling. */
export function fromBase64Url(text: string): Buffer | null {
  if (!URL_SAFE.test(text)) return null;
  return decodeCanonical(text);
}

function decodeCanonical(urlSafe: string): Buffer | null {
  if (urlSafe.length % 4 === 1) return null;
  const bytes = Buffer.from(urlSafe, 'base64url');
  // Node ignores non-zero bits in the last character; refusing them keeps one text per byte string,
  // so a changed character can never decode to the same bytes (tokens are cached by their text).
  if (bytes.toString('base64url') !== urlSafe) return null;
  return bytes;
}
