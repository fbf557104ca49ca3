// Rules: demand-driven (per binding pattern) semi-naive fixpoint evaluation.
//
// Each (rule name, source, which head positions are bound) gets a table holding the demanded bound
// tuples and the answers found so far. A round evaluates every branch of every table (a) for demand
// that is new since the last round, against all answers, and (b) for all demand, once per positive
// rule-call site, with that call site reading only the previous round's new answers (the delta) and
// the others reading all answers. Rounds repeat until no table gains demand or answers. Calls inside
// `not` run a separate evaluation to completion (stratified negation).
import type { Rule, RuleCall, Clause } from '../../query-lang/datalog/ast.js';
import type { QueryContext, ExplainStep } from './context.js';
import { type Relation, type Row, join, distinctOf, project } from './relation.js';
import { positiveRuleCalls } from './vars.js';
import { tupleKey, valueKey } from './values.js';
import { queryError } from './errors.js';
import { printClause } from './print.js';
import { rightLinearPlan, evalRightLinear } from './linear-rules.js';
import { tick, growing, checkTime } from './budget.js';

const MAX_DEPTH = 200;

interface Table {
  name: string;
  bound: boolean[];
  ctx: QueryContext;
  demand: Map<string, Row>;
  demandDelta: Row[];
  pendingDemand: Map<string, Row>;
  answers: Map<string, Row>;
  delta: Row[];
  pendingAnswers: Map<string, Row>;
}

export function headVars(rule: Rule): string[] {
  return [...rule.vars.required, ...rule.vars.free].map((v) => v.name);
}

export class RuleEvaluator {
  private readonly tables = new Map<string, Table>();
  /** When explaining: where rule-branch steps go, and the step of each (table, branch). */
  trace: ExplainStep[] | null = null;
  private readonly traceNodes = new Map<string, ExplainStep>();

  table(ctx: QueryContext, name: string, srcName: string, bound: boolean[]): Table {
    const key = name + '|' + srcName + '|' + bound.map((b) => (b ? 'b' : 'f')).join('');
    let t = this.tables.get(key);
    if (!t) {
      t = { name, bound, ctx, demand: new Map(), demandDelta: [], pendingDemand: new Map(), answers: new Map(), delta: [], pendingAnswers: new Map() };
      this.tables.set(key, t);
    }
    return t;
  }

  addDemand(t: Table, rows: Row[]): void {
    for (const r of rows) {
      tick();
      const k = tupleKey(r);
      if (!t.demand.has(k)) t.pendingDemand.set(k, r);
    }
  }

  run(): void {
    for (;;) {
      checkTime();
      let changed = false;
      const withDelta = new Set<string>();
      for (const t of this.tables.values()) {
        t.demandDelta = [];
        for (const [k, r] of t.pendingDemand)
          if (!t.demand.has(k)) {
            t.demand.set(k, r);
            t.demandDelta.push(r);
          }
        t.pendingDemand.clear();
        t.delta = [];
        for (const [k, r] of t.pendingAnswers)
          if (!t.answers.has(k)) {
            growing(t.answers.size, t.bound.length);
            t.answers.set(k, r);
            t.delta.push(r);
          }
        t.pendingAnswers.clear();
        if (t.delta.length) withDelta.add(t.name);
        if (t.demandDelta.length || t.delta.length) changed = true;
      }
      if (!changed) return;
      for (const t of [...this.tables.values()]) {
        (t.ctx.rules.get(t.name) ?? []).forEach((rule, bi) => {
          if (t.demandDelta.length) this.evalBranch(t, rule, bi, t.demandDelta, null);
          if (t.demand.size && withDelta.size) {
            for (const call of positiveRuleCalls(rule.clauses)) {
              if (withDelta.has((call as RuleCall).name)) this.evalBranch(t, rule, bi, [...t.demand.values()], call);
            }
          }
        });
      }
    }
  }

  private evalBranch(t: Table, rule: Rule, branch: number, seedRows: Row[], deltaCall: Clause | null): void {
    const head = headVars(rule);
    const seedVars = head.filter((_, i) => t.bound[i]);
    // explain: one step per (rule, binding pattern, branch), with the clauses of its first evaluation
    let node: ExplainStep | undefined;
    let first = false;
    if (this.trace) {
      const key = t.name + '|' + t.bound.map((b) => (b ? 'b' : 'f')).join('') + '|' + branch;
      node = this.traceNodes.get(key);
      if (!node) {
        const args = head.map((v, i) => (t.bound[i] ? v + '!' : v)).join(' ');
        node = { clause: `(${t.name} ${args}) branch ${branch + 1}`, index: 'rule-branch', estimatedRows: 0, actualRows: 0, ms: 0, evaluations: 0, children: [] };
        this.traceNodes.set(key, node);
        this.trace.push(node);
        first = true;
      }
    }
    const t0 = node ? performance.now() : 0;
    const ctx: QueryContext = { ...t.ctx, trace: first ? node!.children! : null, ruleMode: { evaluator: this, deltaCall }, depth: t.ctx.depth + 1 };
    if (ctx.depth > MAX_DEPTH) throw queryError('query/rule-depth', `Rule ${t.name} nests too deeply (negation through recursion?)`, rule);
    // a head variable repeated among bound positions: keep consistent seeds only
    const seed: Relation = { vars: [], rows: [] };
    const idx: number[] = [];
    seedVars.forEach((v, i) => {
      if (!seed.vars.includes(v)) {
        seed.vars.push(v);
        idx.push(i);
      }
    });
    for (const r of seedRows) {
      if (seedVars.every((v, i) => valueKey(r[seedVars.indexOf(v)]) === valueKey(r[i]))) seed.rows.push(idx.map((i) => r[i]));
    }
    const res = ctx.evalClauses(ctx, rule.clauses, seed, head);
    for (const v of head) {
      if (!res.vars.includes(v)) {
        throw queryError('query/insufficient-binding', `Rule ${rule.name} does not bind ${v}`, rule, `(${rule.name} ${head.join(' ')})`);
      }
    }
    const answers = project(res, head).rows;
    for (const r of answers) {
      tick();
      const k = tupleKey(r);
      if (!t.answers.has(k)) t.pendingAnswers.set(k, r);
    }
    if (node) {
      node.evaluations!++;
      node.estimatedRows += seed.rows.length;
      node.actualRows += answers.length;
      node.ms += performance.now() - t0;
    }
  }
}

/**
 * Rule calls of `clauses` (nested ones too) against the arity of the rules bound by %, before any
 * evaluation: a wrong count must not surface as an unbound required argument when planning.
 */
export function checkRuleCallArity(ctx: QueryContext, clauses: readonly Clause[]): void {
  for (const c of clauses) {
    if (c.kind === 'rule-call') {
      const rules = ctx.rules.get(c.name);
      if (rules && rules.length > 0) checkArity(c, rules); // unknown rules are reported when called
    } else if (c.kind === 'not' || c.kind === 'and') checkRuleCallArity(ctx, c.clauses);
    else if (c.kind === 'or') for (const b of c.branches) checkRuleCallArity(ctx, b);
  }
}

/** query/rule-arity when `call` does not give the rules' number of arguments. */
function checkArity(call: RuleCall, rules: Rule[]): void {
  const arity = headVars(rules[0]!).length;
  if (call.args.length !== arity) throw queryError('query/rule-arity', `Rule ${call.name} takes ${arity} arguments, got ${call.args.length}`, call, printClause(call));
}

export function evalRuleCall(ctx: QueryContext, call: RuleCall, rel: Relation): Relation {
  const rules = ctx.rules.get(call.name);
  const text = printClause(call);
  if (!rules || rules.length === 0) throw queryError('query/unknown-rule', `Unknown rule ${call.name}`, call, text);
  checkArity(call, rules);
  const nReq = rules[0]!.vars.required.length;
  const bound = call.args.map((a) => a.kind === 'const' || (a.kind === 'var' && rel.vars.includes(a.name)));
  for (let i = 0; i < nReq; i++) {
    if (!bound[i]) throw queryError('query/insufficient-binding', `Rule ${call.name} requires argument ${i + 1} to be bound`, call, text);
  }
  let srcName = '$';
  let callCtx = ctx;
  if (call.src && call.src.name !== '$') {
    if (!ctx.sources.has(call.src.name)) throw queryError('query/missing-source', `No source ${call.src.name} bound in :in`, call, text);
    srcName = call.src.name;
    const sources = new Map(ctx.sources);
    sources.set('$', ctx.sources.get(call.src.name));
    callCtx = { ...ctx, sources };
  }
  // demand: distinct values of the bound arguments
  const boundVarNames = call.args.filter((a, i) => bound[i] && a.kind === 'var').map((a) => (a as { name: string }).name);
  const distinct = distinctOf(rel, [...new Set(boundVarNames)]);
  const uniq = [...new Set(boundVarNames)];
  const demand: Row[] = distinct.map((d) => call.args.flatMap((a, i) => (!bound[i] ? [] : a.kind === 'const' ? [a.value] : [d[uniq.indexOf((a as { name: string }).name)]])));
  const linear = ctx.ruleMode ? null : rightLinearPlan(rules, bound);
  const linearAnswers = linear ? evalRightLinear({ ...callCtx, ruleMode: null }, linear, bound, demand) : null;
  if (linearAnswers) return bindAnswers(call, rel, linearAnswers);
  const evaluator = (ctx.ruleMode?.evaluator as RuleEvaluator | undefined) ?? new RuleEvaluator();
  const tableCtx: QueryContext = { ...callCtx, ruleMode: null };
  const table = evaluator.table(tableCtx, call.name, srcName, bound);
  evaluator.addDemand(table, demand);
  let answers: Iterable<Row>;
  if (!ctx.ruleMode) {
    if (ctx.trace) evaluator.trace = ctx.trace;
    evaluator.run();
    answers = table.answers.values();
  } else answers = ctx.ruleMode.deltaCall === call ? table.delta : [...table.answers.values()];
  return bindAnswers(call, rel, answers);
}

/** A rule call's answers (head tuples) -> the relation over the call's variables, joined to `rel`. */
function bindAnswers(call: RuleCall, rel: Relation, answers: Iterable<Row>): Relation {
  const outVars: string[] = [];
  for (const a of call.args) if (a.kind === 'var' && !outVars.includes(a.name)) outVars.push(a.name);
  const rows: Row[] = [];
  outer: for (const ans of answers) {
    growing(rows.length, outVars.length);
    const vals = new Map<string, unknown>();
    for (let i = 0; i < call.args.length; i++) {
      const a = call.args[i]!;
      if (a.kind === 'const') {
        if (valueKey(a.value) !== valueKey(ans[i])) continue outer;
      } else if (a.kind === 'var') {
        if (vals.has(a.name)) {
          if (valueKey(vals.get(a.name)) !== valueKey(ans[i])) continue outer;
        } else vals.set(a.name, ans[i]);
      }
    }
    rows.push(outVars.map((v) => vals.get(v)));
  }
  return join(rel, { vars: outVars, rows });
}
