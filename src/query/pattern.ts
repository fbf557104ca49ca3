// Data patterns: resolving constants, choosing the covering index, probing vs scanning, estimating.
import type { PatternClause, Term } from '../../query-lang/datalog/ast.js';
import type { DbView, Datom, AttrInfo, IndexName } from '../db/api.js';
import { Keyword } from '../../query-lang/edn/types.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import { type Relation, type Row, join, distinctOf } from './relation.js';
import { valueKey, compareValues } from './values.js';
import { queryError } from './errors.js';
import { printClause } from './print.js';

/** Bounds on the value of a pattern, pushed into one AVET range scan. */
export interface RangeBounds {
  start?: { value: unknown; inclusive: boolean };
  end?: { value: unknown; inclusive: boolean };
}

/** Known components of a lookup; undefined = unconstrained. */
interface Components {
  e?: number;
  a?: number;
  v?: unknown;
  tx?: number;
  added?: boolean;
}

const POS = ['e', 'a', 'v', 'tx', 'added'] as const;

export function getSource(ctx: QueryContext, src: { name: string } | undefined, form: { pos?: unknown } & object): unknown {
  const name = src?.name ?? '$';
  if (!ctx.sources.has(name)) {
    throw queryError('query/missing-source', `No source ${name} bound in :in`, form as never, name);
  }
  return ctx.sources.get(name);
}

export function resolveAttr(ctx: QueryContext, db: DbView, ref: unknown): AttrInfo | null {
  let cache = ctx.attrCache.get(db);
  if (!cache) ctx.attrCache.set(db, (cache = new Map()));
  const key = ref instanceof Keyword || typeof ref === 'number' || typeof ref === 'string' ? ref : valueKey(ref);
  let info = cache.get(key);
  if (info === undefined) {
    info = (typeof ref === 'number' || ref instanceof Keyword || typeof ref === 'string' ? db.attr(ref) : undefined) ?? null;
    cache.set(key, info);
  }
  return info;
}

/** Entity position value -> id; null when it names nothing. */
export function resolveEntity(db: DbView, v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (v instanceof Keyword || Array.isArray(v) || typeof v === 'bigint') return db.entid(v);
  return null;
}

/** Value position: keywords / lookup refs on ref attributes name entities (Datomic semantics). */
function resolveValue(db: DbView, attr: AttrInfo | null | undefined, v: unknown): { ok: boolean; v: unknown } {
  if (attr && attr.valueType === 'ref' && typeof v !== 'number') {
    const id = resolveEntity(db, v);
    return id === null ? { ok: false, v } : { ok: true, v: id };
  }
  return { ok: true, v };
}

function resolveTx(db: DbView, v: unknown): number | null {
  if (typeof v === 'number') return v;
  return resolveEntity(db, v);
}

interface Resolved {
  /** false when some constant names nothing: the pattern matches no datom. */
  ok: boolean;
  comps: Components;
  attr: AttrInfo | null | undefined;
}

function resolveConsts(ctx: QueryContext, db: DbView, c: PatternClause): Resolved {
  let perDb = ctx.patternCache.get(c);
  if (!perDb) ctx.patternCache.set(c, (perDb = new Map()));
  const hit = perDb.get(db) as Resolved | undefined;
  if (hit) return hit;
  const comps: Components = {};
  let ok = true;
  let attr: AttrInfo | null | undefined;
  const t = c.terms;
  if (t[1]?.kind === 'const') {
    attr = resolveAttr(ctx, db, t[1].value);
    if (!attr) ok = false;
    else comps.a = attr.id;
  }
  if (t[0]?.kind === 'const') {
    const id = resolveEntity(db, t[0].value);
    if (id === null) ok = false;
    else comps.e = id;
  }
  if (t[2]?.kind === 'const') {
    const r = resolveValue(db, attr, t[2].value);
    if (!r.ok) ok = false;
    else comps.v = r.v;
  }
  if (t[3]?.kind === 'const') {
    const id = resolveTx(db, t[3].value);
    if (id === null) ok = false;
    else comps.tx = id;
  }
  if (t[4]?.kind === 'const') comps.added = Boolean(t[4].value);
  const r = { ok, comps, attr };
  perDb.set(db, r);
  return r;
}

function* concatIter<T>(...its: Iterable<T>[]): Iterable<T> {
  for (const it of its) yield* it;
}

/** Picks the covering index for the known components. */
export function chooseIndex(comps: Components, range: RangeBounds | null): string {
  if (comps.e !== undefined) return 'eavt';
  if (comps.a !== undefined) return comps.v !== undefined ? 'avet' : range ? 'avet-range' : 'aevt';
  if (comps.v !== undefined) return 'vaet';
  return 'eavt';
}

function lookup(db: DbView, comps: Components, range: RangeBounds | null): Iterable<Datom> {
  const { e, a, v } = comps;
  if (e !== undefined) {
    if (a !== undefined) return v !== undefined ? db.datoms('eavt', e, a, v) : db.datoms('eavt', e, a);
    return db.datoms('eavt', e);
  }
  if (a !== undefined) {
    if (v !== undefined) return db.datoms('avet', a, v);
    if (range) {
      const scan = db.indexRange(a, range.start?.value, range.end?.value);
      return range.end?.inclusive ? concatIter(scan, db.datoms('avet', a, range.end.value)) : scan;
    }
    return db.datoms('aevt', a);
  }
  if (v !== undefined) {
    // value known, attribute not: refs through VAET, other attributes through AVET per attribute
    const parts: Iterable<Datom>[] = [];
    if (typeof v === 'number') parts.push(db.datoms('vaet', v));
    for (const info of db.attrs()) if (info.valueType !== 'ref') parts.push(db.datoms('avet', info.id, v));
    return concatIter(...parts);
  }
  return db.datoms('eavt');
}

function matches(d: Datom, comps: Components, vKey: string | undefined, range: RangeBounds | null): boolean {
  if (comps.e !== undefined && d.e !== comps.e) return false;
  if (comps.a !== undefined && d.a !== comps.a) return false;
  if (vKey !== undefined && valueKey(d.v) !== vKey) return false;
  if (comps.tx !== undefined && d.tx !== comps.tx) return false;
  if (comps.added !== undefined && d.added !== comps.added) return false;
  if (range) {
    if (range.start) {
      const c = compareValues(d.v, range.start.value);
      if (c < 0 || (c === 0 && !range.start.inclusive)) return false;
    }
    if (range.end) {
      const c = compareValues(d.v, range.end.value);
      if (c > 0 || (c === 0 && !range.end.inclusive)) return false;
    }
  }
  return true;
}

function datomField(d: Datom, i: number): unknown {
  switch (i) {
    case 0:
      return d.e;
    case 1:
      return d.a;
    case 2:
      return d.v;
    case 3:
      return d.tx;
    default:
      return d.added;
  }
}

/** Positions of each pattern variable; a variable repeated in the pattern must match itself. */
function varPositions(terms: Term[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  terms.forEach((t, i) => {
    if (t.kind === 'var') {
      const ps = m.get(t.name) ?? [];
      ps.push(i);
      m.set(t.name, ps);
    }
  });
  return m;
}

export interface PatternResult {
  rel: Relation;
  index: string;
  strategy: 'scan' | 'probe' | 'none';
  datomsRead: number;
}

/** Bind a bound variable's value into the lookup components. false = names nothing. */
function bindComponent(ctx: QueryContext, db: DbView, comps: Components, attr: AttrInfo | null | undefined, pos: number, value: unknown): boolean {
  switch (pos) {
    case 0: {
      const id = resolveEntity(db, value);
      if (id === null || (comps.e !== undefined && comps.e !== id)) return false;
      comps.e = id;
      return true;
    }
    case 1: {
      const info = resolveAttr(ctx, db, value);
      if (!info || (comps.a !== undefined && comps.a !== info.id)) return false;
      comps.a = info.id;
      return true;
    }
    case 2: {
      const r = resolveValue(db, attr, value);
      if (!r.ok) return false;
      if (comps.v !== undefined && valueKey(comps.v) !== valueKey(r.v)) return false;
      comps.v = r.v;
      return true;
    }
    case 3: {
      const id = resolveTx(db, value);
      if (id === null || (comps.tx !== undefined && comps.tx !== id)) return false;
      comps.tx = id;
      return true;
    }
    default:
      comps.added = Boolean(value);
      return true;
  }
}

export function evalPattern(ctx: QueryContext, c: PatternClause, rel: Relation, range: RangeBounds | null): PatternResult {
  if (c.terms.length < 1 || c.terms.length > 5) {
    throw queryError('query/invalid-pattern', 'A data pattern has 1 to 5 terms', c, printClause(c));
  }
  const src = getSource(ctx, c.src, c);
  const positions = varPositions(c.terms);
  const boundVars = [...positions.keys()].filter((v) => rel.vars.includes(v));
  const freeVars = [...positions.keys()].filter((v) => !rel.vars.includes(v));
  const outVars = [...boundVars, ...freeVars];
  if (!isDb(src)) return evalCollectionPattern(c, src, rel, positions, boundVars, freeVars);
  const db = src;
  const res = resolveConsts(ctx, db, c);
  if (!res.ok) return { rel: { vars: [...rel.vars, ...freeVars], rows: [] }, index: chooseIndex(res.comps, range), strategy: 'none', datomsRead: 0 };

  let datomsRead = 0;
  const emit = (rows: Row[], prefix: Row, comps: Components) => {
    const vKey = comps.v !== undefined ? valueKey(comps.v) : undefined;
    outer: for (const d of lookup(db, comps, range)) {
      datomsRead++;
      if (!matches(d, comps, vKey, range)) continue;
      const row = prefix.slice();
      for (const v of freeVars) {
        const ps = positions.get(v)!;
        const val = datomField(d, ps[0]!);
        for (let k = 1; k < ps.length; k++) if (valueKey(datomField(d, ps[k]!)) !== valueKey(val)) continue outer;
        row.push(val);
      }
      // bound vars were fixed in comps (probe) or are checked below (scan)
      rows.push(row);
    }
  };

  if (boundVars.length === 0) {
    const rows: Row[] = [];
    emit(rows, [], res.comps);
    return { rel: join(rel, { vars: freeVars, rows }), index: chooseIndex(res.comps, range), strategy: 'scan', datomsRead };
  }

  const keys = distinctOf(rel, boundVars);
  const scanEstimate = estimateComponents(db, res.comps, range);
  if (keys.length <= scanEstimate) {
    // probe: one index lookup per distinct bound combination
    const rows: Row[] = [];
    let index = chooseIndex(res.comps, range);
    let first = true;
    for (const k of keys) {
      const comps: Components = { ...res.comps };
      let ok = true;
      boundVars.forEach((v, i) => {
        for (const p of positions.get(v)!) if (ok) ok = bindComponent(ctx, db, comps, res.attr, p, k[i]);
      });
      if (!ok) continue;
      if (first) {
        index = chooseIndex(comps, range);
        first = false;
      }
      emit(rows, k, comps);
    }
    return { rel: join(rel, { vars: outVars, rows }), index, strategy: 'probe', datomsRead };
  }
  // scan with constants only, then hash join on the bound variables
  const rows: Row[] = [];
  const all = [...boundVars, ...freeVars];
  const vKey = res.comps.v !== undefined ? valueKey(res.comps.v) : undefined;
  outer: for (const d of lookup(db, res.comps, range)) {
    datomsRead++;
    if (!matches(d, res.comps, vKey, range)) continue;
    const row: Row = [];
    for (const v of all) {
      const ps = positions.get(v)!;
      const val = datomField(d, ps[0]!);
      for (let k = 1; k < ps.length; k++) if (valueKey(datomField(d, ps[k]!)) !== valueKey(val)) continue outer;
      row.push(val);
    }
    rows.push(row);
  }
  return { rel: join(rel, { vars: outVars, rows }), index: chooseIndex(res.comps, range), strategy: 'scan', datomsRead };
}

/** Patterns against a collection source (an array of tuples passed as `$x`). */
function evalCollectionPattern(c: PatternClause, src: unknown, rel: Relation, positions: Map<string, number[]>, boundVars: string[], freeVars: string[]): PatternResult {
  if (!src || typeof (src as Iterable<unknown>)[Symbol.iterator] !== 'function') {
    throw queryError('query/invalid-source', 'A source must be a database or a collection of tuples', c, printClause(c));
  }
  const rows: Row[] = [];
  const all = [...boundVars, ...freeVars];
  let read = 0;
  outer: for (const tuple of src as Iterable<unknown>) {
    read++;
    if (!Array.isArray(tuple)) continue;
    for (let i = 0; i < c.terms.length; i++) {
      const t = c.terms[i]!;
      if (t.kind === 'const' && valueKey(tuple[i]) !== valueKey(t.value)) continue outer;
    }
    const row: Row = [];
    for (const v of all) {
      const ps = positions.get(v)!;
      const val = tuple[ps[0]!];
      for (let k = 1; k < ps.length; k++) if (valueKey(tuple[ps[k]!]) !== valueKey(val)) continue outer;
      row.push(val);
    }
    rows.push(row);
  }
  return { rel: join(rel, { vars: all, rows }), index: 'collection', strategy: 'scan', datomsRead: read };
}

function estimateComponents(db: DbView, comps: Components, range: RangeBounds | null): number {
  const { e, a, v } = comps;
  let n: number;
  if (e !== undefined) n = a !== undefined ? db.estimateCount('eavt', e, a) : db.estimateCount('eavt', e);
  else if (a !== undefined) {
    if (v !== undefined) n = db.estimateCount('avet', a, v);
    else {
      n = db.estimateCount('aevt', a);
      if (range) n = Math.max(1, Math.ceil(n * (range.start && range.end ? 0.1 : 0.3)));
    }
  } else if (v !== undefined) n = typeof v === 'number' ? db.estimateCount('vaet', v) + 1 : 10;
  else n = db.estimateCount('eavt');
  return Math.max(0, n);
}

/**
 * Estimated output rows of a pattern given the bound variables and the current relation size.
 * Deterministic in (clause, bound set, relation size): clause order in the query never matters.
 */
export function estimatePattern(ctx: QueryContext, c: PatternClause, bound: Set<string>, relSize: number, range: RangeBounds | null): { rows: number; index: string } {
  const src = ctx.sources.get(c.src?.name ?? '$');
  const vars = [...varPositions(c.terms).keys()];
  const boundHere = vars.filter((v) => bound.has(v));
  if (!isDb(src)) {
    const n = Array.isArray(src) ? src.length : 100;
    return { rows: boundHere.length ? Math.min(n, relSize) : n * Math.max(1, relSize), index: 'collection' };
  }
  const res = resolveConsts(ctx, src, c);
  if (!res.ok) return { rows: 0, index: chooseIndex(res.comps, range) };
  const s = estimateComponents(src, res.comps, range);
  if (boundHere.length === 0) return { rows: s * Math.max(1, relSize), index: chooseIndex(res.comps, range) };
  const has = (i: number) => c.terms[i]?.kind === 'var' && bound.has((c.terms[i] as { name: string }).name);
  const probeComps: Components = { ...res.comps };
  let perProbe: number;
  if (has(0) || res.comps.e !== undefined) {
    probeComps.e = 0;
    perProbe = res.comps.a !== undefined || has(1) ? (res.attr?.cardinality === 'many' ? 3 : 1) : 10;
  } else if (has(2)) {
    probeComps.v = 0;
    perProbe = res.attr?.unique ? 1 : Math.max(1, Math.sqrt(s));
  } else if (has(1)) {
    probeComps.a = 0;
    perProbe = Math.max(1, s / 10);
  } else perProbe = s;
  return { rows: Math.min(s, Math.ceil(relSize * perProbe)), index: chooseIndex(probeComps, range) };
}

export { POS };
export type { IndexName };
