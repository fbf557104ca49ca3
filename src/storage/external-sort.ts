// External merge sort of byte strings held as latin1 JS strings (one char a byte, so JS string
// order is byte order, LMDB's key order): sorted in memory up to a shared budget, spilled to files
// as sorted runs past it, merged back in order. An import sorts its index keys with it (sorted-import.ts).
import fs from 'node:fs';
import path from 'node:path';

/** Bytes a string costs in memory beyond its chars (V8's header and the array's slot). */
const STRING_OVERHEAD = 32;
/** A run file is written and read in chunks of this many bytes. */
const CHUNK_BYTES = 1 << 18;

/** The memory all sorters of one import share: past `maxBytes`, the biggest one spills. */
export class SortBudget {
  private readonly sorters: StringSorter[] = [];
  used = 0;
  private files = 0;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  /** A new sorter within this budget; `presorted` when its strings come in order already (no sort, runs read one after another). */
  sorter(presorted = false): StringSorter {
    const sorter = new StringSorter(this, presorted);
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

  constructor(
    private readonly budget: SortBudget,
    private readonly presorted: boolean,
  ) {}

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
    if (!this.presorted) this.items.sort();
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
      if (!this.presorted) items.sort();
      this.release();
      yield* items;
      return;
    }
    this.spill();
    try {
      if (this.presorted) for (const file of this.runs) yield* readRun(file);
      else yield* mergeRuns(this.runs.map((file) => readRun(file)));
    } finally {
      for (const file of this.runs) fs.rmSync(file, { force: true });
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
      pos += 2 + buffer.write(s, pos + 2, 'latin1');
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
      yield buffer.toString('latin1', start + 2, start + 2 + length);
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
