// Relations (named columns + rows) and the relational operators the engine needs: hash join,
// anti-join, projection, union, distinct. Hash keys come from `joinKey` (numbers stay numbers) for
// one column and `tupleKey` strings for several.
import { joinKey, tupleKey } from './values.js';
import { tick, growing } from './budget.js';

export type Row = unknown[];

export interface Relation {
  vars: string[];
  rows: Row[];
  /** True when the rows are known to be pairwise distinct (a set): lets projections skip dedup. */
  distinct?: boolean;
}

/** The relation with no columns and one row: the identity for joins. */
export function unitRelation(): Relation {
  return { vars: [], rows: [[]], distinct: true };
}

export function isUnit(rel: Relation): boolean {
  return rel.vars.length === 0 && rel.rows.length === 1;
}

export function emptyRelation(vars: string[]): Relation {
  return { vars, rows: [], distinct: true };
}

export function colIndex(rel: Relation, v: string): number {
  return rel.vars.indexOf(v);
}

/** A hash key for the columns `idx` of a row. */
export function keyOf(row: Row, idx: readonly number[]): unknown {
  if (idx.length === 1) return joinKey(row[idx[0]!]);
  let out = '';
  for (const i of idx) {
    const k = row[i];
    const s = typeof k === 'number' ? 'n' + (k === 0 ? 0 : k) : tupleKey([k]);
    out += s.length + ':' + s;
  }
  return out;
}

export function distinctRows(rows: Row[]): Row[] {
  if (rows.length <= 1) return rows;
  const seen = new Set<unknown>();
  const out: Row[] = [];
  const width = rows[0]!.length;
  const all = Array.from({ length: width }, (_, i) => i);
  for (const r of rows) {
    tick();
    const k = width === 1 ? joinKey(r[0]) : width === 0 ? '' : keyOf(r, all);
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
  const identity = idx.length === rel.vars.length && idx.every((i, k) => i === k);
  if (identity && (!distinct || rel.distinct)) return { vars: [...vars], rows: rel.rows, distinct: rel.distinct };
  // a permutation of all columns of a set is still a set; so is dropping columns that hold one value
  const kept = new Set(idx);
  const permutation = !!rel.distinct && (kept.size === rel.vars.length || droppedAreConstant(rel, kept));
  let rows: Row[];
  if (identity) rows = rel.rows;
  else rows = pickColumns(rel.rows, idx);
  if (!distinct) return { vars: [...vars], rows, distinct: permutation };
  return { vars: [...vars], rows: permutation ? rows : distinctRows(rows), distinct: true };
}

/** The given columns of each row, in that order (the common widths without a callback per row). */
function pickColumns(rows: Row[], idx: number[]): Row[] {
  const out: Row[] = new Array(rows.length);
  if (idx.length === 1) {
    const i0 = idx[0]!;
    for (let k = 0; k < rows.length; k++) {
      tick();
      out[k] = [rows[k]![i0]];
    }
  } else if (idx.length === 2) {
    const [i0, i1] = idx as [number, number];
    for (let k = 0; k < rows.length; k++) {
      tick();
      const r = rows[k]!;
      out[k] = [r[i0], r[i1]];
    }
  } else {
    const n = idx.length;
    for (let k = 0; k < rows.length; k++) {
      tick();
      const r = rows[k]!;
      const picked: Row = new Array(n);
      for (let j = 0; j < n; j++) picked[j] = r[idx[j]!];
      out[k] = picked;
    }
  }
  return out;
}

function droppedAreConstant(rel: Relation, kept: Set<number>): boolean {
  const rows = rel.rows;
  if (rows.length <= 1) return true;
  const first = rows[0]!;
  for (let i = 0; i < rel.vars.length; i++) {
    if (kept.has(i)) continue;
    const x = first[i];
    if (typeof x !== 'number' && typeof x !== 'string' && typeof x !== 'boolean' && typeof x !== 'object') return false;
    for (let k = 1; k < rows.length; k++) if (rows[k]![i] !== x) return false;
  }
  return true;
}

/** Distinct values of some columns, as rows. */
export function distinctOf(rel: Relation, vars: string[]): Row[] {
  return project(rel, vars, true).rows;
}

/** Natural hash join on shared column names. Output columns: left's, then right's new ones. */
export function join(left: Relation, right: Relation): Relation {
  const distinct = !!(left.distinct && right.distinct);
  if (isUnit(left)) return { vars: right.vars, rows: right.rows, distinct: right.distinct };
  if (isUnit(right)) return left;
  const shared = left.vars.filter((v) => right.vars.includes(v));
  const extra = right.vars.filter((v) => !left.vars.includes(v));
  const extraIdx = extra.map((v) => right.vars.indexOf(v));
  const vars = [...left.vars, ...extra];
  if (left.rows.length === 0 || right.rows.length === 0) return { vars, rows: [], distinct: true };
  const rows: Row[] = [];
  const width = vars.length;
  const tailOf = (r: Row): Row => extraIdx.map((i) => r[i]);
  if (shared.length === 0) {
    // a cross product's size is known before any row is made
    growing(left.rows.length * right.rows.length, width);
    for (const l of left.rows) {
      for (const r of right.rows) {
        growing(rows.length, width);
        rows.push(l.concat(tailOf(r)));
      }
    }
    return { vars, rows, distinct };
  }
  const li = shared.map((v) => left.vars.indexOf(v));
  const ri = shared.map((v) => right.vars.indexOf(v));
  // build on the smaller side
  if (right.rows.length <= left.rows.length) {
    const table = new Map<unknown, Row[]>();
    for (const r of right.rows) {
      tick();
      const k = keyOf(r, ri);
      let b = table.get(k);
      if (!b) table.set(k, (b = []));
      b.push(extraIdx.length ? tailOf(r) : r);
    }
    for (const l of left.rows) {
      tick();
      const b = table.get(keyOf(l, li));
      if (!b) continue;
      if (extraIdx.length === 0) rows.push(l);
      else {
        for (const t of b) {
          growing(rows.length, width);
          rows.push(l.concat(t));
        }
      }
    }
  } else {
    const table = new Map<unknown, Row[]>();
    for (const l of left.rows) {
      tick();
      const k = keyOf(l, li);
      let b = table.get(k);
      if (!b) table.set(k, (b = []));
      b.push(l);
    }
    for (const r of right.rows) {
      tick();
      const b = table.get(keyOf(r, ri));
      if (b) {
        const tail = tailOf(r);
        for (const l of b) {
          growing(rows.length, width);
          rows.push(l.concat(tail));
        }
      }
    }
  }
  return { vars, rows, distinct };
}

/** Rows of left with no match in right on the shared columns. */
export function antiJoin(left: Relation, right: Relation): Relation {
  const shared = left.vars.filter((v) => right.vars.includes(v));
  if (right.rows.length === 0) return left;
  if (shared.length === 0) return { vars: left.vars, rows: [], distinct: true };
  const li = shared.map((v) => left.vars.indexOf(v));
  const ri = shared.map((v) => right.vars.indexOf(v));
  const keys = new Set<unknown>();
  for (const r of right.rows) {
    tick();
    keys.add(keyOf(r, ri));
  }
  const rows = left.rows.filter((l) => {
    tick();
    return !keys.has(keyOf(l, li));
  });
  return { vars: left.vars, rows, distinct: left.distinct };
}

/** Union of relations with the same column set (possibly in different order), distinct. */
export function union(vars: string[], rels: Relation[]): Relation {
  const rows: Row[] = [];
  for (const r of rels) {
    for (const row of project(r, vars, false).rows) {
      growing(rows.length, vars.length);
      rows.push(row);
    }
  }
  return { vars, rows: distinctRows(rows), distinct: true };
}
