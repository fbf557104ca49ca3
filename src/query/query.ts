// Entry points: q(query, ...inputs) and explain(query, ...inputs).
import type { Query, Rule, RuleSet, Clause, PullPattern } from '../../query-lang/datalog/ast.js';
import { cachedQuery, isLocated, parseQuery, parseRules, readLocated, type LocatedForm } from '../../query-lang/datalog/index.js';
import { Keyword, isPlainObject, type EdnValue } from '../../query-lang/edn/types.js';
import { resolveAttr, resolveEntity } from './pattern.js';
import type { QueryContext, ExplainStep } from './context.js';
import { isDb } from './context.js';
import { type Relation, unitRelation, join } from './relation.js';
import { evalClauses } from './engine.js';
import { checkRuleCallArity } from './rules.js';
import { plantScalarInputs } from './plant-inputs.js';
import { produceResult } from './find.js';
import { expandBinding } from './bindings.js';
import { bindingVars } from './vars.js';
import { queryError } from './errors.js';
import { printBinding } from './print.js';
import { toPullPattern } from '../pull/pull.js';
import { withBudget, enterClause, type QueryLimits } from './budget.js';
import { foldedResult } from './fold.js';
import { joinFoldedResult } from './fold-join.js';
import { prepare, preparedText, rememberText, type PreparedQuery } from './prepared.js';

/** A query as EDN text, EDN data, JS data (`{ find, in, where }` or a vector), parsed, or a query map. */
export type QueryInput = string | EdnValue | Query | QueryMap | Record<string, unknown> | readonly unknown[];

/** Datomic's query map: the query, its inputs and its limits in one value (`q({ query, args, timeout })`). */
export interface QueryMap extends QueryLimits {
  query: string | EdnValue | Query;
  args?: unknown[];
}

export type { QueryLimits };

const QUERY_KW = Keyword.of('query');
const ARGS_KW = Keyword.of('args');
const TIMEOUT_KW = Keyword.of('timeout');
const MAX_VALUES_KW = Keyword.of('max-values');
const HEAP_SHARE_KW = Keyword.of('heap-share');

/** The limits a query map gives (:timeout, :max-values and :heap-share in EDN), absent keys left out. */
function limitsOf(timeout: unknown, maxValues: unknown, heapShare?: unknown): QueryLimits {
  const out: QueryLimits = {};
  if (heapShare !== undefined && heapShare !== null) out.heapShare = heapShare as number;
  if (timeout !== undefined && timeout !== null) out.timeout = (typeof timeout === 'bigint' ? Number(timeout) : timeout) as number;
  if (maxValues !== undefined && maxValues !== null) out.maxValues = (typeof maxValues === 'bigint' ? Number(maxValues) : maxValues) as number;
  return out;
}

/**
 * `{:query ... :args [...] :timeout ms}` (EDN text, EDN map or JS object) -> query, inputs and limits.
 * Text is read once: a query map's :query goes on as EDN data, any other text as the form read.
 */
function unwrapQueryMap(query: QueryInput, inputs: unknown[]): { query: QueryInput | LocatedForm; inputs: unknown[]; limits: QueryLimits } {
  let qv: unknown;
  let args: unknown;
  let limits: QueryLimits;
  if (typeof query === 'string') {
    if (cachedQuery(query)) return { query, inputs, limits: {} };
    const read = readLocated(query);
    const m = read.value;
    if (!(m instanceof Map && m.has(QUERY_KW))) return { query: read, inputs, limits: {} };
    qv = m.get(QUERY_KW);
    args = m.get(ARGS_KW);
    limits = limitsOf(m.get(TIMEOUT_KW), m.get(MAX_VALUES_KW), m.get(HEAP_SHARE_KW));
  } else if (query instanceof Map) {
    if (!query.has(QUERY_KW)) return { query, inputs, limits: {} };
    qv = query.get(QUERY_KW);
    args = query.get(ARGS_KW);
    limits = limitsOf(query.get(TIMEOUT_KW), query.get(MAX_VALUES_KW), query.get(HEAP_SHARE_KW));
  } else if (query && typeof query === 'object' && !Array.isArray(query) && 'query' in query && !isQueryAst(query)) {
    qv = (query as QueryMap).query;
    args = (query as QueryMap).args;
    limits = limitsOf((query as QueryMap).timeout, (query as QueryMap).maxValues, (query as QueryMap).heapShare);
  } else return { query, inputs, limits: {} };
  if (qv === undefined || qv === null) throw queryError('query/invalid-query', 'A query map needs :query');
  if (args !== undefined && args !== null && !Array.isArray(args)) throw queryError('query/invalid-query', 'The :args of a query map must be a vector');
  if (Array.isArray(args) && args.length && inputs.length === 1 && isOptions(inputs[0])) {
    return { query: qv as QueryInput, inputs: args, limits: { ...limits, ...optionLimits(inputs[0]) } };
  }
  if (Array.isArray(args) && args.length && inputs.length) {
    throw queryError('query/input-arity', 'Give the inputs either in :args of the query map or after it, not both');
  }
  return { query: qv as QueryInput, inputs: Array.isArray(args) && args.length ? args : inputs, limits };
}

const OPTION_KEYS = new Set(['timeout', 'maxValues', 'heapShare']);

/** `{ timeout, maxValues, heapShare }`: a plain object with option keys only. */
function isOptions(x: unknown): x is QueryLimits {
  return isPlainObject(x) && Object.keys(x).every((k) => OPTION_KEYS.has(k));
}

const optionLimits = (o: QueryLimits): QueryLimits => limitsOf(o.timeout, o.maxValues, o.heapShare);

/**
 * `q(query, ...inputs, { timeout })`: a plain object with only option keys after every input the
 * query's :in asks for is the options; as an input the query asks for, the same object stays an input.
 */
function trailingOptions(query: Query, inputs: unknown[]): { inputs: unknown[]; limits: QueryLimits } {
  const expected = query.in.length || 1;
  const last = inputs[inputs.length - 1];
  if (inputs.length !== expected + 1 || !isOptions(last)) return { inputs, limits: {} };
  return { inputs: inputs.slice(0, -1), limits: optionLimits(last) };
}

/** The connection's default limits (open({ queryTimeout, queryMaxValues })), from the first database input. */
function connectionLimits(inputs: unknown[]): QueryLimits {
  const db = inputs.find(isDb) as { ctx?: { queryLimits?: QueryLimits } } | undefined;
  return db?.ctx?.queryLimits ?? {};
}

function isQueryAst(x: unknown): x is Query {
  return typeof x === 'object' && x !== null && 'find' in x && 'where' in x && typeof (x as Query).find === 'object' && 'kind' in (x as Query).find;
}

export function toQuery(query: QueryInput | LocatedForm): Query {
  if (isQueryAst(query)) return query;
  const inner = isLocated(query) ? query : unwrapQueryMap(query, []).query;
  return isQueryAst(inner) ? inner : parseQuery(inner as string | EdnValue | LocatedForm);
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
    evalClauses,
    sources: new Map(),
    rules: new Map(),
    pullPatterns: new Map(),
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
function bindInputs(ctx: QueryContext, p: PreparedQuery, inputs: unknown[]): Relation {
  const { query, ins } = p;
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
    } else if (b.kind === 'pattern-name') {
      if (value === null || value === undefined) throw queryError('query/missing-input', `Pull pattern input ${b.name} is nil`, b.pos ? b : query, b.name);
      ctx.pullPatterns.set(b.name, toPullPattern(value as string | EdnValue | PullPattern));
    } else {
      if (value === undefined) throw queryError('query/missing-input', `Missing input for ${printBinding(b)}`, query, printBinding(b));
      rel = join(rel, { vars: bindingVars(b), rows: expandBinding(b, value, query, false) });
    }
  });
  if (rel.rows.length <= 1) rel.distinct = true;
  return rel;
}

/** Positions where a variable names an entity: e, tx, and v of a ref attribute. Per variable: the sources it is used with. */
function entityPositionVars(ctx: QueryContext, clauses: readonly Clause[], out = new Map<string, Set<string>>()): Map<string, Set<string>> {
  const add = (name: string, src: string) => {
    let s = out.get(name);
    if (!s) out.set(name, (s = new Set()));
    s.add(src);
  };
  for (const c of clauses) {
    switch (c.kind) {
      case 'pattern': {
        const src = c.src?.name ?? '$';
        const [e, a, v, tx] = c.terms;
        if (e?.kind === 'var') add(e.name, src);
        if (tx?.kind === 'var') add(tx.name, src);
        if (v?.kind === 'var' && a?.kind === 'const') {
          const db = ctx.sources.get(src);
          if (isDb(db) && resolveAttr(ctx, db, a.value)?.valueType === 'ref') add(v.name, src);
        }
        break;
      }
      case 'not':
      case 'and':
        entityPositionVars(ctx, c.clauses, out);
        break;
      case 'or':
        for (const b of c.branches) entityPositionVars(ctx, b, out);
        break;
    }
  }
  return out;
}

/** An ident, lookup ref or bigint id: an input value that may name an entity other than by its id. */
const namesEntity = (x: unknown): boolean => x instanceof Keyword || Array.isArray(x) || typeof x === 'bigint';

/**
 * Inputs that name entities by ident or lookup ref, bound to a variable used in an entity position,
 * become entity ids once, up front: every strategy (probe, scan + hash join) then sees plain ids.
 */
function normaliseEntityInputs(ctx: QueryContext, query: Query, rel: Relation): Relation {
  if (rel.vars.length === 0 || rel.rows.length === 0) return rel;
  if (!rel.rows.some((r) => r.some(namesEntity))) return rel;
  const uses = entityPositionVars(ctx, query.where);
  let rows = rel.rows;
  rel.vars.forEach((v, i) => {
    const srcs = uses.get(v);
    if (!srcs || srcs.size !== 1) return;
    const db = ctx.sources.get([...srcs][0]!);
    if (!isDb(db)) return;
    if (!rows.some((r) => namesEntity(r[i]))) return;
    rows = rows.map((r) => {
      const x = r[i];
      if (!namesEntity(x)) return r;
      const id = resolveEntity(db, x);
      if (id === null) return r;
      const copy = r.slice();
      copy[i] = id;
      return copy;
    });
  });
  return rows === rel.rows ? rel : { vars: rel.vars, rows, distinct: rel.rows.length <= 1 };
}

/** A rule that depends on itself through `not` / `not-join` has no stratified meaning. */
function checkStratified(ctx: QueryContext, where: readonly Clause[]): void {
  if (ctx.rules.size === 0) return;
  // edges: rule -> rules its bodies call, with whether the call sits under a negation
  const calls = (cs: readonly Clause[], neg: boolean, out: [string, boolean][]) => {
    for (const c of cs) {
      if (c.kind === 'rule-call') out.push([c.name, neg]);
      else if (c.kind === 'not') calls(c.clauses, true, out);
      else if (c.kind === 'and') calls(c.clauses, neg, out);
      else if (c.kind === 'or') for (const b of c.branches) calls(b, neg, out);
    }
    return out;
  };
  const edges = new Map<string, [string, boolean][]>();
  for (const [name, branches] of ctx.rules)
    edges.set(
      name,
      branches.flatMap((r) => calls(r.clauses, false, [])),
    );
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>();
    const stack = [from];
    while (stack.length) {
      const n = stack.pop()!;
      if (n === to) return true;
      if (seen.has(n)) continue;
      seen.add(n);
      for (const [m] of edges.get(n) ?? []) stack.push(m);
    }
    return false;
  };
  // only rules the query can reach matter
  const reachable = new Set<string>();
  const stack = calls(where, false, []).map(([n]) => n);
  while (stack.length) {
    const n = stack.pop()!;
    if (reachable.has(n)) continue;
    reachable.add(n);
    for (const [m] of edges.get(n) ?? []) stack.push(m);
  }
  for (const name of [...reachable].sort()) {
    for (const [callee, neg] of edges.get(name) ?? []) {
      if (neg && reaches(callee, name)) {
        const via = callee === name ? '' : ` (through ${callee})`;
        throw queryError('query/unstratified', `Rule ${name} depends on itself through negation${via}: the rule set cannot be stratified`, ctx.rules.get(name)![0], name);
      }
    }
  }
}

/** The query's preparation: from the text cache when the text was seen, else parsed (and the text kept). */
function prepared(query: QueryInput, allInputs: unknown[]): { p: PreparedQuery; inputs: unknown[]; limits: QueryLimits } {
  if (typeof query === 'string') {
    const hit = preparedText(query);
    if (hit) return { p: hit, inputs: allInputs, limits: {} };
  }
  const unwrapped = unwrapQueryMap(query, allInputs);
  const p = prepare(toQuery(unwrapped.query));
  // only a query's own text names it: a query map's text also holds its arguments
  const own = unwrapped.query === query || (isLocated(unwrapped.query) && unwrapped.query.text === query);
  if (typeof query === 'string' && own) rememberText(query, p);
  return { p, inputs: unwrapped.inputs, limits: unwrapped.limits };
}

function run(query: QueryInput, allInputs: unknown[], trace: ExplainStep[] | null): { q: Query; result: unknown } {
  const { p, inputs: given, limits: mapLimits } = prepared(query, allInputs);
  const qq = p.query;
  const { inputs, limits } = trailingOptions(qq, given);
  return withBudget({ ...mapLimits, ...limits }, connectionLimits(inputs), () => {
    const ctx = newContext(trace);
    const bound = normaliseEntityInputs(ctx, qq, bindInputs(ctx, p, inputs));
    if (ctx.rules.size > 0) {
      checkRuleCallArity(ctx, qq.where);
      checkStratified(ctx, qq.where);
    }
    const folded = foldedResult(ctx, qq, bound) ?? joinFoldedResult(ctx, qq, bound);
    if (folded) return { q: qq, result: folded.result };
    const visible = p.findVars;
    const { where, rel } = plantScalarInputs(qq.where, bound, visible, p.plantable);
    const out = evalClauses(ctx, where, rel, visible);
    enterClause('the :find');
    return { q: qq, result: produceResult(ctx, qq, out) };
  });
}

/**
 * Runs a Datalog query. Inputs follow the query, in :in order (default `:in $`); a last argument
 * `{ timeout, maxValues, heapShare }` sets the query's limits (query/timeout, query/too-large).
 */
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
      const print = (list: ExplainStep[], indent: string) => {
        list.forEach((s, i) => {
          const extra = [
            s.strategy,
            s.range ? `range ${s.range}` : '',
            s.datomsRead !== undefined ? `read ${s.datomsRead}` : '',
            s.evaluations !== undefined ? `${s.evaluations} evaluation(s)` : '',
          ]
            .filter(Boolean)
            .join(', ');
          const num = indent ? `${i + 1}.` : `${String(i + 1).padStart(2)}.`;
          lines.push(`${indent}${num} ${s.clause}  index=${s.index}${extra ? ` (${extra})` : ''}  est=${s.estimatedRows} actual=${s.actualRows}  ${s.ms.toFixed(2)}ms`);
          if (s.children) print(s.children, indent + '    ');
        });
      };
      print(steps, '');
      lines.push(`total: ${totalMs.toFixed(2)}ms, ${resultCount} result(s)`);
      return lines.join('\n');
    },
  };
}
