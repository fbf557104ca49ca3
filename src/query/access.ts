// Datom access for the engine: a callback per datom (e, a, v, tx, added) instead of Datom objects.
// Uses the database's allocation-free visitors when it has them, else iterates `datoms`/`indexRange`.
import type { DbView, IndexName } from '../db/api.js';

export type DatomVisitor = (e: number, a: number, v: unknown, tx: number, added: boolean) => void;

/** Optional fast paths a DbView may offer: the same datoms as `datoms` / `indexRange`, not necessarily in index order. */
export interface VisitingDb {
  visitDatoms?(index: IndexName, components: unknown[], visit: DatomVisitor): void;
  visitRange?(attr: unknown, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): void;
}

export function visitDatoms(db: DbView, index: IndexName, components: unknown[], visit: DatomVisitor): void {
  const fast = (db as DbView & VisitingDb).visitDatoms;
  if (fast) return fast.call(db, index, components, visit);
  for (const d of db.datoms(index, ...components)) visit(d.e, d.a, d.v, d.tx, d.added);
}

export function visitRange(db: DbView, attr: number, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): void {
  const fast = (db as DbView & VisitingDb).visitRange;
  if (fast) return fast.call(db, attr, start, end, endInclusive, visit);
  for (const d of db.indexRange(attr, start, end, endInclusive)) visit(d.e, d.a, d.v, d.tx, d.added);
}
