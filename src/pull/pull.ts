// Datomic pull: declarative, hierarchical selection of an entity's attributes.
//
// Result shape (Datomic semantics):
//  - plain objects keyed by attribute ident without colon ('person/name'), or by `:as`;
//  - refs as `{ 'db/id': n }` unless a nested pattern (or recursion) is given — including refs to
//    enum-like entities that have a :db/ident (we do not special-case idents);
//  - `*` pulls every attribute of the entity plus 'db/id', following component refs recursively;
//    a component attribute named without a pattern is pulled whole too, as in Datomic;
//  - cardinality-many as arrays (default limit 1000, under `*` too; `(limit :a n)`, `(limit :a nil)` = no limit);
//  - `[:a :xform f]` passes the attribute's value (the array, for cardinality many) through the
//    function registered as f; a `:default` is given as it is;
//  - reverse refs `:ns/_attr` give arrays of `{ 'db/id' }` (or pulled maps), a single value when the
//    forward attribute is a component;
//  - `(default :a v)` when the attribute is absent; `:db/id` on request;
//  - recursion `...` (unbounded) or a depth number, re-applying the enclosing pattern, with cycle
//    protection: an entity already on the current path comes back as `{ 'db/id': n }`; below the
//    depth the attribute is left out; any depth, as nested pulls run from an array, not the JS stack;
//  - a nested pattern matching nothing on an existing ref target gives `{ 'db/id': n }`;
//  - an entity with no datoms at all gives null.
import type { PullPattern, PullAttr } from '../../query-lang/datalog/ast.js';
import { parsePull } from '../../query-lang/datalog/index.js';
import { Keyword, type EdnValue } from '../../query-lang/edn/types.js';
import type { DbView, AttrInfo, Datom, DatomReads, EntityRef } from '../db/api.js';
import { setOwn } from '../db/own-keys.js';
import { FactlogError } from '../../query-lang/errors.js';
import { guarded, heapShareOfDb, heapTick } from '../db/heap-guard.js';

export const DEFAULT_LIMIT = 1000;

export class PullError extends FactlogError {}

/** Functions that `[:a :xform name]` may name, by name: as Datomic resolves a symbol to a var. */
const xforms = new Map<string, (value: unknown) => unknown>();

/** Lets pull patterns name `fn` as `:xform name` (e.g. 'my.ns/upper'), in pull, pullMany and (pull ...) in queries. */
export function registerXform(name: string, fn: (value: unknown) => unknown): void {
  if (typeof fn !== 'function') throw new PullError('pull/invalid-xform', `the xform ${name} is not a function`);
  xforms.set(name, fn);
}

/** An attribute's value through the spec's :xform, if it names one. */
function transformed(spec: PullAttr, value: unknown): unknown {
  if (spec.xform === undefined) return value;
  const fn = xforms.get(spec.xform);
  if (!fn) throw new PullError('pull/unknown-xform', `no xform function registered as ${spec.xform} (registerXform)`, { form: spec.xform });
  try {
    return fn(value);
  } catch (err) {
    throw new PullError('pull/xform-failed', `xform ${spec.xform} failed on :${spec.attr}: ${(err as Error)?.message ?? String(err)}`, { form: spec.xform });
  }
}

export type PullResult = Record<string, unknown>;

/** A pull pattern: EDN text, EDN data, JS data (strings for attributes, objects for maps) or a parsed one. */
export type PullPatternInput = string | EdnValue | PullPattern | readonly unknown[];

export function toPullPattern(p: PullPatternInput): PullPattern {
  if (p && typeof p === 'object' && !Array.isArray(p) && (p as PullPattern).kind === 'pull-pattern') return p as PullPattern;
  return parsePull(p as string | EdnValue);
}

interface State {
  /** Entities on the current path (cycle protection for recursion). */
  path: Set<number>;
  /** Remaining depth per recursive attribute spec. */
  depth: Map<PullAttr, number>;
  attrs: Map<string, AttrInfo | null>;
  /** The pull's reads of entities and of what points at them (one synchronous step). */
  read: DatomReads;
}

function attrInfo(db: DbView, st: State, name: string): AttrInfo | null {
  let info = st.attrs.get(name);
  if (info === undefined) {
    info = db.attr(Keyword.of(name)) ?? null;
    st.attrs.set(name, info);
  }
  return info;
}

function keyOf(spec: PullAttr): string {
  const as = spec.as;
  if (as === undefined || as === null) {
    if (!spec.reverse) return spec.attr;
    const kw = Keyword.of(spec.attr).reverse();
    return kw.fqn;
  }
  if (as instanceof Keyword) return as.fqn;
  return String(as);
}

/** Reads for a view without datomReads: datomArray, retractions left out (a history is refused before). */
function readsOf(db: DbView): DatomReads {
  if (db.datomReads) return db.datomReads();
  return (index, e, a) => {
    const all = a === undefined ? db.datomArray(index, e) : db.datomArray(index, e, a);
    return all.every((d) => d.added) ? all : all.filter((d) => d.added);
  };
}

/** The values of attribute `a` among an entity's datoms (in EAVT order: one run). */
function valuesOf(datoms: Datom[], a: number): unknown[] {
  const vals: unknown[] = [];
  for (const d of datoms) if (d.a === a) vals.push(d.v);
  return vals;
}

function limitOf(spec: PullAttr): number {
  return spec.limit === undefined ? DEFAULT_LIMIT : spec.limit === null ? Infinity : spec.limit;
}

/**
 * A nested pull the caller needs the result of. Pulling is written as generators that yield these
 * instead of calling themselves, and `runPull` keeps the pending ones on an array: recursion as deep
 * as the data (a chain of 100,000 friends) needs no JS stack.
 */
interface Nested {
  db: DbView;
  pattern: PullPattern;
  e: number;
  st: State;
}

type Pulling<T> = Generator<Nested, T, PullResult | null>;

function runPull(first: Pulling<PullResult | null>): PullResult | null {
  const stack: Pulling<PullResult | null>[] = [first];
  let input: PullResult | null = null;
  for (;;) {
    const step = stack[stack.length - 1]!.next(input);
    if (step.done) {
      stack.pop();
      if (stack.length === 0) return step.value;
      input = step.value;
    } else {
      stack.push(pullEntity(step.value.db, step.value.pattern, step.value.e, step.value.st));
      input = null;
    }
  }
}

/** Pull a referenced entity under a spec: nested pattern, recursion, a component whole, or just its id. */
function* pullRef(db: DbView, spec: PullAttr, info: AttrInfo, enclosing: PullPattern, id: number, st: State): Pulling<unknown> {
  const sub = spec.sub;
  if (!sub) {
    // as Datomic: a component named without a pattern is pulled whole, as under `*`
    if (info.isComponent && !spec.reverse && !st.path.has(id)) return (yield nested(db, WILDCARD, id, st)) ?? { 'db/id': id };
    return { 'db/id': id };
  }
  if (sub.kind === 'pull-pattern') {
    const r = yield nested(db, sub, id, st);
    return r && Object.keys(r).length ? r : { 'db/id': id };
  }
  // recursion (pullEntity leaves out a spec whose depth is spent)
  if (st.path.has(id)) return { 'db/id': id };
  const left = st.depth.get(spec);
  const remaining = left === undefined ? (sub.depth === null ? Infinity : sub.depth) : left;
  st.depth.set(spec, remaining - 1);
  try {
    const r = yield nested(db, enclosing, id, st);
    return r && Object.keys(r).length ? r : { 'db/id': id };
  } finally {
    if (left === undefined) st.depth.delete(spec);
    else st.depth.set(spec, left);
  }
}

function nested(db: DbView, pattern: PullPattern, e: number, st: State): Nested {
  return { db, pattern, e, st };
}

/**
 * A recursive spec (`{:friend 2}`) followed as deep as its number along this path: the attribute
 * is left out below that depth, as DataScript does (pull-api tests), not given as bare ids.
 */
function recursionSpent(spec: PullAttr, st: State): boolean {
  return spec.sub?.kind === 'recurse' && st.depth.get(spec) === 0;
}

function* pullWildcard(db: DbView, e: number, datoms: Datom[], out: PullResult, st: State): Pulling<void> {
  out['db/id'] = e;
  // DbView.datoms gives an entity's datoms in EAVT order: each attribute's values are one run
  for (let start = 0; start < datoms.length;) {
    const a = datoms[start]!.a;
    let end = start + 1;
    while (end < datoms.length && datoms[end]!.a === a) end++;
    const info = db.attr(a);
    if (info && info.cardinality !== 'many') {
      const v = datoms[start]!.v;
      setOwn(out, info.ident.fqn, info.valueType !== 'ref' ? v : info.isComponent ? yield* componentValue(db, v as number, st) : { 'db/id': v });
    } else if (info) {
      const vs: unknown[] = [];
      const stop = Math.min(end, start + DEFAULT_LIMIT);
      for (let i = start; i < stop; i++) {
        const v = datoms[i]!.v;
        vs.push(info.valueType !== 'ref' ? v : info.isComponent ? yield* componentValue(db, v as number, st) : { 'db/id': v });
      }
      setOwn(out, info.ident.fqn, vs);
    }
    start = end;
  }
}

/** A component's entity as `*` gives it: pulled whole, unless already on the path. */
function* componentValue(db: DbView, id: number, st: State): Pulling<unknown> {
  if (st.path.has(id)) return { 'db/id': id };
  return (yield nested(db, WILDCARD, id, st)) ?? { 'db/id': id };
}

const WILDCARD: PullPattern = { kind: 'pull-pattern', elements: [{ kind: 'wildcard' }] };

/** A pattern's elements, the wildcard first, so explicit specs (nested patterns, :as, limits) refine what it pulled. */
const wildcardFirst = new WeakMap<PullPattern, PullPattern['elements']>();

function elementsInOrder(pattern: PullPattern): PullPattern['elements'] {
  let elements = wildcardFirst.get(pattern);
  if (!elements) {
    elements = [...pattern.elements].sort((x, y) => (x.kind === 'wildcard' ? 0 : 1) - (y.kind === 'wildcard' ? 0 : 1));
    wildcardFirst.set(pattern, elements);
  }
  return elements;
}

function* pullEntity(db: DbView, pattern: PullPattern, e: number, st: State): Pulling<PullResult | null> {
  heapTick(db, 'pull', 'the pull');
  const datoms = st.read('eavt', e);
  st.path.add(e);
  try {
    const out: PullResult = {};
    for (const el of elementsInOrder(pattern)) {
      if (el.kind === 'wildcard') {
        yield* pullWildcard(db, e, datoms, out, st);
        continue;
      }
      const key = keyOf(el);
      if (el.attr === 'db/id' && !el.reverse) {
        setOwn(out, key, transformed(el, e));
        continue;
      }
      const info = attrInfo(db, st, el.attr);
      if (!info) {
        if (el.default) setOwn(out, key, el.default.value);
        continue;
      }
      if (recursionSpent(el, st)) continue;
      if (!el.reverse) {
        const vals = valuesOf(datoms, info.id);
        if (vals.length === 0) {
          if (el.default) setOwn(out, key, el.default.value);
          continue;
        }
        if (info.valueType !== 'ref') setOwn(out, key, transformed(el, info.cardinality === 'many' ? vals.slice(0, limitOf(el)) : vals[0]));
        else if (info.cardinality !== 'many') setOwn(out, key, transformed(el, yield* pullRef(db, el, info, pattern, vals[0] as number, st)));
        else {
          const refs: unknown[] = [];
          for (const v of vals.slice(0, limitOf(el))) refs.push(yield* pullRef(db, el, info, pattern, v as number, st));
          setOwn(out, key, transformed(el, refs));
        }
      } else {
        if (info.valueType !== 'ref') continue;
        // read no further than the limit: an entity may have millions of referrers
        const most = info.isComponent ? 1 : limitOf(el);
        const sources = st.read('vaet', e, info.id, most === Infinity ? undefined : most).map((d) => d.e);
        if (sources.length === 0) {
          if (el.default) setOwn(out, key, el.default.value);
          continue;
        }
        if (info.isComponent) setOwn(out, key, transformed(el, yield* pullRef(db, el, info, pattern, sources[0]!, st)));
        else {
          const refs: unknown[] = [];
          for (const s of sources.slice(0, limitOf(el))) refs.push(yield* pullRef(db, el, info, pattern, s, st));
          setOwn(out, key, transformed(el, refs));
        }
      }
    }
    if (datoms.length === 0 && Object.keys(out).every((k) => out[k] === e)) {
      // no such entity: only possibly `:db/id` was produced — unless something points at it
      const anyRef = pattern.elements.some((el) => el.kind === 'pull-attr' && el.reverse && Object.hasOwn(out, keyOf(el)));
      if (!anyRef) return null;
    }
    return out;
  } finally {
    st.path.delete(e);
  }
}

function newState(db: DbView): State {
  return { path: new Set(), depth: new Map(), attrs: new Map(), read: readsOf(db) };
}

function resolveEid(db: DbView, eid: EntityRef | unknown): number | null {
  if (typeof eid === 'number') return eid;
  if (eid instanceof Keyword || Array.isArray(eid) || typeof eid === 'bigint' || typeof eid === 'string') return db.entid(eid);
  return null;
}

/**
 * A history value holds every value an attribute ever had, retracted ones too: an entity's
 * attributes have no one value to pull there (Datomic documents history for query and datoms only).
 */
function refuseHistory(db: DbView): void {
  if (db.isHistory) throw new PullError('pull/history-db', 'pull is not supported on a history value: query it, or pull from db.asOf(t)');
}

/** Pull one entity; null when it does not exist. */
export function pull(db: DbView, pattern: PullPatternInput, eid: EntityRef): PullResult | null {
  refuseHistory(db);
  const p = toPullPattern(pattern);
  const id = resolveEid(db, eid);
  if (id === null) return null;
  return guarded('pull', heapShareOfDb(db), () => runPull(pullEntity(db, p, id, newState(db))));
}

/** Pull several entities with one pattern (parsed once). */
export function pullMany(db: DbView, pattern: PullPatternInput, eids: Iterable<EntityRef>): (PullResult | null)[] {
  refuseHistory(db);
  const p = toPullPattern(pattern);
  const st = newState(db);
  const out: (PullResult | null)[] = [];
  // past the heap's share, pull/too-large (heap-guard.ts), not a V8 abort of the process
  return guarded('pull', heapShareOfDb(db), () => {
    for (const eid of eids) {
      const id = resolveEid(db, eid);
      out.push(id === null ? null : runPull(pullEntity(db, p, id, st)));
    }
    return out;
  });
}
