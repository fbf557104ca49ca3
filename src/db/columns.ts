// Attribute columns: every datom of one attribute in one database value, decoded and grouped by
// entity, for queries that read one attribute of many entities. A Db value is immutable, so a
// column built for (attribute, basis t, since t) is never stale and is kept until memory is
// needed for another; a commit makes new Db values and so new keys, never an invalidation.
//
// An LMDB lookup costs about as much as scanning 15-20 keys, so once a view of an attribute is
// probed for a thirty-second of its datoms, one scan into a column costs about twice the probes
// of that query and nothing for the queries that follow (the column is carried over commits,
// see Db.advancedColumn); a query that scans the whole attribute pays for that scan anyway.
// Also decided on reads of one view and attribute so far, summed over queries.

import v8 from 'node:v8';
import type { Datom } from './api.js';

/** What one held datom costs in memory: 35-60 bytes measured (README, "Memory"); the budget assumes more. */
const BYTES_PER_HELD_DATOM = 64;
/** The share of the JS heap's limit that columns may fill by default (Datomic's object cache: half the heap). */
const HEAP_SHARE = 1 / 4;
/**
 * By default at most this many datoms are held in columns at once (least recently used go first):
 * a quarter of the heap limit (17M datoms under Node's default 4 GB heap on a 64-bit machine,
 * 2.2M under --max-old-space-size=512), and never fewer than 100,000 (a floor of 1M filled a
 * 128 MB heap by itself and the host process died of it).
 */
export const DEFAULT_COLUMN_DATOMS = Math.max(100_000, Math.floor((v8.getHeapStatistics().heap_size_limit * HEAP_SHARE) / BYTES_PER_HELD_DATOM));
/** A column finds an entity's slot in an array over its span of ids while the span is at most this many ids an entity. */
const DENSE_IDS_PER_ENTITY = 16;
/** Entity lookups per datom of the attribute after which building the column pays. */
export const PROBES_PER_DATOM_TO_BUILD = 1 / 32;
/** Probe counters kept before they are reset (views nobody probes often enough). */
const MAX_PROBE_COUNTERS = 10_000;

export type ColumnVisitor = (e: number, v: unknown, tx: number) => void;

/**
 * The datoms of one attribute: parallel arrays grouped by entity, and where each entity's datoms
 * start. Entity ids are mostly dense, so the start slots are usually an array indexed by id.
 */
export class AttributeColumn {
  private readonly denseBase: number;
  private readonly dense: Int32Array | null;
  private readonly sparse: Map<number, number> | null;
  readonly entityCount: number;

  private constructor(
    readonly es: number[],
    readonly vs: unknown[],
    readonly txs: number[],
  ) {
    let entities = 0;
    for (let i = 0; i < es.length; i++) if (i === 0 || es[i] !== es[i - 1]) entities++;
    this.entityCount = entities;
    const lo = es.length ? es[0]! : 0;
    const span = es.length ? es[es.length - 1]! - lo + 1 : 0;
    this.denseBase = lo;
    // a slot per id of the span (4 bytes) costs no more than a Map entry per entity up to ~16 ids an entity,
    // and is looked up several times faster (a join reads people's cities by order: 1 person in 9 ids)
    if (span <= DENSE_IDS_PER_ENTITY * entities + 1024) {
      this.dense = new Int32Array(span).fill(-1);
      this.sparse = null;
      for (let i = es.length - 1; i >= 0; i--) this.dense[es[i]! - lo] = i;
    } else {
      this.dense = null;
      this.sparse = new Map();
      for (let i = es.length - 1; i >= 0; i--) this.sparse.set(es[i]!, i);
    }
  }

  /** From datoms in any order; entities are grouped by id (datoms of one entity keep their order). */
  static fromDatoms(es: number[], vs: unknown[], txs: number[]): AttributeColumn {
    let grouped = true;
    for (let i = 1; i < es.length && grouped; i++) grouped = es[i - 1]! <= es[i]!;
    if (grouped) return new AttributeColumn(es, vs, txs);
    const order = es.map((_, i) => i).sort((x, y) => es[x]! - es[y]! || x - y);
    return new AttributeColumn(
      order.map((i) => es[i]!),
      order.map((i) => vs[i]),
      order.map((i) => txs[i]!),
    );
  }

  get size(): number {
    return this.es.length;
  }

  /** Index of entity e's first datom in the arrays; -1 when it has none. Its datoms follow while es[i] === e. */
  slotOf(e: number): number {
    if (this.dense) {
      const i = e - this.denseBase;
      return i >= 0 && i < this.dense.length ? this.dense[i]! : -1;
    }
    return this.sparse!.get(e) ?? -1;
  }

  /** Visit entity e's datoms; false when it has none. */
  visitEntity(e: number, visit: ColumnVisitor): boolean {
    let i = this.slotOf(e);
    if (i < 0) return false;
    const { es, vs, txs } = this;
    for (; i < es.length && es[i] === e; i++) visit(e, vs[i], txs[i]!);
    return true;
  }

  visitAll(visit: ColumnVisitor): void {
    const { es, vs, txs } = this;
    for (let i = 0; i < es.length; i++) visit(es[i]!, vs[i], txs[i]!);
  }

  /**
   * This column with the datoms of some entities replaced (an entity with no datoms left is
   * dropped, a new one inserted in id order): how a later Db value's column is made from an
   * earlier one and the entities the transactions in between touched.
   */
  withEntities(replaced: Map<number, { vs: unknown[]; txs: number[] }>): AttributeColumn {
    const changed = [...replaced.keys()].sort((x, y) => x - y);
    const es: number[] = [];
    const vs: unknown[] = [];
    const txs: number[] = [];
    const emitChanged = (e: number) => {
      const r = replaced.get(e)!;
      for (let i = 0; i < r.vs.length; i++) {
        es.push(e);
        vs.push(r.vs[i]);
        txs.push(r.txs[i]!);
      }
    };
    const old = this.es;
    let k = 0;
    for (let i = 0; i < old.length;) {
      const e = old[i]!;
      while (k < changed.length && changed[k]! < e) emitChanged(changed[k++]!);
      let j = i;
      while (j < old.length && old[j] === e) j++;
      if (k < changed.length && changed[k] === e) emitChanged(changed[k++]!);
      else {
        for (let x = i; x < j; x++) {
          es.push(e);
          vs.push(this.vs[x]);
          txs.push(this.txs[x]!);
        }
      }
      i = j;
    }
    while (k < changed.length) emitChanged(changed[k++]!);
    return new AttributeColumn(es, vs, txs);
  }

  /** Has the value order (for AVET lookups) been built? */
  get hasValueOrder(): boolean {
    return this.valueOrder !== undefined;
  }

  private valueOrder: Int32Array | null | undefined;
  private valueKind: 'number' | 'string' | null = null;

  /**
   * Visit the datoms whose value lies between the bounds (undefined = open), in value order, as an
   * AVET range scan would. Returns false, visiting nothing, when the column cannot answer: values
   * that are not all numbers or all strings, or bounds of another type.
   */
  visitValueRange(lo: unknown, loInclusive: boolean, hi: unknown, hiInclusive: boolean, visit: ColumnVisitor): boolean {
    if (this.es.length === 0) return true;
    const slots = this.valueSlots(lo, loInclusive, hi, hiInclusive, true);
    if (!slots) return false;
    const { es, vs, txs } = this;
    const order = this.valueOrder!;
    for (let k = slots.from; k < slots.to; k++) {
      const i = order[k]!;
      visit(es[i]!, vs[i], txs[i]!);
    }
    return true;
  }

  /**
   * How many datoms visitValueRange would visit, by two binary searches; null when the value
   * order is not built yet (counting does not build it) or cannot answer.
   */
  countValueRange(lo: unknown, loInclusive: boolean, hi: unknown, hiInclusive: boolean): number | null {
    if (this.es.length === 0) return 0;
    const slots = this.valueSlots(lo, loInclusive, hi, hiInclusive, false);
    return slots ? slots.to - slots.from : null;
  }

  /** [from, to) in value order for the bounds; null when the column cannot answer (see visitValueRange). */
  private valueSlots(lo: unknown, loInclusive: boolean, hi: unknown, hiInclusive: boolean, build: boolean): { from: number; to: number } | null {
    const order = build ? this.orderByValue() : this.valueOrder;
    if (!order) return null;
    const kind = this.valueKind;
    if ((lo !== undefined && typeof lo !== kind) || (hi !== undefined && typeof hi !== kind)) return null;
    const cmp = kind === 'number' ? compareNumbers : compareCodeUnits;
    const vs = this.vs;
    /** The first slot whose value is above `bound` (or equal to it, when `orEqual`). */
    const firstAbove = (bound: unknown, orEqual: boolean): number => {
      let l = 0;
      let h = order.length;
      while (l < h) {
        const m = (l + h) >>> 1;
        const c = cmp(vs[order[m]!], bound);
        if (c < 0 || (c === 0 && !orEqual)) l = m + 1;
        else h = m;
      }
      return l;
    };
    const from = lo === undefined ? 0 : firstAbove(lo, loInclusive);
    const to = hi === undefined ? order.length : firstAbove(hi, !hiInclusive);
    return { from, to: Math.max(from, to) };
  }

  /** Slots sorted by (value, entity), built on first use; null when values are of mixed or other types. */
  private orderByValue(): Int32Array | null {
    if (this.valueOrder !== undefined) return this.valueOrder;
    const vs = this.vs;
    const kind = typeof vs[0];
    if ((kind !== 'number' && kind !== 'string') || !vs.every((v) => typeof v === kind)) return (this.valueOrder = null);
    this.valueKind = kind;
    const cmp = kind === 'number' ? compareNumbers : compareCodeUnits;
    // bucket the slots by value (in entity order, as the column is), then sort the distinct
    // values only: attributes often hold few distinct values
    const buckets = new Map<unknown, number[]>();
    for (let i = 0; i < vs.length; i++) {
      const b = buckets.get(vs[i]);
      if (b) b.push(i);
      else buckets.set(vs[i], [i]);
    }
    const order = new Int32Array(vs.length);
    let k = 0;
    for (const v of [...buckets.keys()].sort(cmp)) for (const i of buckets.get(v)!) order[k++] = i;
    return (this.valueOrder = order);
  }
}

/** Numbers by value, NaN above all (the query language's order, and the index's). */
function compareNumbers(a: unknown, b: unknown): number {
  const x = a as number;
  const y = b as number;
  if (x !== x || y !== y) return Number(x !== x) - Number(y !== y);
  return x - y;
}

/** Strings in UTF-16 code-unit order: the query language's (and format 5's index keys'). */
function compareCodeUnits(a: unknown, b: unknown): number {
  return (a as string) < (b as string) ? -1 : a === b ? 0 : 1;
}

/** The datoms of one entity in one past view (EAVT order), as pull and entities read them. */
export class EntityDatoms {
  constructor(readonly datoms: readonly Datom[]) {}

  get size(): number {
    return this.datoms.length + 1;
  }
}

type Held = AttributeColumn | EntityDatoms;

/** Columns (and past views' entities) of one connection, least recently used first, within a datom budget. */
export class ColumnCache {
  private readonly held = new Map<string, Held>();
  private readonly probes = new Map<string, number>();
  private datoms = 0;

  constructor(private readonly maxDatoms = DEFAULT_COLUMN_DATOMS) {}

  get(key: string): AttributeColumn | undefined {
    const col = this.touch(key);
    return col instanceof AttributeColumn ? col : undefined;
  }

  getEntity(key: string): EntityDatoms | undefined {
    const entity = this.touch(key);
    return entity instanceof EntityDatoms ? entity : undefined;
  }

  private touch(key: string): Held | undefined {
    const x = this.held.get(key);
    if (x) {
      this.held.delete(key);
      this.held.set(key, x);
    }
    return x;
  }

  /** Can `size` datoms be held at all? */
  fits(size: number): boolean {
    return size > 0 && size <= this.maxDatoms;
  }

  /** The held column of attribute `a` at the latest basis t (of views without since), to advance from. */
  latestColumn(a: number): { t: number; col: AttributeColumn } | undefined {
    const latest = this.latestByAttr.get(a);
    if (!latest) return undefined;
    const col = this.held.get(latest.key);
    return col instanceof AttributeColumn ? { t: latest.t, col } : undefined;
  }

  private readonly latestByAttr = new Map<number, { t: number; key: string }>();

  /** Hold the column of attribute `a` at basis t (`key` names the view). */
  putColumn(key: string, col: AttributeColumn, a: number, t: number | null): void {
    this.put(key, col);
    if (t === null || !this.held.has(key)) return;
    const latest = this.latestByAttr.get(a);
    if (!latest || latest.t <= t || !this.held.has(latest.key)) this.latestByAttr.set(a, { t, key });
  }

  put(key: string, x: Held): void {
    if (!this.fits(x.size)) return;
    this.drop(key);
    // a column no commit touched is shared by the keys of several Db values: it counts once
    const extra = this.refs.has(x) ? 0 : x.size;
    for (const k of this.held.keys()) {
      if (this.datoms + extra <= this.maxDatoms) break;
      this.drop(k);
    }
    this.held.set(key, x);
    const n = this.refs.get(x) ?? 0;
    if (n === 0) this.datoms += x.size;
    this.refs.set(x, n + 1);
    this.probes.delete(key);
  }

  /** Keys holding each column or entity: the datom budget counts what is held, not keys. */
  private readonly refs = new Map<Held, number>();

  private drop(key: string): void {
    const x = this.held.get(key);
    if (!x) return;
    this.held.delete(key);
    const n = this.refs.get(x)! - 1;
    if (n > 0) this.refs.set(x, n);
    else {
      this.refs.delete(x);
      this.datoms -= x.size;
    }
  }

  /** Count datoms of a view's attribute read from LMDB (entity probes, value lookups); returns the total so far. */
  countReads(key: string, n = 1): number {
    if (this.probes.size >= MAX_PROBE_COUNTERS) this.probes.clear();
    const total = (this.probes.get(key) ?? 0) + n;
    this.probes.set(key, total);
    return total;
  }

  private readonly attempts = new Set<string>();

  /** true the first time `what` is asked about (a bounded memory of attempts that failed). */
  firstAttempt(what: string): boolean {
    if (this.attempts.has(what)) return false;
    if (this.attempts.size >= MAX_PROBE_COUNTERS) this.attempts.clear();
    this.attempts.add(what);
    return true;
  }

  /** Datoms held now. */
  get heldDatoms(): number {
    return this.datoms;
  }

  clear(): void {
    this.held.clear();
    this.refs.clear();
    this.attempts.clear();
    this.latestByAttr.clear();
    this.probes.clear();
    this.datoms = 0;
  }
}
