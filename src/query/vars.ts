// Which variables a clause mentions, needs bound, and exposes to the surrounding query.
import type { Clause, Binding, FnArg, Term, Rule } from '../../query-lang/datalog/ast.js';

const isVar = (t: FnArg | Term | { kind: string }): t is { kind: 'var'; name: string } => t.kind === 'var';

export function termVars(terms: readonly (FnArg | Term)[]): string[] {
  const out: string[] = [];
  for (const t of terms) if (isVar(t) && !out.includes(t.name)) out.push(t.name);
  return out;
}

export function bindingVars(b: Binding): string[] {
  switch (b.kind) {
    case 'var':
      return [b.name];
    case 'bind-tuple':
    case 'bind-rel': {
      const out: string[] = [];
      for (const e of b.elements) for (const v of bindingVars(e)) if (!out.includes(v)) out.push(v);
      return out;
    }
    case 'bind-coll':
      return bindingVars(b.element);
    default:
      return [];
  }
}

function addAll(out: string[], vs: Iterable<string>): string[] {
  for (const v of vs) if (!out.includes(v)) out.push(v);
  return out;
}

/** Variables that unify with the surrounding query. */
export function visibleVars(c: Clause): string[] {
  switch (c.kind) {
    case 'pattern':
      return termVars(c.terms);
    case 'predicate':
      return termVars([...(c.fn.kind === 'var' ? [c.fn] : []), ...c.args]);
    case 'function':
      return addAll(termVars([...(c.fn.kind === 'var' ? [c.fn] : []), ...c.args]), bindingVars(c.binding));
    case 'not':
      return c.joinVars ? c.joinVars.map((v) => v.name) : clausesVars(c.clauses);
    case 'or':
      if (c.joinVars) return [...c.joinVars.required, ...c.joinVars.free].map((v) => v.name);
      return c.branches.reduce((acc, b) => addAll(acc, clausesVars(b)), [] as string[]);
    case 'and':
      return clausesVars(c.clauses);
    case 'rule-call':
      return termVars(c.args);
  }
}

export function clausesVars(cs: readonly Clause[]): string[] {
  const out: string[] = [];
  for (const c of cs) addAll(out, visibleVars(c));
  return out;
}

/** Variables that must be bound before the clause may run (beyond planner preferences). */
export function requiredVars(c: Clause, rules: Map<string, Rule[]>): string[] {
  switch (c.kind) {
    case 'predicate':
      return termVars([...(c.fn.kind === 'var' ? [c.fn] : []), ...c.args]);
    case 'function':
      return termVars([...(c.fn.kind === 'var' ? [c.fn] : []), ...c.args]);
    case 'or':
      return c.joinVars ? c.joinVars.required.map((v) => v.name) : [];
    case 'rule-call': {
      const branches = rules.get(c.name);
      const nReq = branches?.[0]?.vars.required.length ?? 0;
      return termVars(c.args.slice(0, nReq));
    }
    default:
      return [];
  }
}

/** Every RuleCall reachable in positive position (not inside `not`). */
export function positiveRuleCalls(cs: readonly Clause[], out: Clause[] = []): Clause[] {
  for (const c of cs) {
    if (c.kind === 'rule-call') out.push(c);
    else if (c.kind === 'and') positiveRuleCalls(c.clauses, out);
    else if (c.kind === 'or') for (const b of c.branches) positiveRuleCalls(b, out);
  }
  return out;
}
