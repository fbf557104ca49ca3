// The read API of an immutable database value. src/query, src/pull, src/cli build only on this.
import type { Keyword } from '../../query-lang/edn/types.js';

export type { Datom, DatomVisitor, IndexName, Value, ValueType } from '../model.js';
import type { Datom, DatomVisitor, IndexName, Value, ValueType } from '../model.js';

export interface AttrInfo {
  readonly id: number;
  readonly ident: Keyword;
  /** null for an attribute used without schema (scalar, cardinality one). */
  readonly valueType: ValueType | null;
  readonly cardinality: 'one' | 'many';
  readonly unique: 'identity' | 'value' | null;
  readonly isComponent: boolean;
  readonly index: boolean;
  readonly noHistory: boolean;
  /** :db/fulltext: its values are in the full-text index (set when the attribute is made, never changed). */
  readonly fulltext: boolean;
  readonly doc?: string;
  /** For :db.type/tuple: homogeneous element type, heterogeneous types, or composite attrs. */
  readonly tupleType?: ValueType;
  readonly tupleTypes?: ValueType[];
  readonly tupleAttrs?: number[];
}

/** Anything that names an entity: an id, an ident keyword, or a lookup ref `[attr, value]`. */
/**
 * An entity id, an ident keyword (or ':ns/name' text), a lookup ref [attr value] (as data or as EDN
 * text), or a long given as a bigint. A malformed lookup ref is an error, not "not found".
 */
export type EntityRef = number | bigint | string | Keyword | readonly unknown[];

/** Anything that names an attribute: its id, its ident keyword, or 'ns/name' / ':ns/name' text. */
export type AttrRef = number | Keyword | string;

export interface Entity {
  readonly id: number;
  /** Attribute value; refs come back as entities, cardinality-many as Sets; `_attr` navigates backwards. */
  get(attr: AttrRef): unknown;
  keys(): Keyword[];
  /** Reads every attribute now (components too, recursively), as Datomic's touch; later gets use what was read. */
  touch(): Entity;
  toJSON(): Record<string, unknown>;
}

export interface DbStats {
  datoms: number;
  /** Keyed by ident without the colon ('person/name'). */
  attrs: Record<string, { count: number }>;
}

/** Where a visit's datoms came from: an attribute column held in memory, or the index (LMDB). */
export type Served = 'column' | 'index';

/** One attribute's datoms grouped by entity, held in memory (see src/db/columns.ts). */
export interface EntityColumn {
  readonly es: readonly number[];
  readonly vs: readonly unknown[];
  readonly txs: readonly number[];
  /** Index of entity e's first datom; -1 when none. Its datoms follow while es[i] === e. */
  slotOf(e: number): number;
}

/** One transaction of the log, its datoms decoded. */
export interface LogTx {
  t: number;
  tx: number;
  instant: Date;
  data: Datom[];
}

/** The log as queries see it (`conn.log()`, for `tx-ids` and `tx-data`). */
export interface LogView {
  /** Transactions with from <= t < to; a bound is a t, a tx id or a Date, or left out. */
  txRange(from?: number | Date | null, to?: number | Date | null): Iterable<LogTx>;
  /** The transaction at a t or tx id, if there is one. */
  tx(txOrT: number): LogTx | undefined;
}

/**
 * `datomArray(index, e[, a])` for EAVT (an entity's datoms) or VAET (those pointing at e), valid
 * for the reads of one synchronous step (DbView.datomReads); the first `limit` of them may be all
 * that is read (more may be given).
 */
export type DatomReads = (index: 'eavt' | 'vaet', e: number, a?: number, limit?: number) => Datom[];

export interface DbView {
  /** The t of the last transaction this value includes. */
  readonly basisT: number;
  /** Set on asOf views. */
  readonly asOfT: number | null;
  /** Set on since views: only datoms asserted after this t are visible. */
  readonly sinceT: number | null;
  readonly isHistory: boolean;

  asOf(t: number | Date): DbView;
  since(t: number | Date): DbView;
  history(): DbView;
  /** Only the datoms `keep(unfilteredDb, datom)` keeps, as Datomic's filter; composes with the rest. */
  filter(keep: (db: DbView, datom: Datom) => boolean): DbView;

  /** Datoms of an index in index order, filtered by leading components (ids, idents, lookup refs or values). */
  datoms(index: IndexName, ...components: unknown[]): Iterable<Datom>;
  /** The same datoms as `datoms`, read at once into an array (no lazy iterator to hold a read snapshot). */
  datomArray(index: IndexName, ...components: unknown[]): Datom[];
  /** Many entity reads in one synchronous step (a pull) at less cost each; optional (datomArray is the fallback). */
  datomReads?(): DatomReads;
  /** Datoms of an index from the given position onward, to the end of the index. */
  seekDatoms(index: IndexName, ...components: unknown[]): Iterable<Datom>;
  /** AVET datoms of one attribute with start <= v < end (v <= end when endInclusive; null/undefined bound = open). */
  indexRange(attr: AttrRef, start?: unknown, end?: unknown, endInclusive?: boolean): Iterable<Datom>;
  /** `datoms` as a callback per datom (no Datom objects), not necessarily in index order: the query engine's path. */
  visitDatoms(index: IndexName, components: unknown[], visit: DatomVisitor): Served;
  /** `indexRange` as a callback per datom, not necessarily in index order. */
  visitRange(attr: AttrRef, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): Served;
  /** Attribute `attr`'s datoms grouped by entity, when held in memory or when `probes` entity lookups make building them pay; else null. */
  column(attr: number, probes: number): EntityColumn | null;
  /** [value, datoms] of attribute `attr` counted from the index without reading each datom, when this value allows it; else null. */
  countsByValue(attr: number): [Value, number][] | null;
  /**
   * In a history value, attribute `attr`'s distinct (e, v) pairs (every version of a fact once)
   * grouped by entity; else null. `onRead` hears of each datom read while they are built.
   */
  historyPairs(attr: number, onRead?: (pairs: number) => void): EntityColumn | null;
  /** Number of datoms `indexRange` would return now (exact, counted natively; for planning). */
  estimateRange(attr: AttrRef, start?: unknown, end?: unknown, endInclusive?: boolean): number;
  /** Datoms of this value in all, and per attribute (as Datomic's db-stats); attributes with none are left out. */
  stats(): DbStats;
  /** Estimated number of datoms matching the leading components (cheap; for planning). */
  estimateCount(index: IndexName, ...components: unknown[]): number;

  /**
   * Datomic's fulltext: the datoms of a :db/fulltext attribute in this value whose value matches
   * `search` (words, "phrases", +required, -excluded, prefix*), as [e, value, tx, score].
   */
  fulltext(attr: AttrRef, search: string): [number, string, number, number][];
  entity(eid: EntityRef): Entity | null;
  /** Resolve an entity reference to its id; null when nothing matches. */
  entid(ref: unknown): number | null;
  ident(eid: number): Keyword | null;
  attr(ref: AttrRef): AttrInfo | undefined;
  /** Every attribute known to this value. */
  attrs(): AttrInfo[];
  /** Tx entity id for a t, and back. */
  tToTx(t: number): number;
  txToT(tx: number): number;
}
