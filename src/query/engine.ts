// Evaluates a conjunction of where-clauses over a relation, one planned step at a time.
import type { Clause, PatternClause, PredicateClause, FunctionClause, NotClause, OrClause, FnArg, Binding } from '../../query-lang/datalog/ast.js';
import type { QueryContext, ExplainStep } from './context.js';
import { type Relation, type Row, join, antiJoin, distinctOf, project, union, unitRelation } from './relation.js';
import { pickNext, type PlannedStep } from './planner.js';
import { evalPattern, evalEntityBatch, batchable, wouldProbe } from './pattern.js';
import { evalRuleCall } from './rules.js';
import { FUNCTIONS, printValue, type BuiltinFn } from './builtins.js';
import { visibleVars, bindingVars, clausesVars, requiredVars } from './vars.js';
import { printClause } from './print.js';
import { queryError } from './errors.js';
import { FactlogError } from '../../query-lang/errors.js';
import { expandBinding } from './bindings.js';
import { valueKey, joinKey } from './values.js';
import { tick, growing, enterClause, leaveClause } from './budget.js';

function flatten(cs: readonly Clause[]): Clause[] {
  const out: Clause[] = [];
  for (const c of cs)
    if (c.kind === 'and') out.push(...flatten(c.clauses));
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
    const apart = ctx.ruleMode ? null : groupApart(ctx, step.clause, pending, rel);
    if (apart) {
      for (const c of apart) pending.splice(pending.indexOf(c), 1);
      rel = joinApart(ctx, apart, rel, [...extraVisible, ...clausesVars(pending)]);
      continue;
    }
    pending.splice(step.at, 1);
    const t0 = ctx.trace ? performance.now() : 0;
    const children: ExplainStep[] | null = ctx.trace ? [] : null;
    const outer = enterClause(step.clause);
    const batch = entityBatchFor(ctx, step, pending, rel);
    const r = batch ? batch.result : evalClause(ctx, step, rel, children);
    growing(r.rel.rows.length, r.rel.vars.length);
    leaveClause(outer);
    rel = r.rel;
    if (batch) {
      for (const m of batch.members.slice(1)) pending.splice(pending.indexOf(m), 1);
      if (ctx.trace) step.clause = { kind: 'and', clauses: batch.members } as Clause;
    }
    if (ctx.trace) {
      ctx.trace.push({
        clause: printClause(step.clause),
        index: r.index,
        ...(r.strategy ? { strategy: r.strategy } : {}),
        ...(step.range ? { range: printRange(step.range) } : {}),
        estimatedRows: step.estimate < 0 ? rel.rows.length : Math.round(step.estimate),
        actualRows: rel.rows.length,
        ...(r.datomsRead !== undefined ? { datomsRead: r.datomsRead } : {}),
        ms: performance.now() - t0,
        ...(children && children.length ? { children } : {}),
      });
    }
    // comparisons the range scan enforced exactly need no second pass
    for (const p of step.consumed ?? []) {
      const at = pending.indexOf(p);
      if (at < 0) continue;
      pending.splice(at, 1);
      ctx.trace?.push({ clause: printClause(p), index: 'in-range', estimatedRows: rel.rows.length, actualRows: rel.rows.length, ms: 0 });
    }
  }
  return rel;
}

/**
 * The clauses to evaluate apart when the next one shares no variable with a relation of several
 * rows: it, the patterns and predicates connected to it through variables that relation does not
 * hold, and the functions whose inputs they bind. Taken one at a time, each would be crossed with
 * the relation before the others could filter it (6.4 million rows for two groups of people
 * joined by [(+ ?a 1) ?b]); evaluated apart, the group is filtered first and joined once, on the
 * variables a function gave both (DataScript keeps such relations apart too). Null: nothing to keep apart.
 */
function groupApart(ctx: QueryContext, first: Clause, pending: Clause[], rel: Relation): Clause[] | null {
  if (first.kind !== 'pattern' || rel.rows.length <= 1) return null;
  const outer = new Set(rel.vars);
  const vars = new Set(visibleVars(first));
  if ([...vars].some((v) => outer.has(v))) return null;
  const group: Clause[] = [first];
  for (let grew = true; grew;) {
    grew = false;
    for (const c of pending) {
      if (group.includes(c) || !joinsGroup(ctx, c, vars, outer)) continue;
      group.push(c);
      for (const v of visibleVars(c)) vars.add(v);
      grew = true;
    }
  }
  return group.length > 1 ? group : null;
}

/** A pattern on the group's variables and none of the relation's, a predicate on the group's, a function fed by the group. */
function joinsGroup(ctx: QueryContext, c: Clause, vars: Set<string>, outer: Set<string>): boolean {
  switch (c.kind) {
    case 'pattern': {
      const vs = visibleVars(c);
      return vs.some((v) => vars.has(v)) && !vs.some((v) => outer.has(v));
    }
    case 'predicate':
      return visibleVars(c).every((v) => vars.has(v));
    case 'function': {
      const inputs = requiredVars(c, ctx.rules);
      return inputs.length > 0 && inputs.every((v) => vars.has(v));
    }
    default:
      return false;
  }
}

/** Evaluate `group` on its own and join the result with `rel`. `later`: variables used after it. */
function joinApart(ctx: QueryContext, group: Clause[], rel: Relation, later: readonly string[]): Relation {
  const t0 = ctx.trace ? performance.now() : 0;
  const children: ExplainStep[] | null = ctx.trace ? [] : null;
  const apart = evalClauses({ ...ctx, trace: children }, group, unitRelation(), [...later, ...rel.vars]);
  const outer = enterClause({ kind: 'and', clauses: group } as Clause);
  const joined = join(rel, apart);
  leaveClause(outer);
  ctx.trace?.push({
    clause: printClause({ kind: 'and', clauses: group } as Clause),
    index: 'apart',
    strategy: `evaluated apart (${apart.rows.length} rows), then joined`,
    estimatedRows: joined.rows.length,
    actualRows: joined.rows.length,
    ms: performance.now() - t0,
    ...(children && children.length ? { children } : {}),
  });
  return joined;
}

/** Patterns on the same bound entity that would each probe run as one EAVT lookup per entity. */
function entityBatchFor(ctx: QueryContext, step: PlannedStep, pending: Clause[], rel: Relation): { members: PatternClause[]; result: StepResult } | null {
  const c = step.clause;
  if (c.kind !== 'pattern' || step.range || rel.rows.length === 0) return null;
  const e = c.terms[0];
  if (e?.kind !== 'var' || !rel.vars.includes(e.name)) return null;
  const bound = new Set(rel.vars);
  const taken = new Set<string>();
  if (!batchable(ctx, c, e.name, bound, taken)) return null;
  const others = pending.filter((p) => p.kind === 'pattern' && (p.src?.name ?? '$') === (c.src?.name ?? '$') && p.terms[0]?.kind === 'var' && p.terms[0].name === e.name);
  if (others.length === 0) return null;
  const col = rel.vars.indexOf(e.name);
  const ids = new Set<unknown>();
  for (const r of rel.rows) ids.add(joinKey(r[col]));
  if (!wouldProbe(ctx, c, ids.size)) return null;
  const members: PatternClause[] = [c];
  const mark = (p: PatternClause) => (p.terms[2]?.kind === 'var' ? taken.add(p.terms[2].name) : 0);
  mark(c);
  for (const o of others) {
    if (o.kind === 'pattern' && batchable(ctx, o, e.name, bound, taken) && wouldProbe(ctx, o, ids.size)) {
      members.push(o);
      mark(o);
    }
  }
  if (members.length < 2) return null;
  const r = evalEntityBatch(ctx, members, rel);
  if (!r) return null;
  return { members, result: { rel: r.rel, index: r.index, strategy: r.strategy, datomsRead: r.datomsRead } };
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

function evalClause(ctx: QueryContext, step: PlannedStep, rel: Relation, children: ExplainStep[] | null): StepResult {
  const c = step.clause;
  switch (c.kind) {
    case 'pattern': {
      const r = evalPattern(ctx, c, rel, step.range ?? null);
      return { rel: r.rel, index: step.range && r.index === 'avet-range' ? 'avet-range' : r.index, strategy: r.strategy, datomsRead: r.datomsRead };
    }
    // one try per clause, not per call: the rows loop stays as it is
    case 'predicate':
      try {
        return { rel: evalPredicate(ctx, c, rel), index: 'filter' };
      } catch (e) {
        throw locatedAt(e, c);
      }
    case 'function':
      try {
        return { rel: evalFunction(ctx, c, rel), index: 'function' };
      } catch (e) {
        throw locatedAt(e, c);
      }
    case 'not':
      return { rel: evalNot({ ...ctx, trace: children }, c, rel, step.joinVars!), index: 'not' };
    case 'or':
      return { rel: evalOr({ ...ctx, trace: children }, c, rel), index: 'or' };
    case 'rule-call':
      return { rel: evalRuleCall({ ...ctx, trace: children }, c, rel), index: 'rule' };
    case 'and':
      return { rel: evalClauses({ ...ctx, trace: children }, c.clauses, rel, []), index: 'and' };
  }
}

/**
 * An error thrown while a predicate or function clause ran, naming that clause and its position:
 * a factlog error keeps its code, anything else thrown by a function becomes 'query/function-error'
 * (the original as `cause`). Errors that already carry a position (a nested query's) pass unchanged.
 */
function locatedAt(e: unknown, c: PredicateClause | FunctionClause): unknown {
  if (e instanceof FactlogError && e.pos) return e;
  const form = printClause(c);
  const located =
    e instanceof FactlogError
      ? queryError(e.code, `${e.message} in ${form}`, c, form)
      : queryError('query/function-error', `${c.fn.name} threw ${e instanceof Error ? `${e.name}: ${e.message}` : printValue(e)} in ${form}`, c, form);
  located.cause = e;
  return located;
}

function checkFunctions(ctx: QueryContext, c: Clause): void {
  if ((c.kind === 'predicate' || c.kind === 'function') && c.fn.kind === 'fn-name') resolveFn(ctx, c);
}

function resolveFn(ctx: QueryContext, c: PredicateClause | FunctionClause): BuiltinFn | null {
  if (c.fn.kind === 'var') return null;
  const f = Object.hasOwn(FUNCTIONS, c.fn.name) ? FUNCTIONS[c.fn.name] : undefined; // not Object.prototype's toString
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
  if (builtin)
    return (row) =>
      builtin(
        argFns.map((f) => f(row)),
        ctx.builtins,
      );
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
  const builtin = resolveFn(ctx, c);
  if (builtin && c.args.every((a) => a.kind === 'var' || a.kind === 'const')) {
    // a predicate only tests its result: one argument array serves every row
    const n = c.args.length;
    const cols = c.args.map((a) => (a.kind === 'var' ? rel.vars.indexOf(a.name) : -1));
    const consts = c.args.map((a) => (a.kind === 'const' ? a.value : undefined));
    if (cols.every((i, k) => i >= 0 || c.args[k]!.kind === 'const')) {
      const args: unknown[] = new Array(n);
      for (let k = 0; k < n; k++) if (cols[k]! < 0) args[k] = consts[k];
      const rows = rel.rows.filter((r) => {
        tick();
        for (let k = 0; k < n; k++) if (cols[k]! >= 0) args[k] = r[cols[k]!];
        return truthy(builtin(args, ctx.builtins));
      });
      return { vars: rel.vars, rows, distinct: rel.distinct };
    }
  }
  const call = caller(ctx, c, rel);
  const rows = rel.rows.filter((r) => {
    tick();
    return truthy(call(r));
  });
  return { vars: rel.vars, rows, distinct: rel.distinct };
}

function evalFunction(ctx: QueryContext, c: FunctionClause, rel: Relation): Relation {
  const call = caller(ctx, c, rel);
  const bvars = bindingVars(c.binding);
  const already = bvars.map((v) => rel.vars.indexOf(v));
  const newVars = bvars.filter((_, i) => already[i]! < 0);
  const rows: Row[] = [];
  const width = rel.vars.length + newVars.length;
  for (const row of rel.rows) {
    tick();
    const result = call(row);
    if (result === null || result === undefined) continue;
    for (const b of expandBinding(c.binding as Binding, result, c, true)) {
      growing(rows.length, width);
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
  return { vars: [...rel.vars, ...newVars], rows, distinct: !!rel.distinct && c.binding.kind === 'var' };
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
  const seed: Relation = { vars: joinVars, rows: distinctOf(rel, joinVars), distinct: true };
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
  const seed: Relation = { vars: seedVars, rows: distinctOf(rel, seedVars), distinct: true };
  const results = c.branches.map((b, i) => {
    const t0 = ctx.trace ? performance.now() : 0;
    const steps: ExplainStep[] | null = ctx.trace ? [] : null;
    const r = evalClauses({ ...sub, trace: steps }, b, seed, outVars);
    ctx.trace?.push({
      clause: `branch ${i + 1}: ` + (b.length === 1 ? printClause(b[0]!) : '(and ' + b.map(printClause).join(' ') + ')'),
      index: 'or-branch',
      estimatedRows: seed.rows.length,
      actualRows: r.rows.length,
      ms: performance.now() - t0,
      ...(steps && steps.length ? { children: steps } : {}),
    });
    for (const v of outVars) {
      if (!r.vars.includes(v)) throw queryError('query/insufficient-binding', `Branch of ${printClause(c)} does not bind ${v}`, c, printClause(c));
    }
    return r;
  });
  const allOut = [...new Set([...seedVars, ...outVars])];
  return join(rel, union(allOut, results));
}
