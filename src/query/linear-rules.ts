// Right-linear recursive rules called with their leading arguments bound, the shape of a
// transitive closure:
//   [(reach ?a ?b) [?a :follows ?b]]
//   [(reach ?a ?b) [?a :follows ?c] (reach ?c ?b)]
// The general evaluator (rules.ts) keeps a table of answers for every node the recursion reaches,
// which is quadratic in the reachable set. Here the free arguments pass through the recursive
// call unchanged, so (reach x ?b) holds exactly when a base branch holds for some node reachable
// from x: one search collects the reachable nodes (the "magic set" of the bound arguments), and
// the base branches run once over them.
import type { Clause, Rule, RuleCall, Term } from '../../query-lang/datalog/ast.js';
import { isDb, type QueryContext } from './context.js';
import { resolveAttr } from './pattern.js';
import { project, type Relation, type Row } from './relation.js';
import { tupleKey } from './values.js';
import { clausesVars } from './vars.js';
import { growing } from './budget.js';

interface RecursiveBranch {
  rule: Rule;
  /** The body before the recursive call: takes a node to the next ones. */
  step: Clause[];
  call: RuleCall;
}

export interface RightLinearPlan {
  name: string;
  recursive: RecursiveBranch[];
  base: Rule[];
}

/** The column that carries, through the search, which demanded tuple a node was reached from. */
const ORIGIN = '?__origin';

const headOf = (rule: Rule): string[] => [...rule.vars.required, ...rule.vars.free].map((v) => v.name);

/** Every rule call in the clauses, nested ones included. */
function ruleCalls(cs: readonly Clause[]): RuleCall[] {
  const out: RuleCall[] = [];
  for (const c of cs) {
    if (c.kind === 'rule-call') out.push(c);
    else if (c.kind === 'and' || c.kind === 'not') out.push(...ruleCalls(c.clauses));
    else if (c.kind === 'or') for (const b of c.branches) out.push(...ruleCalls(b));
  }
  return out;
}

/**
 * The right-linear plan for calling `rules` with the `bound` argument positions, or null when the
 * rules do not have that shape: every branch either calls no rule at all (a base branch) or ends
 * with its only rule call, a call of the same rule whose free arguments are the head's own free
 * variables, used nowhere else in the branch, and whose bound arguments are variables.
 */
export function rightLinearPlan(rules: Rule[], bound: boolean[]): RightLinearPlan | null {
  if (rules.length < 2 || !bound.some(Boolean) || bound.every(Boolean)) return null;
  const name = rules[0]!.name;
  const recursive: RecursiveBranch[] = [];
  const base: Rule[] = [];
  for (const rule of rules) {
    const head = headOf(rule);
    if (new Set(head).size !== head.length || head.length !== bound.length) return null;
    const calls = ruleCalls(rule.clauses);
    if (calls.length === 0) {
      base.push(rule);
      continue;
    }
    const call = rule.clauses[rule.clauses.length - 1];
    if (calls.length !== 1 || call !== calls[0] || call.kind !== 'rule-call' || call.name !== name || call.src) return null;
    if (call.args.length !== head.length) return null;
    const step = rule.clauses.slice(0, -1);
    for (let i = 0; i < head.length; i++) {
      const arg = call.args[i]!;
      if (arg.kind !== 'var') return null;
      if (bound[i]) continue;
      // a free argument passes through: the head's own variable, untouched by the step
      if (arg.name !== head[i] || clausesVars(step).includes(arg.name)) return null;
      if (call.args.some((a, j) => j !== i && a.kind === 'var' && a.name === arg.name)) return null;
    }
    recursive.push({ rule, step, call });
  }
  return recursive.length && base.length ? { name, recursive, base } : null;
}

/**
 * Answers (whole head tuples) of the planned rule for each demanded tuple of bound values, or
 * null when a base branch leaves a head variable unbound (the general evaluator reports that).
 */
export function evalRightLinear(ctx: QueryContext, plan: RightLinearPlan, bound: boolean[], demand: Row[]): Row[] | null {
  const inner: QueryContext = { ...ctx, ruleMode: null, trace: null, depth: ctx.depth + 1 };
  const boundAt = bound.flatMap((b, i) => (b ? [i] : []));
  const seen = new Set<string>();
  const answers = new Map<string, Row>();
  let frontier: Row[] = [];
  const reach = (vals: Row, origin: number) => {
    const row = [...vals, origin];
    const key = tupleKey(row);
    if (!seen.has(key)) {
      growing(seen.size, row.length);
      seen.add(key);
      frontier.push(row);
    }
  };
  demand.forEach((d, origin) => reach(d, origin));
  while (frontier.length) {
    const nodes = frontier;
    frontier = [];
    for (const rule of plan.base) {
      const head = headOf(rule);
      const seed: Relation = { vars: [...boundAt.map((i) => head[i]!), ORIGIN], rows: nodes };
      const rows = runBody(inner, rule.clauses, seed, [...head, ORIGIN]);
      if (!rows) return null;
      for (const r of rows) {
        growing(answers.size, head.length);
        const origin = r[head.length] as number;
        const answer = r.slice(0, head.length);
        boundAt.forEach((i, k) => (answer[i] = demand[origin]![k]));
        answers.set(tupleKey(answer), answer);
      }
    }
    for (const { rule, step, call } of plan.recursive) {
      const head = headOf(rule);
      const next = boundAt.map((i) => (call.args[i] as { name: string }).name);
      const seed: Relation = { vars: [...boundAt.map((i) => head[i]!), ORIGIN], rows: nodes };
      const rows = runBody(inner, step, seed, [...next, ORIGIN]);
      if (!rows) return null;
      for (const r of rows) reach(r.slice(0, next.length), r[next.length] as number);
    }
  }
  ctx.trace?.push({
    clause: `(${plan.name} ${bound.map((b) => (b ? 'bound' : 'free')).join(' ')}) right-linear: ${seen.size} nodes reached`,
    index: 'rule-linear',
    estimatedRows: demand.length,
    actualRows: answers.size,
    ms: 0,
  });
  return [...answers.values()];
}

/**
 * Rows of `outVars` for a branch body run over the seed rows; null when the body leaves one of
 * them unbound. A body that is one pattern [?from :attr ?to] from a seeded variable (a graph's
 * edges, the usual closure) is read straight from EAVT, one lookup per seed row: through the
 * planner, planning each round costs more than the lookups.
 */
function runBody(ctx: QueryContext, clauses: Clause[], seed: Relation, outVars: string[]): Row[] | null {
  const edge = edgePattern(ctx, clauses, seed.vars);
  if (!edge || !outVars.every((v) => v === edge.to || seed.vars.includes(v))) {
    const res = ctx.evalClauses(ctx, clauses, seed, outVars);
    return outVars.every((v) => res.vars.includes(v)) ? project(res, outVars).rows : null;
  }
  const { db, attr, fromCol, to } = edge;
  const cols = outVars.map((v) => (v === to ? -1 : seed.vars.indexOf(v)));
  const rows: Row[] = [];
  const emit = (row: Row, v: unknown) => {
    growing(rows.length, cols.length);
    rows.push(cols.map((c) => (c < 0 ? v : row[c])));
  };
  const col = db.column(attr, seed.rows.length);
  for (const row of seed.rows) {
    const from = row[fromCol];
    const e = typeof from === 'number' ? from : db.entid(from);
    if (e === null) continue;
    if (!col) db.visitDatoms('eavt', [e, attr], (_e, _a, v) => emit(row, v));
    else for (let i = col.slotOf(e); i >= 0 && i < col.es.length && col.es[i] === e; i++) emit(row, col.vs[i]);
  }
  return rows;
}

/** [?from :attr ?to] on the default database, ?from seeded and ?to new: its parts, else null. */
function edgePattern(ctx: QueryContext, clauses: Clause[], seeded: string[]) {
  const c = clauses.length === 1 ? clauses[0]! : null;
  if (c?.kind !== 'pattern' || c.src || c.terms.length !== 3) return null;
  const [from, a, to] = c.terms as [Term, Term, Term];
  if (from.kind !== 'var' || a.kind !== 'const' || to.kind !== 'var' || to.name === from.name) return null;
  if (!seeded.includes(from.name) || seeded.includes(to.name)) return null;
  const db = ctx.sources.get('$');
  if (!isDb(db)) return null;
  const attr = resolveAttr(ctx, db, a.value);
  if (!attr) return null;
  return { db, attr: attr.id, fromCol: seeded.indexOf(from.name), to: to.name };
}
