// Scalar :in values planted into the where clauses as constants, as Datalevin does: a pattern or
// predicate then holds a literal, which the planner turns into index bounds exactly as if it had
// been written in the query, and no row of the relation carries the input as a column.
import type { Clause, Constant, Variable } from '../../query-lang/datalog/ast.js';
import { Keyword, type EdnValue, type SourcePos } from '../../query-lang/edn/types.js';
import type { Relation } from './relation.js';
import { visibleVars } from './vars.js';

/**
 * Plant the variables bound by the one row of `rel` that the find spec does not need (`keep`),
 * when each is a plain value used only as a pattern term or a function or predicate argument.
 */
export function plantScalarInputs(
  where: readonly Clause[],
  rel: Relation,
  keep: readonly string[],
  may: ReadonlySet<string> = plantableVars(where, keep, rel.vars),
): { where: readonly Clause[]; rel: Relation } {
  if (rel.rows.length !== 1) return { where, rel };
  const row = rel.rows[0]!;
  const planted = new Map<string, EdnValue>();
  rel.vars.forEach((v, i) => {
    if (may.has(v) && isPlainValue(row[i])) planted.set(v, row[i] as EdnValue);
  });
  if (planted.size === 0) return { where, rel };
  const vars = rel.vars.filter((v) => !planted.has(v));
  return {
    where: where.map((c) => plantIn(c, planted)),
    rel: { vars, rows: [vars.map((v) => row[rel.vars.indexOf(v)])], distinct: true },
  };
}

/** Which of `candidates` may be planted whatever their values: what the query's text alone decides. */
export function plantableVars(where: readonly Clause[], keep: readonly string[], candidates: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const v of candidates) if (!keep.includes(v) && where.every((c) => plantable(c, v))) out.add(v);
  return out;
}

function isPlainValue(x: unknown): boolean {
  const t = typeof x;
  return t === 'number' || t === 'string' || t === 'boolean' || t === 'bigint' || x instanceof Date || x instanceof Keyword;
}

/** May `v` become a constant in `c`: it is not a function, not bound by it, not inside not/or/rules. */
function plantable(c: Clause, v: string): boolean {
  switch (c.kind) {
    case 'pattern':
      return true;
    case 'predicate':
      return !(c.fn.kind === 'var' && c.fn.name === v);
    case 'function':
      return !(c.fn.kind === 'var' && c.fn.name === v) && !visibleVars({ ...c, args: [] }).includes(v);
    case 'and':
      return c.clauses.every((inner) => plantable(inner, v));
    default:
      return !visibleVars(c).includes(v);
  }
}

function plantIn(c: Clause, planted: Map<string, EdnValue>): Clause {
  const constant = <T extends { kind: string; pos?: SourcePos }>(t: T): T | Constant => {
    if (t.kind !== 'var') return t;
    const value = planted.get((t as unknown as Variable).name);
    return value === undefined ? t : { kind: 'const', value, pos: t.pos };
  };
  switch (c.kind) {
    case 'pattern':
      return { ...c, terms: c.terms.map(constant) as typeof c.terms };
    case 'predicate':
    case 'function':
      return { ...c, args: c.args.map(constant) as typeof c.args };
    case 'and':
      return { ...c, clauses: c.clauses.map((inner) => plantIn(inner, planted)) };
    default:
      return c;
  }
}
