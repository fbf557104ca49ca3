// The ground floor: datoms, values and index names, the vocabulary every layer shares.
import type { Keyword, Sym, Uuid } from '../query-lang/edn/types.js';

export type IndexName = 'eavt' | 'aevt' | 'avet' | 'vaet';

/** A stored value. Tuples are arrays of scalars. Refs are entity ids (numbers). */
export type Value = string | number | boolean | bigint | Keyword | Sym | Date | Uuid | Value[];

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

export type ValueType =
  | 'string'
  | 'long'
  | 'double'
  | 'boolean'
  | 'instant'
  | 'uuid'
  | 'keyword'
  | 'ref'
  | 'bigint'
  | 'symbol'
  | 'tuple';
