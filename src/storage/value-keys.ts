// Format 6's keys of tuples and keywords: laid out so that their bytes sort in the order the query
// language compares the values in (query-lang/edn/compare.ts), not as the text they are stored as.
//
// A tuple's payload (everywhere but in index keys) is its printed EDN; its key part is
//   TUPLE, each element's key, END, the tie-breaks, END
// An element's key is its kind's rank byte (nil, booleans, numbers, instants, strings, keywords,
// symbols, uuids: kindRank's order), then its value: a number or instant as key-codec.ts writes
// it; a string (a keyword's namespace and name, a symbol's or uuid's text) as CESU-8 with 0x00 and
// 0x01 escaped, then 0x00. END (0x00) sorts below every rank byte, so a tuple sorts before the
// tuples it is a prefix of, and no tuple's key extends another's. Values the query language
// compares equal have the same elements' keys: -0 is keyed as 0, and a bigint and a number of
// the same value alike; which of them an element is follows the elements (the tie-breaks: its
// index and what it is), so it only orders equal tuples among themselves, and reads back.
//
// A tuple whose payload is long (encoding.ts: printed over 1 KB) is keyed by its marker, after
// LONG_TUPLE: such tuples sort after every other tuple of their attribute, among themselves by
// their printed form, and range scans read them all and keep the ones in range.
//
// A keyword's payload is its full name; its key part is KEYWORD, its namespace (none: empty),
// 0x00, its name, 0x00 (escaped as above): namespace first, then name, no namespace first, as
// Clojure compares keywords. A long keyword's marker is keyed as a string, after every keyword.
//
// A decimal (:db.type/bigdec, format 6 only) is keyed by decimal-keys.ts, in numeric order.
import { Keyword, Sym, Uuid } from '../../query-lang/edn/types.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import { isLongMarker, Tag } from './encoding.js';
import { compareBytes, EXACT_KEY_CODEC, exactKeyCodecWith, readExactPart, type KeyCodec, type ValueKeys } from './key-codec.js';
import { decodeExact, writeUnit } from './exact-utf8.js';
import { DECIMAL, DECIMAL_FLOOR, readDecimalKey, writeDecimalKey } from './decimal-keys.js';

const TUPLE = 0x30;
const LONG_TUPLE = 0x31;
const KEYWORD = 0x38;
const END = 0x00;
const ESCAPE = 0x01;

/** Rank bytes of a tuple's elements, in kindRank's order; none is 0x01 (key-codec's NEG_ZERO after a 0). */
const NIL = 0x02;
const FALSE = 0x03;
const TRUE = 0x04;
const NUMBER = 0x05;
const INSTANT = 0x06;
const STRING = 0x07;
const KEYWORD_ELEMENT = 0x08;
const SYMBOL = 0x09;
const UUID = 0x0a;

/** Tie-breaks: element i is written as 0x10 + i, then what the element is beyond its number's key. */
const TIE_INDEX = 0x10;
const IS_NEGATIVE_ZERO = 0x01;
const IS_BIGINT = 0x02;
const IS_DOUBLE = 0x03;

/**
 * Payload strings after Tag.Tuple that are range bounds, not tuples (a printed tuple starts with
 * `[`; none of these characters is cut by LMDB nor makes a payload long, see encoding.ts).
 */
const FLOOR = '\u0005';
/** The bound before every long tuple and after every other one. */
export const LONG_TUPLES = '\u0006';

function isBound(payload: string): boolean {
  return payload === LONG_TUPLES || payload.startsWith(FLOOR) || payload.startsWith(DECIMAL_FLOOR);
}

/** A bound's printed form is at most this long, so that it is never a long payload's marker (encoding.ts). */
const MAX_BOUND_BYTES = 1000;

/**
 * The bound below every tuple the query language compares equal to or above `printed` (a tuple's
 * payload) and above every tuple below it; undefined when the tuple cannot be a bound (too long, or
 * holding a value no tuple can).
 */
export function tupleFloor(printed: string): string | undefined {
  if (Buffer.byteLength(printed) > MAX_BOUND_BYTES || keyableElements(printed) === undefined) return undefined;
  return FLOOR + printed;
}

const TWO_53 = 2 ** 53;

function writeTuple(payload: string, target: Uint8Array, pos: number): number {
  if (payload === LONG_TUPLES) {
    target[pos] = LONG_TUPLE;
    return pos + 1;
  }
  const floor = payload.startsWith(FLOOR);
  const elements = floor ? keyableElements(payload.slice(1)) : isLongMarker(payload) ? undefined : keyableElements(payload);
  if (elements === undefined) {
    // a long tuple's marker (or a value no tuple can hold: a lookup that finds nothing)
    target[pos++] = LONG_TUPLE;
    pos = writeEscaped(payload, target, pos);
    return pos;
  }
  target[pos++] = TUPLE;
  const ties: number[] = [];
  for (let i = 0; i < elements.length; i++) pos = writeElement(elements[i], i, ties, target, pos);
  target[pos++] = END;
  if (floor) return pos;
  for (const tie of ties) target[pos++] = tie;
  target[pos++] = END;
  return pos;
}

/** The elements of a printed tuple, when each can be keyed (always, for a stored tuple). */
function keyableElements(printed: string): unknown[] | undefined {
  let value: unknown;
  try {
    value = readEdn(printed);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  return value.every(isKeyable) ? value : undefined;
}

function isKeyable(v: unknown): boolean {
  switch (typeof v) {
    case 'boolean':
    case 'number':
    case 'bigint':
    case 'string':
      return true;
  }
  return v === null || v instanceof Date || v instanceof Keyword || v instanceof Sym || v instanceof Uuid;
}

function writeElement(v: unknown, i: number, ties: number[], target: Uint8Array, pos: number): number {
  if (v === null) {
    target[pos] = NIL;
    return pos + 1;
  }
  switch (typeof v) {
    case 'boolean':
      target[pos] = v ? TRUE : FALSE;
      return pos + 1;
    case 'number':
    case 'bigint': {
      target[pos++] = NUMBER;
      const [key, tie] = numberKey(v);
      if (tie) ties.push(TIE_INDEX + i, tie);
      return EXACT_KEY_CODEC.writePart(key, target, pos);
    }
    case 'string':
      target[pos++] = STRING;
      return writeEscaped(v, target, pos);
  }
  if (v instanceof Date) {
    target[pos++] = INSTANT;
    return EXACT_KEY_CODEC.writePart(v.getTime(), target, pos);
  }
  if (v instanceof Keyword) {
    target[pos++] = KEYWORD_ELEMENT;
    return writeEscaped(v.name, target, writeEscaped(v.ns ?? '', target, pos));
  }
  if (v instanceof Sym) {
    target[pos++] = SYMBOL;
    return writeEscaped(v.name, target, pos);
  }
  target[pos++] = UUID;
  return writeEscaped((v as Uuid).value, target, pos);
}

/**
 * A number's key as the value it is, the same for values that compare equal (-0 as 0, a bigint
 * of a safe integer as the number, an integral double past 2^53 as the bigint), and the tie-break
 * that tells them apart (0: none).
 */
function numberKey(v: number | bigint): [number | bigint, number] {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? [Number(v), IS_BIGINT] : [v, 0];
  if (v === 0 && 1 / v < 0) return [0, IS_NEGATIVE_ZERO];
  if (Number.isInteger(v) && Math.abs(v) >= TWO_53) return [BigInt(v), IS_DOUBLE];
  return [v, 0];
}

/** CESU-8 (code-unit order), 0x00 as 0x01 0x01 and 0x01 as 0x01 0x02, then END. */
function writeEscaped(s: string, target: Uint8Array, pos: number): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= ESCAPE) {
      target[pos++] = ESCAPE;
      target[pos++] = c + 1;
    } else pos = writeUnit(c, target, pos);
  }
  target[pos++] = END;
  return pos;
}

/** Where the escaped string at source[start] is read to. */
let readTo = 0;
let unescaped = new Uint8Array(256);

function readEscaped(source: Uint8Array, start: number, end: number): string {
  if (unescaped.length < end - start) unescaped = new Uint8Array(end - start);
  let n = 0;
  let i = start;
  for (; i < end && source[i] !== END; i++) {
    const b = source[i]!;
    unescaped[n++] = b === ESCAPE ? source[++i]! - 1 : b;
  }
  readTo = i + 1;
  return decodeExact(unescaped, 0, n);
}

function readTuple(source: Uint8Array, start: number, end: number): [string, number] {
  if (source[start] === LONG_TUPLE) return [readEscaped(source, start + 1, end), readTo];
  const elements: unknown[] = [];
  let pos = start + 1;
  while (source[pos] !== END) {
    const rank = source[pos++]!;
    let v: unknown;
    if (rank === NIL) v = null;
    else if (rank === FALSE || rank === TRUE) v = rank === TRUE;
    else if (rank === NUMBER || rank === INSTANT) {
      const [n, next] = readExactPart(source, pos, end);
      v = rank === INSTANT ? new Date(n as number) : n;
      pos = next;
    } else if (rank === KEYWORD_ELEMENT) {
      const ns = readEscaped(source, pos, end);
      const name = readEscaped(source, readTo, end);
      v = Keyword.of(`:${ns ? `${ns}/${name}` : name}`);
      pos = readTo;
    } else {
      const text = readEscaped(source, pos, end);
      v = rank === STRING ? text : rank === SYMBOL ? Sym.of(text) : new Uuid(text);
      pos = readTo;
    }
    elements.push(v);
  }
  pos++;
  while (source[pos] !== END) {
    const i = source[pos++]! - TIE_INDEX;
    const tie = source[pos++];
    const n = elements[i] as number | bigint;
    elements[i] = tie === IS_NEGATIVE_ZERO ? -0 : tie === IS_BIGINT ? BigInt(n) : Number(n);
  }
  return [printEdn(elements as never), pos + 1];
}

function writeKeyword(fqn: string, target: Uint8Array, pos: number): number {
  if (isLongMarker(fqn)) return EXACT_KEY_CODEC.writePart(fqn, target, pos);
  // Keyword.of's split, without making the keyword
  const slash = fqn.indexOf('/');
  target[pos++] = KEYWORD;
  return slash > 0 ? writeEscaped(fqn.slice(slash + 1), target, writeEscaped(fqn.slice(0, slash), target, pos)) : writeEscaped(fqn, target, writeEscaped('', target, pos));
}

function readKeyword(source: Uint8Array, start: number, end: number): [string, number] {
  const ns = readEscaped(source, start + 1, end);
  const name = readEscaped(source, readTo, end);
  return [ns ? `${ns}/${name}` : name, readTo];
}

/** A part's bytes, for comparing two of them; the last few are kept, as scans compare against one bound over and over. */
const encoded = new Map<string, Uint8Array>();
const scratch = new Uint8Array(8192);

function bytesOf(tag: number, payload: string): Uint8Array {
  const key = tag + payload;
  let bytes = encoded.get(key);
  if (bytes === undefined) {
    bytes = scratch.slice(0, VALUE_KEYS.write(tag, payload, scratch, 0));
    if (encoded.size >= 1024) encoded.clear();
    encoded.set(key, bytes);
  }
  return bytes;
}

const VALUE_KEYS: ValueKeys = {
  tags: new Set([Tag.Tuple, Tag.Keyword, Tag.BigDec]),
  kinds: new Set([TUPLE, LONG_TUPLE, KEYWORD, DECIMAL]),
  write: (tag, payload, target, pos) =>
    tag === Tag.Tuple ? writeTuple(payload, target, pos) : tag === Tag.BigDec ? writeDecimalKey(payload, target, pos) : writeKeyword(payload, target, pos),
  read: (source, start, end) => (source[start] === KEYWORD ? readKeyword(source, start, end) : source[start] === DECIMAL ? readDecimalKey(source, start) : readTuple(source, start, end)),
  compare(tag, a, b) {
    if (a === b) return 0;
    const x = bytesOf(tag, a);
    const y = bytesOf(tag, b);
    return compareBytes(x, 0, x.length, y, 0, y.length);
  },
  isPrefix(tag, a, b) {
    // no stored value's key extends another's (see above): only a bound's can
    if (!isBound(a) && !isBound(b)) return false;
    const x = bytesOf(tag, a);
    const y = bytesOf(tag, b);
    const n = Math.min(x.length, y.length);
    return x.length !== y.length && compareBytes(x, 0, n, y, 0, n) === 0;
  },
};

/** Format 6's key codec: format 5's, with tuples and keywords keyed as above. */
export const VALUE_KEY_CODEC: KeyCodec = exactKeyCodecWith(VALUE_KEYS);
