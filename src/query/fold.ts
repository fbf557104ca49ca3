// Whole-attribute aggregates folded straight from one index scan: `[:find ?v (count ?e) :where [?e :attr ?v]]`
// and its kin keep one accumulator per group instead of a binding per datom, so they run in memory
// bounded by the groups, not by the attribute's size. Any other query takes the general path.
import type { AggregateElem, FindElem, PatternClause, Query } from '../../query-lang/datalog/ast.js';
import type { DbView } from '../db/api.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import { isUnit, type Relation } from './relation.js';
import { resolveAttr } from './pattern.js';
import { compareValues, tupleKey } from './values.js';
import { sumStep, toNumber } from './builtins.js';
import { growing, tick } from './budget.js';
import { printClause } from './print.js';
import { FactlogError } from '../../query-lang/errors.js';

export type Fold = 'count' | 'sum' | 'avg' | 'min' | 'max';
export const FOLDS = new Set<string>(['count', 'sum', 'avg', 'min', 'max']);

/** One find element: a group key or a folded aggregate, reading the datom's e (0) or v (2). */
interface Column {
  fold: Fold | null;
  pos: 0 | 2;
}

interface Group {
  key: unknown[];
  count: number;
  acc: unknown[];
}

function elements(q: Query): FindElem[] {
  return q.find.kind === 'find-rel' || q.find.kind === 'find-tuple' ? q.find.elements : [q.find.element];
}

/** The pattern `[?e :attr ?v]` / `[?e :attr]` / `[?e :attr _]` of a one-clause query, else null. */
function onePattern(q: Query): PatternClause | null {
  if (q.where.length !== 1 || q.returnMap) return null;
  const c = q.where[0]!;
  if (c.kind !== 'pattern' || c.terms.length < 2 || c.terms.length > 3) return null;
  const [e, a, v] = c.terms;
  if (e?.kind !== 'var' || a?.kind !== 'const') return null;
  if (v && v.kind !== 'blank' && (v.kind !== 'var' || v.name === e.name)) return null;
  return c;
}

/** Each find element as a column of the fold, when every one can be folded; else null. */
function columnsOf(q: Query, eVar: string, vVar: string | null): Column[] | null {
  const posOf = (name: string): 0 | 2 | -1 => (name === eVar ? 0 : name === vVar ? 2 : -1);
  const out: Column[] = [];
  for (const el of elements(q)) {
    if (el.kind === 'var') {
      const pos = posOf(el.name);
      if (pos === -1) return null;
      out.push({ fold: null, pos });
    } else if (el.kind === 'aggregate') {
      const agg = el as AggregateElem;
      if (agg.fn.kind !== 'fn-name' || !FOLDS.has(agg.fn.name) || agg.args.length !== 1 || agg.args[0]!.kind !== 'var') return null;
      const pos = posOf(agg.args[0]!.name);
      if (pos === -1) return null;
      out.push({ fold: agg.fn.name as Fold, pos });
    } else return null;
  }
  return out.some((c) => c.fold) ? out : null;
}

/**
 * Is every datom of the scan one tuple of the aggregated bag (the distinct tuples of the find and
 * :with variables)? A current view's datoms are a set, so the bag holds one tuple a datom when it
 * keeps both e and v, or only e of a cardinality-one attribute; a history repeats them.
 */
function datomIsTuple(db: DbView, q: Query, cols: Column[], eVar: string, vVar: string | null, cardinalityOne: boolean): boolean {
  if (db.isHistory) return false;
  const used = new Set(cols.map((c) => c.pos));
  for (const w of q.with) {
    if (w.name === eVar) used.add(0);
    else if (w.name === vVar) used.add(2);
    else return false;
  }
  return used.has(0) && (used.has(2) || cardinalityOne);
}

function scan(db: DbView, a: number, visit: (e: number, v: unknown) => void): void {
  db.visitDatoms('aevt', [a], (e, _a, v) => visit(e, v));
}

/**
 * Counts grouped by value (or by nothing) added from the index's count of each value's datoms,
 * without reading them: a new process's first count answers without building a column. Not
 * when the attribute's column is held already (its scan costs less). The keys read (one a
 * value); null when this query or value cannot be counted so.
 */
function countedByValue(db: DbView, a: number, cols: Column[], groups: FoldGroups): number | null {
  if (!cols.every((c) => c.fold === 'count' || (c.fold === null && c.pos === 2))) return null;
  if (db.column(a, 0) !== null) return null;
  const counts = db.countsByValue(a);
  if (!counts) return null;
  const row: unknown[] = [0, null];
  for (const [v, n] of counts) {
    tick();
    row[1] = v;
    groups.addCount(row, n);
  }
  return counts.length;
}

function step(fold: Fold, g: Group, i: number, x: unknown): void {
  switch (fold) {
    case 'count':
      return;
    case 'sum':
    case 'avg':
      g.acc[i] = sumStep(g.acc[i] as Parameters<typeof sumStep>[0], x);
      return;
    case 'min':
      if (g.count === 1 || compareValues(x, g.acc[i]) < 0) g.acc[i] = x;
      return;
    case 'max':
      // the last of the greatest, as sorting the bag and taking the end does
      if (g.count === 1 || compareValues(x, g.acc[i]) >= 0) g.acc[i] = x;
  }
}

function finish(fold: Fold, g: Group, i: number): unknown {
  switch (fold) {
    case 'count':
      return g.count;
    case 'avg':
      return toNumber(g.acc[i]) / g.count;
    default:
      return g.acc[i];
  }
}

/**
 * The running aggregates of a query's find, one group per distinct value of its group columns:
 * each tuple added is a row whose column i is at `at[i]`. Shared by the scan fold here and the
 * join fold (fold-join.ts); `keyOf` names a group's key in the Map.
 */
export class FoldGroups {
  private readonly keyCols: number[];
  private readonly groups = new Map<unknown, Group>();
  private only: Group | null = null;
  private readonly oneKey: unknown[] = [undefined];

  constructor(
    private readonly folds: readonly (Fold | null)[],
    private readonly at: readonly number[],
    private readonly keyOf: (key: unknown[]) => unknown = tupleKey,
  ) {
    this.keyCols = folds.flatMap((f, i) => (f ? [] : [i]));
  }

  add(row: readonly unknown[]): void {
    const { folds, at } = this;
    const g = this.groupOf(row);
    g.count++;
    for (let i = 0; i < folds.length; i++) {
      const fold = folds[i];
      if (fold) step(fold, g, i, row[at[i]!]);
    }
  }

  /** `n` tuples of the row's group at once, when every fold is a count (n additions of a sum need not equal one product). */
  addCount(row: readonly unknown[], n: number): void {
    this.groupOf(row).count += n;
  }

  private groupOf(row: readonly unknown[]): Group {
    const { folds, at } = this;
    if (this.keyCols.length === 0) return (this.only ??= { key: [], count: 0, acc: folds.map(() => 0) });
    // one key column is looked up through a reused array: a key array is made per group, not per tuple
    const keyCols = this.keyCols;
    const one = keyCols.length === 1 ? this.oneKey : null;
    if (one) one[0] = row[at[keyCols[0]!]!];
    const key = one ?? keyCols.map((i) => row[at[i]!]);
    const k = this.keyOf(key);
    let g = this.groups.get(k);
    if (!g) {
      this.groups.set(k, (g = { key: one ? [one[0]] : key, count: 0, acc: folds.map(() => 0) }));
      growing(this.groups.size, folds.length);
    }
    return g;
  }

  /** One row per group: its key values and finished aggregates, in the find's column order. */
  rows(): unknown[][] {
    const all = this.only ? [this.only] : [...this.groups.values()];
    return all.map((g) => this.folds.map((fold, i) => (fold ? finish(fold, g, i) : g.key[this.keyCols.indexOf(i)])));
  }
}

/**
 * The query's result when it is one pattern over a whole attribute with foldable aggregates
 * (count, sum, avg, min, max) and no inputs but the database; null when the general path must run.
 */
export function foldedResult(ctx: QueryContext, q: Query, bound: Relation): { result: unknown } | null {
  if (!isUnit(bound) || ctx.rules.size > 0) return null;
  const c = onePattern(q);
  if (!c || (c.src && c.src.name !== '$')) return null;
  const db = ctx.sources.get('$');
  if (!isDb(db)) return null;
  const eVar = (c.terms[0] as { name: string }).name;
  const vVar = c.terms[2]?.kind === 'var' ? c.terms[2].name : null;
  const cols = columnsOf(q, eVar, vVar);
  if (!cols) return null;
  const attr = resolveAttr(ctx, db, (c.terms[1] as { value: unknown }).value);
  if (!attr || !datomIsTuple(db, q, cols, eVar, vVar, attr.cardinality === 'one')) return null;
  const t0 = ctx.trace ? performance.now() : 0;
  const groups = new FoldGroups(
    cols.map((col) => col.fold),
    cols.map((col) => (col.pos === 0 ? 0 : 1)),
  );
  const counted = countedByValue(db, attr.id, cols, groups);
  let read = counted ?? 0;
  if (counted === null) {
    const datom: unknown[] = [0, null];
    try {
      scan(db, attr.id, (e, v) => {
        read++;
        tick();
        // one array for every datom: add() copies what it keeps
        datom[0] = e;
        datom[1] = v;
        groups.add(datom);
      });
    } catch (err) {
      // limits stop the query; any other failure (a sum of strings) is reported as the general path reports it
      if (err instanceof FactlogError && (err.code === 'query/timeout' || err.code === 'query/too-large')) throw err;
      return null;
    }
  }
  const rows = groups.rows();
  ctx.trace?.push({
    clause: printClause(c),
    index: counted === null ? 'aevt' : 'avet',
    strategy: counted === null ? 'aggregated in the scan' : 'counted per value in the index',
    estimatedRows: rows.length,
    actualRows: rows.length,
    datomsRead: read,
    ms: performance.now() - t0,
  });
  switch (q.find.kind) {
    case 'find-rel':
      return { result: rows };
    case 'find-tuple':
      return { result: rows[0] ?? null };
    case 'find-scalar':
      return { result: rows.length ? rows[0]![0] : null };
    case 'find-coll':
      return { result: rows.map((r) => r[0]) };
  }
}
