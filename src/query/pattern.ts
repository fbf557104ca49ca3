// Data patterns: resolving constants, choosing the covering index, probing vs scanning, estimating.
import type { Clause, PatternClause, Term } from '../../query-lang/datalog/ast.js';
import type { DbView, AttrInfo, DatomVisitor, EntityColumn, IndexName, Served } from '../db/api.js';
import { Keyword } from '../../query-lang/edn/types.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import { type Relation, type Row, join } from './relation.js';
import { valueKey, compareValues, joinKey, tupleKey } from './values.js';
import { tick, growing } from './budget.js';
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
  /** Datoms matching the constants alone (no range), once computed. */
  scanEstimate?: number;
  /** Datoms of the pattern's attribute, once computed. */
  attrCount?: number;
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

/** Picks the covering index for the known components. */
export function chooseIndex(comps: Components, range: RangeBounds | null): string {
  if (comps.e !== undefined) return 'eavt';
  if (comps.a !== undefined) return comps.v !== undefined ? 'avet' : range ? 'avet-range' : 'aevt';
  if (comps.v !== undefined) return 'vaet';
  return 'eavt';
}

/** Numbers compare directly (NaN by the query value order); everything else by the query value order. */
function cmp(a: unknown, b: unknown): number {
  return typeof a === 'number' && typeof b === 'number' ? (a < b ? -1 : a > b ? 1 : a === b ? 0 : compareValues(a, b)) : compareValues(a, b);
}

/**
 * Visit every datom matching the components (and range) once. The index prefix guarantees e / a / v;
 * tx, added and the range bounds are checked here, so callers get exact matches. Returns how many
 * datoms were read, and whether an attribute column in memory served them.
 */
function scanComps(db: DbView, comps: Components, range: RangeBounds | null, visit: DatomVisitor): { read: number; fromColumn: boolean } {
  const { e, a, v, tx, added } = comps;
  let read = 0;
  let fromColumn = false;
  const note = (served: Served) => void (fromColumn ||= served === 'column');
  let out: DatomVisitor = visit;
  if (tx !== undefined || added !== undefined) {
    const inner = out;
    out = (de, da, dv, dtx, dadded) => {
      if (tx !== undefined && dtx !== tx) return;
      if (added !== undefined && dadded !== added) return;
      inner(de, da, dv, dtx, dadded);
    };
  }
  if (range) {
    const inner = out;
    const lo = range.start;
    const hi = range.end;
    out = (de, da, dv, dtx, dadded) => {
      if (lo) {
        const c = cmp(dv, lo.value);
        if (c < 0 || (c === 0 && !lo.inclusive)) return;
      }
      if (hi) {
        const c = cmp(dv, hi.value);
        if (c > 0 || (c === 0 && !hi.inclusive)) return;
      }
      inner(de, da, dv, dtx, dadded);
    };
  }
  const counted: DatomVisitor = (de, da, dv, dtx, dadded) => {
    read++;
    tick();
    out(de, da, dv, dtx, dadded);
  };
  if (e !== undefined) {
    if (a !== undefined) note(db.visitDatoms('eavt', v !== undefined ? [e, a, v] : [e, a], counted));
    else if (v !== undefined) note(db.visitDatoms('eavt', [e], valueFilter(v, counted)));
    else note(db.visitDatoms('eavt', [e], counted));
  } else if (a !== undefined) {
    if (v !== undefined) note(isBytes(db, a) ? db.visitDatoms('aevt', [a], valueFilter(v, counted)) : db.visitDatoms('avet', [a, v], counted));
    else if (range) {
      const hi = range.end;
      note(db.visitRange(a, range.start?.value, hi?.value, hi?.inclusive ?? false, counted));
    } else note(db.visitDatoms('aevt', [a], counted));
  } else if (v !== undefined) {
    // value known, attribute not: refs through VAET, other attributes through AVET per attribute
    if (typeof v === 'number') note(db.visitDatoms('vaet', [v], counted));
    for (const info of db.attrs()) {
      if (info.valueType === 'bytes') {
        if (v instanceof Uint8Array) note(db.visitDatoms('aevt', [info.id], valueFilter(v, counted)));
      } else if (info.valueType !== 'ref') note(db.visitDatoms('avet', [info.id, v], counted));
    }
  } else note(db.visitDatoms('eavt', [], counted));
  return { read, fromColumn };
}

/** Bytes values are not in AVET (db.ts): a bound one is found in the attribute's AEVT datoms. */
function isBytes(db: DbView, a: number): boolean {
  return db.attr(a)?.valueType === 'bytes';
}

/**
 * Passes on the datoms whose value is v, for a scan whose prefix does not hold the value (the entity
 * known, the attribute not). As when only the value is known, v is compared as it is: an ident or a
 * lookup ref names an entity only where the attribute is known to be a ref.
 */
function valueFilter(v: unknown, visit: DatomVisitor): DatomVisitor {
  const wanted = valueKey(v);
  return (de, da, dv, dtx, dadded) => {
    if (valueKey(dv) === wanted) visit(de, da, dv, dtx, dadded);
  };
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
  strategy: 'scan' | 'probe' | 'column' | 'none';
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

/**
 * The value a bound variable must have in datom position `pos`, normalised as the datom carries it:
 * entity positions (e, tx, and v of a ref attribute) resolve idents and lookup refs to ids, the
 * attribute position to the attribute id. undefined = names nothing.
 */
function datomSideValue(ctx: QueryContext, db: DbView, attr: AttrInfo | null | undefined, pos: number, value: unknown): unknown {
  switch (pos) {
    case 0:
    case 3:
      return typeof value === 'number' ? value : (resolveEntity(db, value) ?? undefined);
    case 1:
      return typeof value === 'number' ? value : (resolveAttr(ctx, db, value)?.id ?? undefined);
    case 2: {
      const r = resolveValue(db, attr, value);
      return r.ok ? r.v : undefined;
    }
    default:
      return Boolean(value);
  }
}

/** Probe cost of one index lookup, in datoms read by a scan (lookup setup dominates small probes). */
export const PROBE_COST = 12;
/**
 * The same against a scan of the attribute's column held in memory: reading a datom there costs
 * ~0.1 µs, an LMDB lookup 13-25 µs (1,000 salary probes took 21-28 ms, the column scan of all
 * 20,000 salaries 2 ms).
 */
const PROBE_COST_OVER_COLUMN = 100;

/** What one probe costs in datoms of the scan that would replace it. */
function probeCost(db: DbView, res: Resolved): number {
  const a = res.comps.a;
  return typeof a === 'number' && db.column(a, 0) !== null ? PROBE_COST_OVER_COLUMN : PROBE_COST;
}

/** Are the rows of this pattern pairwise distinct? (every component of a datom's identity is kept or fixed) */
function patternDistinct(c: PatternClause, db: DbView): boolean {
  const n = db.isHistory ? 5 : 3;
  for (let i = 0; i < n; i++) {
    const t = c.terms[i];
    if (!t || t.kind === 'blank') return false;
  }
  return true;
}

/** Estimated datoms matching the constant components (cached per clause and db for this query). */
function scanEstimateOf(db: DbView, res: Resolved, range: RangeBounds | null): number {
  if (!range) {
    if (res.scanEstimate === undefined) res.scanEstimate = estimateComponents(db, res.comps, null);
    return res.scanEstimate;
  }
  return estimateComponents(db, res.comps, range);
}

export function evalPattern(ctx: QueryContext, c: PatternClause, rel: Relation, range: RangeBounds | null): PatternResult {
  if (c.terms.length < 1 || c.terms.length > 5) {
    throw queryError('query/invalid-pattern', 'A data pattern has 1 to 5 terms', c, printClause(c));
  }
  const src = getSource(ctx, c.src, c);
  const positions = varPositions(c.terms);
  const boundVars = [...positions.keys()].filter((v) => rel.vars.includes(v));
  const freeVars = [...positions.keys()].filter((v) => !rel.vars.includes(v));
  if (!isDb(src)) return evalCollectionPattern(c, src, rel, positions, boundVars, freeVars);
  const db = src;
  const res = resolveConsts(ctx, db, c);
  const outVars = [...rel.vars, ...freeVars];
  if (!res.ok) return { rel: { vars: outVars, rows: [], distinct: true }, index: chooseIndex(res.comps, range), strategy: 'none', datomsRead: 0 };
  const distinct = patternDistinct(c, db);

  // where each free variable is read from a datom; repeated positions must agree
  const freePos = freeVars.map((v) => positions.get(v)![0]!);
  const eqChecks: [number, number][] = [];
  for (const ps of positions.values()) for (let k = 1; k < ps.length; k++) eqChecks.push([ps[0]!, ps[k]!]);
  const field = (i: number, e: number, a: number, v: unknown, tx: number, added: boolean): unknown => (i === 0 ? e : i === 1 ? a : i === 2 ? v : i === 3 ? tx : added);
  const consistent = (e: number, a: number, v: unknown, tx: number, added: boolean): boolean => {
    for (const [i, j] of eqChecks) if (valueKey(field(i, e, a, v, tx, added)) !== valueKey(field(j, e, a, v, tx, added))) return false;
    return true;
  };
  const hasEq = eqChecks.length > 0;
  const nFree = freePos.length;
  const f0 = freePos[0] ?? -1;
  const f1 = freePos[1] ?? -1;
  /** The free variables' values of one datom, as a row tail. */
  const tail = (e: number, a: number, v: unknown, tx: number, added: boolean): Row => {
    if (nFree === 1) return [field(f0, e, a, v, tx, added)];
    if (nFree === 2) return [field(f0, e, a, v, tx, added), field(f1, e, a, v, tx, added)];
    const out: Row = new Array(nFree);
    for (let k = 0; k < nFree; k++) out[k] = field(freePos[k]!, e, a, v, tx, added);
    return out;
  };

  if (boundVars.length === 0) {
    const rows: Row[] = [];
    let visit: DatomVisitor;
    if (nFree === 1 && f0 === 0 && !hasEq) visit = (e) => void rows.push([e]);
    else if (nFree === 0) visit = (e, a, v, tx, added) => void (!hasEq || consistent(e, a, v, tx, added) ? rows.push([]) : 0);
    else visit = (e, a, v, tx, added) => void (!hasEq || consistent(e, a, v, tx, added) ? rows.push(tail(e, a, v, tx, added)) : 0);
    const { read: datomsRead, fromColumn } = scanComps(db, res.comps, range, visit);
    const strategy = fromColumn ? 'column' : 'scan';
    const right: Relation = { vars: freeVars, rows: nFree === 0 ? rows.slice(0, 1) : rows, distinct: distinct || nFree === 0 };
    if (rel.rows.length === 1 && rel.vars.length > 0 && nFree > 0) {
      // one row of inputs (e.g. scalar :in values): extend the new rows in place, no join
      const l = rel.rows[0]!;
      for (const r of rows) for (const x of l) r.push(x);
      return { rel: { vars: [...freeVars, ...rel.vars], rows, distinct: right.distinct && rel.distinct }, index: chooseIndex(res.comps, range), strategy, datomsRead };
    }
    return { rel: join(rel, right), index: chooseIndex(res.comps, range), strategy, datomsRead };
  }

  const bIdx = boundVars.map((v) => rel.vars.indexOf(v));
  const bPos = boundVars.map((v) => positions.get(v)![0]!);
  const eBound = bPos.indexOf(0);
  const col = !hasEq && !range && eBound >= 0 ? entityColumn(db, res, rel.rows.length) : null;
  if (col) {
    // the entity is bound: one in-memory lookup per row in the attribute's column, no grouping;
    // the other bound variables (a value, a tx) are checked on the entity's datoms
    const rows: Row[] = [];
    const { es, vs, txs } = col;
    const vKey = res.comps.v === undefined ? undefined : joinKey(res.comps.v);
    const a = res.comps.a!;
    const eCol = bIdx[eBound]!;
    const checks = bPos.flatMap((p, k) => (k === eBound ? [] : [{ p, col: bIdx[k]! }]));
    const wanted: unknown[] = new Array(checks.length);
    let datomsRead = 0;
    rowLoop: for (const row of rel.rows) {
      tick();
      const x = row[eCol];
      const e = typeof x === 'number' ? x : resolveEntity(db, x);
      if (e === null) continue;
      for (let k = 0; k < checks.length; k++) {
        const w = datomSideValue(ctx, db, res.attr, checks[k]!.p, row[checks[k]!.col]);
        if (w === undefined) continue rowLoop;
        wanted[k] = joinKey(w);
      }
      for (let i = col.slotOf(e); i >= 0 && i < es.length && es[i] === e; i++) {
        datomsRead++;
        const v = vs[i];
        if (vKey !== undefined && joinKey(v) !== vKey) continue;
        if (checks.length && !checks.every((ch, k) => joinKey(field(ch.p, e, a, v, txs[i]!, true)) === wanted[k])) continue;
        if (nFree === 0) {
          rows.push(row); // no new variables: a semi-join, each row passes once
          break;
        }
        growing(rows.length, outVars.length);
        const out = row.slice();
        if (nFree === 1) out.push(field(f0, e, a, v, txs[i]!, true));
        else for (const x of tail(e, a, v, txs[i]!, true)) out.push(x);
        rows.push(out);
      }
    }
    return { rel: { vars: outVars, rows, distinct: (!!rel.distinct && distinct) || (!nFree && !!rel.distinct) }, index: 'aevt', strategy: 'column', datomsRead };
  }
  // group the relation's rows by the datom-side values of the bound variables
  const groups = new Map<unknown, { vals: unknown[]; rows: Row[] }>();
  const single = boundVars.length === 1;
  for (const row of rel.rows) {
    tick();
    const vals: unknown[] = [];
    let ok = true;
    for (let k = 0; k < bIdx.length; k++) {
      const x = datomSideValue(ctx, db, res.attr, bPos[k]!, row[bIdx[k]!]);
      if (x === undefined) {
        ok = false;
        break;
      }
      vals.push(x);
    }
    if (!ok) continue;
    const key = single ? joinKey(vals[0]) : tupleKey(vals);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { vals, rows: [] }));
    g.rows.push(row);
  }
  const emitTo = (out: Row[], g: { rows: Row[] }, t: Row | null) => {
    growing(out.length + g.rows.length, outVars.length);
    if (t === null) for (const r of g.rows) out.push(r);
    else for (const r of g.rows) out.push(r.concat(t));
  };
  const outDistinct = !!rel.distinct && distinct;
  const scanEstimate = scanEstimateOf(db, res, range);
  if (groups.size * probeCost(db, res) <= scanEstimate) {
    // probe: one index lookup per distinct bound combination
    const rows: Row[] = [];
    let index = chooseIndex(res.comps, range);
    let first = true;
    let datomsRead = 0;
    let fromColumn = false;
    for (const g of groups.values()) {
      const comps: Components = { ...res.comps };
      let ok = true;
      for (let k = 0; k < bPos.length && ok; k++) {
        for (const p of positions.get(boundVars[k]!)!) if (ok) ok = bindComponent(ctx, db, comps, res.attr, p, g.vals[k]);
      }
      if (!ok) continue;
      if (first) {
        index = chooseIndex(comps, range);
        first = false;
      }
      let hit = false;
      const scanned = scanComps(db, comps, range, (e, a, v, tx, added) => {
        if (hasEq && !consistent(e, a, v, tx, added)) return;
        if (nFree) emitTo(rows, g, tail(e, a, v, tx, added));
        else hit = true;
      });
      datomsRead += scanned.read;
      fromColumn ||= scanned.fromColumn;
      // no new variables: a semi-join, each group passes once
      if (hit) emitTo(rows, g, null);
    }
    return { rel: { vars: outVars, rows, distinct: outDistinct || (!nFree && !!rel.distinct) }, index, strategy: fromColumn ? 'column' : 'probe', datomsRead };
  }
  // scan the constants' index range once; look each datom's bound positions up in the groups
  const rows: Row[] = [];
  const seen = nFree ? null : new Set<unknown>();
  const p0 = bPos[0]!;
  const { read: datomsRead, fromColumn } = scanComps(db, res.comps, range, (e, a, v, tx, added) => {
    if (hasEq && !consistent(e, a, v, tx, added)) return;
    let key: unknown;
    if (single) key = p0 === 0 ? e : joinKey(field(p0, e, a, v, tx, added));
    else key = tupleKey(bPos.map((p) => field(p, e, a, v, tx, added)));
    const g = groups.get(key);
    if (!g) return;
    if (seen) {
      // no new variables: a semi-join, each group passes once
      if (seen.has(key)) return;
      seen.add(key);
    }
    emitTo(rows, g, nFree ? tail(e, a, v, tx, added) : null);
  });
  return {
    rel: { vars: outVars, rows, distinct: outDistinct || (!nFree && !!rel.distinct) },
    index: chooseIndex(res.comps, range),
    strategy: fromColumn ? 'column' : 'scan',
    datomsRead,
  };
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
    if (v !== undefined) n = isBytes(db, a) ? db.estimateCount('aevt', a) : db.estimateCount('avet', a, v);
    else {
      n = range ? db.estimateRange(a, range.start?.value, range.end?.value, range.end?.inclusive ?? false) : db.estimateCount('aevt', a);
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
  const s = scanEstimateOf(src, res, range);
  if (boundHere.length === 0) return { rows: s * Math.max(1, relSize), index: chooseIndex(res.comps, range) };
  const has = (i: number) => c.terms[i]?.kind === 'var' && bound.has((c.terms[i] as { name: string }).name);
  const probeComps: Components = { ...res.comps };
  let perProbe: number;
  if (has(0) || res.comps.e !== undefined) {
    probeComps.e = 0;
    perProbe = res.comps.a !== undefined || has(1) ? (res.attr?.cardinality === 'many' ? 3 : 1) : 10;
    if (res.comps.a !== undefined && res.comps.v !== undefined && res.comps.e === undefined) {
      // [?e :attr const] with ?e bound filters: the share of the attribute's datoms with that value
      if (res.attrCount === undefined) res.attrCount = src.estimateCount('aevt', res.comps.a);
      perProbe = res.attrCount > 0 ? Math.min(1, s / res.attrCount) : 0;
    }
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

/**
 * Several patterns `[?e :attr x]` on one bound entity variable, each of which would probe: one EAVT
 * lookup per entity reads all of its attributes in index order (instead of one lookup per pattern).
 * `x` may be a new variable, a constant (a filter) or `_`. Returns null when the batch does not apply.
 */
export function evalEntityBatch(ctx: QueryContext, members: PatternClause[], rel: Relation): PatternResult | null {
  if (members.length < 2) return null;
  const first = members[0]!;
  const src = getSource(ctx, first.src, first);
  if (!isDb(src)) return null;
  const db = src;
  const eVar = (first.terms[0] as { name: string }).name;
  const eCol = rel.vars.indexOf(eVar);
  const newVars: string[] = [];
  const specs: { attr: number; kind: 'var' | 'const' | 'blank'; key?: unknown; col: number }[] = [];
  for (const m of members) {
    const res = resolveConsts(ctx, db, m);
    const v = m.terms[2];
    if (!res.ok)
      return {
        rel: { vars: [...rel.vars, ...members.flatMap((x) => (x.terms[2]?.kind === 'var' ? [x.terms[2].name] : []))], rows: [], distinct: true },
        index: 'eavt',
        strategy: 'none',
        datomsRead: 0,
      };
    if (!v || v.kind === 'blank') specs.push({ attr: res.comps.a!, kind: 'blank', col: -1 });
    else if (v.kind === 'const') specs.push({ attr: res.comps.a!, kind: 'const', key: joinKey(res.comps.v), col: -1 });
    else {
      newVars.push(v.name);
      specs.push({ attr: res.comps.a!, kind: 'var', col: newVars.length - 1 });
    }
  }
  const byAttr = new Map<number, number[]>();
  specs.forEach((s, i) => {
    const l = byAttr.get(s.attr) ?? [];
    l.push(i);
    byAttr.set(s.attr, l);
  });
  const groups = new Map<number, Row[]>();
  for (const row of rel.rows) {
    tick();
    const x = row[eCol];
    const e = typeof x === 'number' ? x : resolveEntity(db, x);
    if (e === null) continue;
    let g = groups.get(e);
    if (!g) groups.set(e, (g = []));
    g.push(row);
  }
  const n = specs.length;
  const hits = new Array<boolean>(n);
  const vals: unknown[][] = newVars.map(() => []);
  const rows: Row[] = [];
  let datomsRead = 0;
  for (const [e, g] of groups) {
    tick();
    hits.fill(false);
    for (const l of vals) l.length = 0;
    db.visitDatoms('eavt', [e], (_e, a, v) => {
      datomsRead++;
      const idx = byAttr.get(a);
      if (!idx) return;
      for (const i of idx) {
        const s = specs[i]!;
        if (s.kind === 'var') {
          vals[s.col]!.push(v);
          hits[i] = true;
        } else if (s.kind === 'blank' || joinKey(v) === s.key) hits[i] = true;
      }
    });
    if (!hits.every(Boolean)) continue;
    // cross product of the new variables' values (one each for cardinality-one attributes)
    let tails: Row[] = [[]];
    for (const l of vals) {
      if (l.length === 1) for (const t of tails) t.push(l[0]);
      else tails = tails.flatMap((t) => l.map((x) => [...t, x]));
    }
    growing(rows.length + g.length * tails.length, rel.vars.length + newVars.length);
    for (const r of g) for (const t of tails) rows.push(newVars.length ? r.concat(t) : r);
  }
  return { rel: { vars: [...rel.vars, ...newVars], rows, distinct: !!rel.distinct && !db.isHistory }, index: 'eavt', strategy: 'entity-batch' as 'probe', datomsRead };
}

/** Can this pattern join an entity batch on `eVar`? ([?e :const-attr x], x new var / const / blank, no other bound var) */
export function batchable(ctx: QueryContext, c: Clause, eVar: string, bound: Set<string>, taken: Set<string>): boolean {
  if (c.kind !== 'pattern' || c.terms.length < 2 || c.terms.length > 3) return false;
  const [e, a, v] = c.terms;
  if (e?.kind !== 'var' || e.name !== eVar || a?.kind !== 'const') return false;
  if (v?.kind === 'var' && (v.name === eVar || bound.has(v.name) || taken.has(v.name))) return false;
  const src = ctx.sources.get(c.src?.name ?? '$');
  return isDb(src) && !!resolveAttr(ctx, src, a.value);
}

/** Would a pattern with its entity bound to `groups` distinct values be probed in LMDB (rather than scanned or read from a column)? */
export function wouldProbe(ctx: QueryContext, c: PatternClause, groups: number): boolean {
  const src = ctx.sources.get(c.src?.name ?? '$');
  if (!isDb(src)) return false;
  const res = resolveConsts(ctx, src, c);
  return res.ok && groups * PROBE_COST <= scanEstimateOf(src, res, null) && !entityColumn(src, res, groups);
}

/** The column serving `[?e :attr x]` for `probes` bound entities, when the db has or builds one. */
function entityColumn(db: DbView, res: Resolved, probes: number): EntityColumn | null {
  const { e, a, tx, added } = res.comps;
  if (a === undefined || e !== undefined || tx !== undefined || added !== undefined) return null;
  return db.column(a, probes);
}
