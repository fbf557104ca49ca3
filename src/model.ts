// The ground floor: datoms, values and index names, the vocabulary every layer shares.
import type { BigDec, EdnList, EdnValue, Keyword, Sym, Uri, Uuid } from '../query-lang/edn/types.js';

export type IndexName = 'eavt' | 'aevt' | 'avet' | 'vaet';

/** A stored value. Tuples are arrays of scalars. Refs are entity ids (numbers). Floats are numbers. */
export type Value = string | number | boolean | bigint | Keyword | Sym | Date | Uuid | BigDec | Uri | Uint8Array | Value[];

export interface Datom {
  readonly e: number;
  /** Attribute entity id; `db.ident(a)` or `db.attr(a).ident` gives its keyword. */
  readonly a: number;
  readonly v: Value;
  readonly tx: number;
  readonly added: boolean;
}

/** A datom handed over as its parts, without a Datom object (the query engine's fast path). */
export type DatomVisitor = (e: number, a: number, v: unknown, tx: number, added: boolean) => void;

export type ValueType = 'string' | 'long' | 'double' | 'boolean' | 'instant' | 'uuid' | 'keyword' | 'ref' | 'bigint' | 'symbol' | 'tuple' | 'bigdec' | 'float' | 'uri' | 'bytes';

/**
 * What `transact` and `db.with` take: EDN text, or JS data (an array or an EdnList) of forms.
 * In JS data an attribute or operation may be a Keyword or its 'ns/name' / ':ns/name' text.
 */
export type TxData = string | EdnList | readonly TxForm[];

/** One form of tx data: an entity map or an operation list. */
export type TxForm = TxMap | TxOp | EdnList;

/** An entity map: attributes to values, with an optional :db/id; reverse keys (':ns/_attr') point refs here. */
export type TxMap = { readonly [attr: string]: TxValue } | ReadonlyMap<Keyword | string, TxValue>;

/** An attribute: its ident (a Keyword or 'ns/name' text) or its entity id. */
export type TxAttr = Keyword | string | number;

/**
 * An entity: an id, a tempid (a string, or a negative number), an ident keyword, a lookup ref
 * [attr value], or "datomic.tx" for the transaction itself.
 */
export type TxEntity = number | string | Keyword | TxLookupRef;

/** A lookup ref: a unique attribute and a value of it. */
export type TxLookupRef = readonly [attr: TxAttr, value: TxValue] | EdnList;

/** An operation name: a Keyword, or its text with or without the colon. */
type TxOpName<Name extends string> = Keyword | Name | `:${Name}`;

/** The list forms: :db/add, :db/retract (of one value, or of every value of an attribute), :db/retractEntity, :db/cas. */
export type TxOp =
  | readonly [op: TxOpName<'db/add'>, e: TxEntity, a: TxAttr, v: TxValue]
  | readonly [op: TxOpName<'db/retract'>, e: TxEntity, a: TxAttr, v?: TxValue]
  | readonly [op: TxOpName<'db/retractEntity' | 'db.fn/retractEntity'>, e: TxEntity]
  | readonly [op: TxOpName<'db/cas' | 'db.fn/cas'>, e: TxEntity, a: TxAttr, old: TxValue | null, v: TxValue];

/**
 * A value in tx data: a stored value, an entity (id, tempid, ident, lookup ref) under a ref
 * attribute, a nested entity map, or a collection of them for a cardinality-many attribute.
 */
export type TxValue = EdnValue | Value | TxMap | readonly TxValue[] | ReadonlySet<TxValue>;

/** What an async iterator of later reports needs of its connection (embedded or remote). */
export interface ReportSource<R> {
  /** Subscribe; `fail` ends the iteration with an error. Returns the unsubscribe. */
  subscribe(push: (report: R) => void, fail: (err: unknown) => void): () => void;
  isClosed(): boolean;
  /** Called when the connection closes, so that a waiting iteration ends. */
  readonly closeWaiters: Set<() => void>;
}

/** Every later report as an async iterator; it ends when the loop breaks or the connection closes. */
export function reportsIterator<R>(source: ReportSource<R>): AsyncIterableIterator<R> {
  const queue: R[] = [];
  let wake: (() => void) | null = null;
  let failure: unknown = null;
  let done = false;
  const unsubscribe = source.subscribe(
    (report) => {
      queue.push(report);
      wake?.();
    },
    (err) => {
      failure = err;
      wake?.();
    },
  );
  const onClose = () => wake?.();
  source.closeWaiters.add(onClose);
  const stop = () => {
    done = true;
    unsubscribe();
    source.closeWaiters.delete(onClose);
    wake?.();
    return Promise.resolve({ value: undefined, done: true as const });
  };
  const iterator: AsyncIterableIterator<R> = {
    next: async () => {
      while (queue.length === 0) {
        if (failure) throw failure;
        if (done || source.isClosed()) return stop();
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
      return { value: queue.shift()!, done: false };
    },
    return: stop,
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}
