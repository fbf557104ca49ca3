// Any JS string as bytes and back, lone surrogates included: UTF-8 cannot hold those (Node writes U+FFFD).
const SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function hasSurrogate(s: string): boolean {
  return SURROGATE.test(s);
}

/** Does `s` hold a surrogate that is not half of a pair (which UTF-8 cannot encode)? */
export function hasLoneSurrogate(s: string): boolean {
  return SURROGATE.test(s) && LONE_SURROGATE.test(s);
}

/**
 * WTF-8: UTF-8, with a lone surrogate as the 3-byte sequence of its code unit. The same bytes
 * as UTF-8 for every string without a lone surrogate.
 */
export function wtf8(s: string): Buffer {
  if (!hasLoneSurrogate(s)) return Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(s.length * 3);
  let pos = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      out[pos++] = 0xf0 | (cp >> 18);
      out[pos++] = 0x80 | ((cp >> 12) & 0x3f);
      out[pos++] = 0x80 | ((cp >> 6) & 0x3f);
      out[pos++] = 0x80 | (cp & 0x3f);
      i++;
    } else pos = writeUnit(c, out, pos);
  }
  return out.subarray(0, pos);
}

/**
 * CESU-8: each UTF-16 code unit, surrogates included, as a 1 to 3 byte UTF-8 sequence, so that
 * the bytes sort in code-unit order (JS's and Java's string order). Returns where it ends.
 */
export function writeCesu8(s: string, target: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) pos = writeUnit(s.charCodeAt(i), target, pos);
  return pos;
}

/** One UTF-16 code unit as CESU-8 (a surrogate as its own three bytes). */
export function writeUnit(c: number, out: Uint8Array, pos: number): number {
  if (c < 0x80) out[pos++] = c;
  else if (c < 0x800) {
    out[pos++] = 0xc0 | (c >> 6);
    out[pos++] = 0x80 | (c & 0x3f);
  } else {
    out[pos++] = 0xe0 | (c >> 12);
    out[pos++] = 0x80 | ((c >> 6) & 0x3f);
    out[pos++] = 0x80 | (c & 0x3f);
  }
  return pos;
}

/** Does bytes[start, end) hold an encoded surrogate code unit (0xED 0xA0-0xBF), which UTF-8 decoders replace? */
export function holdsSurrogateUnits(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end - 1; i++) if (bytes[i] === 0xed && bytes[i + 1]! >= 0xa0) return true;
  return false;
}

/** UTF-8, WTF-8 or CESU-8 bytes back to their string. */
export function decodeExact(bytes: Uint8Array, start: number, end: number): string {
  if (!holdsSurrogateUnits(bytes, start, end)) return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
  let out = '';
  let units: number[] = [];
  for (let i = start; i < end;) {
    const b = bytes[i]!;
    if (b < 0x80) {
      units.push(b);
      i += 1;
    } else if (b < 0xe0) {
      units.push(((b & 0x1f) << 6) | (bytes[i + 1]! & 0x3f));
      i += 2;
    } else if (b < 0xf0) {
      units.push(((b & 0x0f) << 12) | ((bytes[i + 1]! & 0x3f) << 6) | (bytes[i + 2]! & 0x3f));
      i += 3;
    } else {
      const cp = ((b & 0x07) << 18) | ((bytes[i + 1]! & 0x3f) << 12) | ((bytes[i + 2]! & 0x3f) << 6) | (bytes[i + 3]! & 0x3f);
      units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
      i += 4;
    }
    if (units.length >= 8192) {
      out += String.fromCharCode(...units);
      units = [];
    }
  }
  return out + String.fromCharCode(...units);
}
