// Immutable database values. A Db is a basis t plus a view (asOf / since / history / speculative
// overlay); every read goes through `scan`, which merges the current and history indexes so that
// the value never changes, whatever is committed after it was taken.
import { BigDec, EdnList, Keyword } from '../../query-lang/edn/types.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import { canonicalBigDec } from '../../query-lang/edn/decimal.js';
import { FactlogError } from '../../query-lang/errors.js';
import { encodeValue, isEncodable, longForm, KeyPart, Payload, Tag, tToTx, txToT, TX_BASE } from '../storage/encoding.js';
import { KEY_MAX, type Store } from '../storage/store.js';
import { compareStored, type ReadAt, type ReadSnapshot, type StoredDatom } from '../storage/index-reader.js';
import type { AttrInfo, AttrRef, Datom, DatomReads, DatomVisitor, DbStats, DbView, Entity, EntityRef, IndexName, Served, Value } from './api.js';
import { LazyEntity } from './entity.js';
import type { AttributeColumn, ColumnCache } from './columns.js';
import { ViewMemory } from './view-memory.js';
import { datomReadsOf } from './datom-reads.js';
import { searchFulltext, type FulltextMatch } from './fulltext.js';
import { valueRange } from './value-range.js';
import { countsByValue } from './value-counts.js';
import { historyPairs } from './history-pairs.js';
import type { Overlay } from './overlay.js';
import type { KeyCodec } from '../storage/key-codec.js';
import type { Schema } from './schema.js';
import type { TxData } from '../model.js';
import { collectGuarded } from './heap-guard.js';

export class DbError extends FactlogError {}

/** :db.type/bytes values are kept out of AVET (as in Datomic, they are not indexed by value): reading them there is an error, not an empty answer. */
function refuseBytesInAvet(attr: AttrInfo, what: string): void {
  if (attr.valueType === 'bytes')
    throw new DbError('db/bytes-not-indexed', `${attr.ident} is :db.type/bytes, whose values are not indexed by value: no ${what} over it (read it through EAVT or AEVT)`);
}

function printLookupRef(ref: unknown[]): string {
  return `[${ref.map((x) => (typeof x === 'string' && !x.startsWith(':') ? JSON.stringify(x) : String(x))).join(' ')}]`;
}

export type { DatomVisitor, Served } from './api.js';

/** What a Db value needs from the connection that made it. */
export interface DbContext {
  store: Store;
  schemaAt(t: number): Schema;
  /** Largest t whose :db/txInstant is <= the date (-1 when before the first transaction). */
  tAtInstant(date: Date): number;
  /** Speculative transaction against `db` (nothing written); returns the tx report. */
  speculate(db: Db, txData: unknown): TxReport;
  /** Attribute columns of this connection's Db values, for queries that read many entities. */
  columns: ColumnCache;
  /** The connection's default query limits (ms, values, heap share), read by q for a query that sets none; heapShare by pull and datomArray too. */
  queryLimits?: { timeout?: number; maxValues?: number; heapShare?: number };
}

/** What a transaction (stored or speculative) reports: the values before and after, and its datoms. */
export interface TxReport {
  dbBefore: Db;
  dbAfter: Db;
  tx: number;
  t: number;
  tempids: Record<string, number>;
  txData: Datom[];
}

interface ViewSpec {
  basisT: number;
  asOfT: number | null;
  sinceT: number | null;
  isHistory: boolean;
  overlay: Overlay | null;
  /** From `filter`: every one must keep a datom for this value to show it. */
  filters?: readonly DatomFilter[] | null;
}

/** Datomic's filter predicate: called with the value unfiltered and a datom; true keeps the datom. */
export type DatomFilter = (db: Db, datom: Datom) => boolean;

export class Db implements DbView {
  readonly basisT: number;
  readonly asOfT: number | null;
  readonly sinceT: number | null;
  readonly isHistory: boolean;
  /** @internal */ readonly schema: Schema;
  /** @internal Speculative datoms from `with`, layered over the stored ones. */
  readonly overlay: Overlay | null;
  /** @internal */ readonly filters: readonly DatomFilter[] | null;
  /** The same value without the filters: what the filters are called with. */
  private readonly unfiltered: Db | null;
  /** What this value reads from memory instead of LMDB (attribute columns, past entities). */
  private readonly memory: ViewMemory | null;

  constructor(
    /** @internal */ readonly ctx: DbContext,
    spec: ViewSpec,
  ) {
    this.basisT = spec.basisT;
    this.asOfT = spec.asOfT;
    this.sinceT = spec.sinceT;
    this.isHistory = spec.isHistory;
    this.overlay = spec.overlay;
    this.filters = spec.filters ?? null;
    this.unfiltered = spec.filters ? new Db(ctx, { ...spec, filters: null }) : null;
    this.schema = spec.overlay ? spec.overlay.schema : ctx.schemaAt(spec.basisT);
    // history, speculative and filtered views always read LMDB (and the overlay)
    this.memory =
      spec.overlay || spec.isHistory || spec.filters
        ? null
        : new ViewMemory({
            basisT: spec.basisT,
            sinceT: spec.sinceT,
            store: ctx.store,
            columns: ctx.columns,
            visitStored: (index, prefix, end, visit) => this.visitStored(index, prefix, end, visit),
          });
    Object.freeze(this);
  }

  private view(changes: Partial<ViewSpec>): Db {
    return new Db(this.ctx, {
      basisT: this.basisT,
      asOfT: this.asOfT,
      sinceT: this.sinceT,
      isHistory: this.isHistory,
      overlay: this.overlay,
      filters: this.filters,
      ...changes,
    });
  }

  /**
   * As Datomic's d/filter: this value showing only the datoms `keep(unfilteredDb, datom)` keeps, in
   * queries, pull, entities and datoms; asOf, since, history and further filters compose with it.
   */
  filter(keep: DatomFilter): Db {
    if (typeof keep !== 'function') throw new DbError('db/invalid-filter', 'filter takes a function (db, datom) => boolean');
    return this.view({ filters: [...(this.filters ?? []), keep] });
  }

  // ---------------- time ----------------

  asOf(t: number | Date): Db {
    const at = this.toT(t);
    if (this.overlay) {
      // a speculative value as of t keeps the speculative transactions up to t only
      const overlay = this.overlay.asOf(at);
      if (!overlay) return this.view({ basisT: Math.min(at, this.overlay.baseT), asOfT: at, overlay: null });
      return this.view({ basisT: overlay.t, asOfT: at, overlay });
    }
    return this.view({ basisT: Math.min(at, this.basisT), asOfT: at });
  }

  since(t: number | Date): Db {
    return this.view({ sinceT: this.toT(t) });
  }

  history(): Db {
    return this.view({ isHistory: true });
  }

  with(txData: TxData): TxReport {
    return this.ctx.speculate(this, txData);
  }

  /** @internal A Db with `overlay` layered on this one (used by `with`). */
  withOverlay(overlay: Overlay): Db {
    return this.view({ basisT: overlay.t, overlay });
  }

  tToTx(t: number): number {
    return tToTx(t);
  }

  txToT(tx: number): number {
    return txToT(tx);
  }

  private toT(t: number | Date): number {
    if (t instanceof Date) {
      if (Number.isNaN(t.getTime())) throw new DbError('db/invalid-time', `invalid date ${String(t)}`);
      return this.ctx.tAtInstant(t);
    }
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0) {
      throw new DbError('db/invalid-time', `a point in time is a t, a tx id or a Date, not ${String(t)}`);
    }
    return txToT(t);
  }

  // ---------------- schema & identity ----------------

  attr(ref: AttrRef): AttrInfo | undefined {
    return this.schema.attr(ref);
  }

  attrs(): AttrInfo[] {
    return this.schema.attrs();
  }

  ident(eid: number): Keyword | null {
    return this.schema.ident(eid) ?? null;
  }

  entid(ref: unknown): number | null {
    if (typeof ref === 'number') return Number.isInteger(ref) && ref >= 0 ? ref : null;
    if (typeof ref === 'bigint') return ref >= 0n && ref <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ref) : null;
    if (ref instanceof Keyword) return this.schema.entidOfIdent(ref) ?? null;
    if (typeof ref === 'string' && ref.startsWith(':')) return this.schema.entidOfIdent(ref) ?? null;
    // EDN text of a lookup ref or id, as typed on a command line: '[:person/email "a@b.c"]'
    if (typeof ref === 'string' && /^\s*[[(0-9]/.test(ref)) return this.entid(readEdn(ref));
    if (ref instanceof EdnList) return this.entid(ref.items);
    if (Array.isArray(ref)) {
      // as Datomic: a malformed lookup ref is an error, not an entity that is not there
      if (ref.length !== 2) throw new DbError('db/invalid-lookup-ref', `a lookup ref is [attribute value], got ${ref.length} element(s)`, { form: printLookupRef(ref) });
      return this.lookup(ref[0], ref[1]);
    }
    return null;
  }

  /** Resolve a lookup ref [attr value]: the attribute must be unique. */
  lookup(attrRef: unknown, value: unknown): number | null {
    const attr = this.attrOf(attrRef);
    if (!attr) {
      throw new DbError('db/invalid-lookup-ref', `lookup ref attribute ${String(attrRef)} is not an attribute`, { form: printLookupRef([attrRef, value]) });
    }
    if (!attr.unique) {
      throw new DbError('db/lookup-ref-not-unique', `lookup ref attribute ${attr.ident} is not :db/unique`, {
        form: `[${attr.ident} ${String(value)}]`,
      });
    }
    const v = attr.valueType === 'ref' ? this.entid(value) : this.coerceForAttr(attr, value);
    if (v === null || v === undefined) return null;
    for (const d of this.scanValue('avet', attr, v)) return d.e;
    return null;
  }

  private attrOf(ref: unknown): AttrInfo | undefined {
    if (typeof ref === 'number' || ref instanceof Keyword || typeof ref === 'string') return this.schema.attr(ref);
    return undefined;
  }

  fulltext(attrRef: AttrRef, search: string): FulltextMatch[] {
    const attr = this.attr(attrRef);
    if (!attr?.fulltext) throw new DbError('db/not-fulltext', `${attr ? attr.ident : String(attrRef)} is not a :db/fulltext attribute`);
    return searchFulltext(this, this.ctx.store, attr.id, search);
  }

  entity(eid: EntityRef): Entity | null {
    // as pull: a history value has no one value per attribute to show (Datomic: query and datoms only)
    if (this.isHistory) throw new DbError('db/history-entity', 'entities are not supported on a history value: query it, or use db.asOf(t).entity(...)');
    const id = this.entid(eid);
    if (id === null) return null;
    return new LazyEntity(this, id);
  }

  // ---------------- datoms ----------------

  datoms(index: IndexName, ...components: unknown[]): Iterable<Datom> {
    const resolved = this.resolveComponents(index, components);
    if (!resolved) return [];
    return this.scan(index, resolved.prefix, undefined, resolved.tx);
  }

  datomArray(index: IndexName, ...components: unknown[]): Datom[] {
    const resolved = this.resolveComponents(index, components);
    if (!resolved) return [];
    // read to the end in this synchronous step: LMDB's read transaction cannot change meanwhile,
    // so no snapshot need be held (taking one costs about as much as a small entity's read)
    const visible = this.scanIn(undefined, index, resolved.prefix, undefined, resolved.tx);
    return collectGuarded(this.filters ? this.kept(visible) : visible, this, 'db', 'a datom read');
  }

  datomReads(): DatomReads {
    return datomReadsOf(this, this.ctx.store);
  }

  seekDatoms(index: IndexName, ...components: unknown[]): Iterable<Datom> {
    const resolved = this.resolveComponents(index, components);
    if (!resolved) return [];
    const start = resolved.prefix;
    return this.scan(index, start, [KEY_MAX], undefined);
  }

  indexRange(attrRef: AttrRef, start?: unknown, end?: unknown, endInclusive = false): Iterable<Datom> {
    const bounds = this.rangeBounds(attrRef, start, end, endInclusive);
    if (!bounds) return [];
    const scans = bounds.scans.map(([from, to]) => this.scan('avet', from, to, undefined));
    return filterIter(concatIter(scans), (d) => bounds.keeps(d.v));
  }

  /**
   * Number of AVET datoms of `attr` in the value range, for planning: counted in the attribute's
   * column when this value holds one with its value order, else the current datoms counted by LMDB.
   */
  estimateRange(attrRef: AttrRef, start?: unknown, end?: unknown, endInclusive = false): number {
    const bounds = this.rangeBounds(attrRef, start, end, endInclusive);
    if (!bounds) return 0;
    const held = this.memory?.countValueRange(bounds.a, bounds.fromValue, bounds.toValue, endInclusive);
    return held ?? bounds.scans.reduce((n, [from, to]) => n + this.ctx.store.countCurrent('avet', from, to), 0);
  }

  private rangeBounds(attrRef: AttrRef, start: unknown, end: unknown, endInclusive: boolean) {
    const attr = this.attr(attrRef);
    if (!attr) return null;
    refuseBytesInAvet(attr, 'a value range');
    // a bound no datom can equal still bounds the range (numbers and bigints interleave in key order)
    const boundValue = (v: unknown): Value | undefined => (v === undefined || v === null ? undefined : (this.coerceForAttr(attr, v) ?? (v as Value)));
    const fromValue = boundValue(start);
    const toValue = boundValue(end);
    const range = valueRange(attr.id, attr.valueType, fromValue, toValue, endInclusive, this.ctx.store.exactValues, this.ctx.store.keyCodec.orderedTuples);
    return { a: attr.id, fromValue, toValue, ...range };
  }

  /** `datoms` as a callback per datom, without allocating Datom objects (the query engine's path). */
  visitDatoms(index: IndexName, components: unknown[], visit: DatomVisitor): Served {
    const resolved = this.resolveComponents(index, components);
    return resolved ? this.visitScan(index, resolved.prefix, undefined, resolved.tx, visit) : 'index';
  }

  /** `indexRange` as a callback per datom. */
  visitRange(attrRef: AttrRef, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): Served {
    const bounds = this.rangeBounds(attrRef, start, end, endInclusive);
    if (!bounds) return 'index';
    const { a, scans, keeps } = bounds;
    const kept =
      (inner: DatomVisitor): DatomVisitor =>
      (e, attr, v, tx, added) =>
        keeps(v) && inner(e, attr, v, tx, added);
    if (this.memory) {
      return this.memory.visitValueRange(a, bounds.fromValue, bounds.toValue, endInclusive, visit, (counted) => {
        for (const [from, to] of scans) this.visitStored('avet', from, to, kept(counted));
      });
    }
    for (const [from, to] of scans) this.visitScan('avet', from, to, undefined, kept(visit));
    return 'index';
  }

  private visitScan(index: IndexName, prefix: KeyPart[], end: KeyPart[] | undefined, onlyTx: number | undefined, visit: DatomVisitor): Served {
    if (this.overlay || this.isHistory || this.filters || onlyTx !== undefined) {
      for (const d of this.scan(index, prefix, end, onlyTx)) visit(d.e, d.a, d.v, d.tx, d.added);
      return 'index';
    }
    const served = end === undefined ? this.memory?.visit(index, prefix, visit) : null;
    if (served) return served;
    this.visitStored(index, prefix, end, visit);
    return 'index';
  }

  /**
   * Every datom of attribute `a` in this value, grouped by entity, when held in memory or when
   * `probes` entity lookups would cost more than building it (Infinity: the whole attribute is read).
   */
  column(a: number, probes: number): AttributeColumn | null {
    return this.memory ? this.memory.column(a, probes) : null;
  }

  /** Attribute `a`'s datoms counted per value from AVET alone, on the store's latest plain value (value-counts.ts); else null. */
  countsByValue(a: number): [Value, number][] | null {
    const store = this.ctx.store;
    if (!this.memory || this.sinceT !== null || store.lastT() > this.basisT) return null;
    return countsByValue(store, a, this.schema.attr(a)?.valueType ?? null);
  }

  /** Attribute `a`'s distinct (e, v) pairs in this history value (history-pairs.ts), kept with the columns; null when not a stored history. */
  historyPairs(a: number, onRead?: (pairs: number) => void): AttributeColumn | null {
    if (!this.isHistory || this.overlay || this.filters) return null;
    const key = `h${a}@${this.basisT}/${this.sinceT ?? ''}`;
    const held = this.ctx.columns.get(key);
    if (held) return held;
    const col = historyPairs(this.ctx.store, a, { basisT: this.basisT, sinceT: this.sinceT, history: true }, onRead);
    this.ctx.columns.put(key, col);
    return col;
  }

  /** The stored datoms of a plain (not history, not speculative) view, in no particular order. */
  private visitStored(index: IndexName, prefix: KeyPart[], end: KeyPart[] | undefined, visit: DatomVisitor): void {
    this.ctx.store.reader.visit(index, prefix, end, { basisT: this.basisT, sinceT: this.sinceT, history: false }, visit);
  }

  /** @internal AVET/EAVT datoms of one attribute and value — the planner's fast path. */
  scanValue(index: 'avet', attr: AttrInfo, v: Value): Iterable<Datom> {
    const [tag, payload] = encodeValue(v, attr.valueType);
    return this.scan(index, [attr.id, tag, payload]);
  }

  stats(): DbStats {
    // the newest plain value is counted in meta at each commit; any other is counted from its datoms
    const latest = !this.overlay && !this.filters && !this.isHistory && this.sinceT === null && this.basisT === this.ctx.store.lastT();
    const attrs: Record<string, { count: number }> = {};
    let datoms = 0;
    for (const info of this.schema.attrs()) {
      let count = 0;
      if (latest) count = this.ctx.store.attrCount(info.id);
      else this.visitDatoms('aevt', [info.id], () => void count++);
      if (count === 0) continue;
      Object.defineProperty(attrs, info.ident.fqn, { value: { count }, enumerable: true, writable: true, configurable: true });
      datoms += count;
    }
    return { datoms, attrs };
  }

  estimateCount(index: IndexName, ...components: unknown[]): number {
    const resolved = this.resolveComponents(index, components);
    if (!resolved) return 0;
    const { prefix } = resolved;
    const store = this.ctx.store;
    if ((index === 'aevt' || index === 'avet') && prefix.length === 1) return store.attrCount(prefix[0] as number);
    if (prefix.length === 0) {
      let total = 0;
      for (const a of this.schema.attrs()) total += store.attrCount(a.id);
      return total;
    }
    return store.countCurrent(index, prefix) + (this.overlay ? this.overlay.size : 0);
  }

  /** Turn user components (idents, lookup refs, values) into key slots; null when one cannot match. */
  private resolveComponents(index: IndexName, components: unknown[]): { prefix: KeyPart[]; tx?: number } | null {
    const order = INDEX_ORDER[index];
    const prefix: KeyPart[] = [];
    let attr: AttrInfo | undefined;
    let tx: number | undefined;
    const aPos = order.indexOf('a');
    if (aPos < components.length && components[aPos] !== undefined) {
      attr = this.attr(components[aPos] as AttrRef);
      if (!attr) return null;
      if (index === 'avet') refuseBytesInAvet(attr, 'AVET');
    }
    for (let i = 0; i < components.length; i++) {
      const c = components[i];
      if (c === undefined) break;
      switch (order[i]) {
        case 'e': {
          const e = this.entid(c);
          if (e === null) return null;
          prefix.push(e);
          break;
        }
        case 'a':
          prefix.push(attr!.id);
          break;
        case 'v': {
          if (index === 'vaet') {
            const v = this.entid(c);
            if (v === null) return null;
            prefix.push(v);
          } else {
            if (!attr) return null;
            const v = attr.valueType === 'ref' ? this.entid(c) : this.coerceForAttr(attr, c);
            if (v === null) return null;
            prefix.push(...encodeValue(v as Value, attr.valueType));
          }
          break;
        }
        case 't':
          tx = typeof c === 'number' ? (c >= TX_BASE ? c : tToTx(c)) : undefined;
          break;
      }
    }
    return { prefix, tx };
  }

  /**
   * A query's value as the attribute holds it; null when no datom of the attribute can hold it
   * (a bigint attribute and a fraction or a string: a pattern [?e ?a "x"] tries every attribute).
   */
  private coerceForAttr(attr: AttrInfo, v: unknown): Value | null {
    const coerced = this.coerceByType(attr, v);
    return coerced !== null && isEncodable(coerced) ? coerced : null;
  }

  private coerceByType(attr: AttrInfo, v: unknown): Value | null {
    switch (attr.valueType) {
      case 'keyword':
        return typeof v === 'string' ? Keyword.of(v) : (v as Value);
      case 'bigint':
        if (typeof v === 'bigint') return v;
        return typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : null;
      case 'long':
        // the form the tx side stores (5n looks for 5, 2 ** 60 for 2n ** 60n); a fraction matches
        // no long, and an infinity stays as it is, to bound a range
        if (typeof v === 'number' && !Number.isFinite(v)) return v;
        return typeof v === 'number' || typeof v === 'bigint' ? (longForm(v) ?? null) : (v as Value);
      case 'double':
        return typeof v === 'bigint' ? Number(v) : v instanceof BigDec ? Number(v.text) : (v as Value);
      case 'float':
        return typeof v === 'number' ? Math.fround(v) : (v as Value);
      case 'bigdec':
        // stored in canonical text; a number is no bigdec's value (a range bound keeps it as it is)
        return v instanceof BigDec ? (canonicalBigDec(v) ?? null) : null;
      default:
        return v as Value;
    }
  }

  /**
   * @internal Every datom visible in this value whose key lies in [prefix, end) (end defaults to the
   * prefix's own range), in index order. Read lazily, all from one read snapshot (taken at the
   * first step): the datoms of this value whatever is committed between two steps.
   */
  scan(index: IndexName, prefix: KeyPart[], end?: KeyPart[], onlyTx?: number): Iterator<Datom> & Iterable<Datom> {
    const visible = this.ctx.store.snapshotted((snapshot) => this.scanIn(snapshot, index, prefix, end, onlyTx));
    return this.filters ? this.kept(visible) : visible;
  }

  private *kept(datoms: Iterable<Datom>): Generator<Datom> {
    const filters = this.filters!;
    const db = this.unfiltered!;
    for (const d of datoms) if (filters.every((keep) => keep(db, d))) yield d;
  }

  private *scanIn(snapshot: ReadSnapshot | undefined, index: IndexName, prefix: KeyPart[], end?: KeyPart[], onlyTx?: number): Generator<Datom> {
    const store = this.ctx.store;
    const overlay = this.overlay;
    // stored datoms are seen as of the stored basis; a speculative overlay adds its own on top
    const at: ReadAt = { basisT: overlay ? overlay.baseT : this.basisT, sinceT: this.sinceT, history: this.isHistory };
    if (!overlay) {
      if (this.memory && onlyTx === undefined && index === 'eavt' && prefix.length === 1 && end === undefined) {
        // a past entity is read once and kept (view-memory.ts): its retracted versions cost a read each
        at.lastT = store.lastT(snapshot);
        if (this.sinceT !== null || at.lastT > at.basisT) {
          yield* this.memory.pastEntity(prefix[0] as number, () => store.reader.datoms('eavt', prefix, undefined, at, snapshot));
          return;
        }
      }
      const stored = store.reader.datoms(index, prefix, end, at, snapshot);
      if (onlyTx === undefined) yield* stored;
      else for (const d of stored) if (d.tx === onlyTx) yield d;
      return;
    }
    let stored: Iterable<StoredDatom> = store.reader.storedDatoms(index, prefix, end, at, snapshot);
    // a history keeps a stored assertion the overlay retracts: both events happened
    if (!this.isHistory) stored = filterIter(stored, (x) => !(x.added && overlay.retracts(x.raw)));
    stored = mergeSorted(index, stored, overlay.matching(index, prefix, end, this.isHistory, store.keyCodec), store.keyCodec);
    const txMin = this.sinceT === null ? -1 : tToTx(this.sinceT);
    for (const x of stored) {
      if (onlyTx !== undefined && x.tx !== onlyTx) continue;
      if (x.tx <= txMin) continue; // since: the overlay's transactions too
      yield store.reader.datomOf(x);
    }
  }

  toString(): string {
    const parts = [`basisT ${this.basisT}`];
    if (this.asOfT !== null) parts.push(`asOf ${this.asOfT}`);
    if (this.sinceT !== null) parts.push(`since ${this.sinceT}`);
    if (this.isHistory) parts.push('history');
    if (this.overlay) parts.push('with');
    return `#factlog/db {${parts.join(', ')}}`;
  }
}

const INDEX_ORDER: Record<IndexName, ('e' | 'a' | 'v' | 't')[]> = {
  eavt: ['e', 'a', 'v', 't'],
  aevt: ['a', 'e', 'v', 't'],
  avet: ['a', 'v', 'e', 't'],
  vaet: ['v', 'a', 'e', 't'],
};

function* filterIter<T>(it: Iterable<T>, keep: (x: T) => boolean): Generator<T> {
  for (const x of it) if (keep(x)) yield x;
}

function* concatIter<T>(its: Iterable<T>[]): Generator<T> {
  for (const it of its) yield* it;
}

/** Two runs of datoms in index order, merged into one (the store's `codec`'s order). */
function* mergeSorted<T extends StoredDatom>(index: IndexName, left: Iterable<T>, right: Iterable<T>, codec: KeyCodec): Generator<T> {
  const li = left[Symbol.iterator]();
  const ri = right[Symbol.iterator]();
  let l = li.next();
  let r = ri.next();
  while (!l.done && !r.done) {
    if (compareStored(index, l.value, r.value, codec) <= 0) {
      yield l.value;
      l = li.next();
    } else {
      yield r.value;
      r = ri.next();
    }
  }
  for (; !l.done; l = li.next()) yield l.value;
  for (; !r.done; r = ri.next()) yield r.value;
}

export type { Payload, Tag };
