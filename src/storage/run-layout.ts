// How a packed run of index keys (packed-index.ts) is laid out in its LMDB value: formats 4 to 6
// store each key whole behind a table of end offsets; format 7 stores each key as the length of
// the prefix it shares with the key before it and the rest of its bytes. Keys next to each other
// in an index share most of their bytes (the entity, the attribute, the tag, the high bytes of
// ids), so format 7's runs take about half the bytes. A write reads a run back into the plain
// layout and changes it there; a scan or lookup reads it in place (DeltaRunReader).
import { compareBytes, readKey, type KeyCodec, type KeyPart } from './key-codec.js';

/** Keys in byte form, back to back: key i is bytes[i ? ends[i-1] : 0, ends[i]). */
export interface KeyList {
  bytes: Uint8Array;
  ends: Uint32Array;
}

export const startOf = (list: KeyList, i: number) => (i === 0 ? 0 : list.ends[i - 1]!);

export interface RunLayout {
  /** The value of a run of list's keys from..to. */
  encode(list: KeyList, from: number, to: number): Buffer;
  /** A stored value in the plain layout: count (u32), each key's end offset (u32), the keys' bytes. */
  plain(value: Buffer): Buffer;
  /** What key `k` adds to the value of a run of keys from..k of `list` (k > from). */
  keyBytes(list: KeyList, k: number, from: number): number;
  /** The value's bytes for a run of its first key alone. */
  firstKeyBytes(list: KeyList, k: number): number;
}

/** The bytes of the value of a run of list's keys from..to in `layout`. */
export function runBytes(layout: RunLayout, list: KeyList, from: number, to: number): number {
  let bytes = layout.firstKeyBytes(list, from);
  for (let k = from + 1; k < to; k++) bytes += layout.keyBytes(list, k, from);
  return bytes;
}

/** Formats 4 to 6: the key count, each key's end offset (u32, from the start of the key bytes), the keys. */
export const PLAIN_RUNS: RunLayout = {
  encode(list, from, to) {
    const base = startOf(list, from);
    const count = to - from;
    const value = Buffer.allocUnsafe(4 + 4 * count + (list.ends[to - 1]! - base));
    value.writeUInt32LE(count, 0);
    for (let i = 0; i < count; i++) value.writeUInt32LE(list.ends[from + i]! - base, 4 + 4 * i);
    value.set(list.bytes.subarray(base, list.ends[to - 1]!), 4 + 4 * count);
    return value;
  },
  plain: (value) => value,
  keyBytes: (list, k) => 4 + list.ends[k]! - startOf(list, k),
  firstKeyBytes: (list, k) => 8 + list.ends[k]! - startOf(list, k),
};

/** A shared prefix or suffix is written in one byte: a longer one is cut to this (keys are rarely longer). */
const MAX_SHARED = 255;

/** How many leading bytes keys a and b of `list` have in common, at most MAX_SHARED. */
function sharedPrefix(list: KeyList, a: number, b: number): number {
  const { bytes } = list;
  const x = startOf(list, a);
  const y = startOf(list, b);
  const limit = Math.min(list.ends[a]! - x, list.ends[b]! - y, MAX_SHARED);
  let n = 0;
  while (n < limit && bytes[x + n] === bytes[y + n]) n++;
  return n;
}

/** How many trailing bytes key k of `list` has in common with key k - 1 past its first `prefix` bytes. */
function sharedSuffix(list: KeyList, k: number, prefix: number): number {
  const { bytes } = list;
  const end = list.ends[k]!;
  const previousEnd = list.ends[k - 1]!;
  const limit = Math.min(end - startOf(list, k) - prefix, previousEnd - startOf(list, k - 1), MAX_SHARED);
  let n = 0;
  while (n < limit && bytes[end - 1 - n] === bytes[previousEnd - 1 - n]) n++;
  return n;
}

/** The bytes of key k that a delta run stores: what it does not share with key k - 1 (none before the first). */
function middleBytes(list: KeyList, k: number, first: boolean): number {
  const length = list.ends[k]! - startOf(list, k);
  if (first) return length;
  const prefix = sharedPrefix(list, k - 1, k);
  return length - prefix - sharedSuffix(list, k, prefix);
}

const varintBytes = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : 3);

function writeVarint(n: number, target: Buffer, pos: number): number {
  while (n >= 0x80) {
    target[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  target[pos++] = n;
  return pos;
}

/** Every RESTART-th key of a delta run is stored whole: a lookup searches those, then decodes a few keys. */
export const RESTART = 8;
const restartsOf = (count: number) => Math.ceil(count / RESTART);

/** Reads a varint at value[pos]; returns it, and where it ends in `varintEnd`. */
let varintEnd = 0;
function readVarint(value: Uint8Array, pos: number): number {
  let n = 0;
  for (let shift = 0; ; shift += 7) {
    const b = value[pos++]!;
    n += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      varintEnd = pos;
      return n;
    }
  }
}

/**
 * Format 7: the key count (varint), the keys' total bytes (varint), the offset (u16, from the
 * first key's entry) of every RESTART-th key's entry, then per key the length of the prefix it
 * shares with the key before (one byte), the length of the suffix it shares with it after that
 * prefix (one byte), the length of the bytes between (varint) and those bytes. Every RESTART-th
 * key, the first included, is stored whole (both lengths 0), so a lookup needs no key before
 * it. Neighbouring keys differ in a few bytes in the middle: the entity or the value, between
 * the same attribute and, often, the same tx.
 */
export const DELTA_RUNS: RunLayout = {
  encode(list, from, to) {
    const count = to - from;
    const total = list.ends[to - 1]! - startOf(list, from);
    const value = Buffer.allocUnsafe(runBytes(DELTA_RUNS, list, from, to));
    const table = writeVarint(total, value, writeVarint(count, value, 0));
    const keysAt = table + 2 * restartsOf(count);
    let pos = keysAt;
    for (let k = from; k < to; k++) {
      const whole = (k - from) % RESTART === 0;
      if (whole) value.writeUInt16LE(pos - keysAt, table + 2 * ((k - from) / RESTART));
      const prefix = whole ? 0 : sharedPrefix(list, k - 1, k);
      const suffix = whole ? 0 : sharedSuffix(list, k, prefix);
      const start = startOf(list, k) + prefix;
      const middle = list.ends[k]! - suffix - start;
      value[pos++] = prefix;
      value[pos++] = suffix;
      pos = writeVarint(middle, value, pos);
      value.set(list.bytes.subarray(start, start + middle), pos);
      pos += middle;
    }
    // runBytes counts the count's and the total's varints at their longest
    return value.subarray(0, pos);
  },
  plain(value) {
    const count = readVarint(value, 0);
    const total = readVarint(value, varintEnd);
    let pos = varintEnd + 2 * restartsOf(count);
    const out = Buffer.allocUnsafe(4 + 4 * count + total);
    out.writeUInt32LE(count, 0);
    const data = 4 + 4 * count;
    let at = data;
    let previous = data;
    for (let i = 0; i < count; i++) {
      const prefix = value[pos++]!;
      const suffix = value[pos++]!;
      const middle = readVarint(value, pos);
      pos = varintEnd;
      const start = at;
      // short copies by hand: Buffer#copy's native call costs more than a key's few bytes
      for (let b = 0; b < prefix; b++) out[at + b] = out[previous + b]!;
      at += prefix;
      for (let b = 0; b < middle; b++) out[at + b] = value[pos + b]!;
      pos += middle;
      at += middle;
      // the previous key ends where this one starts
      for (let b = 0; b < suffix; b++) out[at + b] = out[start - suffix + b]!;
      at += suffix;
      out.writeUInt32LE(at - data, 4 + 4 * i);
      previous = start;
    }
    return out;
  },
  keyBytes(list, k, from) {
    if ((k - from) % RESTART === 0) return 2 + 2 + varintBytes(list.ends[k]! - startOf(list, k)) + list.ends[k]! - startOf(list, k);
    const middle = middleBytes(list, k, false);
    return 2 + varintBytes(middle) + middle;
  },
  firstKeyBytes(list, k) {
    const length = middleBytes(list, k, true);
    // the count's and the total's varints at their longest for a run (count < 2^14, total < 2^21), a restart's offset
    return 2 + 3 + 2 + 2 + varintBytes(length) + length;
  },
};

/** The key a DeltaRunReader decoded last (the longest key, LMDB's, is 1978 bytes). */
const current = Buffer.allocUnsafe(2048);
/** The reader whose key `current` holds (readers are numbered). */
let currentOwner = 0;
let readers = 0;
const boundScratch = Buffer.allocUnsafe(4096);

/**
 * A delta run read in place, for scans and lookups: a lookup searches the whole keys stored
 * every RESTART keys, then decodes forward from the one before its key; a scan decodes each key
 * once, over the key before it. Its bytes are lmdb-js's (getBinaryFast) until the next read.
 */
export class DeltaRunReader {
  readonly count: number;
  private readonly table: number;
  private readonly keysAt: number;
  /** The key last decoded (current[0, length)), and where the entry after it starts. */
  private index = -1;
  private length = 0;
  private next = 0;
  private readonly id = ++readers;

  constructor(private readonly value: Buffer) {
    this.count = readVarint(value, 0);
    readVarint(value, varintEnd);
    this.table = varintEnd;
    this.keysAt = this.table + 2 * restartsOf(this.count);
  }

  /** Decodes key i into current[0, length). */
  private decode(i: number): void {
    if (i === this.index && currentOwner === this.id) return;
    const restart = Math.floor(i / RESTART);
    // from the restart key before i, unless i follows the key decoded last (in its block or the next)
    if (currentOwner !== this.id || i <= this.index || restart * RESTART > this.index) {
      currentOwner = this.id;
      this.index = restart * RESTART - 1;
      this.next = this.keysAt + this.value.readUInt16LE(this.table + 2 * restart);
    }
    const { value } = this;
    while (this.index < i) {
      const prefix = value[this.next]!;
      const suffix = value[this.next + 1]!;
      const middle = readVarint(value, this.next + 2);
      const pos = varintEnd;
      // over the key before: its prefix is in place, its suffix moves when the middle's length changed
      const from = this.length - suffix;
      const to = prefix + middle;
      if (to > from) for (let b = suffix - 1; b >= 0; b--) current[to + b] = current[from + b]!;
      else if (to < from) for (let b = 0; b < suffix; b++) current[to + b] = current[from + b]!;
      for (let b = 0; b < middle; b++) current[prefix + b] = value[pos + b]!;
      this.length = to + suffix;
      this.next = pos + middle;
      this.index++;
    }
  }

  key(i: number): KeyPart[] {
    this.decode(i);
    return readKey(current, 0, this.length);
  }

  /** The first key >= `key` (written by `codec`) from key `lo` on, count when none is. */
  lowerBoundOf(key: KeyPart[], codec: KeyCodec, lo = 0): number {
    const to = codec.writeKey(key, boundScratch, 0);
    // a range's end, after its start: the keys between are read next, forward from the start
    if (lo > 0) {
      for (let i = lo; i < this.count; i++) {
        this.decode(i);
        if (compareBytes(current, 0, this.length, boundScratch, 0, to) >= 0) return i;
      }
      return this.count;
    }
    // the last restart key below the bound: the keys before it are below too
    let hi = restartsOf(this.count);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const entry = this.keysAt + this.value.readUInt16LE(this.table + 2 * mid);
      const length = readVarint(this.value, entry + 2);
      if (compareBytes(this.value, varintEnd, varintEnd + length, boundScratch, 0, to) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return 0;
    const last = Math.min(lo * RESTART, this.count);
    for (let i = (lo - 1) * RESTART + 1; i < last; i++) {
      this.decode(i);
      if (compareBytes(current, 0, this.length, boundScratch, 0, to) >= 0) return i;
    }
    return last;
  }
}
