// The byte form of index keys (format 2): an array of parts, each self-delimiting, so that LMDB's
// byte order (memcmp) is the order of the parts compared one by one. Index keys are mostly
// small non-negative integers (entity ids, attribute ids, tags, tx ids), which take 1 + their
// byte length here against 9 bytes in lmdb-js's default (ordered-binary) encoding: keys are half
// as long (a 1M-datom import's file: 207 MB against 310).
//
// Part layouts (first byte = kind; kinds sort in this order):
//   false, true                     1 byte
//   -Infinity                       1 byte
//   integer <= -2^53                kind, 255 - byte length, magnitude bytes inverted [, BIGINT]
//   -2^53 < number < 0              kind, 8 bytes of the IEEE-754 double, inverted [, BIGINT]
//   0 <= integer < 2^53             kind + byte length (0..7), big-endian bytes [, BIGINT | FRACTION, 8 bytes]
//   integer >= 2^53                 kind, byte length, big-endian magnitude [, BIGINT]
//   +Infinity, NaN                  1 byte
//   string                          kind, UTF-8 (format 5: CESU-8), 0 (never U+0000..U+0004, see encoding.ts)
//   KEY_MAX                         1 byte above every other part: closes a prefix range
// A number with a fraction is its integer part followed by FRACTION and the fraction's double,
// and a bigint is followed by BIGINT; both markers sort above every kind, so 5 < 5n < 5.5 < 6
// and a part is never a prefix of a larger one. Bigints keep every digit (ordered-binary did not).
//
// Two codecs share these layouts. KEY_CODEC (formats 2 to 4) writes strings as UTF-8, whose
// byte order is code point order, and -0 as 0. EXACT_KEY_CODEC (format 5 on) writes every JS
// string exactly, as CESU-8 (each UTF-16 code unit as a UTF-8-style sequence, lone surrogates
// included: the same bytes as UTF-8 for a string without surrogates), so keys sort in UTF-16
// code-unit order, the order the query language (and Datomic's String.compareTo) compares
// strings in; and -0 as 0 followed by NEG_ZERO, next to 0: one value (a lookup of 0 finds it)
// whose sign is kept. readKey reads both. Format 6's codec (value-keys.ts) is EXACT_KEY_CODEC with
// the payloads of tuples and keywords (a string part after their tag) in a layout of their own.
import { decodeExact, hasSurrogate, writeCesu8 } from './exact-utf8.js';

/** A value's payload in a key (or a log record): what a key part holds. */
export type Payload = boolean | number | bigint | string;
export type KeyPart = Payload;

/** After 0 (format 5): the zero is -0. Below every kind byte, so -0 sorts with 0 and right before it. */
const NEG_ZERO = 0x01;
const FALSE = 0x02;
const TRUE = 0x03;
const NEG_INFINITY = 0x0e;
const BIG_NEGATIVE = 0x0f;
const NEGATIVE = 0x10;
const UINT = 0x18; // + byte length 0..7
const BIG_POSITIVE = 0x20;
const POS_INFINITY = 0x21;
const NOT_A_NUMBER = 0x22;
const STRING = 0x40;
const KEY_MAX_PART = 0xfd;
const BIGINT = 0xfe;
const FRACTION = 0xff;

/** The string that closes a prefix range (store.ts exports it as KEY_MAX). */
export const KEY_MAX_STRING = '\uffff\uffff\uffff\uffff';

const TWO_32 = 2 ** 32;
const TWO_53 = 2 ** 53;
const scratch = new DataView(new ArrayBuffer(8));

/** Which codec the functions below run for: set by each entry point of a codec (never re-entered). */
let exact = false;

export interface KeyCodec {
  /** Writes `key` (an array of parts, or one part) at `start`; returns where it ends. */
  writeKey(key: unknown, target: Uint8Array, start: number): number;
  readKey(source: Uint8Array, start: number, end: number): KeyPart[];
  writePart(part: KeyPart, target: Uint8Array, pos: number): number;
  /** Writes the payload of a value whose type tag is `tag` (the part after the tag in a key). */
  writeValue(tag: number, payload: KeyPart, target: Uint8Array, pos: number): number;
  /** The order of two keys' bytes (what LMDB's memcmp gives), from their parts. */
  compareKeys(a: readonly KeyPart[], b: readonly KeyPart[]): number;
  /** Two parts' order, or 0 for the same value (-0 and 0 too). */
  comparePart(a: KeyPart, b: KeyPart): number;
  /** comparePart of two parts that follow the part `previous` (a value's tag decides its payload's order). */
  comparePartAfter(previous: KeyPart | undefined, a: KeyPart, b: KeyPart): number;
  /** Whether tuple values are keyed in the query language's order (format 6, value-keys.ts). */
  readonly orderedTuples: boolean;
  /** Whether packed runs store each key as its difference from the key before (format 7, run-layout.ts). */
  readonly deltaRuns?: boolean;
}

/**
 * Payloads keyed by their own layout, not as their payload's string (format 6: tuples and
 * keywords, see value-keys.ts): a string part right after a part that is one of `tags`.
 */
export interface ValueKeys {
  readonly tags: ReadonlySet<number>;
  /** The kind bytes its parts start with (none of key-codec's own). */
  readonly kinds: ReadonlySet<number>;
  /** Writes `payload` of a value of `tag` at `pos`; returns where it ends. */
  write(tag: number, payload: string, target: Uint8Array, pos: number): number;
  /** Reads the part starting at source[start] (its kind byte); returns the payload and where the part ends. */
  read(source: Uint8Array, start: number, end: number): [string, number];
  /** The order of two payloads of a value of `tag`, as their bytes. */
  compare(tag: number, a: string, b: string): number;
  /**
   * Whether one payload's bytes are a proper prefix of the other's (a range bound's and a value's):
   * their keys' order then rests on the bytes of the parts after them.
   */
  isPrefix(tag: number, a: string, b: string): boolean;
}

/** The value keys the key being written has (set by each writeKey). */
let valueKeys: ValueKeys | undefined;
/** The value keys of format 6, read in any key: their kind bytes are in no other format's keys. */
let valueKeysRead: ValueKeys | undefined;

function codec(exactStrings: boolean, ownKeys?: ValueKeys): KeyCodec {
  const claims = (previous: unknown, part: unknown) =>
    ownKeys !== undefined && typeof part === 'string' && part !== KEY_MAX_STRING && ownKeys.tags.has(previous as number) && typeof previous === 'number';
  return {
    writeKey: (key, target, start) => ((exact = exactStrings), (valueKeys = ownKeys), writeAnyKey(key, target, start)),
    readKey,
    writePart: (part, target, pos) => ((exact = exactStrings), writeAnyPart(part, target, pos)),
    writeValue: (tag, payload, target, pos) => (claims(tag, payload) ? ownKeys!.write(tag, payload as string, target, pos) : ((exact = exactStrings), writeAnyPart(payload, target, pos))),
    compareKeys: ownKeys ? (a, b) => ((exact = exactStrings), compareKeysWith(ownKeys, a, b)) : (a, b) => ((exact = exactStrings), compareAnyKeys(a, b)),
    comparePart: (a, b) => ((exact = exactStrings), compareAnyPart(a, b)),
    comparePartAfter: (previous, a, b) =>
      claims(previous, a) && claims(previous, b) ? ownKeys!.compare(previous as number, a as string, b as string) : ((exact = exactStrings), compareAnyPart(a, b)),
    orderedTuples: ownKeys !== undefined,
  };
}

/** Formats 2 to 4: UTF-8 strings, -0 written as 0. */
export const KEY_CODEC = codec(false);
/** Format 5 on: any JS string exactly, in UTF-16 order; -0 kept. */
export const EXACT_KEY_CODEC = codec(true);
export const { writeKey, writePart, compareKeys, comparePart } = KEY_CODEC;

/** EXACT_KEY_CODEC with some values keyed by their own layout (format 6: value-keys.ts). */
export function exactKeyCodecWith(ownKeys: ValueKeys): KeyCodec {
  valueKeysRead = ownKeys;
  return codec(true, ownKeys);
}

function writeAnyKey(key: unknown, target: Uint8Array, start: number): number {
  if (key instanceof Uint8Array) {
    // lmdb-js's own default start of an iteration: bytes already
    target.set(key, start);
    return start + key.length;
  }
  if (!Array.isArray(key)) return writeAnyPart(key as KeyPart, target, start);
  let pos = start;
  const own = valueKeys;
  for (let i = 0; i < key.length; i++) {
    const part = key[i] as KeyPart;
    if (own !== undefined && i > 0 && typeof part === 'string' && part !== KEY_MAX_STRING && own.tags.has(key[i - 1])) {
      pos = own.write(key[i - 1] as number, part, target, pos);
      exact = true;
    } else pos = writeAnyPart(part, target, pos);
  }
  return pos;
}

/**
 * compareAnyKeys, with the payloads `own` keys (a string after one of its tags) ordered by `own`:
 * the parts before such a payload are ids and tags, so they compare one by one.
 */
function compareKeysWith(own: ValueKeys, a: readonly KeyPart[], b: readonly KeyPart[]): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 1; i < n; i++) {
    // most keys hold no string, or not after a tag of `own`: one typeof per part
    const x = a[i];
    if (typeof x !== 'string' || x === KEY_MAX_STRING) continue;
    const tag = a[i - 1];
    const y = b[i];
    if (typeof tag !== 'number' || !own.tags.has(tag) || typeof y !== 'string' || y === KEY_MAX_STRING || b[i - 1] !== tag) continue;
    for (let j = 0; j < i; j++) {
      const c = compareAnyPart(a[j]!, b[j]!);
      if (c !== 0) return c;
    }
    const c = own.compare(tag, x, y);
    if (c !== 0) return own.isPrefix(tag, x, y) ? compareWrittenKeys(own, a, b) : c;
    return compareKeysWith(own, a.slice(i + 1), b.slice(i + 1));
  }
  return compareAnyKeys(a, b);
}

const writtenA = new Uint8Array(8192);
const writtenB = new Uint8Array(8192);

/** Two keys' order as their bytes, written out: what follows a payload that is a prefix of the other's decides. */
function compareWrittenKeys(own: ValueKeys, a: readonly KeyPart[], b: readonly KeyPart[]): number {
  valueKeys = own;
  const aEnd = writeAnyKey(a, writtenA, 0);
  const bEnd = writeAnyKey(b, writtenB, 0);
  return compareBytes(writtenA, 0, aEnd, writtenB, 0, bEnd);
}

/**
 * Where the reading functions below are in the key being read. Module state instead of a cursor
 * object: readKey runs for every key of every scan, and is never re-entered.
 */
let at = 0;

/** One part of format 5's layout at source[start] (the other parts of a value-keys.ts key): the part and where it ends. */
export function readExactPart(source: Uint8Array, start: number, end: number): [KeyPart, number] {
  at = start;
  const part = readPart(source, end);
  return [part, at];
}

/** Reads the parts of the key in target[start, end). */
export function readKey(source: Uint8Array, start: number, end: number): KeyPart[] {
  const parts: KeyPart[] = [];
  at = start;
  while (at < end) parts.push(readPart(source, end));
  return parts;
}

function writeAnyPart(part: KeyPart, target: Uint8Array, pos: number): number {
  switch (typeof part) {
    case 'number':
      return writeNumber(part, target, pos);
    case 'string':
      return writeString(part, target, pos);
    case 'boolean':
      target[pos] = part ? TRUE : FALSE;
      return pos + 1;
    case 'bigint':
      return writeBigInt(part, target, pos);
  }
  throw new TypeError(`cannot use ${String(part)} in an index key`);
}

function writeNumber(n: number, target: Uint8Array, pos: number): number {
  if (exact && n === 0 && 1 / n < 0) {
    target[pos++] = UINT;
    target[pos++] = NEG_ZERO;
    return pos;
  }
  if (n >= 0 && n < TWO_53) {
    const whole = Math.floor(n);
    pos = writeUint(whole, target, pos);
    if (whole === n) return pos;
    target[pos++] = FRACTION;
    return writeDouble(n - whole, target, pos, false);
  }
  if (n < 0 && n > -TWO_53) {
    target[pos++] = NEGATIVE;
    return writeDouble(n, target, pos, true);
  }
  if (n === Infinity) return ((target[pos] = POS_INFINITY), pos + 1);
  if (n === -Infinity) return ((target[pos] = NEG_INFINITY), pos + 1);
  if (Number.isNaN(n)) return ((target[pos] = NOT_A_NUMBER), pos + 1);
  return writeBigMagnitude(n < 0, BigInt(n) * (n < 0 ? -1n : 1n), target, pos);
}

/** 0 <= n < 2^53, an integer: its byte length in the kind byte, then its bytes, big-endian. */
export function writeUint(n: number, target: Uint8Array, pos: number): number {
  if (n < TWO_32) {
    const length = n === 0 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4;
    target[pos++] = UINT + length;
    for (let shift = (length - 1) * 8; shift >= 0; shift -= 8) target[pos++] = (n >>> shift) & 0xff;
    return pos;
  }
  const high = Math.floor(n / TWO_32);
  const low = n >>> 0;
  const highLength = high < 0x100 ? 1 : high < 0x10000 ? 2 : 3;
  target[pos++] = UINT + 4 + highLength;
  for (let shift = (highLength - 1) * 8; shift >= 0; shift -= 8) target[pos++] = (high >>> shift) & 0xff;
  target[pos++] = low >>> 24;
  target[pos++] = (low >>> 16) & 0xff;
  target[pos++] = (low >>> 8) & 0xff;
  target[pos++] = low & 0xff;
  return pos;
}

function writeDouble(n: number, target: Uint8Array, pos: number, invert: boolean): number {
  scratch.setFloat64(0, n);
  for (let i = 0; i < 8; i++) target[pos++] = invert ? ~scratch.getUint8(i) & 0xff : scratch.getUint8(i);
  return pos;
}

function writeBigInt(n: bigint, target: Uint8Array, pos: number): number {
  if (n >= 0n && n < BigInt(TWO_53)) pos = writeUint(Number(n), target, pos);
  else if (n < 0n && n > -BigInt(TWO_53)) {
    target[pos++] = NEGATIVE;
    pos = writeDouble(Number(n), target, pos, true);
  } else pos = writeBigMagnitude(n < 0n, n < 0n ? -n : n, target, pos);
  target[pos] = BIGINT;
  return pos + 1;
}

/** |n| >= 2^53: byte length, then the magnitude; both inverted for negatives so that they sort descending. */
function writeBigMagnitude(negative: boolean, magnitude: bigint, target: Uint8Array, pos: number): number {
  let hex = magnitude.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const length = hex.length / 2;
  target[pos++] = negative ? BIG_NEGATIVE : BIG_POSITIVE;
  target[pos++] = negative ? 255 - length : length;
  for (let i = 0; i < length; i++) {
    const byte = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    target[pos++] = negative ? 255 - byte : byte;
  }
  return pos;
}

function writeString(s: string, target: Uint8Array, pos: number): number {
  if (s === KEY_MAX_STRING) {
    target[pos] = KEY_MAX_PART;
    return pos + 1;
  }
  target[pos++] = STRING;
  const n = s.length;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    if (c === 0) throw new TypeError('an index key string cannot hold U+0000');
    target[pos++] = c;
  }
  if (i < n) {
    const rest = s.slice(i);
    if (rest.includes('\0')) throw new TypeError('an index key string cannot hold U+0000');
    pos = exact && hasSurrogate(rest) ? writeCesu8(rest, target, pos) : pos + utf8Into(rest, target, pos);
  }
  target[pos] = 0;
  return pos + 1;
}

/** Node's Buffers have fast UTF-8 methods that lmdb-js's buffers (and ordered-binary) use too. */
type NodeBytes = Uint8Array & {
  utf8Write?: (s: string, offset: number, length: number) => number;
  utf8Slice?: (start: number, end: number) => string;
  latin1Slice?: (start: number, end: number) => string;
};
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function utf8Into(s: string, target: Uint8Array, pos: number): number {
  const buffer = target as NodeBytes;
  if (typeof buffer.utf8Write === 'function') return buffer.utf8Write(s, pos, target.length - pos);
  return encoder.encodeInto(s, target.subarray(pos)).written;
}

function readPart(source: Uint8Array, end: number): KeyPart {
  const kind = source[at++]!;
  if (kind === STRING) return readString(source, end);

  if (kind >= UINT && kind <= UINT + 7) {
    let n = 0;
    for (let i = 0; i < kind - UINT; i++) n = n * 256 + source[at++]!;
    return numberSuffix(n, source, end);
  }
  switch (kind) {
    case FALSE:
      return false;
    case TRUE:
      return true;
    case NEGATIVE:
      return numberSuffix(readDouble(source, true), source, end);
    case BIG_POSITIVE:
    case BIG_NEGATIVE:
      return readBigMagnitude(kind === BIG_NEGATIVE, source, end);
    case POS_INFINITY:
      return Infinity;
    case NEG_INFINITY:
      return -Infinity;
    case NOT_A_NUMBER:
      return NaN;
    case KEY_MAX_PART:
      return KEY_MAX_STRING;
  }
  if (valueKeysRead !== undefined && valueKeysRead.kinds.has(kind)) {
    const [payload, next] = valueKeysRead.read(source, at - 1, end);
    at = next;
    return payload;
  }
  throw new TypeError(`unknown key part kind ${kind} at byte ${at - 1}`);
}

/** What may follow a number: a fraction, or the mark of a bigint. */
function numberSuffix(n: number, source: Uint8Array, end: number): KeyPart {
  if (at >= end) return n;
  const next = source[at];
  if (next === FRACTION) {
    at++;
    return n + readDouble(source, false);
  }
  if (next === BIGINT) {
    at++;
    return BigInt(n);
  }
  if (next === NEG_ZERO && n === 0) {
    at++;
    return -0;
  }
  return n;
}

function readDouble(source: Uint8Array, invert: boolean): number {
  for (let i = 0; i < 8; i++) {
    const byte = source[at++]!;
    scratch.setUint8(i, invert ? ~byte & 0xff : byte);
  }
  return scratch.getFloat64(0);
}

function readBigMagnitude(negative: boolean, source: Uint8Array, end: number): KeyPart {
  const stored = source[at++]!;
  const length = negative ? 255 - stored : stored;
  let hex = '';
  for (let i = 0; i < length; i++) {
    const byte = source[at++]!;
    hex += (negative ? 255 - byte : byte).toString(16).padStart(2, '0');
  }
  const magnitude = BigInt('0x' + hex);
  const value = negative ? -magnitude : magnitude;
  if (at < end && source[at] === BIGINT) {
    at++;
    return value;
  }
  return Number(value);
}

/**
 * Short ASCII strings read from keys, by a hash of their bytes. Index scans read the same few
 * values over and over (names, enums, keywords); returning the string already made saves an
 * allocation per key, and the garbage collections that follow (a quarter of a column build's time).
 */
const INTERNED_BYTES = 32;
const INTERNED_SLOTS = 4096;
const interned: (string | undefined)[] = new Array(INTERNED_SLOTS).fill(undefined);

function readString(source: Uint8Array, end: number): string {
  const start = at;
  let ascii = true;
  let hash = 0;
  let pos = start;
  let surrogates = false;
  while (pos < end && source[pos] !== 0) {
    const byte = source[pos]!;
    if (byte >= 0x80) {
      ascii = false;
      // a surrogate code unit (CESU-8, format 5), which UTF-8 decoders would replace
      if (byte === 0xed && source[pos + 1]! >= 0xa0) surrogates = true;
    }
    hash = (Math.imul(hash, 31) + byte) | 0;
    pos++;
  }
  at = pos + 1;
  const length = pos - start;
  if (ascii && length <= INTERNED_BYTES) {
    const slot = (hash ^ (hash >>> 12)) & (INTERNED_SLOTS - 1);
    const known = interned[slot];
    if (known !== undefined && known.length === length && sameAscii(known, source, start)) return known;
    const made = asciiString(source, start, pos);
    interned[slot] = made;
    return made;
  }
  if (surrogates) return decodeExact(source, start, pos);
  const buffer = source as NodeBytes;
  if (typeof buffer.utf8Slice === 'function') return buffer.utf8Slice(start, pos);
  return decoder.decode(source.subarray(start, pos));
}

function sameAscii(s: string, source: Uint8Array, start: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== source[start + i]) return false;
  return true;
}

function asciiString(source: Uint8Array, start: number, end: number): string {
  const buffer = source as NodeBytes;
  if (typeof buffer.latin1Slice === 'function') return buffer.latin1Slice(start, end);
  return String.fromCharCode.apply(null, source.subarray(start, end) as unknown as number[]);
}

/**
 * The order of two keys' bytes (what LMDB's memcmp gives), from their parts: for scans that stop
 * at a bound without encoding every key they read (packed-index.ts).
 */
function compareAnyKeys(a: readonly KeyPart[], b: readonly KeyPart[]): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const c = compareAnyPart(a[i]!, b[i]!);
    if (c !== 0) return c;
    if (exact && a[i] === 0 && typeof a[i] === 'number' && typeof b[i] === 'number' && 1 / (a[i] as number) !== 1 / (b[i] as number)) {
      return negativeZeroOrder(a, b, i);
    }
  }
  return a.length - b.length;
}

/**
 * -0 against 0 at part i (format 5): -0's bytes are 0's followed by NEG_ZERO, which sorts below
 * any next part, so -0 comes first unless the 0 is its key's last part (then a prefix of -0).
 */
function negativeZeroOrder(a: readonly KeyPart[], b: readonly KeyPart[], i: number): number {
  const aIsNegative = 1 / (a[i] as number) < 0;
  const zeroKey = aIsNegative ? b : a;
  const negativeFirst = zeroKey.length > i + 1 ? -1 : 1;
  return aIsNegative ? negativeFirst : -negativeFirst;
}

/** The kinds in byte order: booleans, numbers (and bigints, by value), NaN, strings, KEY_MAX. */
function partRank(p: KeyPart): number {
  switch (typeof p) {
    case 'boolean':
      return 0;
    case 'string':
      return p === KEY_MAX_STRING ? 4 : 3;
    case 'number':
      return p !== p ? 2 : 1;
    default:
      return 1;
  }
}

function compareAnyPart(a: KeyPart, b: KeyPart): number {
  if (a === b) return 0;
  const ra = partRank(a);
  const rb = partRank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 3) return exact ? (a < b ? -1 : 1) : compareUtf8(a as string, b as string);
  if (ra === 1) {
    if (a < b) return -1;
    if (a > b) return 1;
    // the same value: the number's bytes end where the bigint's go on with BIGINT
    return (typeof a === 'bigint' ? 1 : 0) - (typeof b === 'bigint' ? 1 : 0);
  }
  if (ra === 0) return a ? 1 : -1;
  return 0;
}

/**
 * Strings in UTF-8 byte order, which is code point order. UTF-16 units order them the same except
 * that a surrogate (an astral character) must sort above U+E000..U+FFFF.
 */
function compareUtf8(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x < 0xe000 ? x + 0x2000 : x - 0x800;
      y = y < 0xe000 ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** memcmp of a[as, ae) and b[bs, be). */
export function compareBytes(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return ae - as - (be - bs);
}
