// The entity ids an import has mapped (old id -> new id). An export's new entities come in id
// order and get ids in that order here, so most of the map is a few runs of consecutive ids
// (24 bytes a run); the rest goes into an open-addressing table of two typed arrays. A JS Map of
// millions of numbers, or a table of every id, takes hundreds of MB at 20M datoms (issue 26).
const EMPTY = -1;
/** Doubles of a run: its first old id, its first new id, its length. */
const RUN = 3;

export class IdMap {
  /** Runs in increasing old id order, none overlapping. */
  private runs = new Float64Array(RUN * 16);
  private runCount = 0;
  /** Ids that fit no run; they take precedence over the runs. */
  private readonly others = new IdTable();
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: number): number | undefined {
    if (this.others.size > 0) {
      const v = this.others.get(key);
      if (v !== undefined) return v;
    }
    const r = this.runOf(key);
    return r < 0 ? undefined : this.runs[r + 1]! + (key - this.runs[r]!);
  }

  has(key: number): boolean {
    return (this.others.size > 0 && this.others.has(key)) || this.runOf(key) >= 0;
  }

  set(key: number, value: number): void {
    const last = (this.runCount - 1) * RUN;
    const runEnd = this.runCount === 0 ? -Infinity : this.runs[last]! + this.runs[last + 2]!;
    if (key >= runEnd && !(this.others.size > 0 && this.others.has(key))) {
      this.count++;
      if (key === runEnd && value === this.runs[last + 1]! + this.runs[last + 2]!) this.runs[last + 2]!++;
      else this.addRun(key, value);
      return;
    }
    if (!this.has(key)) this.count++;
    this.others.set(key, value);
  }

  private addRun(key: number, value: number): void {
    if ((this.runCount + 1) * RUN > this.runs.length) {
      const grown = new Float64Array(this.runs.length * 2);
      grown.set(this.runs);
      this.runs = grown;
    }
    const at = this.runCount++ * RUN;
    this.runs[at] = key;
    this.runs[at + 1] = value;
    this.runs[at + 2] = 1;
  }

  /** The index in `runs` of the run holding `key`, or -1. */
  private runOf(key: number): number {
    let lo = 0;
    let hi = this.runCount - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const at = mid * RUN;
      if (key < this.runs[at]!) hi = mid - 1;
      else if (key >= this.runs[at]! + this.runs[at + 2]!) lo = mid + 1;
      else return at;
    }
    return -1;
  }
}

/** Open addressing, linear probing; ids are non-negative integers below 2^53. */
class IdTable {
  private keys: Float64Array;
  private values: Float64Array;
  private count = 0;

  constructor(capacity = 1024) {
    const size = 2 ** Math.ceil(Math.log2(Math.max(16, capacity * 2)));
    this.keys = new Float64Array(size).fill(EMPTY);
    this.values = new Float64Array(size);
  }

  get size(): number {
    return this.count;
  }

  get(key: number): number | undefined {
    const i = this.slot(key);
    return this.keys[i] === key ? this.values[i] : undefined;
  }

  has(key: number): boolean {
    return this.keys[this.slot(key)] === key;
  }

  set(key: number, value: number): void {
    const i = this.slot(key);
    if (this.keys[i] !== key) {
      this.keys[i] = key;
      this.count++;
    }
    this.values[i] = value;
    if (this.count * 2 > this.keys.length) this.grow();
  }

  /** The slot holding `key`, or the empty slot where it goes. */
  private slot(key: number): number {
    const mask = this.keys.length - 1;
    let i = hash(key) & mask;
    while (this.keys[i] !== EMPTY && this.keys[i] !== key) i = (i + 1) & mask;
    return i;
  }

  private grow(): void {
    const { keys, values } = this;
    this.keys = new Float64Array(keys.length * 2).fill(EMPTY);
    this.values = new Float64Array(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === EMPTY) continue;
      const j = this.slot(keys[i]!);
      this.keys[j] = keys[i]!;
      this.values[j] = values[i]!;
    }
  }
}

/** Both halves of an id (up to 2^53) mixed into 32 bits. */
function hash(key: number): number {
  const low = key >>> 0;
  const high = Math.floor(key / 4294967296) >>> 0;
  let h = Math.imul(low ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1);
  h ^= h >>> 15;
  return Math.imul(h, 0xc2b2ae35) ^ (h >>> 13);
}
