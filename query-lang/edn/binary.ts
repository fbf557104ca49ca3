// The text forms of :db.type/bytes (base64, RFC 4648) and :db.type/uri (RFC 3986 characters).

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function base64OfBytes(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** The bytes of padded base64 text; undefined for any other text (so each byte string has one form). */
export function bytesOfBase64(text: string): Uint8Array | undefined {
  if (!BASE64_RE.test(text)) return undefined;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  // unused low bits of the last character must be 0: one text per byte string
  return base64OfBytes(bytes) === text ? bytes : undefined;
}

/** Same bytes (equality by content, as Datomic compares byte arrays' values nowhere else). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Unsigned byte order, shorter first on a common prefix. */
export function compareBytesValues(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * RFC 3986's characters (unreserved, reserved, percent-escapes) and, as Java's URI allows, other
 * non-ASCII characters; no spaces, quotes, angle brackets or control characters. Not empty.
 */
const URI_RE = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2}|[^\u0000-\u007f\s\u0080-\u009f])+$/u;

export function isUriText(text: string): boolean {
  return URI_RE.test(text);
}
