// Turns the final relation into the result shape of the find spec: projection, aggregation (with :with), pull.
import type { Query, FindElem, AggregateElem, PullElem } from '../../query-lang/datalog/ast.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import { type Relation, type Row, project } from './relation.js';
import { AGGREGATES } from './builtins.js';
import { queryError } from './errors.js';
import { describeThrown, FactlogError } from '../../query-lang/errors.js';
import { setOwn } from '../db/own-keys.js';
import { printFindElem } from './print.js';
import { tupleKey } from './values.js';
import { tick } from './budget.js';
import { pull } from '../pull/pull.js';
import type { PullPattern } from '../../query-lang/datalog/ast.js';

function elements(q: Query): FindElem[] {
  return q.find.kind === 'find-rel' || q.find.kind === 'find-tuple' ? q.find.elements : [q.find.element];
}

function aggVar(e: AggregateElem): string {
  const last = e.args[e.args.length - 1];
  if (!last || last.kind !== 'var') throw queryError('query/invalid-aggregate', `Aggregate ${printFindElem(e)} needs a variable as last argument`, e, printFindElem(e));
  return last.name;
}

/** The variable whose values make up this element's column before aggregation / pull. */
function elemVar(e: FindElem): string {
  return e.kind === 'var' ? e.name : e.kind === 'pull' ? e.variable.name : aggVar(e);
}

function single(rel: Relation, v: string, form: FindElem): unknown {
  const i = rel.vars.indexOf(v);
  if (i < 0) throw queryError('query/unbound-variable', `${v} is not bound`, form, printFindElem(form));
  return rel.rows[0]?.[i];
}

export function findVars(q: Query): string[] {
  const out: string[] = [];
  for (const e of elements(q)) {
    const v = elemVar(e);
    if (!out.includes(v)) out.push(v);
    if (e.kind === 'aggregate') {
      if (e.fn.kind === 'var' && !out.includes(e.fn.name)) out.push(e.fn.name);
      // leading arguments such as n of (max ?n ?x), when bound by :in
      for (const a of e.args.slice(0, -1)) if (a.kind === 'var' && !out.includes(a.name)) out.push(a.name);
    }
    if (e.kind === 'pull' && e.pattern.kind === 'var' && !out.includes(e.pattern.name)) out.push(e.pattern.name);
  }
  for (const w of q.with) if (!out.includes(w.name)) out.push(w.name);
  return out;
}

function aggregate(ctx: QueryContext, e: AggregateElem, rel: Relation, values: unknown[]): unknown {
  const constArgs = e.args.slice(0, -1).map((a) => (a.kind === 'const' ? a.value : single(rel, a.name, e)));
  if (e.fn.kind === 'var') {
    const f = single(rel, e.fn.name, e);
    if (typeof f !== 'function') throw queryError('query/not-a-function', `${e.fn.name} is not bound to a function`, e, printFindElem(e));
    return runAggregate(e, () => (f as (...a: unknown[]) => unknown)(...constArgs, values));
  }
  const agg = Object.hasOwn(AGGREGATES, e.fn.name) ? AGGREGATES[e.fn.name] : undefined; // not Object.prototype's constructor
  if (!agg) throw queryError('query/unknown-aggregate', `Unknown aggregate ${e.fn.name}`, e, printFindElem(e));
  return runAggregate(e, () => agg(constArgs, values));
}

/**
 * An aggregate's failure, as a function clause's is reported: a factlog error keeps its code,
 * anything else thrown (by a user's aggregate) is 'query/function-error' with the original as cause.
 */
function runAggregate(e: AggregateElem, run: () => unknown): unknown {
  try {
    return run();
  } catch (err) {
    if (err instanceof FactlogError && err.pos) throw err;
    const form = printFindElem(e);
    const located =
      err instanceof FactlogError
        ? queryError(err.code, `${err.message} in ${form}`, e, form)
        : queryError('query/function-error', `${e.fn.name} threw ${describeThrown(err)} in ${form}`, e, form);
    located.cause = err;
    throw located;
  }
}

function pullValue(ctx: QueryContext, e: PullElem, rel: Relation, eid: unknown): unknown {
  const db = ctx.sources.get(e.src?.name ?? '$');
  if (!isDb(db)) throw queryError('query/missing-source', `pull needs a database source`, e, printFindElem(e));
  const pattern = e.pattern.kind === 'var' ? single(rel, e.pattern.name, e) : e.pattern.kind === 'pattern-name' ? ctx.pullPatterns.get(e.pattern.name) : e.pattern;
  if (pattern === undefined) throw queryError('query/missing-input', `pull pattern ${printFindElem(e)} has no input`, e, printFindElem(e));
  return pull(db, pattern as PullPattern, eid as number);
}

export function produceResult(ctx: QueryContext, q: Query, rel: Relation): unknown {
  const els = elements(q);
  for (const e of els) {
    const v = elemVar(e);
    if (!rel.vars.includes(v)) {
      throw queryError('query/unbound-variable', `Find variable ${v} is not bound by the query`, e.pos ? e : q, printFindElem(e));
    }
  }
  for (const w of q.with) {
    if (!rel.vars.includes(w.name)) throw queryError('query/unbound-variable', `:with variable ${w.name} is not bound by the query`, w.pos ? w : q, w.name);
  }
  let rows: Row[];
  const hasAgg = els.some((e) => e.kind === 'aggregate');
  if (!hasAgg) {
    // with :with the result is a bag: distinct over find and :with vars, then the :with columns dropped
    const vars = els.map(elemVar);
    const uniq = [...new Set([...vars, ...q.with.map((w) => w.name)])];
    const projected = project(rel, uniq).rows;
    rows = uniq.length === vars.length && uniq.every((v, i) => v === vars[i]) ? projected : projected.map((r) => vars.map((v) => r[uniq.indexOf(v)]));
  } else {
    // the aggregated bag: distinct tuples of find vars + :with vars
    const bagVars = [...new Set([...els.map(elemVar), ...q.with.map((w) => w.name)])];
    const bag = project(rel, bagVars).rows;
    const keyIdx = els.map((e, i) => (e.kind === 'aggregate' ? -1 : i)).filter((i) => i >= 0);
    const groups = new Map<string, { key: unknown[]; rows: Row[] }>();
    for (const r of bag) {
      tick();
      const key = keyIdx.map((i) => r[bagVars.indexOf(elemVar(els[i]!))]);
      const k = tupleKey(key);
      let g = groups.get(k);
      if (!g) groups.set(k, (g = { key, rows: [] }));
      g.rows.push(r);
    }
    rows = [...groups.values()].map((g) =>
      els.map((e, i) => {
        if (e.kind !== 'aggregate') return g.key[keyIdx.indexOf(i)];
        const col = bagVars.indexOf(aggVar(e));
        return aggregate(
          ctx,
          e,
          rel,
          g.rows.map((r) => r[col]),
        );
      }),
    );
  }
  if (els.some((e) => e.kind === 'pull')) {
    rows = rows.map((r) => {
      tick();
      return r.map((v, i) => (els[i]!.kind === 'pull' ? pullValue(ctx, els[i] as PullElem, rel, v) : v));
    });
  }
  const shape = (r: Row): unknown => {
    if (!q.returnMap) return r;
    const o: Record<string, unknown> = {};
    q.returnMap.names.forEach((n, i) => setOwn(o, n, r[i]));
    return o;
  };
  switch (q.find.kind) {
    case 'find-rel':
      return rows.map(shape);
    case 'find-tuple':
      return rows.length ? shape(rows[0]!) : null;
    case 'find-scalar':
      return rows.length ? rows[0]![0] : null;
    case 'find-coll':
      return rows.map((r) => r[0]);
  }
}
