// How datoms become LMDB keys. Every index key is an array of parts, written as bytes by
// key-codec.ts (format 2) or lmdb-js's ordered-binary (format 1), so LMDB's byte order is the
// index order. A value takes two key slots: a type tag, then a payload
// that sorts correctly within its type.
import { createHash } from 'node:crypto';
import { BigDec, Keyword, Sym, Uri, Uuid } from '../../query-lang/edn/types.js';
import { base64OfBytes, bytesOfBase64 } from '../../query-lang/edn/binary.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import type { Datom, Value, ValueType } from '../model.js';
import { KEY_CODEC, writeUint, type KeyCodec, type KeyPart, type Payload } from './key-codec.js';
import { decodeExact, hasLoneSurrogate, wtf8 } from './exact-utf8.js';

export const enum Tag {
  Boolean = 1,
  Number = 2,
  BigInt = 3,
  String = 4,
  Keyword = 5,
  Symbol = 6,
  Instant = 7,
  Uuid = 8,
  Ref = 9,
  Tuple = 10,
  /** Format 6 only (value-keys.ts keys it by numeric value); the payload is its canonical text. */
  BigDec = 11,
  /** The payload is the URI's text. */
  Uri = 12,
  /** The payload is the bytes' base64 text (equal bytes, equal payload). */
  Bytes = 13,
}

export type { KeyPart, Payload } from './key-codec.js';

// ---- long values ----
// LMDB keys hold at most 1978 bytes, and lmdb-js (ordered-binary) cuts a key string of 64 or
// more characters at any of the characters \u0000-\u0004. So a string payload (strings,
// keywords, symbols, printed tuples) longer than LONG_BYTES, or holding one of those characters,
// is kept in the `values` table under its SHA-256, and the key holds a marker: its first
// PREFIX_CHARS characters (those control characters made \u0005, padded with \u0005) so it still
// sorts close to where it belongs, two \u0005, and the hash. Equal values give equal markers,
// so lookups by value work.

const LONG_BYTES = 1024;
const PREFIX_CHARS = 200;
const MARKER_LENGTH = PREFIX_CHARS + 2 + 64;
const SEPARATOR = 5;
const CUT_BY_LMDB = /[\u0000-\u0004]/;

/** Is this payload the in-key marker of a long value? */
export function isLongMarker(p: unknown): boolean {
  return typeof p === 'string' && p.length === MARKER_LENGTH && p.charCodeAt(PREFIX_CHARS) === SEPARATOR && p.charCodeAt(PREFIX_CHARS + 1) === SEPARATOR;
}

function isLong(p: Payload): p is string {
  if (typeof p !== 'string' || isLongMarker(p)) return false;
  if (p.length > LONG_BYTES / 3 && (p.length > LONG_BYTES || Buffer.byteLength(p) > LONG_BYTES)) return true;
  return CUT_BY_LMDB.test(p);
}

/** The SHA-256 of the string's exact bytes (WTF-8: UTF-8 unless it holds a lone surrogate). */
function hashOf(p: string): string {
  return createHash('sha256').update(wtf8(p)).digest('hex');
}

/** The payload as it goes into a key: itself, or the marker of a long value. */
export function keyPayload(p: Payload): Payload {
  if (!isLong(p)) return p;
  let prefix = p.slice(0, PREFIX_CHARS).replace(/[\u0000-\u0004]/g, '\u0005');
  const last = prefix.charCodeAt(prefix.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) prefix = prefix.slice(0, -1); // never split a surrogate pair
  return prefix.padEnd(PREFIX_CHARS, '\u0005') + '\u0005\u0005' + hashOf(p);
}

/**
 * [hash, value] to store in the values table when the payload is long; else null. The value is
 * the string, or its WTF-8 bytes when it holds a lone surrogate (msgpack's strings are UTF-8).
 */
export function longValueEntry(p: Payload): [string, string | Buffer] | null {
  if (!isLong(p)) return null;
  return [hashOf(p), hasLoneSurrogate(p) ? wtf8(p) : p];
}

/**
 * The values table of one store: a long value by its hash (a string, or WTF-8 bytes); undefined
 * when it holds none. Markers are resolved only through the store whose keys hold them.
 */
export type LongValues = (hash: string) => string | Uint8Array | undefined;

function resolveLong(marker: string, longValues: LongValues | undefined): string {
  const hash = marker.slice(PREFIX_CHARS + 2);
  const value = longValues?.(hash);
  if (typeof value === 'string') return value;
  if (value !== undefined) return decodeExact(value, 0, value.length);
  throw new TypeError(`long value ${hash} is missing from the values table`);
}

/** Entity ids of transactions: TX_BASE + t. User entities stay far below. */
export const TX_BASE = 2 ** 40;

export function tToTx(t: number): number {
  return TX_BASE + t;
}

export function txToT(tx: number): number {
  return tx >= TX_BASE ? tx - TX_BASE : tx;
}

/**
 * The one stored form of a long: a number while it is a safe integer, a bigint past that (an
 * integral double such as 2 ** 60 too), so a value given either way is the same datom. Undefined
 * for what no long is: a fraction, NaN, an infinity, a value outside 64 bits.
 */
export function longForm(v: number | bigint): number | bigint | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : Number.isInteger(v) ? longForm(BigInt(v)) : undefined;
  if (v < -(2n ** 63n) || v >= 2n ** 63n) return undefined;
  return Number.isSafeInteger(Number(v)) ? Number(v) : v;
}

/** Whether encodeValue can store `v`: values of any other kind (a map, a Char) are in no datom. */
export function isEncodable(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'bigint':
      return true;
  }
  return v instanceof Keyword || v instanceof Date || v instanceof Uuid || v instanceof Sym || Array.isArray(v) || v instanceof BigDec || v instanceof Uri || v instanceof Uint8Array;
}

/** `valueType` is the attribute's type (null without schema); it decides refs and bigints. */
export function encodeValue(v: Value, valueType: ValueType | null): [Tag, Payload] {
  if (valueType === 'ref') return [Tag.Ref, v as number];
  if (valueType === 'bigint') return [Tag.BigInt, v as bigint];
  switch (typeof v) {
    case 'string':
      return [Tag.String, v];
    case 'number':
      return [Tag.Number, v];
    case 'boolean':
      return [Tag.Boolean, v];
    case 'bigint':
      // longs past 2^53 sort among the other numbers
      return [Tag.Number, v];
  }
  if (v instanceof Keyword) return [Tag.Keyword, v.fqn];
  if (v instanceof Date) return [Tag.Instant, v.getTime()];
  if (v instanceof Uuid) return [Tag.Uuid, v.value];
  if (v instanceof Sym) return [Tag.Symbol, v.name];
  if (Array.isArray(v)) return [Tag.Tuple, printEdn(v)];
  // the tx side stores a BigDec in its canonical text (canonicalBigDec)
  if (v instanceof BigDec) return [Tag.BigDec, v.text];
  if (v instanceof Uri) return [Tag.Uri, v.value];
  if (v instanceof Uint8Array) return [Tag.Bytes, base64OfBytes(v)];
  throw new TypeError(`cannot encode value ${String(v)}`);
}

/** `longValues`: the values table of the store the payload was read from (index keys hold markers of long values). */
export function decodeValue(tag: Tag, payload: Payload, longValues?: LongValues): Value {
  if (isLongMarker(payload)) payload = resolveLong(payload as string, longValues);
  switch (tag) {
    case Tag.Ref:
    case Tag.Number:
    case Tag.String:
    case Tag.Boolean:
      return payload as Value;
    case Tag.BigInt:
      return typeof payload === 'bigint' ? payload : BigInt(payload as number);
    case Tag.Keyword:
      return Keyword.of(payload as string);
    case Tag.Instant:
      return new Date(payload as number);
    case Tag.Uuid:
      return new Uuid(payload as string);
    case Tag.Symbol:
      return Sym.of(payload as string);
    case Tag.Tuple:
      return readEdn(payload as string) as Value[];
    case Tag.BigDec:
      return new BigDec(payload as string);
    case Tag.Uri:
      return new Uri(payload as string);
    case Tag.Bytes: {
      const bytes = bytesOfBase64(payload as string);
      if (bytes === undefined) throw new TypeError(`a bytes value's payload is not base64`);
      return bytes;
    }
  }
  throw new TypeError(`unknown value tag ${tag}`);
}

// ---- index keys ----
// Current indexes hold datoms that are true now:      [..., tx]
// History indexes hold datoms that were retracted:    [..., txAsserted, txRetracted]

export type IndexName = 'eavt' | 'aevt' | 'avet' | 'vaet';

/** A datom in stored form: value already split into tag + payload. */
export interface RawDatom {
  e: number;
  a: number;
  tag: Tag;
  payload: Payload;
  tx: number;
}

/**
 * Where each part of a datom sits in each index's key: the one description of the key layouts
 * that every encoder and decoder below reads. VAET holds refs only, so it has no tag slot.
 */
export const KEY_SLOTS: Record<IndexName, { e: number; a: number; tag: number; payload: number; tx: number }> = {
  eavt: { e: 0, a: 1, tag: 2, payload: 3, tx: 4 },
  aevt: { e: 1, a: 0, tag: 2, payload: 3, tx: 4 },
  avet: { e: 3, a: 0, tag: 1, payload: 2, tx: 4 },
  vaet: { e: 2, a: 1, tag: -1, payload: 0, tx: 3 },
};

/** The key of `d` in `index`, written into `key` (reused by bulk writers) or a new array. */
export function indexKey(index: IndexName, d: RawDatom, key: KeyPart[] = []): KeyPart[] {
  const s = KEY_SLOTS[index];
  key[s.e] = d.e;
  key[s.a] = d.a;
  if (s.tag >= 0) key[s.tag] = d.tag;
  key[s.payload] = s.tag >= 0 ? keyPayload(d.payload) : d.payload;
  key[s.tx] = d.tx;
  return key;
}

/**
 * The byte form (`codec`, key-codec.ts) of `d`'s key in each index, written at `pos` (returns
 * where it ends): the bytes of writeKey(indexKey(index, d)), for bulk writes, without the array.
 */
export function indexKeyWriters({ writePart, writeValue }: KeyCodec): Record<IndexName, (d: RawDatom, target: Uint8Array, pos: number) => number> {
  return {
    eavt: (d, target, pos) => {
      pos = writeUint(d.tag, target, writeUint(d.a, target, writeUint(d.e, target, pos)));
      return writeUint(d.tx, target, writeValue(d.tag, keyPayload(d.payload), target, pos));
    },
    aevt: (d, target, pos) => {
      pos = writeUint(d.tag, target, writeUint(d.e, target, writeUint(d.a, target, pos)));
      return writeUint(d.tx, target, writeValue(d.tag, keyPayload(d.payload), target, pos));
    },
    avet: (d, target, pos) => {
      pos = writeValue(d.tag, keyPayload(d.payload), target, writeUint(d.tag, target, writeUint(d.a, target, pos)));
      return writeUint(d.tx, target, writeUint(d.e, target, pos));
    },
    vaet: (d, target, pos) => {
      pos = writeUint(d.e, target, writeUint(d.a, target, writePart(d.payload, target, pos)));
      return writeUint(d.tx, target, pos);
    },
  };
}

/** indexKeyWriters of formats 2 to 4. */
export const writeIndexKey = indexKeyWriters(KEY_CODEC);

const writersByCodec = new Map<KeyCodec, ReturnType<typeof indexKeyWriters>>();

/** indexKeyWriters of `codec`, made once. */
export function indexKeyWritersOf(codec: KeyCodec): ReturnType<typeof indexKeyWriters> {
  let writers = writersByCodec.get(codec);
  if (!writers) writersByCodec.set(codec, (writers = indexKeyWriters(codec)));
  return writers;
}

/** A bigint's magnitude takes at most this many bytes in a key: its length is one byte (key-codec.ts). */
const MAX_BIGINT_BYTES = 255;

/**
 * Why a store of `format` cannot hold this payload exactly (null when it can): a string with a
 * lone surrogate before format 5 (`exactStrings` false: UTF-8 keys and log records), or a bigint
 * too long for an index key.
 */
export function unstorablePayload(p: Payload, exactStrings: boolean): string | null {
  if (typeof p === 'bigint') {
    const magnitude = p < 0n ? -p : p;
    if (magnitude.toString(16).length > 2 * MAX_BIGINT_BYTES) return `a bigint of more than ${MAX_BIGINT_BYTES * 8} bits is too large for an index key`;
  }
  if (!exactStrings && typeof p === 'string' && hasLoneSurrogate(p)) {
    return 'a string with a lone surrogate (half of a UTF-16 pair) cannot be stored exactly in this database format (UTF-8): upgrade it (export, then import into a new database)';
  }
  return null;
}

export function tagInKey(index: IndexName, key: KeyPart[]): Tag {
  const slot = KEY_SLOTS[index].tag;
  return slot < 0 ? Tag.Ref : (key[slot] as Tag);
}

export function rawFromKey(index: IndexName, key: KeyPart[]): RawDatom {
  const s = KEY_SLOTS[index];
  return { e: key[s.e] as number, a: key[s.a] as number, tag: tagInKey(index, key), payload: key[s.payload], tx: key[s.tx] as number };
}

/** `longValues` as decodeValue's: needed for datoms read from index keys. */
export function toDatom(raw: RawDatom, added = true, tx = raw.tx, longValues?: LongValues): Datom {
  return { e: raw.e, a: raw.a, v: decodeValue(raw.tag, raw.payload, longValues), tx, added };
}

/** The key of a datom minus its tx: identifies the fact (e, a, v). */
export function factKey(raw: { e: number; a: number; tag: Tag; payload: Payload }): string {
  const p = keyPayload(raw.payload);
  return `${raw.e}|${raw.a}|${raw.tag}|${typeof p === 'bigint' ? p + 'n' : String(p)}`;
}

/** The value of a datom, as a key (what factKey compares, without the entity). */
export function rawValueKey(raw: { a: number; tag: Tag; payload: Payload }): string {
  return factKey({ e: 0, a: raw.a, tag: raw.tag, payload: raw.payload });
}

/** Same (tag, payload): what factKey compares, without building the string (NaN equals NaN, 0 equals -0). */
export function sameValue(x: { tag: Tag; payload: Payload }, y: { tag: Tag; payload: Payload }): boolean {
  if (x.tag !== y.tag) return false;
  const p = x.payload;
  const q = y.payload;
  return p === q || (p !== p && q !== q);
}
