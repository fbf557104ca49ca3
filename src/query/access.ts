// Datom access for the engine: a callback per datom (e, a, v, tx, added) instead of Datom objects.
// Uses the database's allocation-free visitors when it has them, else iterates `datoms`/`indexRange`.
import type { DatomVisitor, DbView, IndexName, Served } from '../db/api.js';

export type { DatomVisitor, Served };

/** Optional fast paths a DbView may offer: the same datoms as `datoms` / `indexRange`, not necessarily in index order. */
export interface VisitingDb {
  visitDatoms?(index: IndexName, components: unknown[], visit: DatomVisitor): Served;
  visitRange?(attr: unknown, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): Served;
  column?(attr: number, probes: number): EntityColumn | null;
}

/** One attribute's datoms grouped by entity, held in memory (see src/db/columns.ts). */
export interface EntityColumn {
  readonly es: readonly number[];
  readonly vs: readonly unknown[];
  readonly txs: readonly number[];
  /** Index of entity e's first datom; -1 when none. Its datoms follow while es[i] === e. */
  slotOf(e: number): number;
}

export function visitDatoms(db: DbView, index: IndexName, components: unknown[], visit: DatomVisitor): Served {
  const fast = (db as DbView & VisitingDb).visitDatoms;
  if (fast) return fast.call(db, index, components, visit);
  for (const d of db.datoms(index, ...components)) visit(d.e, d.a, d.v, d.tx, d.added);
  return 'index';
}

export function visitRange(db: DbView, attr: number, start: unknown, end: unknown, endInclusive: boolean, visit: DatomVisitor): Served {
  const fast = (db as DbView & VisitingDb).visitRange;
  if (fast) return fast.call(db, attr, start, end, endInclusive, visit);
  for (const d of db.indexRange(attr, start, end, endInclusive)) visit(d.e, d.a, d.v, d.tx, d.added);
  return 'index';
}

/** The attribute's column when the db holds it or `probes` entity lookups make building it pay. */
export function columnOf(db: DbView, attr: number, probes: number): EntityColumn | null {
  const fast = (db as DbView & VisitingDb).column;
  return fast ? fast.call(db, attr, probes) : null;
}
