// Static validation of parsed queries and rule sets. Binding analysis is order-independent: a variable
// counts as bound if any binding clause of the same scope binds it (the engine may reorder clauses).
import type { Binding, Clause, FindElem, FnArg, Query, Rule, RuleSet, Term, Variable } from './ast.js';
import type { SourcePos } from '../edn/types.js';
import { QueryParseError } from './errors.js';

function fail(code: string, message: string, pos?: SourcePos): never {
  throw new QueryParseError(code, message, { pos });
}

function termVars(ts: readonly (Term | FnArg)[]): Variable[] {
  return ts.filter((t): t is Variable => t.kind === 'var');
}

/** Variables bound by an :in or function binding form. */
export function bindingVars(b: Binding, out: Variable[] = []): Variable[] {
  switch (b.kind) {
    case 'var':
      out.push(b);
      break;
    case 'bind-coll':
      bindingVars(b.element, out);
      break;
    case 'bind-tuple':
    case 'bind-rel':
      for (const e of b.elements) bindingVars(e, out);
      break;
    default:
  }
  return out;
}

/** Every variable appearing anywhere in a clause (bound or used). */
export function clauseVars(c: Clause, out: Set<string> = new Set()): Set<string> {
  switch (c.kind) {
    case 'pattern':
      for (const v of termVars(c.terms)) out.add(v.name);
      break;
    case 'rule-call':
      for (const v of termVars(c.args)) out.add(v.name);
      break;
    case 'predicate':
    case 'function':
      if (c.fn.kind === 'var') out.add(c.fn.name);
      for (const v of termVars(c.args)) out.add(v.name);
      if (c.kind === 'function') for (const v of bindingVars(c.binding)) out.add(v.name);
      break;
    case 'not':
      if (c.joinVars) for (const v of c.joinVars) out.add(v.name);
      else for (const s of c.clauses) clauseVars(s, out);
      break;
    case 'or':
      if (c.joinVars) for (const v of [...c.joinVars.required, ...c.joinVars.free]) out.add(v.name);
      else for (const b of c.branches) for (const s of b) clauseVars(s, out);
      break;
    case 'and':
      for (const s of c.clauses) clauseVars(s, out);
      break;
  }
  return out;
}

/** Variables a clause binds for the rest of its scope. */
export function clauseBinds(c: Clause, out: Set<string> = new Set()): Set<string> {
  switch (c.kind) {
    case 'pattern':
      for (const v of termVars(c.terms)) out.add(v.name);
      break;
    case 'rule-call':
      for (const v of termVars(c.args)) out.add(v.name);
      break;
    case 'function':
      for (const v of bindingVars(c.binding)) out.add(v.name);
      break;
    case 'or':
      if (c.joinVars) for (const v of [...c.joinVars.required, ...c.joinVars.free]) out.add(v.name);
      else for (const b of c.branches) for (const s of b) clauseBinds(s, out);
      break;
    case 'and':
      for (const s of c.clauses) clauseBinds(s, out);
      break;
    default:
  }
  return out;
}

function firstVarNamed(c: Clause | Clause[], name: string): Variable | undefined {
  const list = Array.isArray(c) ? c : [c];
  for (const cl of list) {
    let found: Variable | undefined;
    const visit = (x: Clause): void => {
      if (found) return;
      switch (x.kind) {
        case 'pattern':
          found = termVars(x.terms).find((v) => v.name === name);
          break;
        case 'rule-call':
          found = termVars(x.args).find((v) => v.name === name);
          break;
        case 'predicate':
        case 'function':
          found = (x.fn.kind === 'var' && x.fn.name === name ? x.fn : undefined) ?? termVars(x.args).find((v) => v.name === name);
          if (!found && x.kind === 'function') found = bindingVars(x.binding).find((v) => v.name === name);
          break;
        case 'not':
          found = x.joinVars?.find((v) => v.name === name);
          x.clauses.forEach(visit);
          break;
        case 'or':
          found = x.joinVars ? [...x.joinVars.required, ...x.joinVars.free].find((v) => v.name === name) : undefined;
          x.branches.forEach((b) => b.forEach(visit));
          break;
        case 'and':
          x.clauses.forEach(visit);
          break;
      }
    };
    visit(cl);
    if (found) return found;
  }
  return undefined;
}

/**
 * Check a conjunction of clauses. `outer` are the variables bound outside it (by :in, a rule head,
 * the enclosing query for `not`/`or`). Returns every variable bound in this scope.
 */
export function checkClauses(clauses: readonly Clause[], outer: ReadonlySet<string>): Set<string> {
  const binds = clauses.map((c) => clauseBinds(c));
  const bound = new Set(outer);
  for (const b of binds) for (const v of b) bound.add(v);
  const boundByOthers = (i: number, name: string): boolean => {
    if (outer.has(name)) return true;
    return binds.some((b, j) => j !== i && b.has(name));
  };
  const requireBound = (v: Variable, what: string): void => {
    if (!bound.has(v.name))
      fail('query/unbound-variable', `expected ${v.name} (used in ${what}) to be bound by a data pattern, function binding, rule call or :in, but it is never bound`, v.pos);
  };
  clauses.forEach((c, i) => {
    switch (c.kind) {
      case 'predicate':
      case 'function': {
        const what = `${c.kind} (${c.fn.name} ...)`;
        if (c.fn.kind === 'var') requireBound(c.fn, what);
        for (const v of termVars(c.args)) requireBound(v, what);
        break;
      }
      case 'not': {
        if (c.joinVars) {
          const inside = new Set<string>();
          for (const s of c.clauses) clauseVars(s, inside);
          for (const v of c.joinVars) {
            if (!boundByOthers(i, v.name)) fail('query/invalid-not', `expected not-join variable ${v.name} to be bound by the rest of the query, but it is not`, v.pos);
            if (!inside.has(v.name)) fail('query/invalid-not', `expected not-join variable ${v.name} to be used inside the not-join clauses`, v.pos);
          }
          checkClauses(c.clauses, new Set(c.joinVars.map((v) => v.name)));
        } else {
          const inside = new Set<string>();
          for (const s of c.clauses) clauseVars(s, inside);
          if (![...inside].some((v) => boundByOthers(i, v))) {
            fail(
              'query/invalid-not',
              `expected (not ...) to share at least one variable with the rest of the query, but none of ${[...inside].join(', ') || '(no variables)'} is bound outside it`,
              c.pos,
            );
          }
          checkClauses(c.clauses, bound);
        }
        break;
      }
      case 'or': {
        const uses = c.branches.map((b) => {
          const s = new Set<string>();
          for (const x of b) clauseVars(x, s);
          return s;
        });
        if (c.joinVars) {
          const join = [...c.joinVars.required, ...c.joinVars.free];
          // a required variable is bound on entry, so a branch need not mention it
          c.branches.forEach((b, bi) => {
            for (const v of c.joinVars!.free) {
              if (!uses[bi]!.has(v.name)) fail('query/invalid-or', `expected every branch of or-join to use join variable ${v.name}, but branch ${bi + 1} does not`, b[0]?.pos ?? c.pos);
            }
          });
          for (const v of c.joinVars.required) {
            if (!boundByOthers(i, v.name)) fail('query/insufficient-binding', `expected required or-join variable ${v.name} to be bound by the rest of the query, but it is not`, v.pos);
          }
          const inner = new Set(join.map((v) => v.name));
          for (const b of c.branches) checkClauses(b, inner);
        } else {
          const first = uses[0]!;
          c.branches.forEach((b, bi) => {
            const u = uses[bi]!;
            for (const v of u) {
              if (!first.has(v))
                fail(
                  'query/invalid-or',
                  `expected all branches of (or ...) to use the same variables, but ${v} appears in branch ${bi + 1} and not in branch 1 (use or-join)`,
                  firstVarNamed(b, v)?.pos ?? c.pos,
                );
            }
            for (const v of first) {
              if (!u.has(v))
                fail(
                  'query/invalid-or',
                  `expected all branches of (or ...) to use the same variables, but ${v} appears in branch 1 and not in branch ${bi + 1} (use or-join)`,
                  b[0]?.pos ?? c.pos,
                );
            }
          });
          for (const b of c.branches) checkClauses(b, bound);
        }
        break;
      }
      case 'and':
        checkClauses(c.clauses, bound);
        break;
      default:
    }
  });
  return bound;
}

function findElemVars(e: FindElem): Variable[] {
  if (e.kind === 'var') return [e];
  if (e.kind === 'pull') return [e.variable];
  return e.args.filter((a): a is Variable => a.kind === 'var');
}

/** Visits every clause, nested ones too, with the source a `($src not ...)` or `($src or ...)` around it names. */
function walkClauses(cs: readonly Clause[], f: (c: Clause, enclosingSrc?: string) => void, enclosingSrc?: string): void {
  for (const c of cs) {
    f(c, enclosingSrc);
    const inner = (c.kind === 'not' || c.kind === 'or') && c.src ? c.src.name : enclosingSrc;
    if (c.kind === 'not' || c.kind === 'and') walkClauses(c.clauses, f, inner);
    else if (c.kind === 'or') for (const b of c.branches) walkClauses(b, f, inner);
  }
}

/** Static checks on a parsed query (everything that does not need the rules or the database). */
export function validateQuery(q: Query): void {
  const inVars = new Set<string>();
  const srcs = new Set<string>();
  const patternNames = new Set<string>();
  let hasRules = false;
  const seenIn = new Set<string>();
  const noteIn = (name: string, pos?: SourcePos): void => {
    if (seenIn.has(name)) fail('query/syntax', `expected each :in binding name once but found ${name} twice`, pos);
    seenIn.add(name);
  };
  for (const b of q.in) {
    if (b.kind === 'src') {
      noteIn(b.name, b.pos);
      srcs.add(b.name);
    } else if (b.kind === 'rules-var') {
      noteIn(b.name);
      hasRules = true;
    } else if (b.kind === 'pattern-name') {
      noteIn(b.name, b.pos);
      patternNames.add(b.name);
    } else
      for (const v of bindingVars(b)) {
        noteIn(v.name, v.pos);
        inVars.add(v.name);
      }
  }
  const bound = checkClauses(q.where, inVars);
  const elems = q.find.kind === 'find-rel' || q.find.kind === 'find-tuple' ? q.find.elements : [q.find.element];
  for (const e of elems) {
    for (const v of findElemVars(e)) {
      if (!bound.has(v.name)) fail('query/unbound-variable', `expected :find variable ${v.name} to be bound in :where or :in, but it is never bound`, v.pos);
    }
    if (e.kind === 'aggregate' && e.fn.kind === 'var' && !inVars.has(e.fn.name)) {
      fail('query/unbound-variable', `expected custom aggregate ${e.fn.name} to be bound in :in`, e.fn.pos);
    }
    if (e.kind === 'pull') {
      if (e.pattern.kind === 'var' && !inVars.has(e.pattern.name)) fail('query/unbound-variable', `expected pull pattern variable ${e.pattern.name} to be bound in :in`, e.pattern.pos);
      if (e.pattern.kind === 'pattern-name' && !patternNames.has(e.pattern.name))
        fail('query/unbound-variable', `expected pull pattern name ${e.pattern.name} to be bound in :in`, e.pattern.pos);
      if (e.src && !srcs.has(e.src.name)) fail('query/unknown-source', `expected source ${e.src.name} to be declared in :in`, e.src.pos);
    }
  }
  for (const v of q.with) {
    if (!bound.has(v.name)) fail('query/unbound-variable', `expected :with variable ${v.name} to be bound in :where or :in, but it is never bound`, v.pos);
  }
  walkClauses(q.where, (c, enclosingSrc) => {
    if (c.kind === 'rule-call' && !hasRules) fail('query/missing-rules', `expected % in :in because the query calls rule (${c.name} ...)`, c.pos);
    const src = c.kind === 'pattern' || c.kind === 'rule-call' || c.kind === 'not' || c.kind === 'or' ? c.src : undefined;
    if (src && !srcs.has(src.name)) fail('query/unknown-source', `expected source ${src.name} to be declared in :in`, src.pos);
    if (c.kind === 'pattern' && !src && !enclosingSrc && !srcs.has('$')) fail('query/unknown-source', 'expected $ in :in because this data pattern uses the default source', c.pos);
    if (c.kind === 'predicate' || c.kind === 'function') {
      for (const a of c.args) if (a.kind === 'src' && !srcs.has(a.name)) fail('query/unknown-source', `expected source ${a.name} to be declared in :in`, a.pos);
    }
  });
}

/** Static checks on a rule set: consistent arity per name, sound not/or/predicates in every body. */
export function validateRuleSet(rules: RuleSet): void {
  const arity = ruleArities(rules);
  for (const r of rules) {
    const head = new Set([...r.vars.required, ...r.vars.free].map((v) => v.name));
    checkClauses(r.clauses, head);
    checkCalls(r.clauses, arity);
  }
}

function ruleArities(rules: RuleSet): Map<string, { arity: number; required: number; rule: Rule }> {
  const m = new Map<string, { arity: number; required: number; rule: Rule }>();
  for (const r of rules) {
    const arity = r.vars.required.length + r.vars.free.length;
    const prev = m.get(r.name);
    if (!prev) m.set(r.name, { arity, required: r.vars.required.length, rule: r });
    else if (prev.arity !== arity) {
      fail('query/rule-arity', `expected every branch of rule ${r.name} to have ${prev.arity} variable(s), but this branch has ${arity}`, r.pos);
    }
  }
  return m;
}

function checkCalls(clauses: readonly Clause[], arity: Map<string, { arity: number }>): void {
  walkClauses(clauses, (c) => {
    if (c.kind !== 'rule-call') return;
    const a = arity.get(c.name);
    if (!a) fail('query/unknown-rule', `expected a rule named ${c.name} in the rule set, but there is none`, c.pos);
    if (a.arity !== c.args.length) fail('query/rule-arity', `expected rule ${c.name} to be called with ${a.arity} argument(s) but found ${c.args.length}`, c.pos);
  });
}

/** Check the rule calls of `query` (and of the rules themselves) against `rules`: existence and arity. */
export function validateRuleCalls(query: Query, rules: RuleSet): void {
  const arity = ruleArities(rules);
  checkCalls(query.where, arity);
  for (const r of rules) checkCalls(r.clauses, arity);
}
