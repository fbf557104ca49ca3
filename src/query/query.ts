// Entry points: q(query, ...inputs) and explain(query, ...inputs).
import type { Query, Rule, RuleSet, Binding } from '../../query-lang/datalog/ast.js';
import { parseQuery, parseRules } from '../../query-lang/datalog/index.js';
import type { EdnValue } from '../../query-lang/edn/types.js';
import type { QueryContext, ExplainStep } from './context.js';
import { isDb } from './context.js';
import { type Relation, unitRelation, join } from './relation.js';
import { evalClauses } from './engine.js';
import { produceResult, findVars } from './find.js';
import { expandBinding } from './bindings.js';
import { bindingVars } from './vars.js';
import { queryError } from './errors.js';
import { printBinding } from './print.js';

export type QueryInput = string | EdnValue | Query;

function isQueryAst(x: unknown): x is Query {
  return typeof x === 'object' && x !== null && 'find' in x && 'where' in x && typeof (x as Query).find === 'object' && 'kind' in (x as Query).find;
}

export function toQuery(query: QueryInput): Query {
  return isQueryAst(query) ? query : parseQuery(query as string | EdnValue);
}

function isRuleSet(x: unknown): x is RuleSet {
  return Array.isArray(x) && x.every((r) => typeof r === 'object' && r !== null && 'clauses' in r && 'vars' in r && 'name' in r);
}

function toRules(x: unknown, q: Query): Map<string, Rule[]> {
  if (x === null || x === undefined) throw queryError('query/missing-input', 'Rules input (%) is nil', q, '%');
  const rs: RuleSet = isRuleSet(x) ? x : parseRules(x as string | EdnValue);
  const m = new Map<string, Rule[]>();
  for (const r of rs) {
    const list = m.get(r.name) ?? [];
    list.push(r);
    m.set(r.name, list);
  }
  return m;
}

function newContext(trace: ExplainStep[] | null): QueryContext {
  const ctx: QueryContext = {
    sources: new Map(),
    rules: new Map(),
    trace,
    ruleMode: null,
    depth: 0,
    builtins: { q: (query, inputs) => q(query as QueryInput, ...inputs) },
    attrCache: new Map(),
    patternCache: new Map(),
  };
  return ctx;
}

/** Binds :in to the inputs: sources, rules and a relation of scalar/tuple/coll/rel bindings. */
function bindInputs(ctx: QueryContext, query: Query, inputs: unknown[]): Relation {
  const ins: Binding[] = query.in.length ? query.in : [{ kind: 'src', name: '$' }];
  if (inputs.length < ins.length) {
    const missing = ins.slice(inputs.length).map(printBinding).join(' ');
    throw queryError('query/missing-input', `Query expects ${ins.length} inputs, got ${inputs.length}: missing ${missing}`, query, missing);
  }
  if (inputs.length > ins.length) {
    throw queryError('query/input-arity', `Query expects ${ins.length} inputs (:in ${ins.map(printBinding).join(' ')}), got ${inputs.length}`, query);
  }
  let rel = unitRelation();
  ins.forEach((b, i) => {
    const value = inputs[i];
    if (b.kind === 'src') {
      if (value === null || value === undefined || (!isDb(value) && typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function')) {
        throw queryError('query/invalid-source', `Input for ${b.name} must be a database or a collection`, b.pos ? b : query, b.name);
      }
      ctx.sources.set(b.name, value);
    } else if (b.kind === 'rules-var') {
      for (const [k, v] of toRules(value, query)) ctx.rules.set(k, v);
    } else {
      if (value === undefined) throw queryError('query/missing-input', `Missing input for ${printBinding(b)}`, query, printBinding(b));
      rel = join(rel, { vars: bindingVars(b), rows: expandBinding(b, value, query, false) });
    }
  });
  return rel;
}

function run(query: QueryInput, inputs: unknown[], trace: ExplainStep[] | null): { q: Query; result: unknown } {
  const qq = toQuery(query);
  const ctx = newContext(trace);
  const rel = bindInputs(ctx, qq, inputs);
  const out = evalClauses(ctx, qq.where, rel, findVars(qq));
  return { q: qq, result: produceResult(ctx, qq, out) };
}

/** Runs a Datalog query. Inputs follow the query, in :in order (default `:in $`). */
export function q<T = any>(query: QueryInput, ...inputs: unknown[]): T {
  return run(query, inputs, null).result as T;
}

export interface Explanation {
  query: string;
  steps: ExplainStep[];
  totalMs: number;
  /** Number of result rows (or 1/0 for scalar and tuple finds). */
  resultCount: number;
  result: unknown;
  toString(): string;
}

/** Runs the query and reports the plan chosen: one step per clause, in execution order. */
export function explain(query: QueryInput, ...inputs: unknown[]): Explanation {
  const steps: ExplainStep[] = [];
  const t0 = performance.now();
  const { q: qq, result } = run(query, inputs, steps);
  const totalMs = performance.now() - t0;
  const resultCount = Array.isArray(result) ? result.length : result === null ? 0 : 1;
  const text = qq.text ?? '(query)';
  return {
    query: text,
    steps,
    totalMs,
    resultCount,
    result,
    toString() {
      const lines = [`query: ${text}`];
      steps.forEach((s, i) => {
        const extra = [s.strategy, s.range ? `range ${s.range}` : '', s.datomsRead !== undefined ? `read ${s.datomsRead}` : '']
          .filter(Boolean)
          .join(', ');
        lines.push(
          `${String(i + 1).padStart(2)}. ${s.clause}  index=${s.index}${extra ? ` (${extra})` : ''}  est=${s.estimatedRows} actual=${s.actualRows}  ${s.ms.toFixed(2)}ms`,
        );
      });
      lines.push(`total: ${totalMs.toFixed(2)}ms, ${resultCount} result(s)`);
      return lines.join('\n');
    },
  };
}
