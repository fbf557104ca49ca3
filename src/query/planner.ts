// Greedy cost-based planner: picks the next clause to run from what is bound now and index estimates.
// The user's clause order never matters: ties are broken by the clause's printed text.
import type { Clause, PatternClause, PredicateClause } from '../../query-lang/datalog/ast.js';
import type { QueryContext } from './context.js';
import { isDb } from './context.js';
import type { Relation } from './relation.js';
import { distinctOf } from './relation.js';
import { estimatePattern, resolveAttr, type RangeBounds } from './pattern.js';
import { requiredVars, visibleVars, clausesVars } from './vars.js';
import { printClause } from './print.js';
import { compareValues } from './values.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { queryError } from './errors.js';

export interface PlannedStep {
  clause: Clause;
  /** Position in the pending list. */
  at: number;
  estimate: number;
  index?: string;
  range?: RangeBounds;
  /** Comparison predicates fully enforced by the range scan (dropped after it). */
  consumed?: Clause[];
  /** For `not`: the variables it joins on. */
  joinVars?: string[];
}

const RANGE_OPS: Record<string, { lower: boolean; inclusive: boolean }> = {
  '>': { lower: true, inclusive: false },
  '>=': { lower: true, inclusive: true },
  '<': { lower: false, inclusive: false },
  '<=': { lower: false, inclusive: true },
};

function typeFits(valueType: string | null, v: unknown): boolean {
  switch (valueType) {
    case 'long':
    case 'double':
    case 'bigint':
      return typeof v === 'number' || typeof v === 'bigint';
    case 'string':
      return typeof v === 'string';
    case 'instant':
      return v instanceof Date;
    case 'keyword':
      return v instanceof Keyword;
    case 'tuple':
      return Array.isArray(v);
    default:
      return false;
  }
}

/** Range bounds for `[?e :attr ?v]` from pending comparison predicates on ?v against constants or single-valued variables. */
export function rangeFor(ctx: QueryContext, c: PatternClause, pending: Clause[], rel: Relation): (RangeBounds & { consumed: Clause[] }) | null {
  const [e, a, v] = c.terms;
  if (!e || !a || !v || a.kind !== 'const' || v.kind !== 'var' || rel.vars.includes(v.name)) return null;
  if (e.kind === 'const' || (e.kind === 'var' && rel.vars.includes(e.name))) return null;
  if (c.terms.length > 3) return null;
  const src = ctx.sources.get(c.src?.name ?? '$');
  if (!isDb(src)) return null;
  const attr = resolveAttr(ctx, src, a.value);
  if (!attr) return null;
  const range: RangeBounds & { consumed: Clause[] } = { consumed: [] };
  const scalarOf = (t: PredicateClause['args'][number]): { ok: boolean; value?: unknown } => {
    if (t.kind === 'const') return { ok: true, value: t.value };
    if (t.kind === 'var' && !ctx.ruleMode && rel.vars.includes(t.name)) {
      const vals = distinctOf(rel, [t.name]);
      if (vals.length === 1) return { ok: true, value: vals[0]![0] };
    }
    return { ok: false };
  };
  for (const p of pending) {
    if (p.kind !== 'predicate' || p.fn.kind !== 'fn-name' || p.args.length !== 2) continue;
    const op = RANGE_OPS[p.fn.name];
    if (!op) continue;
    const [x, y] = p.args;
    let lower = op.lower;
    let other;
    if (x!.kind === 'var' && x!.name === v.name) other = scalarOf(y!);
    else if (y!.kind === 'var' && y!.name === v.name) {
      other = scalarOf(x!);
      lower = !lower;
    } else continue;
    if (!other.ok || !typeFits(attr.valueType, other.value)) continue;
    range.consumed.push(p);
    const bound = { value: other.value, inclusive: op.inclusive };
    if (lower) {
      const cur = range.start;
      const cmp = cur ? compareValues(bound.value, cur.value) : 1;
      if (!cur || cmp > 0 || (cmp === 0 && !bound.inclusive)) range.start = bound;
    } else {
      const cur = range.end;
      const cmp = cur ? compareValues(bound.value, cur.value) : -1;
      if (!cur || cmp < 0 || (cmp === 0 && !bound.inclusive)) range.end = bound;
    }
  }
  return range.start || range.end ? range : null;
}

/** Variables of `not` that unify with the rest: its join vars, or body vars seen outside it. */
export function notJoinVars(c: Clause & { kind: 'not' }, outer: Set<string>): string[] {
  if (c.joinVars) return c.joinVars.map((v) => v.name);
  return clausesVars(c.clauses).filter((v) => outer.has(v));
}

/**
 * The only clause left, when it is a data pattern ready to run and no one reads the estimate: it
 * runs next whatever it costs, and estimating it is an index count as dear as a point lookup
 * itself (a lookup by unique value through `q` read the index twice).
 */
function loneStep(ctx: QueryContext, pending: Clause[], bound: Set<string>): PlannedStep | null {
  if (pending.length !== 1 || ctx.trace) return null;
  const c = pending[0]!;
  if (c.kind !== 'pattern' || !requiredVars(c, ctx.rules).every((v) => bound.has(v))) return null;
  return { clause: c, at: 0, estimate: -1 };
}

export function pickNext(ctx: QueryContext, pending: Clause[], rel: Relation, extraVisible: readonly string[]): PlannedStep {
  const bound = new Set(rel.vars);
  // inside rule bodies plan from the bound set only, so every semi-naive variant of a branch plans alike
  const relSize = ctx.ruleMode ? 1 : rel.rows.length;
  const lone = loneStep(ctx, pending, bound);
  if (lone) return lone;
  let best: PlannedStep | null = null;
  let bestText = '';
  for (let i = 0; i < pending.length; i++) {
    const c = pending[i]!;
    const req = requiredVars(c, ctx.rules);
    if (!req.every((v) => bound.has(v))) continue;
    let step: PlannedStep;
    switch (c.kind) {
      case 'predicate':
        step = { clause: c, at: i, estimate: -3 };
        break;
      case 'function':
        step = { clause: c, at: i, estimate: -2 };
        break;
      case 'not': {
        const outer = new Set<string>([...rel.vars, ...extraVisible]);
        pending.forEach((o, j) => j !== i && visibleVars(o).forEach((v) => outer.add(v)));
        const jv = notJoinVars(c, outer);
        if (!jv.every((v) => bound.has(v))) continue;
        step = { clause: c, at: i, estimate: -1, joinVars: jv };
        break;
      }
      case 'pattern': {
        const range = rangeFor(ctx, c, pending, rel);
        const est = estimatePattern(ctx, c, bound, relSize, range);
        step = { clause: c, at: i, estimate: est.rows, index: est.index, range: range ?? undefined, consumed: range?.consumed };
        break;
      }
      default: {
        const vs = visibleVars(c);
        const connected = vs.some((v) => bound.has(v));
        step = { clause: c, at: i, estimate: connected ? Math.max(1, relSize) * 5 : 1e9 + Math.max(1, relSize) };
        break;
      }
    }
    if (!best || step.estimate < best.estimate) {
      best = step;
      bestText = '';
    } else if (step.estimate === best.estimate) {
      bestText ||= printClause(best.clause);
      const text = printClause(c);
      if (text < bestText) {
        best = step;
        bestText = text;
      }
    }
  }
  if (!best) {
    const c = pending[0]!;
    const missing = [...requiredVars(c, ctx.rules)].filter((v) => !bound.has(v));
    throw queryError('query/insufficient-binding', `Insufficient binding of ${missing.length ? missing.join(', ') : 'variables'} in ${printClause(c)}`, c, printClause(c));
  }
  return best;
}
