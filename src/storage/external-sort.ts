// External merge sort of byte strings held as latin1 JS strings (one char a byte, so JS string
// order is byte order, LMDB's key order): sorted in memory up to a shared budget, spilled to files
// as sorted runs past it, merged back in order. An import sorts its index keys with it (sorted-import.ts).
import fs from 'node:fs';
import path from 'node:path';

/** Bytes a string costs in memory beyond its chars (V8's header and the array's slot). */
const STRING_OVERHEAD = 32;
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
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export class StringSorter {
  private items: string[] = [];
  private readonly runs: string[] = [];
  bytes = 0;
  count = 0;

  constructor(private readonly budget: SortBudget) {}

  add(s: string): void {
    this.items.push(s);
    this.count++;
    const cost = s.length + STRING_OVERHEAD;
    this.bytes += cost;
    this.budget.used += cost;
    if (this.bytes > 1 << 20) this.budget.grew();
  }

  /** The strings held in memory, sorted, into a run file. */
  spill(): void {
    if (this.items.length === 0) return;
    this.items.sort();
    const file = this.budget.runFile();
    writeRun(file, this.items);
    this.runs.push(file);
    this.release();
  }

  private release(): void {
    this.items = [];
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
      const items = this.items;
      items.sort();
      this.release();
      // each string let go once read: the next index's keys take their place in memory
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        (items as unknown[])[i] = undefined;
        yield item;
      }
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

/** Strings as [u16 LE length][latin1 bytes] back to back. */
function writeRun(file: string, items: string[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    let buffer = Buffer.allocUnsafe(CHUNK_BYTES);
    let pos = 0;
    for (const s of items) {
      if (pos + 2 + s.length > buffer.length) {
        fs.writeSync(fd, buffer, 0, pos);
        pos = 0;
        if (2 + s.length > buffer.length) buffer = Buffer.allocUnsafe(2 + s.length);
      }
      buffer.writeUInt16LE(s.length, pos);
      pos += 2 + latin1Write(buffer, s, pos + 2);
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
