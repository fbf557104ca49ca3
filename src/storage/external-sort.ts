// External merge sort of byte strings held as latin1 JS strings (one char a byte, so JS string
// order is byte order, LMDB's key order): sorted in memory up to a shared budget, spilled to files
// as sorted runs past it, merged back in order. An import sorts its index keys with it (sorted-import.ts).
import fs from 'node:fs';
import path from 'node:path';

/** Bytes a record costs in memory beyond its own: its length, its start and the sort's two arrays. */
const RECORD_OVERHEAD = 2 + 4 + 4 + 2 + 4;
/** A sorter's buffer of records starts this big and doubles. */
const ARENA_START = 1 << 16;
/** A run file is written and read in chunks of this many bytes. */
const CHUNK_BYTES = 1 << 18;

interface Latin1 {
  latin1Write(s: string, offset: number): number;
  latin1Slice(start: number, end: number): string;
}
/** `s` into `target` at `pos`, one byte a char; returns its length (Node's own, without Buffer.write's argument checks). */
export const latin1Write = (target: Uint8Array, s: string, pos: number): number => (target as unknown as Latin1).latin1Write(s, pos);
/** Bytes [start, end) of `source` as a string of one char a byte. */
export const latin1Slice = (source: Uint8Array, start: number, end: number): string => (source as unknown as Latin1).latin1Slice(start, end);

/** The memory all sorters of one import share: past `maxBytes`, the biggest one spills. */
export class SortBudget {
  private readonly sorters: StringSorter[] = [];
  used = 0;
  private files = 0;
  /** The buffer of the last sorter that let go of one, for the next that grows (fresh memory costs a page fault a page). */
  private spare: Buffer | undefined;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** A new sorter within this budget. */
  sorter(): StringSorter {
    const sorter = new StringSorter(this);
    this.sorters.push(sorter);
    return sorter;
  }

  /** @internal */
  grew(): void {
    if (this.used <= this.maxBytes) return;
    let biggest = this.sorters[0]!;
    for (const s of this.sorters) if (s.bytes > biggest.bytes) biggest = s;
    biggest.spill();
  }

  /** @internal A buffer of at least `size` bytes: the spare one if it is big enough. */
  arena(size: number): Buffer {
    const spare = this.spare;
    if (spare && spare.length >= size) {
      this.spare = undefined;
      return spare;
    }
    return Buffer.allocUnsafe(size);
  }

  /** @internal A sorter's buffer it no longer needs: kept if it is the biggest let go. */
  recycle(arena: Buffer): void {
    if (arena.length > ARENA_START && (!this.spare || arena.length > this.spare.length)) this.spare = arena;
  }

  /** @internal A new run file's name. */
  runFile(): string {
    if (this.files === 0) fs.mkdirSync(this.dir, { recursive: true });
    return path.join(this.dir, `run-${this.files++}`);
  }

  /** @internal */
  forget(sorter: StringSorter): void {
    const i = this.sorters.indexOf(sorter);
    if (i >= 0) this.sorters.splice(i, 1);
  }

  /** Remove every run file left (a failed import). */
  dispose(): void {
    this.spare = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Byte strings sorted in memory up to the budget, then spilled as runs. They are held as
 * [u16 LE length][bytes] back to back in one buffer, not as JS strings: millions of live strings
 * made most of an import's garbage collection (each one copied by every scavenge it outlived).
 */
export class StringSorter {
  private arena: Buffer = Buffer.allocUnsafe(ARENA_START);
  private used = 0;
  /** Where each record starts in `arena`. */
  private starts = new Uint32Array(1024);
  private readonly runs: string[] = [];
  bytes = 0;
  count = 0;

  constructor(private readonly budget: SortBudget) {}

  add(s: string): void {
    this.room(s.length);
    latin1Write(this.arena, s, this.used + 2);
    this.added(s.length);
  }

  /** The byte string in bytes [0, length) of `source`. */
  addBytes(source: Uint8Array, length: number): void {
    this.room(length);
    const arena = this.arena;
    const at = this.used + 2;
    for (let i = 0; i < length; i++) arena[at + i] = source[i]!;
    this.added(length);
  }

  private room(length: number): void {
    if (length > 0xffff) throw new RangeError(`a sort record of ${length} bytes (at most 65535)`);
    if (this.used + 2 + length > this.arena.length) {
      const grown = this.budget.arena(Math.max(this.arena.length * 2, this.used + 2 + length));
      this.arena.copy(grown, 0, 0, this.used);
      this.budget.recycle(this.arena);
      this.arena = grown;
    }
    if (this.count === this.starts.length) {
      const grown = new Uint32Array(this.starts.length * 2);
      grown.set(this.starts);
      this.starts = grown;
    }
  }

  private added(length: number): void {
    const at = this.used;
    this.arena[at] = length & 0xff;
    this.arena[at + 1] = length >> 8;
    this.starts[this.count++] = at;
    this.used = at + 2 + length;
    const cost = length + RECORD_OVERHEAD;
    this.bytes += cost;
    this.budget.used += cost;
    if (this.bytes > 1 << 20) this.budget.grew();
  }

  /** The records held in memory, sorted, into a run file. */
  spill(): void {
    if (this.count === 0) return;
    const order = this.sortedStarts();
    const file = this.budget.runFile();
    writeRun(file, this.arena, order);
    this.runs.push(file);
    this.release();
  }

  /** The starts of the records held, in the records' byte order. */
  private sortedStarts(): Uint32Array {
    const order = this.starts.subarray(0, this.count);
    sortRecords(this.arena, order);
    return order;
  }

  private release(): void {
    this.budget.recycle(this.arena);
    this.arena = Buffer.allocUnsafe(ARENA_START);
    this.starts = new Uint32Array(1024);
    this.used = 0;
    this.count = 0;
    this.budget.used -= this.bytes;
    this.bytes = 0;
  }

  /**
   * Every string added, in order (repeats kept); run files are read once and removed. When some
   * were spilled, the rest is spilled too so that memory holds only the runs' read buffers.
   */
  *sorted(): Generator<string> {
    this.budget.forget(this);
    if (this.runs.length === 0) {
      const arena = this.arena;
      const order = this.sortedStarts();
      // the budget goes to the sorters filling up as these are read (the walk's keys take their place); the buffer stays until read
      this.budget.used -= this.bytes;
      this.bytes = 0;
      for (let i = 0; i < order.length; i++) {
        const at = order[i]!;
        yield latin1Slice(arena, at + 2, at + 2 + (arena[at]! | (arena[at + 1]! << 8)));
      }
      this.release();
      return;
    }
    this.spill();
    try {
      yield* mergeRuns(this.runs.map((file) => readRun(file)));
    } finally {
      for (const file of this.runs) fs.rmSync(file, { force: true });
    }
  }
}

/** Ranges at most this long are sorted by insertion, longer ones by their next byte. */
const INSERTION_MAX = 24;
/** Past this many bytes of common prefix a range is sorted by comparisons (bounds the recursion). */
const RADIX_MAX_DEPTH = 48;

/**
 * Record starts (records [u16 LE length][bytes] in `arena`) into the records' byte order: an
 * MSD radix sort, a byte at a time (a record that ends sorts before every longer one).
 */
export function sortRecords(arena: Uint8Array, order: Uint32Array): void {
  const n = order.length;
  if (n < 2) return;
  radixSort(arena, order, new Uint32Array(n), new Uint16Array(n), 0, n, 0);
}

function radixSort(arena: Uint8Array, order: Uint32Array, scratchOrder: Uint32Array, digits: Uint16Array, lo: number, hi: number, depth: number): void {
  for (;;) {
    if (hi - lo <= INSERTION_MAX) return insertionSort(arena, order, lo, hi, depth);
    if (depth >= RADIX_MAX_DEPTH) return comparisonSort(arena, order, lo, hi, depth);
    const counts = new Int32Array(258);
    for (let i = lo; i < hi; i++) {
      const at = order[i]!;
      const d = depth < (arena[at]! | (arena[at + 1]! << 8)) ? arena[at + 2 + depth]! + 1 : 0;
      digits[i] = d;
      counts[d + 1]!++;
    }
    // one digit only: nothing to move, look at the next byte
    if (counts[digits[lo]! + 1] === hi - lo) {
      if (digits[lo] === 0) return;
      depth++;
      continue;
    }
    for (let d = 0; d < 257; d++) counts[d + 1]! += counts[d]!;
    for (let i = lo; i < hi; i++) scratchOrder[lo + counts[digits[i]!]!++] = order[i]!;
    order.set(scratchOrder.subarray(lo, hi), lo);
    // counts[d] is now where digit d's range ends; digit 0 (ended records) needs no more sorting
    for (let d = 1; d < 257; d++) {
      const from = lo + counts[d - 1]!;
      const to = lo + counts[d]!;
      if (to - from > 1) radixSort(arena, order, scratchOrder, digits, from, to, depth + 1);
    }
    return;
  }
}

/** Records at `a` and `b` compared from byte `depth` on (the bytes before are equal). */
function compareRecords(arena: Uint8Array, a: number, b: number, depth: number): number {
  const lenA = arena[a]! | (arena[a + 1]! << 8);
  const lenB = arena[b]! | (arena[b + 1]! << 8);
  const n = lenA < lenB ? lenA : lenB;
  for (let i = depth; i < n; i++) {
    const x = arena[a + 2 + i]!;
    const y = arena[b + 2 + i]!;
    if (x !== y) return x - y;
  }
  return lenA - lenB;
}

function insertionSort(arena: Uint8Array, order: Uint32Array, lo: number, hi: number, depth: number): void {
  for (let i = lo + 1; i < hi; i++) {
    const at = order[i]!;
    let j = i - 1;
    while (j >= lo && compareRecords(arena, order[j]!, at, depth) > 0) {
      order[j + 1] = order[j]!;
      j--;
    }
    order[j + 1] = at;
  }
}

function comparisonSort(arena: Uint8Array, order: Uint32Array, lo: number, hi: number, depth: number): void {
  const range = Array.from(order.subarray(lo, hi));
  range.sort((a, b) => compareRecords(arena, a, b, depth));
  order.set(range, lo);
}

/** Keys that come in order already, written to a file as they come (no memory but its buffer) and read back once. */
export class SortedRun {
  private buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private pos = 0;
  private fd: number | undefined;
  private file: string | undefined;

  constructor(private readonly budget: SortBudget) {}

  /** The key in bytes [0, length) of `bytes`. */
  add(bytes: Uint8Array, length: number): void {
    if (this.pos + 2 + length > this.buffer.length) this.flush();
    const buffer = this.buffer;
    let pos = this.pos;
    buffer[pos++] = length & 0xff;
    buffer[pos++] = length >> 8;
    for (let i = 0; i < length; i++) buffer[pos++] = bytes[i]!;
    this.pos = pos;
  }

  private flush(): void {
    this.file ??= this.budget.runFile();
    this.fd ??= fs.openSync(this.file, 'w');
    fs.writeSync(this.fd, this.buffer, 0, this.pos);
    this.pos = 0;
  }

  /** The keys, in the order added. */
  *sorted(): Generator<string> {
    if (this.fd === undefined) {
      const items: string[] = [];
      for (let at = 0; at < this.pos;) {
        const length = this.buffer[at]! | (this.buffer[at + 1]! << 8);
        items.push(latin1Slice(this.buffer, at + 2, at + 2 + length));
        at += 2 + length;
      }
      yield* items;
      return;
    }
    if (this.pos > 0) this.flush();
    fs.closeSync(this.fd);
    try {
      yield* readRun(this.file!);
    } finally {
      fs.rmSync(this.file!, { force: true });
    }
  }
}

/** The records of `arena` at `order`, as [u16 LE length][latin1 bytes] back to back. */
function writeRun(file: string, arena: Uint8Array, order: Uint32Array): void {
  const fd = fs.openSync(file, 'w');
  try {
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = 0;
    for (let i = 0; i < order.length; i++) {
      const at = order[i]!;
      const size = 2 + (arena[at]! | (arena[at + 1]! << 8));
      if (pos + size > buffer.length) {
        fs.writeSync(fd, buffer, 0, pos);
        pos = 0;
        if (size > buffer.length) buffer = Buffer.allocUnsafe(size);
      }
      for (let j = 0; j < size; j++) buffer[pos + j] = arena[at + j]!;
      pos += size;
    }
    if (pos > 0) fs.writeSync(fd, buffer, 0, pos);
  } finally {
    fs.closeSync(fd);
  }
}

function* readRun(file: string): Generator<string> {
  const fd = fs.openSync(file, 'r');
  try {
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let start = 0;
    let end = 0;
    for (;;) {
      if (end - start < 2 || end - start < 2 + buffer.readUInt16LE(start)) {
        const left = end - start;
        const need = left >= 2 ? 2 + buffer.readUInt16LE(start) : 2;
        const next = need > buffer.length ? Buffer.allocUnsafe(need + CHUNK_BYTES) : buffer;
        buffer.copy(next, 0, start, end);
        buffer = next;
        const read = fs.readSync(fd, buffer, left, buffer.length - left, null);
        start = 0;
        end = left + read;
        if (read === 0) {
          if (left !== 0) throw new Error(`${file}: a run file ends inside a record`);
          return;
        }
        continue;
      }
      const length = buffer.readUInt16LE(start);
      yield latin1Slice(buffer, start + 2, start + 2 + length);
      start += 2 + length;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Sorted streams merged into one sorted stream (a binary heap of their heads). */
export function* mergeRuns(streams: Iterator<string>[]): Generator<string> {
  const heads: string[] = [];
  const sources: Iterator<string>[] = [];
  const swap = (i: number, j: number) => {
    [heads[i], heads[j]] = [heads[j]!, heads[i]!];
    [sources[i], sources[j]] = [sources[j]!, sources[i]!];
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heads.length && heads[l]! < heads[min]!) min = l;
      if (r < heads.length && heads[r]! < heads[min]!) min = r;
      if (min === i) return;
      swap(i, min);
      i = min;
    }
  };
  for (const stream of streams) {
    const first = stream.next();
    if (first.done) continue;
    heads.push(first.value);
    sources.push(stream);
  }
  for (let i = (heads.length >> 1) - 1; i >= 0; i--) down(i);
  while (heads.length > 0) {
    yield heads[0]!;
    const next = sources[0]!.next();
    if (next.done) {
      const last = heads.length - 1;
      swap(0, last);
      heads.pop();
      sources.pop();
    } else heads[0] = next.value;
    down(0);
  }
}
