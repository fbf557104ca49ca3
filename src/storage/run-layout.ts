// How a packed run of index keys (packed-index.ts) is laid out in its LMDB value: formats 4 to 6
// store each key whole behind a table of end offsets; format 7 stores each key as the length of
// the prefix it shares with the key before it and the rest of its bytes. Keys next to each other
// in an index share most of their bytes (the entity, the attribute, the tag, the high bytes of
// ids), so format 7's runs take about half the bytes. A run is read back into the plain layout
// (one copy of ~1 KB) and searched there, so only reads and writes of whole runs differ.

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
  /** What key `k` adds to the value of a run that holds key k - 1 of `list` before it. */
  keyBytes(list: KeyList, k: number): number;
  /** The value's bytes for a run of its first key alone. */
  firstKeyBytes(list: KeyList, k: number): number;
}

/** The bytes of the value of a run of list's keys from..to in `layout`. */
export function runBytes(layout: RunLayout, list: KeyList, from: number, to: number): number {
  let bytes = layout.firstKeyBytes(list, from);
  for (let k = from + 1; k < to; k++) bytes += layout.keyBytes(list, k);
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

/**
 * Format 7: the key count (varint), the keys' total bytes (varint), then per key the length of
 * the prefix it shares with the key before (one byte), the length of the suffix it shares with
 * it after that prefix (one byte), the length of the bytes between (varint) and those bytes. The
 * first key is stored whole (both lengths 0). Neighbouring keys differ in a few bytes in the
 * middle: the entity or the value, between the same attribute and, often, the same tx.
 */
export const DELTA_RUNS: RunLayout = {
  encode(list, from, to) {
    const total = list.ends[to - 1]! - startOf(list, from);
    const value = Buffer.allocUnsafe(runBytes(DELTA_RUNS, list, from, to));
    let pos = writeVarint(total, value, writeVarint(to - from, value, 0));
    for (let k = from; k < to; k++) {
      const prefix = k === from ? 0 : sharedPrefix(list, k - 1, k);
      const suffix = k === from ? 0 : sharedSuffix(list, k, prefix);
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
    let pos = 0;
    const varint = () => {
      let n = 0;
      for (let shift = 0; ; shift += 7) {
        const b = value[pos++]!;
        n += (b & 0x7f) * 2 ** shift;
        if (b < 0x80) return n;
      }
    };
    const count = varint();
    const total = varint();
    const out = Buffer.allocUnsafe(4 + 4 * count + total);
    out.writeUInt32LE(count, 0);
    const data = 4 + 4 * count;
    let at = data;
    let previous = data;
    for (let i = 0; i < count; i++) {
      const prefix = value[pos++]!;
      const suffix = value[pos++]!;
      const middle = varint();
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
  keyBytes(list, k) {
    const middle = middleBytes(list, k, false);
    return 2 + varintBytes(middle) + middle;
  },
  firstKeyBytes(list, k) {
    const length = middleBytes(list, k, true);
    // the count's and the total's varints at their longest for a run (count < 2^14, total < 2^21)
    return 2 + 3 + 2 + varintBytes(length) + length;
  },
};
