// Index maintenance: one transaction's datoms into the current and history indexes, the values
// table and the per-attribute counts (a big transaction's keys in key order, key-order.ts).
import type { Database } from 'lmdb';
import { indexKey, longValueEntry, Tag, txToT, type IndexName, type KeyPart, type RawDatom } from './encoding.js';
import { indexHolds, keyListOf, keyOrders, SORT_THRESHOLD } from './key-order.js';
import type { LogEntry } from './log.js';
import type { PackedIndex } from './packed-index.js';
import { INDEXES, type Retraction } from './store-format.js';

/** The tables a store's index writes go to. */
export interface IndexTables {
  readonly current: Record<IndexName, PackedIndex>;
  readonly history: Record<IndexName, PackedIndex>;
  readonly meta: Database<any, string>;
  readonly values: Database<string | Buffer, string>;
  readonly format: number;
}

export class IndexWrites {
  constructor(
    private readonly tables: IndexTables,
    /** The current datom for fact (e, a, v) with the tx that asserted it. */
    private readonly findCurrent: (d: Pick<RawDatom, 'e' | 'a' | 'tag' | 'payload'>) => RawDatom | undefined,
    /** Put every key on its own, never packed (an import's side database, packed at its end: bulk-import.ts). */
    private readonly keysOneByOne = false,
  ) {}

  /**
   * Apply one log entry's datoms to the indexes and per-attribute counts. A retraction ends the
   * current datom it names (found for the tx that asserted it); one naming none is skipped.
   */
  indexLogEntry(entry: LogEntry, keepHistory: (a: number, entry: LogEntry) => boolean): void {
    const asserted: RawDatom[] = [];
    const retracted: Retraction[] = [];
    for (const d of entry.datoms) {
      const raw: RawDatom = { e: d.e, a: d.a, tag: d.tag, payload: d.payload, tx: entry.tx };
      if (d.added) asserted.push(raw);
      else {
        const current = this.findCurrent(raw);
        if (current) retracted.push({ raw: current, txRetracted: entry.tx, keepHistory: keepHistory(d.a, entry) });
      }
    }
    this.applyDatoms(asserted, retracted);
  }

  /** One transaction's datoms into the indexes: retractions first, then assertions; and the per-attribute counts. */
  applyDatoms(asserted: RawDatom[], retracted: Retraction[]): void {
    const counts = new Map<number, number>();
    const bump = (a: number, n: number) => counts.set(a, (counts.get(a) ?? 0) + n);
    for (const r of retracted) {
      this.removeCurrent(r.raw);
      if (r.keepHistory) this.putHistory(r.raw, r.txRetracted);
      bump(r.raw.a, -1);
    }
    // the bootstrap (t = 0) goes key by key: packed into runs, it would mark every index as
    // holding runs, and each later small transaction would pay a seek per key
    if (asserted.length < SORT_THRESHOLD || txToT(asserted[0]!.tx) === 0 || this.keysOneByOne) {
      for (const d of asserted) this.putCurrent(d);
    } else {
      // Big transactions: each index's keys in (close to) key order, packed into runs from
      // format 4, else put in order (LMDB then fills pages left to right, about twice as fast).
      const order = keyOrders(asserted);
      for (const index of INDEXES) {
        const table = this.tables.current[index];
        if (table.packs) table.putMany(keyListOf(index, order[index], this.tables.format));
        else {
          const key: KeyPart[] = index === 'vaet' ? [0, 0, 0, 0] : [0, 0, 0, 0, 0];
          for (const datoms of order[index]) for (const d of datoms) table.put(indexKey(index, d, key));
        }
      }
    }
    for (const d of asserted) {
      bump(d.a, 1);
      this.putLongValue(d);
    }
    for (const [a, n] of counts) if (n !== 0) this.tables.meta.putSync(`count:${a}`, ((this.tables.meta.get(`count:${a}`) as number | undefined) ?? 0) + n);
  }

  private putLongValue(d: RawDatom): void {
    const entry = longValueEntry(d.payload);
    if (entry) this.tables.values.putSync(entry[0], entry[1]);
  }

  /**
   * Whether `d` has no key in the current `index` here. An import's side database leaves out VAET,
   * which no db/add or db/retract reads: packing builds it from AVET (bulk-import.ts).
   */
  private skipsCurrent(index: IndexName, d: RawDatom): boolean {
    return !indexHolds(index, d.tag) || (index === 'vaet' && this.keysOneByOne && this.tables.current.vaet.packs);
  }

  private putCurrent(d: RawDatom): void {
    for (const index of INDEXES) {
      if (this.skipsCurrent(index, d)) continue;
      this.tables.current[index].put(indexKey(index, d));
    }
  }

  private removeCurrent(d: RawDatom): void {
    for (const index of INDEXES) {
      // a database written before bytes left AVET may hold the key: it goes with its datom
      if (this.skipsCurrent(index, d) && !(index === 'avet' && d.tag === Tag.Bytes)) continue;
      this.tables.current[index].remove(indexKey(index, d));
    }
  }

  private putHistory(d: RawDatom, txRetracted: number): void {
    for (const index of INDEXES) {
      if (!indexHolds(index, d.tag)) continue;
      this.tables.history[index].put([...indexKey(index, d), txRetracted]);
    }
  }
}
