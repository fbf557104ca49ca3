// When a Db value reads from memory instead of LMDB, and how that memory is made: attribute
// columns (built, advanced from an earlier value's column, or served) and the entities of past
// values. One per plain Db value (not history, not speculative); the data itself lives in the
// connection's ColumnCache, keyed by the value's (basis t, since t).
import { decodeValue, type KeyPart, type Tag } from '../storage/encoding.js';
import type { Store } from '../storage/store.js';
import type { Datom, IndexName } from './api.js';
import { AttributeColumn, EntityDatoms, PROBES_PER_DATOM_TO_BUILD, type ColumnCache } from './columns.js';
import type { DatomVisitor, Served } from './api.js';

/** Value lookups build a column only when they read at least this many datoms each on average. */
const DATOMS_PER_VALUE_LOOKUP = 16;
/** Datoms value lookups of the current value read, per datom of the attribute, before its column is built. */
const VALUE_READS_PER_DATOM_TO_BUILD_NOW = 1 / 2;
/** A column is advanced over at most this many transactions; beyond, it is built anew. */
const MAX_LOG_ENTRIES_TO_ADVANCE = 256;

/** What the memory of a Db value needs from it. */
export interface MemoryView {
  readonly basisT: number;
  readonly sinceT: number | null;
  readonly store: Store;
  readonly columns: ColumnCache;
  /** The value's stored datoms, read from LMDB, in no particular order. */
  visitStored(index: IndexName, prefix: KeyPart[], end: KeyPart[] | undefined, visit: DatomVisitor): void;
}

export class ViewMemory {
  private readonly suffix: string;

  constructor(private readonly view: MemoryView) {
    this.suffix = `@${view.basisT}/${view.sinceT ?? ''}`;
  }

  private key(a: number): string {
    return a + this.suffix;
  }

  /**
   * Every datom of attribute `a` in this value, grouped by entity: when already in memory, or when
   * `probes` entity lookups would cost more than building it (Infinity: the whole attribute is read).
   */
  column(a: number, probes: number): AttributeColumn | null {
    const key = this.key(a);
    const { columns, store } = this.view;
    const held = columns.get(key);
    if (held) return held;
    const advanced = this.advancedColumn(a);
    if (advanced) {
      columns.putColumn(key, advanced, a, this.view.basisT);
      return advanced;
    }
    const count = store.attrCount(a);
    if (probes < count * PROBES_PER_DATOM_TO_BUILD || !columns.fits(count)) return null;
    const es: number[] = [];
    const vs: unknown[] = [];
    const txs: number[] = [];
    this.view.visitStored('aevt', [a], undefined, (e, _a, v, tx) => {
      es.push(e);
      vs.push(v);
      txs.push(tx);
    });
    const col = AttributeColumn.fromDatoms(es, vs, txs);
    columns.putColumn(key, col, a, this.view.sinceT === null ? this.view.basisT : null);
    return col;
  }

  /**
   * This value's column of `a` made from the column of an earlier basis: the transactions in
   * between are read from the log, and only the entities whose `a` they changed are read again.
   * The same column when none did. null when there is no earlier column, or when so much
   * changed that building anew costs less.
   */
  private advancedColumn(a: number): AttributeColumn | null {
    const { basisT, sinceT, columns, store } = this.view;
    if (sinceT !== null) return null;
    const latest = columns.latestColumn(a);
    if (!latest || latest.t >= basisT || basisT - latest.t > MAX_LOG_ENTRIES_TO_ADVANCE) return null;
    // tried once per value: a failed attempt is not repeated on every probe
    if (!columns.firstAttempt(`advance ${a}@${basisT}`)) return null;
    const touched = new Set<number>();
    for (let t = latest.t + 1; t <= basisT; t++) {
      const entry = store.logEntry(t);
      if (!entry) return null;
      for (const d of entry.datoms) if (d.a === a) touched.add(d.e);
      if (touched.size > latest.col.entityCount * PROBES_PER_DATOM_TO_BUILD) return null;
    }
    if (touched.size === 0) return latest.col;
    const replaced = new Map<number, { vs: unknown[]; txs: number[] }>();
    for (const e of touched) {
      const now = { vs: [] as unknown[], txs: [] as number[] };
      this.view.visitStored('eavt', [e, a], undefined, (_e, _a, v, tx) => {
        now.vs.push(v);
        now.txs.push(tx);
      });
      replaced.set(e, now);
    }
    return latest.col.withEntities(replaced);
  }

  /**
   * Serve EAVT [e a] (one entity's attribute), AEVT [a] (a whole attribute) or AVET [a v] from
   * memory when it pays; null when the caller should read LMDB. An AVET lookup that does not
   * pay yet is read from LMDB here ('index'), counted towards building the column.
   */
  visit(index: IndexName, prefix: KeyPart[], visit: DatomVisitor): Served | null {
    if (index === 'avet' && prefix.length === 3) {
      const a = prefix[0] as number;
      const v = decodeValue(prefix[1] as Tag, prefix[2]);
      return this.visitValueRange(a, v, v, true, visit, (counted) => this.view.visitStored(index, prefix, undefined, counted));
    }
    const probe = index === 'eavt' && prefix.length === 2;
    const whole = index === 'aevt' && prefix.length === 1;
    if (!probe && !whole) return null;
    const a = prefix[probe ? 1 : 0] as number;
    const key = this.key(a);
    const columns = this.view.columns;
    const col = columns.get(key) ?? this.column(a, whole ? Infinity : columns.countReads(key));
    if (!col) return null;
    const withAttr = (e: number, v: unknown, tx: number) => visit(e, a, v, tx, true);
    if (probe) col.visitEntity(prefix[0] as number, withAttr);
    else col.visitAll(withAttr);
    return 'column';
  }

  /**
   * AVET datoms of `a` with lo <= v (open when undefined) and v < hi (v <= hi when inclusive): from
   * the column when one pays, else through `readStored` (LMDB), each datom counted towards
   * building the column.
   */
  visitValueRange(a: number, lo: unknown, hi: unknown, hiInclusive: boolean, visit: DatomVisitor, readStored: (counted: DatomVisitor) => void): Served {
    const col = this.columnForValues(a);
    if (col && col.visitValueRange(lo, true, hi, hiInclusive, (e, v, tx) => visit(e, a, v, tx, true))) return 'column';
    let read = 0;
    readStored((e, attr, v, tx, added) => {
      read++;
      visit(e, attr, v, tx, added);
    });
    this.countValueLookup(a, read);
    return 'index';
  }

  /**
   * The number of `a`'s datoms with lo <= v (open when undefined) and v < hi (v <= hi when
   * inclusive), counted in a column already held with its value order; null when there is none.
   * Planning asks this for every range: LMDB counts the range's keys one by one.
   */
  countValueRange(a: number, lo: unknown, hi: unknown, hiInclusive: boolean): number | null {
    const col = this.view.columns.get(this.key(a));
    return col ? col.countValueRange(lo, true, hi, hiInclusive) : null;
  }

  /**
   * A column to answer value lookups of attribute `a` (AVET): one already held with its value
   * order, or a new one once earlier lookups of this value have read from LMDB as many datoms as
   * building it (and sorting it by value) pays for.
   */
  private columnForValues(a: number): AttributeColumn | null {
    const key = this.key(a);
    const columns = this.view.columns;
    const reads = columns.countReads(`${key} values`, 0);
    const lookups = columns.countReads(`${key} lookups`, 0);
    // point lookups of unique values stay with LMDB, one cursor each
    const worth = reads >= this.view.store.attrCount(a) * this.valueReadsPerDatomToBuild() && reads >= DATOMS_PER_VALUE_LOOKUP * lookups;
    const col = this.column(a, worth ? Infinity : 0);
    return col && (col.hasValueOrder || worth) ? col : null;
  }

  /**
   * Datoms that value lookups must have read from LMDB, per datom of the attribute, before its
   * column is built for them (ski rental: build once the lookups have cost what building would).
   * Now, LMDB serves a value lookup as one sequential scan: 1.5-3 µs a datom through the engine,
   * against about 1.1 µs a datom to build the column (measured at 200,000 people), so a column
   * waits until lookups have read half as many datoms as it holds. (At 1/32, the second
   * `[?e :name "Ivan"]` on a new connection paid 220 ms to build `:name`'s column, to save about
   * 25 ms a query.) A past value's lookups also read and skip the retracted datoms in the range,
   * several times the cost, so its columns are built as soon as entity probes would build them.
   */
  private valueReadsPerDatomToBuild(): number {
    const { store, basisT, sinceT } = this.view;
    return sinceT === null && store.lastT() <= basisT ? VALUE_READS_PER_DATOM_TO_BUILD_NOW : PROBES_PER_DATOM_TO_BUILD;
  }

  /** Count a value lookup that LMDB served, and the datoms it read, towards building the column. */
  private countValueLookup(a: number, datoms: number): void {
    const key = this.key(a);
    this.view.columns.countReads(`${key} lookups`);
    this.view.columns.countReads(`${key} values`, datoms);
  }

  /**
   * One entity's datoms in a past (or since) value, from `read` (LMDB) the first time. Reading
   * them from LMDB means reading every retracted version too, so they are kept with the columns;
   * the value is immutable, so they never go stale. Frozen: every reader gets the same objects.
   */
  pastEntity(e: number, read: () => Iterable<Datom>): readonly Datom[] {
    const key = `e${e}${this.suffix}`;
    const columns = this.view.columns;
    const held = columns.getEntity(key);
    if (held) return held.datoms;
    const datoms: Datom[] = [];
    for (const d of read()) datoms.push(Object.freeze(d));
    columns.put(key, new EntityDatoms(datoms));
    return datoms;
  }
}
