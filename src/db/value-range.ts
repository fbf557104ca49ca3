// The AVET key ranges that hold every value of an attribute between two bounds, and the exact test
// of a value against them: key order agrees with the query language's order (query-lang/edn/compare.ts)
// only in part (kinds are keyed by tag, not rank; long values and strings holding U+0000..U+0005
// by a marker; keywords by full name before format 6; tuples by their printed form before format 6;
// strings by code point before format 5), so a range scans wide enough for every value that may be
// in it and keeps the ones that are. From format 6 a tuple range scans exactly the tuples in it,
// then the long tuples (keyed after the others, value-keys.ts).
import { compareValues, kindRank } from '../../query-lang/edn/compare.js';
import { encodeValue, Tag, type KeyPart } from '../storage/encoding.js';
import { KEY_MAX_STRING } from '../storage/key-codec.js';
import { LONG_TUPLES, tupleFloor } from '../storage/value-keys.js';
import { DECIMAL_FLOOR } from '../storage/decimal-keys.js';
import { BigDec } from '../../query-lang/edn/types.js';
import { decimalText, integerDecimal, toDecimal } from '../../query-lang/edn/decimal.js';
import type { Value, ValueType } from './api.js';

export interface ValueRange {
  /** [start, end) key ranges, in the order of their values' kinds. */
  scans: [KeyPart[], KeyPart[]][];
  /** Whether a value is in the range, by the query language's comparison. */
  keeps(v: unknown): boolean;
}

/** Each tag with the rank (kindRank) of its values' kind, in rank order. */
const TAG_RANKS: [Tag, number][] = [
  [Tag.Boolean, 1],
  [Tag.Number, 2],
  [Tag.BigInt, 2],
  [Tag.Ref, 2],
  [Tag.BigDec, 2],
  [Tag.Instant, 3],
  [Tag.String, 4],
  [Tag.Keyword, 5],
  [Tag.Symbol, 6],
  [Tag.Uuid, 7],
  [Tag.Uri, 7.5],
  [Tag.Tuple, 9],
  [Tag.Bytes, 9.5],
];

/** Tags only an attribute of their type holds (a value used without schema is never one of them). */
const TYPED_ONLY = new Set([Tag.Ref, Tag.BigInt, Tag.BigDec, Tag.Uri, Tag.Bytes]);

const TYPE_TAGS: Partial<Record<ValueType, Tag>> = {
  string: Tag.String,
  long: Tag.Number,
  double: Tag.Number,
  boolean: Tag.Boolean,
  instant: Tag.Instant,
  uuid: Tag.Uuid,
  keyword: Tag.Keyword,
  ref: Tag.Ref,
  bigint: Tag.BigInt,
  symbol: Tag.Symbol,
  tuple: Tag.Tuple,
  bigdec: Tag.BigDec,
  float: Tag.Number,
  uri: Tag.Uri,
  // keyed by their base64 text, which is not their order: a range reads them all and keeps those in it
  bytes: Tag.Bytes,
};

/** Tags whose payload is a string keyed in the value's order (save markers and, before format 5, astral characters). */
const STRING_TAGS = new Set([Tag.String, Tag.Symbol, Tag.Uuid, Tag.Uri]);
const NUMBER_TAGS = new Set([Tag.Number, Tag.BigInt, Tag.Ref, Tag.Instant]);

/** A long value's marker keeps this many characters of it, at least (encoding.ts). */
const MARKER_PREFIX = 199;

/**
 * The range lo <= v (open when undefined) and v < hi (v <= hi when hiInclusive) of attribute `a`,
 * of type `valueType` (null: any kind). `utf16Keys`: the store keys strings in UTF-16 order;
 * `orderedTuples`: tuples in the query language's order (KeyCodec.orderedTuples).
 */
export function valueRange(
  a: number,
  valueType: ValueType | null,
  lo: Value | undefined,
  hi: Value | undefined,
  hiInclusive: boolean,
  utf16Keys: boolean,
  orderedTuples = false,
): ValueRange {
  const typeTag = valueType ? TYPE_TAGS[valueType] : undefined;
  const tags = TAG_RANKS.filter(([tag]) => (typeTag === undefined ? !TYPED_ONLY.has(tag) : tag === typeTag));
  const loRank = lo === undefined ? -Infinity : kindRank(lo);
  const hiRank = hi === undefined ? Infinity : kindRank(hi);
  const scans: [KeyPart[], KeyPart[]][] = [];
  for (const [tag, rank] of tags) {
    if (rank < loRank || rank > hiRank) continue;
    if (tag === Tag.Tuple && orderedTuples) {
      scans.push(...tupleScans(a, rank === loRank ? lo! : undefined, rank === hiRank ? hi! : undefined, hiInclusive, valueType));
      continue;
    }
    const start = rank === loRank ? lowKey(tag, lo!, valueType, utf16Keys) : undefined;
    const end = rank === hiRank ? highKey(tag, hi!, hiInclusive, valueType, utf16Keys) : undefined;
    scans.push([start === undefined ? [a, tag] : [a, tag, start], end === undefined ? [a, tag + 1] : [a, tag, ...end]]);
  }
  const keeps = (v: unknown): boolean => {
    if (lo !== undefined && compareValues(v, lo) < 0) return false;
    if (hi === undefined) return true;
    const c = compareValues(v, hi);
    return c < 0 || (c === 0 && hiInclusive);
  };
  return { scans, keeps };
}

/** The tuples in range, in the query language's order, then every long tuple (format 6). */
function tupleScans(a: number, lo: Value | undefined, hi: Value | undefined, hiInclusive: boolean, valueType: ValueType | null): [KeyPart[], KeyPart[]][] {
  const floorOf = (v: Value | undefined) => {
    const p = v === undefined ? undefined : payloadOf(v, valueType);
    return typeof p === 'string' ? tupleFloor(p) : undefined;
  };
  const low = floorOf(lo);
  const high = floorOf(hi);
  const start = low === undefined ? [a, Tag.Tuple] : [a, Tag.Tuple, low];
  const end = high === undefined ? [a, Tag.Tuple, LONG_TUPLES] : hiInclusive ? [a, Tag.Tuple, high, KEY_MAX_STRING] : [a, Tag.Tuple, high];
  return [
    [start, end],
    [
      [a, Tag.Tuple, LONG_TUPLES],
      [a, Tag.Tuple + 1],
    ],
  ];
}

function payloadOf(v: Value, valueType: ValueType | null): KeyPart | undefined {
  try {
    return encodeValue(v, valueType)[1];
  } catch {
    return undefined; // a bound of no stored kind (a BigDec, a Char): the whole tag is scanned
  }
}

/** A key part at or below the key of every value >= v of this tag; undefined for the tag's start. */
function lowKey(tag: Tag, v: Value, valueType: ValueType | null, utf16Keys: boolean): KeyPart | undefined {
  if (tag === Tag.BigDec) return decimalFloor(v);
  const p = payloadOf(v, valueType);
  if (NUMBER_TAGS.has(tag)) {
    if (typeof p === 'number') return p === 0 ? 0 : p; // -0 is keyed next to 0
    // a bigint's key follows the key of the number of its value: start at that number; an
    // attribute of bigints or longs holds no number of a bigint's value (longForm)
    if (typeof p === 'bigint') return Number.isSafeInteger(Number(p)) ? Number(p) : valueType === 'bigint' || valueType === 'long' ? p : undefined;
    return undefined;
  }
  if (STRING_TAGS.has(tag) && typeof p === 'string') return keyedPrefix(p, utf16Keys, false);
  return undefined;
}

/**
 * Key parts after the key of every value <= v (< v unless `inclusive`; numbers only) of this tag:
 * an exclusive end; undefined for the tag's end.
 */
function highKey(tag: Tag, v: Value, inclusive: boolean, valueType: ValueType | null, utf16Keys: boolean): KeyPart[] | undefined {
  if (tag === Tag.BigDec) {
    const floor = decimalFloor(v);
    return floor === undefined ? undefined : inclusive ? [floor, KEY_MAX_STRING] : [floor];
  }
  const p = payloadOf(v, valueType);
  if (NUMBER_TAGS.has(tag)) {
    // below v: v's number key is a prefix of the keys of v, -0 and the bigint of v's value
    if (typeof p === 'number' && !inclusive) return [p === 0 ? 0 : p];
    // an integer's bigint (keyed after the number of its value) closes the values equal to it
    if (typeof p === 'number') return [Number.isInteger(p) && Number.isFinite(p) ? BigInt(p) : p, KEY_MAX_STRING];
    if (typeof p === 'bigint') return [p, KEY_MAX_STRING];
    return undefined;
  }
  if (STRING_TAGS.has(tag) && typeof p === 'string') {
    const after = successor(keyedPrefix(p, utf16Keys, true), utf16Keys);
    return after === undefined ? undefined : [after];
  }
  return undefined;
}

/**
 * The bound below every decimal of v's value, whatever its scale (decimal-keys.ts); undefined for
 * a bound that is no exact decimal (a fraction or an infinity: the whole tag is scanned).
 */
function decimalFloor(v: Value): string | undefined {
  const d = v instanceof BigDec ? toDecimal(v) : typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v)) ? integerDecimal(v as number | bigint) : undefined;
  return d === undefined ? undefined : DECIMAL_FLOOR + decimalText(d);
}

/**
 * The longest prefix of `s` that every string starting with it is keyed by a key starting with it:
 * before U+0000..U+0005 (a marker turns U+0000..U+0004 into U+0005), within a marker's prefix, and,
 * when keys are not in UTF-16 order (code point order), before a surrogate. For an upper bound
 * (`upper`), also before U+E000..U+FFFF: a string below `s` in UTF-16 order may hold a surrogate
 * where `s` holds one of those, and its astral character is keyed above them.
 */
function keyedPrefix(s: string, utf16Keys: boolean, upper: boolean): string {
  const n = Math.min(s.length, MARKER_PREFIX);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 5 || (!utf16Keys && c >= 0xd800 && (upper || c < 0xe000))) return s.slice(0, i);
  }
  return s.slice(0, n);
}

/** The least string above every string starting with `p`; undefined when there is none. */
function successor(p: string, utf16Keys: boolean): string | undefined {
  for (let i = p.length - 1; i >= 0; i--) {
    const c = p.charCodeAt(i);
    if (c === 0xffff) continue;
    // in code point order (UTF-8 keys) U+E000 follows U+D7FF
    const next = !utf16Keys && c === 0xd7ff ? 0xe000 : c + 1;
    return p.slice(0, i) + String.fromCharCode(next);
  }
  return undefined;
}
