// The log: t -> every datom the transaction asserted or retracted. Append-only, the source of truth.
// A log record is stored in one of two forms, by the database's format (store.ts):
// - format 3 on: factlog's own bytes (encodeLogRecord), about 5x faster to write than msgpack
//   for a bulk load, and smaller;
// - formats 1 and 2: a msgpack object (encodeLogEntry), still read and written, so databases
//   made before keep working with the factlog versions that made them.
import { Tag, type Payload } from './encoding.js';
import { decodeExact, hasLoneSurrogate, wtf8 } from './exact-utf8.js';

export interface LogDatom {
  e: number;
  a: number;
  tag: Tag;
  payload: Payload;
  added: boolean;
}

export interface LogEntry {
  t: number;
  tx: number;
  /** :db/txInstant in ms since the epoch. */
  instant: number;
  datoms: LogDatom[];
}

const FIELDS = 5;

/** Flat array form for msgpack; bigints travel as decimal strings (their tag says so). */
export function encodeLogEntry(entry: LogEntry): unknown {
  const flat: unknown[] = new Array(entry.datoms.length * FIELDS);
  entry.datoms.forEach((d, i) => {
    const o = i * FIELDS;
    flat[o] = d.e;
    flat[o + 1] = d.a;
    flat[o + 2] = d.tag;
    flat[o + 3] = typeof d.payload === 'bigint' ? d.payload.toString() : d.payload;
    flat[o + 4] = d.added ? 1 : 0;
  });
  return { tx: entry.tx, instant: entry.instant, datoms: flat };
}

/** A stored log record, in either form, back to its entry. */
export function decodeLogEntry(t: number, stored: Uint8Array | { tx: number; instant: number; datoms: unknown[] }): LogEntry {
  if (stored instanceof Uint8Array) return decodeLogRecord(t, stored);
  const flat = stored.datoms;
  const datoms: LogDatom[] = [];
  for (let o = 0; o < flat.length; o += FIELDS) {
    const tag = flat[o + 2] as Tag;
    let payload = flat[o + 3] as Payload;
    if ((tag === Tag.Number || tag === Tag.BigInt) && typeof payload === 'string') payload = BigInt(payload);
    datoms.push({ e: flat[o] as number, a: flat[o + 1] as number, tag, payload, added: flat[o + 4] === 1 });
  }
  return { t, tx: stored.tx, instant: stored.instant, datoms };
}

// ---- factlog's own bytes (format 3) ----
// record: version byte, tx and instant as float64, datom count as uint32, then each datom:
//   one byte: the tag (low 4 bits), the payload's kind (next 3) and added (top bit);
//   e and a as unsigned LEB128; the payload by its kind (below).
// Version 2 is version 1 whose strings may hold lone surrogates, in WTF-8 (exact-utf8.ts), which
// an older factlog would read as U+FFFD: they refuse it instead. A record holding none stays
// version 1, byte for byte.

const RECORD_VERSION = 1;
const EXACT_STRINGS_VERSION = 2;
const HEADER = 1 + 8 + 8 + 4;
const enum Kind {
  /** An integer within int32, zigzag LEB128. */
  SmallInt = 0,
  Float = 1,
  /** UTF-8 with its byte length (LEB128) first. */
  String = 2,
  /** A bigint as its decimal string. */
  BigInt = 3,
  False = 4,
  True = 5,
}

/** Grows as records need; one per process, since records are encoded one at a time. */
let scratch = Buffer.allocUnsafe(1 << 16);

/** A datom as a transaction hands it to the log: added or not is said by the list it is in. */
export type LoggedDatom = Omit<LogDatom, 'added'>;

/** What one transaction writes to the log: its retractions, then its assertions. */
export interface LogParts {
  t: number;
  tx: number;
  instant: number;
  retracted: readonly LoggedDatom[];
  asserted: readonly LoggedDatom[];
}

export function toLogEntry(parts: LogParts): LogEntry {
  const datoms: LogDatom[] = [];
  for (const d of parts.retracted) datoms.push({ e: d.e, a: d.a, tag: d.tag, payload: d.payload, added: false });
  for (const d of parts.asserted) datoms.push({ e: d.e, a: d.a, tag: d.tag, payload: d.payload, added: true });
  return { t: parts.t, tx: parts.tx, instant: parts.instant, datoms };
}

/** `entry` as factlog's log record bytes: a fresh Buffer the caller may keep. */
export function encodeLogRecord(entry: LogEntry): Buffer {
  const w = startRecord(entry, entry.datoms.length);
  for (const d of entry.datoms) w.datom(d, d.added);
  return w.finish();
}

/** The record of a transaction's parts, without building its LogEntry first (bulk loads). */
export function encodeLogParts(parts: LogParts): Buffer {
  const w = startRecord(parts, parts.retracted.length + parts.asserted.length);
  for (const d of parts.retracted) w.datom(d, false);
  for (const d of parts.asserted) w.datom(d, true);
  return w.finish();
}

function startRecord(head: { tx: number; instant: number }, count: number): RecordWriter {
  const w = new RecordWriter(HEADER + count * 16);
  w.byte(RECORD_VERSION);
  w.float(head.tx);
  w.float(head.instant);
  w.uint32(count);
  return w;
}

class RecordWriter {
  pos = 0;
  constructor(expected: number) {
    this.room(expected);
  }

  private room(n: number): void {
    if (this.pos + n <= scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(scratch.length * 2, this.pos + n));
    scratch.copy(grown, 0, 0, this.pos);
    scratch = grown;
  }

  byte(b: number): void {
    this.room(1);
    scratch[this.pos++] = b;
  }

  float(x: number): void {
    this.room(8);
    scratch.writeDoubleLE(x, this.pos);
    this.pos += 8;
  }

  uint32(x: number): void {
    this.room(4);
    scratch.writeUInt32LE(x, this.pos);
    this.pos += 4;
  }

  /** Unsigned LEB128 of a non-negative safe integer (entity ids reach past 2^32). */
  varint(x: number): void {
    this.room(8);
    while (x >= 0x80) {
      scratch[this.pos++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    scratch[this.pos++] = x;
  }

  /** Whether a string holds a lone surrogate, written in WTF-8: the record is then version 2. */
  exactStrings = false;

  string(s: string): void {
    this.room(5 + s.length * 3);
    const at = this.pos;
    // one byte of length is enough for short strings; else move the bytes to make room
    let written: number;
    if (hasLoneSurrogate(s)) {
      this.exactStrings = true;
      written = wtf8(s).copy(scratch, at + 1);
    } else written = scratch.write(s, at + 1, 'utf8');
    if (written < 0x80) {
      scratch[at] = written;
      this.pos = at + 1 + written;
    } else {
      const bytes = Buffer.from(scratch.subarray(at + 1, at + 1 + written));
      this.pos = at;
      this.varint(written);
      this.room(written);
      bytes.copy(scratch, this.pos);
      this.pos += written;
    }
  }

  finish(): Buffer {
    if (this.exactStrings) scratch[0] = EXACT_STRINGS_VERSION;
    return Buffer.from(scratch.subarray(0, this.pos));
  }

  datom(d: LoggedDatom, added: boolean): void {
    const p = d.payload;
    const kind =
      typeof p === 'number'
        ? (p | 0) === p && !Object.is(p, -0)
          ? Kind.SmallInt
          : Kind.Float
        : typeof p === 'string'
          ? Kind.String
          : typeof p === 'bigint'
            ? Kind.BigInt
            : p
              ? Kind.True
              : Kind.False;
    this.byte(d.tag | (kind << 4) | (added ? 0x80 : 0));
    this.varint(d.e);
    this.varint(d.a);
    switch (kind) {
      case Kind.SmallInt:
        return this.varint((((p as number) << 1) ^ ((p as number) >> 31)) >>> 0);
      case Kind.Float:
        return this.float(p as number);
      case Kind.String:
        return this.string(p as string);
      case Kind.BigInt:
        return this.string((p as bigint).toString());
    }
  }
}

function decodeLogRecord(t: number, bytes: Uint8Array): LogEntry {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = buf[0];
  if (version !== RECORD_VERSION && version !== EXACT_STRINGS_VERSION) throw new Error(`log record ${t} has unknown version ${version}`);
  const tx = buf.readDoubleLE(1);
  const instant = buf.readDoubleLE(9);
  const count = buf.readUInt32LE(17);
  let pos = HEADER;
  const varint = (): number => {
    let x = 0;
    let scale = 1;
    for (;;) {
      const b = buf[pos++]!;
      x += (b & 0x7f) * scale;
      if (b < 0x80) return x;
      scale *= 0x80;
    }
  };
  const string = (): string => {
    const n = varint();
    const s = version === RECORD_VERSION ? buf.toString('utf8', pos, pos + n) : decodeExact(buf, pos, pos + n);
    pos += n;
    return s;
  };
  const datoms: LogDatom[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const head = buf[pos++]!;
    const e = varint();
    const a = varint();
    let payload: Payload;
    switch ((head >> 4) & 7) {
      case Kind.SmallInt: {
        const z = varint();
        payload = (z >>> 1) ^ -(z & 1);
        break;
      }
      case Kind.Float:
        payload = buf.readDoubleLE(pos);
        pos += 8;
        break;
      case Kind.String:
        payload = string();
        break;
      case Kind.BigInt:
        payload = BigInt(string());
        break;
      case Kind.False:
        payload = false;
        break;
      default:
        payload = true;
    }
    datoms[i] = { e, a, tag: (head & 0xf) as Tag, payload, added: (head & 0x80) !== 0 };
  }
  return { t, tx, instant, datoms };
}
