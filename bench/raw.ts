// The floor: raw lmdb-js scans of exactly the keys a query must touch, read through the store's
// own index databases (conn.store internals: the current and history PackedIndex, whose keys are
// single LMDB keys or packed runs of them). No decoding beyond the keys' parsing, no datom
// objects, no query engine.
import type { Connection } from '../src/index.js';
import { encodeValue, tToTx, KEY_SLOTS, type IndexName, type KeyPart } from '../src/storage/encoding.js';
import { KEY_MAX } from '../src/storage/store.js';

interface LmdbKeys {
  keys(start: KeyPart[] | undefined, end: KeyPart[] | undefined): Iterable<KeyPart[]>;
}

/** Reads index keys as of a point in time (current keys, plus retracted ones when asOf is set). */
export class RawReader {
  private readonly current: Record<IndexName, LmdbKeys>;
  private readonly history: Record<IndexName, LmdbKeys>;
  private readonly txMax: number;
  readonly attr: Record<string, number> = {};

  constructor(
    conn: Connection,
    readonly asOfT: number | null = null,
  ) {
    const store = conn.store as unknown as { current?: Record<IndexName, LmdbKeys>; history?: Record<IndexName, LmdbKeys> };
    if (!store.current || !store.history) throw new Error('bench/raw: conn.store no longer exposes its LMDB index handles');
    this.current = store.current;
    this.history = store.history;
    this.txMax = asOfT === null ? Number.MAX_SAFE_INTEGER : tToTx(asOfT);
    const db = conn.db();
    for (const a of db.attrs()) this.attr[a.ident.fqn] = a.id;
  }

  a(ident: string): number {
    const id = this.attr[ident];
    if (id === undefined) throw new Error(`bench/raw: no attribute ${ident}`);
    return id;
  }

  /** Keys in [start, end) visible at this reader's time (the key arrays as lmdb-js returns them). */
  *keys(index: IndexName, start: KeyPart[], end: KeyPart[] = [...start, KEY_MAX]): Generator<KeyPart[]> {
    const slot = KEY_SLOTS[index].tx;
    for (const key of this.current[index].keys(start, end)) if ((key[slot] as number) <= this.txMax) yield key;
    if (this.asOfT === null) return;
    for (const key of this.history[index].keys(start, end)) {
      if ((key[slot] as number) <= this.txMax && (key[slot + 1] as number) > this.txMax) yield key;
    }
  }

  /** Every key in [start, end) of the current AND history index (a history scan). */
  *allKeys(index: IndexName, start: KeyPart[], end: KeyPart[] = [...start, KEY_MAX]): Generator<KeyPart[]> {
    yield* this.current[index].keys(start, end);
    yield* this.history[index].keys(start, end);
  }

  /** AVET: entity ids with attr = value. */
  entitiesWith(attr: string, value: string | number): number[] {
    const [tag, payload] = encodeValue(value, typeof value === 'string' ? 'string' : 'long');
    const out: number[] = [];
    for (const k of this.keys('avet', [this.a(attr), tag, payload])) out.push(k[3] as number);
    return out;
  }

  /** EAVT: the value (payload) of a cardinality-one attribute of e, or undefined. */
  valueOf(e: number, attr: string): KeyPart | undefined {
    for (const k of this.keys('eavt', [e, this.a(attr)])) return k[3];
    return undefined;
  }

  /** EAVT: every key of one entity (what pull [*] must read). */
  entityKeys(e: number): number {
    let n = 0;
    for (const _ of this.keys('eavt', [e])) n++;
    return n;
  }
}

// ---- the key scans of each query workload; each returns the number of result rows ----

export const rawScans = {
  q1(r: RawReader): number {
    return r.entitiesWith('name', 'Ivan').length;
  },
  q2(r: RawReader): number {
    let n = 0;
    for (const e of r.entitiesWith('name', 'Ivan')) if (r.valueOf(e, 'age') !== undefined) n++;
    return n;
  },
  q3(r: RawReader): number {
    let n = 0;
    for (const e of r.entitiesWith('name', 'Ivan')) {
      if (r.valueOf(e, 'age') !== undefined && r.valueOf(e, 'sex') === 'male') n++;
    }
    return n;
  },
  q4(r: RawReader): number {
    let n = 0;
    for (const e of r.entitiesWith('name', 'Ivan')) {
      if (r.valueOf(e, 'age') !== undefined && r.valueOf(e, 'sex') === 'male' && r.valueOf(e, 'last-name') !== undefined) n++;
    }
    return n;
  },
  /** AVET range salary > bound (numbers only: end at the next tag). */
  qpred(r: RawReader, bound: number): number {
    const a = r.a('salary');
    const [tag] = encodeValue(0, 'long');
    const seen = new Set<number>();
    for (const k of r.keys('avet', [a, tag, bound], [a, tag + 1])) if ((k[2] as number) > bound) seen.add(k[3] as number);
    return seen.size;
  },
  pullOne(r: RawReader, e: number): number {
    return r.entityKeys(e) > 0 ? 1 : 0;
  },
  pullMany(r: RawReader, es: number[]): number {
    let n = 0;
    for (const e of es) if (r.entityKeys(e) > 0) n++;
    return n;
  },
  /** Transitive closure of :follows from `start`, one EAVT prefix scan per reached entity. */
  rule(r: RawReader, start: number): number {
    const a = r.a('follows');
    const seen = new Set<number>();
    const stack = [start];
    while (stack.length) {
      const e = stack.pop()!;
      for (const k of r.keys('eavt', [e, a])) {
        const to = k[3] as number;
        if (!seen.has(to)) {
          seen.add(to);
          stack.push(to);
        }
      }
    }
    return seen.size;
  },
  /** AEVT scans of :name and :age, joined on e: count and avg age per name. */
  aggregate(r: RawReader): number {
    const names = new Map<number, string>();
    for (const k of r.keys('aevt', [r.a('name')])) names.set(k[1] as number, k[3] as string);
    const groups = new Map<string, { n: number; sum: number }>();
    for (const k of r.keys('aevt', [r.a('age')])) {
      const name = names.get(k[1] as number);
      if (name === undefined) continue;
      const g = groups.get(name) ?? { n: 0, sum: 0 };
      g.n++;
      g.sum += k[3] as number;
      groups.set(name, g);
    }
    return groups.size;
  },
  /** Every current and retracted :salary datom. */
  history(r: RawReader): number {
    let n = 0;
    for (const _ of r.allKeys('aevt', [r.a('salary')])) n++;
    return n;
  },
};
