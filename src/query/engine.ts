// Evaluates a conjunction of where-clauses over a relation, one planned step at a time.
import type { Clause, PredicateClause, FunctionClause, NotClause, OrClause, FnArg, Binding } from '../../query-lang/datalog/ast.js';
import type { QueryContext } from './context.js';
import { type Relation, type Row, join, antiJoin, distinctOf, project, union } from './relation.js';
import { pickNext, type PlannedStep } from './planner.js';
import { evalPattern } from './pattern.js';
import { evalRuleCall } from './rules.js';
import { FUNCTIONS, printValue, type BuiltinFn } from './builtins.js';
import { visibleVars, bindingVars, clausesVars } from './vars.js';
import { printClause } from './print.js';
import { queryError } from './errors.js';
import { expandBinding } from './bindings.js';
import { valueKey } from './values.js';

function flatten(cs: readonly Clause[]): Clause[] {
  const out: Clause[] = [];
  for (const c of cs) if (c.kind === 'and') out.push(...flatten(c.clauses));
  else out.push(c);
  return out;
}

/** Evaluate clauses starting from `rel`. `extraVisible`: variables used outside these clauses (e.g. find vars). */
export function evalClauses(ctx: QueryContext, clauses: readonly Clause[], rel: Relation, extraVisible: readonly string[]): Relation {
  const pending = flatten(clauses);
  while (pending.length > 0) {
    if (rel.rows.length === 0) {
      for (const c of pending) checkFunctions(ctx, c);
      const vars = [...rel.vars];
      for (const c of pending) if (c.kind !== 'not') for (const v of visibleVars(c)) if (!vars.includes(v)) vars.push(v);
      return { vars, rows: [] };
    }
    const step = pickNext(ctx, pending, rel, extraVisible);
    pending.splice(step.at, 1);
    const t0 = performance.now();
    const r = evalClause(ctx, step, rel);
    rel = r.rel;
    if (ctx.trace && ctx.depth === 0) {
      ctx.trace.push({
        clause: printClause(step.clause),
        index: r.index,
        ...(r.strategy ? { strategy: r.strategy } : {}),
        ...(step.range ? { range: printRange(step.range) } : {}),
        estimatedRows: step.estimate < 0 ? rel.rows.length : Math.round(step.estimate),
        actualRows: rel.rows.length,
        ...(r.datomsRead !== undefined ? { datomsRead: r.datomsRead } : {}),
        ms: performance.now() - t0,
      });
    }
  }
  return rel;
}

function printRange(r: NonNullable<PlannedStep['range']>): string {
  const lo = r.start ? (r.start.inclusive ? '[' : '(') + printValue(r.start.value) : '(-inf';
  const hi = r.end ? printValue(r.end.value) + (r.end.inclusive ? ']' : ')') : '+inf)';
  return lo + ', ' + hi;
}

interface StepResult {
  rel: Relation;
  index: string;
  strategy?: string;
  datomsRead?: number;
}

function evalClause(ctx: QueryContext, step: PlannedStep, rel: Relation): StepResult {
  const c = step.clause;
  switch (c.kind) {
    case 'pattern': {
      const r = evalPattern(ctx, c, rel, step.range ?? null);
      return { rel: r.rel, index: step.range && r.index === 'avet-range' ? 'avet-range' : r.index, strategy: r.strategy, datomsRead: r.datomsRead };
    }
    case 'predicate':
      return { rel: evalPredicate(ctx, c, rel), index: 'filter' };
    case 'function':
      return { rel: evalFunction(ctx, c, rel), index: 'function' };
    case 'not':
      return { rel: evalNot(ctx, c, rel, step.joinVars!), index: 'not' };
    case 'or':
      return { rel: evalOr(ctx, c, rel), index: 'or' };
    case 'rule-call':
      return { rel: evalRuleCall(ctx, c, rel), index: 'rule' };
    case 'and':
      return { rel: evalClauses(ctx, c.clauses, rel, []), index: 'and' };
  }
}

function checkFunctions(ctx: QueryContext, c: Clause): void {
  if ((c.kind === 'predicate' || c.kind === 'function') && c.fn.kind === 'fn-name') resolveFn(ctx, c);
}

function resolveFn(ctx: QueryContext, c: PredicateClause | FunctionClause): BuiltinFn | null {
  if (c.fn.kind === 'var') return null;
  const f = FUNCTIONS[c.fn.name];
  if (!f) throw queryError('query/unknown-function', `Unknown function or predicate ${c.fn.name}`, c.fn.pos ? c.fn : c, printClause(c));
  return f;
}

/** Builds a per-row caller for a predicate/function clause. */
function caller(ctx: QueryContext, c: PredicateClause | FunctionClause, rel: Relation): (row: Row) => unknown {
  const builtin = resolveFn(ctx, c);
  const argFns = c.args.map((a: FnArg): ((row: Row) => unknown) => {
    switch (a.kind) {
      case 'var': {
        const i = rel.vars.indexOf(a.name);
        if (i < 0) throw queryError('query/insufficient-binding', `Variable ${a.name} is not bound in ${printClause(c)}`, c, printClause(c));
        return (row) => row[i];
      }
      case 'const': {
        const v = a.value;
        return () => v;
      }
      case 'src': {
        if (!ctx.sources.has(a.name)) throw queryError('query/missing-source', `No source ${a.name} bound in :in`, c, printClause(c));
        const s = ctx.sources.get(a.name);
        return () => s;
      }
      case 'blank':
        return () => undefined;
    }
  });
  if (builtin) return (row) => builtin(argFns.map((f) => f(row)), ctx.builtins);
  const fi = rel.vars.indexOf((c.fn as { name: string }).name);
  if (fi < 0) throw queryError('query/insufficient-binding', `Function variable ${c.fn.name} is not bound`, c, printClause(c));
  return (row) => {
    const f = row[fi];
    if (typeof f !== 'function') {
      throw queryError('query/not-a-function', `${c.fn.name} is bound to ${printValue(f)}, not a function`, c, printClause(c));
    }
    return (f as (...args: unknown[]) => unknown)(...argFns.map((g) => g(row)));
  };
}

const truthy = (x: unknown) => x !== null && x !== undefined && x !== false;

function evalPredicate(ctx: QueryContext, c: PredicateClause, rel: Relation): Relation {
  const call = caller(ctx, c, rel);
  return { vars: rel.vars, rows: rel.rows.filter((r) => truthy(call(r))) };
}

function evalFunction(ctx: QueryContext, c: FunctionClause, rel: Relation): Relation {
  const call = caller(ctx, c, rel);
  const bvars = bindingVars(c.binding);
  const already = bvars.map((v) => rel.vars.indexOf(v));
  const newVars = bvars.filter((_, i) => already[i]! < 0);
  const rows: Row[] = [];
  for (const row of rel.rows) {
    const result = call(row);
    if (result === null || result === undefined) continue;
    for (const b of expandBinding(c.binding as Binding, result, c, true)) {
      let ok = true;
      const extra: unknown[] = [];
      for (let i = 0; i < bvars.length; i++) {
        if (already[i]! >= 0) {
          if (valueKey(row[already[i]!]) !== valueKey(b[i])) {
            ok = false;
            break;
          }
        } else extra.push(b[i]);
      }
      if (ok) rows.push(row.concat(extra));
    }
  }
  return { vars: [...rel.vars, ...newVars], rows };
}

function withSource(ctx: QueryContext, src: { name: string } | undefined, form: Clause): QueryContext {
  if (!src || src.name === '$') return ctx;
  if (!ctx.sources.has(src.name)) throw queryError('query/missing-source', `No source ${src.name} bound in :in`, form, printClause(form));
  const sources = new Map(ctx.sources);
  sources.set('$', ctx.sources.get(src.name));
  return { ...ctx, sources };
}

function evalNot(ctx: QueryContext, c: NotClause, rel: Relation, joinVars: string[]): Relation {
  for (const v of joinVars) {
    if (!rel.vars.includes(v)) throw queryError('query/insufficient-binding', `${v} must be bound before ${printClause(c)}`, c, printClause(c));
  }
  const sub: QueryContext = { ...withSource(ctx, c.src, c), ruleMode: null, depth: ctx.depth + 1 };
  const seed: Relation = { vars: joinVars, rows: distinctOf(rel, joinVars) };
  const res = evalClauses(sub, c.clauses, seed, joinVars);
  return antiJoin(rel, project(res, joinVars));
}

function evalOr(ctx: QueryContext, c: OrClause, rel: Relation): Relation {
  const sub: QueryContext = { ...withSource(ctx, c.src, c), depth: ctx.depth + 1 };
  let outVars: string[];
  if (c.joinVars) outVars = [...c.joinVars.required, ...c.joinVars.free].map((v) => v.name);
  else {
    const per = c.branches.map((b) => clausesVars(b));
    const all = new Set(per.flat());
    outVars = [...all].filter((v) => rel.vars.includes(v) || per.every((p) => p.includes(v)));
  }
  const seedVars = outVars.filter((v) => rel.vars.includes(v));
  if (!c.joinVars) for (const v of clausesVars(c.branches.flat())) if (rel.vars.includes(v) && !seedVars.includes(v)) seedVars.push(v);
  const seed: Relation = { vars: seedVars, rows: distinctOf(rel, seedVars) };
  const results = c.branches.map((b) => {
    const r = evalClauses(sub, b, seed, outVars);
    for (const v of outVars) {
      if (!r.vars.includes(v)) throw queryError('query/insufficient-binding', `Branch of ${printClause(c)} does not bind ${v}`, c, printClause(c));
    }
    return r;
  });
  const allOut = [...new Set([...seedVars, ...outVars])];
  return join(rel, union(allOut, results));
}
