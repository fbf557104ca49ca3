// One index database (EAVT, AEVT... current or history) as a sorted set of keys. From format 4 an
// LMDB entry holds either one key (an empty value) or a packed run of keys: lmdb-js costs about a
// microsecond per put whatever its size, so a bulk load puts one entry per run of keys instead
// of one per key. A run's entry key is its last key followed by KEY_MAX: it sorts after each of
// its keys and before any key that follows them (index keys of one database all have the same
// number of parts, so no key extends another), so LMDB's order stays the keys' order. Older
// formats hold single keys only, and are read and written as before. A run's value is laid out
// as run-layout.ts says (format 7: each key as its difference from the one before).
import type { Database } from 'lmdb';
import type { KeyPart } from './encoding.js';
import { compareBytes, KEY_CODEC, KEY_MAX_STRING, readKey, writeKey, type KeyCodec } from './key-codec.js';
import { DeltaRunReader, DELTA_RUNS, PLAIN_RUNS, runBytes, startOf, type KeyList, type RunLayout } from './run-layout.js';

export type { KeyList };

const EMPTY = Buffer.alloc(0);
/** lmdb-js's MDB_APPEND: a put past the last entry, which leaves the page before it full (LMDB otherwise splits pages in half). */
const APPEND = { append: true };
const IN_PLACE = { append: false };
/** Keys a bulk write packs into one entry. A run grown past twice as many (by writes inside it) is split. */
export const PACK_SIZE = 64;
/**
 * A bulk write's run takes at most this many bytes, and a run grown past RUN_MAX_BYTES is split:
 * a run stays inside an LMDB node (about 2,000 bytes with its key, on 4 KB pages), which LMDB
 * would otherwise give a page of its own, copied whole at each rewrite.
 */
const PACK_BYTES = 900;
const RUN_MAX_BYTES = 1700;
/** The byte KEY_MAX is written as (key-codec.ts): appended to a run's last key, its entry key. */
const KEY_MAX_BYTE = 0xfd;
/** Keys `keysIn` reads at a time: few at first (most scans are short), more as a scan goes on. */
const FIRST_CHUNK = 64;
const MAX_CHUNK = 4096;
/** LMDB's (and lmdb-js's) longest key is 1978 bytes: room for any key in a builder. */
const MAX_KEY_BYTES = 2048;

/** Collects keys into a KeyList (each is encoded at once, so the caller may reuse its array). */
export class KeyListBuilder {
  private bytes: Buffer;
  private ends: Uint32Array;
  private count = 0;
  private pos = 0;

  constructor(expected: number) {
    this.bytes = Buffer.allocUnsafe(Math.max(expected, 16) * 24 + MAX_KEY_BYTES);
    this.ends = new Uint32Array(Math.max(expected, 16));
  }

  add(key: KeyPart[] | Uint8Array): void {
    this.makeRoom();
    this.pos = writeKey(key, this.bytes, this.pos);
    this.ends[this.count++] = this.pos;
  }

  /** Adds the key `write(arg, ...)` writes (a bulk writer's own encoder, which needs no key array). */
  addWritten<T>(write: (arg: T, target: Uint8Array, pos: number) => number, arg: T): void {
    this.makeRoom();
    this.pos = write(arg, this.bytes, this.pos);
    this.ends[this.count++] = this.pos;
  }

  private makeRoom(): void {
    if (this.pos + MAX_KEY_BYTES > this.bytes.length) {
      const grown = Buffer.allocUnsafe(this.bytes.length * 2);
      this.bytes.copy(grown, 0, 0, this.pos);
      this.bytes = grown;
    }
    if (this.count === this.ends.length) {
      const grown = new Uint32Array(this.ends.length * 2);
      grown.set(this.ends);
      this.ends = grown;
    }
  }

  finish(): KeyList {
    return { bytes: this.bytes.subarray(0, this.pos), ends: this.ends.subarray(0, this.count) };
  }
}

/** The keys of `list` in byte order, without repeats (bulk writers give them in close to that order). */
function sortedKeys(list: KeyList): KeyList {
  const { bytes, ends } = list;
  const n = ends.length;
  const cmp = (i: number, j: number) => compareBytes(bytes, startOf(list, i), ends[i]!, bytes, startOf(list, j), ends[j]!);
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) ordered = cmp(i - 1, i) < 0;
  if (ordered) return list;
  const order = Array.from({ length: n }, (_, i) => i).sort(cmp);
  const out = new KeyListBuilder(n);
  order.forEach((k, i) => {
    if (i === 0 || cmp(order[i - 1]!, k) !== 0) out.add(bytes.subarray(startOf(list, k), ends[k]!));
  });
  return out.finish();
}

/** What a scan or a lookup reads of a run. */
interface RunReader {
  readonly count: number;
  key(i: number): KeyPart[];
  /** The first key >= `key` from key `lo` on. */
  lowerBoundOf(key: KeyPart[], codec: KeyCodec, lo?: number): number;
}

/**
 * A run in the plain layout (run-layout.ts): the key count (u32), each key's end offset (u32,
 * from the start of the key bytes), then the keys' bytes back to back. In formats 4 to 6 its
 * bytes are lmdb-js's (getBinaryFast) until the next read: whatever is made of them is made
 * before any other read or write.
 */
class Run {
  readonly count: number;
  private readonly data: number;

  constructor(readonly value: Buffer) {
    this.count = value.readUInt32LE(0);
    this.data = 4 + 4 * this.count;
  }

  start(i: number): number {
    return this.data + (i === 0 ? 0 : this.value.readUInt32LE(4 * i));
  }

  end(i: number): number {
    return this.data + this.value.readUInt32LE(4 + 4 * i);
  }

  key(i: number): KeyPart[] {
    return readKey(this.value, this.start(i), this.end(i));
  }

  compareAt(i: number, bytes: Uint8Array, from = 0, to = bytes.length): number {
    return compareBytes(this.value, this.start(i), this.end(i), bytes, from, to);
  }

  /** The first key >= bytes[from, to), searching from key `lo` on (count when none is). */
  lowerBound(bytes: Uint8Array, to = bytes.length, from = 0, lo = 0): number {
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.compareAt(mid, bytes, from, to) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Whether key i starts with the parts written in bytes[0, n): their bytes, not followed by a
   * number's BIGINT or FRACTION marker (5's bytes begin 5n's and 5.5's), as the range [prefix,
   * prefix + KEY_MAX) holds it.
   */
  startsWith(i: number, bytes: Uint8Array, n: number): boolean {
    const start = this.start(i);
    const length = this.end(i) - start;
    if (length < n) return false;
    const value = this.value;
    for (let k = 0; k < n; k++) if (value[start + k] !== bytes[k]) return false;
    return length === n || value[start + n]! < KEY_MAX_BYTE;
  }

  /** The first key >= `key` (written by `codec`, the index's), from key `lo` on. */
  lowerBoundOf(key: KeyPart[], codec: KeyCodec, lo = 0): number {
    return this.lowerBound(scratch, codec.writeKey(key, scratch, 0), 0, lo);
  }

  /** This run's keys with key i left out. */
  without(i: number): KeyList {
    const length = this.end(i) - this.start(i);
    const ends = new Uint32Array(this.count - 1);
    for (let k = 0; k < this.count - 1; k++) {
      const end = this.value.readUInt32LE(4 + 4 * (k < i ? k : k + 1));
      ends[k] = k < i ? end : end - length;
    }
    const bytes = Buffer.allocUnsafe(this.value.length - this.data - length);
    this.value.copy(bytes, 0, this.data, this.start(i));
    this.value.copy(bytes, this.start(i) - this.data, this.end(i));
    return { bytes, ends };
  }

  /** The entry key of this run with key i as its last. */
  entryKeyAt(i: number): Buffer {
    return entryKeyOf(this.value, this.start(i), this.end(i));
  }

  /**
   * This run's keys and keys i..j of `list` (in order), merged, a key in both once. The run's
   * keys between two new ones are copied as one stretch of bytes.
   */
  mergedWith(list: KeyList, i: number, j: number): KeyList {
    const bytes = Buffer.allocUnsafe(this.value.length - this.data + list.ends[j - 1]! - startOf(list, i));
    const ends = new Uint32Array(this.count + j - i);
    let n = 0;
    let pos = 0;
    let next = 0;
    const copyKeys = (to: number) => {
      const base = this.start(next);
      for (let k = next; k < to; k++) ends[n++] = pos + this.end(k) - base;
      pos += this.value.copy(bytes, pos, base, this.start(to));
      next = to;
    };
    for (let b = i; b < j; b++) {
      const from = startOf(list, b);
      const to = list.ends[b]!;
      copyKeys(this.lowerBound(list.bytes, to, from, next));
      if (next < this.count && this.compareAt(next, list.bytes, from, to) === 0) continue;
      bytes.set(list.bytes.subarray(from, to), pos);
      pos += to - from;
      ends[n++] = pos;
    }
    copyKeys(this.count);
    return { bytes: bytes.subarray(0, pos), ends: ends.subarray(0, n) };
  }

  /** Whether key i of `list` is this run's last key. */
  endsWith(list: KeyList, i: number): boolean {
    return this.compareAt(this.count - 1, list.bytes, startOf(list, i), list.ends[i]!) === 0;
  }
}

/** The entry key of a run whose last key is source[start, end): its bytes and KEY_MAX. */
function entryKeyOf(source: Uint8Array, start: number, end: number): Buffer {
  const key = Buffer.allocUnsafe(end - start + 1);
  key.set(source.subarray(start, end), 0);
  key[key.length - 1] = KEY_MAX_BYTE;
  return key;
}

/** The entry key of a run whose last key is list's key `last`. */
function runEntryKey(list: KeyList, last: number): Buffer {
  return entryKeyOf(list.bytes, startOf(list, last), list.ends[last]!);
}

const isRunKey = (key: KeyPart[]) => key[key.length - 1] === KEY_MAX_STRING;

const scratch = Buffer.allocUnsafe(MAX_KEY_BYTES * 2);
const prefixBytes = Buffer.allocUnsafe(MAX_KEY_BYTES);

function startsWithParts(key: readonly KeyPart[], prefix: readonly KeyPart[]): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
/** A key's bytes, in a new buffer. */
function encodeKey(key: KeyPart[], codec: KeyCodec): Buffer {
  return Buffer.from(scratch.subarray(0, codec.writeKey(key, scratch, 0)));
}

/** Where an index records that it has held a run (kept outside it: the store's meta table). */
export interface RunsFlag {
  get(): boolean;
  set(): void;
}

/** The flag of index database `name`, as the key `runs:<name>` of a meta table. */
export function runsFlagIn(meta: Database<any, string>, name: string): RunsFlag {
  return { get: () => meta.get(`runs:${name}`) === true, set: () => meta.putSync(`runs:${name}`, true) };
}

export class PackedIndex {
  /** Fewer new keys than this between two existing entries are put one by one. */
  private readonly packMin: number;
  /**
   * False when no run was ever written here: a put or remove then needs no seek for the run
   * that might hold its key. Read again by beginWrite, under LMDB's write lock, because
   * another process may have written runs since.
   */
  private mayHaveRuns = true;
  /** How its runs' values are laid out: decided by its format, through its codec. */
  private readonly layout: RunLayout;

  constructor(
    private readonly db: Database<Buffer, any>,
    readonly packs: boolean,
    private readonly runsFlag?: RunsFlag,
    private readonly packSize = PACK_SIZE,
    /** The database's key codec (its keyEncoder), whose byte order the scans' bounds follow. */
    private readonly codec: KeyCodec = KEY_CODEC,
  ) {
    this.packMin = Math.max(2, packSize >> 3);
    this.layout = codec.deltaRuns ? DELTA_RUNS : PLAIN_RUNS;
  }

  /** The run stored as `value` (an entry's value, in this index's layout). */
  private runOf(value: Buffer): Run {
    return new Run(this.layout.plain(value));
  }

  /** At the start of a write transaction: whether this index may hold runs, as its flag says. */
  beginWrite(): void {
    this.mayHaveRuns = !this.runsFlag || this.runsFlag.get();
  }

  /**
   * Keys in [start, end) in key order (no bound when undefined), at most `limit` of them. Read
   * lazily, in lmdb-js's current read transaction: to be read to the end before anything else
   * runs (a commit in between would change what the rest reads). `keysIn` reads across commits.
   */
  keys(start: KeyPart[] | undefined, end: KeyPart[] | undefined, limit?: number, transaction?: unknown): Iterable<KeyPart[]> {
    if (!this.packs) return this.db.getKeys({ start, end, limit, transaction } as any) as Iterable<KeyPart[]>;
    return this.scanRuns(start, end, limit ?? Infinity, transaction);
  }

  /**
   * Keys in [start, end) as `keys`, all read in the read transaction `transaction()` gives: the
   * same one from the first key to the last, whatever is committed meanwhile. Read in chunks,
   * each in one synchronous step, so no LMDB cursor stays open between two keys: the transaction
   * can be ended at any time (the store closing, the iteration dropped unfinished).
   */
  *keysIn(start: KeyPart[] | undefined, end: KeyPart[] | undefined, transaction: () => unknown, firstChunk = FIRST_CHUNK): Generator<KeyPart[]> {
    let size = firstChunk;
    let from = start;
    for (let resumed = false; ; resumed = true) {
      // resumed at the last key read, which is read again and left out
      const chunk = [...this.keys(from, end, resumed ? size + 1 : size, transaction())];
      const read = chunk.length;
      if (resumed && read > 0 && this.codec.compareKeys(chunk[0]!, from!) === 0) chunk.shift();
      yield* chunk;
      if (read < (resumed ? size + 1 : size) || chunk.length === 0) return;
      from = chunk[chunk.length - 1];
      size = Math.min(size * 2, MAX_CHUNK);
    }
  }

  /**
   * The keys that start with `prefix` (a packed index's), read at once in lmdb-js's current read
   * transaction: the prefix compared as bytes (parts delimit themselves), no end key decoded.
   * An entity's keys: one cursor step and one run read for most entities. At most `limit`.
   */
  keysWithPrefix(prefix: KeyPart[], limit = Infinity): KeyPart[][] {
    const out: KeyPart[][] = [];
    const n = this.codec.writeKey(prefix, prefixBytes, 0);
    let first = true;
    for (const key of this.db.getKeys({ start: prefix } as any) as Iterable<KeyPart[]>) {
      if (!isRunKey(key)) {
        if (!startsWithParts(key, prefix)) break;
        out.push(key);
      } else if (this.layout === DELTA_RUNS) {
        const run = new DeltaRunReader(this.readRun(key));
        let i = first ? run.lowerBoundOf(prefix, this.codec) : 0;
        for (; i < run.count && out.length < limit; i++) {
          const k = run.key(i);
          if (!startsWithParts(k, prefix)) break;
          out.push(k);
        }
        if (i < run.count) break;
      } else {
        const run = new Run(this.readRun(key));
        let i = first ? run.lowerBound(prefixBytes, n) : 0;
        for (; i < run.count && out.length < limit && run.startsWith(i, prefixBytes, n); i++) out.push(run.key(i));
        if (i < run.count) break;
      }
      if (out.length >= limit) break;
      first = false;
    }
    return out;
  }

  /** The stored bytes of the run under entry `key`, as its layout wrote them (lmdb-js's until the next read). */
  private readRun(key: KeyPart[]): Buffer {
    return (this.db.getBinaryFast as (key: KeyPart[]) => Buffer | undefined).call(this.db, key)!;
  }

  private *scanRuns(start: KeyPart[] | undefined, end: KeyPart[] | undefined, limit: number, transaction?: unknown): Generator<KeyPart[]> {
    if (limit <= 0) return;
    let first = true;
    let left = limit;
    // no end given to lmdb-js: the run that holds the range's last keys has its entry past the end
    for (const key of this.db.getKeys({ start, transaction } as any) as Iterable<KeyPart[]>) {
      if (!isRunKey(key)) {
        if (end && this.codec.compareKeys(key, end) >= 0) return;
        yield key;
        if (--left === 0) return;
      } else {
        const { run, from, to } = this.runInRange(key, first ? start : undefined, end, transaction);
        // read now: the run's bytes are lmdb-js's, until its next read
        const keys: KeyPart[][] = [];
        for (let i = from; i < Math.min(to, from + left); i++) keys.push(run.key(i));
        for (const k of keys) yield k;
        left -= keys.length;
        if (left === 0 || to < run.count) return;
      }
      first = false;
    }
  }

  /** The run under entry `key`, and which of its keys are >= start (if given) and < end. */
  private runInRange(key: KeyPart[], start: KeyPart[] | undefined, end: KeyPart[] | undefined, transaction?: unknown): { run: RunReader; from: number; to: number } {
    // the run's entry read in the same transaction as its key: a later commit may have rewritten it
    const read = this.db.getBinaryFast as (key: KeyPart[], options?: { transaction: unknown }) => Buffer | undefined;
    const value = read.call(this.db, key, transaction ? { transaction } : undefined)!;
    // read in place: a scan or lookup reads a few keys of a run, or each once
    const run: RunReader = this.layout === DELTA_RUNS ? new DeltaRunReader(value) : new Run(value);
    const from = start ? run.lowerBoundOf(start, this.codec) : 0;
    const to = end && this.codec.compareKeys(key, end) >= 0 ? run.lowerBoundOf(end, this.codec, from) : run.count;
    return { run, from, to: Math.max(from, to) };
  }

  /** How many keys are in [start, end). */
  count(start: KeyPart[] | undefined, end: KeyPart[] | undefined): number {
    if (!this.packs) return this.db.getKeysCount({ start, end } as any);
    let n = 0;
    let first = true;
    for (const key of this.db.getKeys({ start } as any) as Iterable<KeyPart[]>) {
      if (!isRunKey(key)) {
        if (end && this.codec.compareKeys(key, end) >= 0) break;
        n++;
      } else {
        const { run, from, to } = this.runInRange(key, first ? start : undefined, end);
        n += to - from;
        if (to < run.count) break;
      }
      first = false;
    }
    return n;
  }

  put(key: KeyPart[]): void {
    if (this.packs && this.mayHaveRuns) {
      const bytes = encodeKey(key, this.codec);
      const holder = this.runHolding(bytes);
      if (holder) return this.putInRun(holder.entryKey, holder.run, bytes);
    }
    this.db.putSync(key, EMPTY);
  }

  private putInRun(entryKey: KeyPart[], run: Run, bytes: Uint8Array): void {
    const i = run.lowerBound(bytes);
    if (i < run.count && run.compareAt(i, bytes) === 0) return;
    this.replaceRun(entryKey, run, run.mergedWith({ bytes, ends: Uint32Array.of(bytes.length) }, 0, 1));
  }

  /** Removes `key`; whether it was there. */
  remove(key: KeyPart[]): boolean {
    // a key written by a small transaction is an entry of its own
    if (this.db.removeSync(key)) return true;
    if (!this.packs || !this.mayHaveRuns) return false;
    const bytes = encodeKey(key, this.codec);
    const holder = this.runHolding(bytes);
    if (!holder) return false;
    const { entryKey, run } = holder;
    const i = run.lowerBound(bytes);
    if (i === run.count || run.compareAt(i, bytes) !== 0) return false;
    if (run.count === 1) this.db.removeSync(entryKey);
    else if (i < run.count - 1) this.db.putSync(entryKey, this.encodeAll(run.without(i)));
    else {
      const [lastKey, rest] = [run.entryKeyAt(i - 1), this.encodeAll(run.without(i))];
      this.db.removeSync(entryKey);
      this.db.putSync(lastKey, rest);
    }
    return true;
  }

  /**
   * Many keys at once (a big transaction's, in close to key order; from format 4 only): the keys
   * that fall between two entries go in as runs, those inside an existing run are merged into it.
   * One seek per entry the keys meet. `append`: every key sorts after every entry (a table
   * written in key order from empty), so LMDB fills each page before it starts the next.
   */
  putMany(keys: KeyList, append = false): void {
    if (!this.packs) throw new Error('putMany: this index format holds single keys only');
    const list = sortedKeys(keys);
    const n = list.ends.length;
    const at = (i: number) => list.bytes.subarray(startOf(list, i), list.ends[i]!);
    const below = (i: number, bound: Uint8Array) => compareBytes(list.bytes, startOf(list, i), list.ends[i]!, bound, 0, bound.length) < 0;
    let i = 0;
    while (i < n) {
      const next = this.entryAtOrAfter(at(i));
      if (!next) {
        this.putGap(list, i, n, append);
        return;
      }
      let j = i;
      if (isRunKey(next)) {
        const run = this.runOf(this.db.getBinaryFast(next)!);
        if (run.compareAt(0, list.bytes, startOf(list, i), list.ends[i]!) <= 0) {
          const entryBytes = encodeKey(next, this.codec);
          while (j < n && below(j, entryBytes)) j++;
          this.replaceRun(next, run, run.mergedWith(list, i, j));
          i = j;
          continue;
        }
        const firstKey = run.value.subarray(run.start(0), run.end(0));
        while (j < n && below(j, firstKey)) j++;
        this.putGap(list, i, j);
      } else {
        const nextBytes = encodeKey(next, this.codec);
        while (j < n && below(j, nextBytes)) j++;
        this.putGap(list, i, j);
        // a key already stored as this single entry
        if (j < n && compareBytes(list.bytes, startOf(list, j), list.ends[j]!, nextBytes, 0, nextBytes.length) === 0) j++;
      }
      i = j;
    }
  }

  /** How many keys it holds: LMDB's entry count, unless it holds runs. */
  size(): number {
    if (!this.packs || (this.runsFlag && !this.runsFlag.get())) return (this.db.getStats() as { entryCount: number }).entryCount;
    return this.count(undefined, undefined);
  }

  /** Every key, in order. */
  all(): KeyPart[][] {
    return [...this.keys(undefined, undefined)];
  }

  clear(): void {
    this.db.clearSync();
  }

  private entryAtOrAfter(bytes: Uint8Array): KeyPart[] | undefined {
    for (const key of this.db.getKeys({ start: bytes, limit: 1 } as any) as Iterable<KeyPart[]>) return key;
    return undefined;
  }

  /** The run whose keys span `bytes` (its first key <= bytes < its entry key). */
  private runHolding(bytes: Uint8Array): { entryKey: KeyPart[]; run: Run } | undefined {
    const entryKey = this.entryAtOrAfter(bytes);
    if (!entryKey || !isRunKey(entryKey)) return undefined;
    const run = this.runOf(this.db.getBinaryFast(entryKey)!);
    return run.compareAt(0, bytes) <= 0 ? { entryKey, run } : undefined;
  }

  /** New keys i..j of `list`, which lie between two entries: as single keys, or as runs. */
  private putGap(list: KeyList, i: number, j: number, append = false): void {
    const options = append ? APPEND : IN_PLACE;
    if (j - i < this.packMin) {
      for (let k = i; k < j; k++) this.db.putSync(list.bytes.subarray(startOf(list, k), list.ends[k]!), EMPTY, options);
      return;
    }
    this.putRuns(list, i, j, options);
  }

  /** Keys i..j as runs of up to packSize keys and PACK_BYTES bytes each. */
  private putRuns(list: KeyList, i: number, j: number, options = IN_PLACE): void {
    if (!this.mayHaveRuns) {
      this.runsFlag?.set();
      this.mayHaveRuns = true;
    }
    for (let from = i; from < j;) {
      let to = from + 1;
      let bytes = this.layout.firstKeyBytes(list, from);
      for (; to < j && to - from < this.packSize; to++) {
        const more = this.layout.keyBytes(list, to, from);
        if (bytes + more > PACK_BYTES) break;
        bytes += more;
      }
      this.db.putSync(runEntryKey(list, to - 1), this.layout.encode(list, from, to), options);
      from = to;
    }
  }

  /** The value of a run of every key of `list`. */
  private encodeAll(list: KeyList): Buffer {
    return this.layout.encode(list, 0, list.ends.length);
  }

  /** A run's keys are now `keys` (as many or more): rewritten under its entry key (a new one if its last key changed), split if grown. */
  private replaceRun(entryKey: KeyPart[], run: Run, keys: KeyList): void {
    const n = keys.ends.length;
    if (!run.endsWith(keys, n - 1)) this.db.removeSync(entryKey);
    if (n > 2 * this.packSize || runBytes(this.layout, keys, 0, n) > RUN_MAX_BYTES) this.putRuns(keys, 0, n);
    else this.db.putSync(runEntryKey(keys, n - 1), this.encodeAll(keys));
  }
}
