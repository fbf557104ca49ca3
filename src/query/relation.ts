// Relations (named columns + rows) and the relational operators the engine needs: hash join,
// anti-join, projection, union, distinct.
import { tupleKey } from './values.js';

export type Row = unknown[];

export interface Relation {
  vars: string[];
  rows: Row[];
}

/** The relation with no columns and one row: the identity for joins. */
export function unitRelation(): Relation {
  return { vars: [], rows: [[]] };
}

export function emptyRelation(vars: string[]): Relation {
  return { vars, rows: [] };
}

export function colIndex(rel: Relation, v: string): number {
  return rel.vars.indexOf(v);
}

export function distinctRows(rows: Row[]): Row[] {
  const seen = new Set<string>();
  const out: Row[] = [];
  for (const r of rows) {
    const k = tupleKey(r);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(r);
    }
  }
  return out;
}

/** Project onto `vars` (all must be columns of rel), optionally removing duplicate rows. */
export function project(rel: Relation, vars: string[], distinct = true): Relation {
  const idx = vars.map((v) => {
    const i = rel.vars.indexOf(v);
    if (i < 0) throw new Error(`internal: project on missing column ${v}`);
    return i;
  });
  const rows = rel.rows.map((r) => idx.map((i) => r[i]));
  return { vars: [...vars], rows: distinct ? distinctRows(rows) : rows };
}

/** Distinct values of some columns, as rows. */
export function distinctOf(rel: Relation, vars: string[]): Row[] {
  return project(rel, vars, true).rows;
}

/** Natural hash join on shared column names. Output columns: left's, then right's new ones. */
export function join(left: Relation, right: Relation): Relation {
  const shared = left.vars.filter((v) => right.vars.includes(v));
  const extra = right.vars.filter((v) => !left.vars.includes(v));
  const extraIdx = extra.map((v) => right.vars.indexOf(v));
  const vars = [...left.vars, ...extra];
  if (left.rows.length === 0 || right.rows.length === 0) return { vars, rows: [] };
  const rows: Row[] = [];
  if (shared.length === 0) {
    for (const l of left.rows) for (const r of right.rows) rows.push(l.concat(extraIdx.map((i) => r[i])));
    return { vars, rows };
  }
  const li = shared.map((v) => left.vars.indexOf(v));
  const ri = shared.map((v) => right.vars.indexOf(v));
  // build on the smaller side
  if (right.rows.length <= left.rows.length) {
    const table = new Map<string, Row[]>();
    for (const r of right.rows) {
      const k = tupleKey(ri.map((i) => r[i]));
      let b = table.get(k);
      if (!b) table.set(k, (b = []));
      b.push(r);
    }
    for (const l of left.rows) {
      const b = table.get(tupleKey(li.map((i) => l[i])));
      if (b) for (const r of b) rows.push(l.concat(extraIdx.map((i) => r[i])));
    }
  } else {
    const table = new Map<string, Row[]>();
    for (const l of left.rows) {
      const k = tupleKey(li.map((i) => l[i]));
      let b = table.get(k);
      if (!b) table.set(k, (b = []));
      b.push(l);
    }
    for (const r of right.rows) {
      const b = table.get(tupleKey(ri.map((i) => r[i])));
      if (b) {
        const tail = extraIdx.map((i) => r[i]);
        for (const l of b) rows.push(l.concat(tail));
      }
    }
  }
  return { vars, rows };
}

/** Rows of left with no match in right on the shared columns. */
export function antiJoin(left: Relation, right: Relation): Relation {
  const shared = left.vars.filter((v) => right.vars.includes(v));
  if (right.rows.length === 0) return left;
  if (shared.length === 0) return { vars: left.vars, rows: [] };
  const li = shared.map((v) => left.vars.indexOf(v));
  const ri = shared.map((v) => right.vars.indexOf(v));
  const keys = new Set(right.rows.map((r) => tupleKey(ri.map((i) => r[i]))));
  return { vars: left.vars, rows: left.rows.filter((l) => !keys.has(tupleKey(li.map((i) => l[i])))) };
}

/** Union of relations with the same column set (possibly in different order), distinct. */
export function union(vars: string[], rels: Relation[]): Relation {
  const rows: Row[] = [];
  for (const r of rels) rows.push(...project(r, vars, false).rows);
  return { vars, rows: distinctRows(rows) };
}
