// Prints AST clauses back as EDN text (for explain output and error messages).
import type { Clause, FnArg, Term, Binding, RuleVars, FindElem } from '../../query-lang/datalog/ast.js';
import { printValue } from './builtins.js';
import { Keyword, Sym } from '../../query-lang/edn/types.js';

function constText(v: unknown): string {
  if (v instanceof Keyword) return v.toString();
  if (v instanceof Sym) return "'" + v.name;
  return printValue(v);
}

export function printArg(t: Term | FnArg): string {
  switch (t.kind) {
    case 'var':
    case 'src':
      return t.name;
    case 'blank':
      return '_';
    case 'const':
      return constText(t.value);
  }
}

export function printBinding(b: Binding): string {
  switch (b.kind) {
    case 'var':
    case 'src':
    case 'rules-var':
    case 'pattern-name':
      return b.name;
    case 'blank':
      return '_';
    case 'bind-tuple':
      return '[' + b.elements.map(printBinding).join(' ') + ']';
    case 'bind-coll':
      return '[' + printBinding(b.element) + ' ...]';
    case 'bind-rel':
      return '[[' + b.elements.map(printBinding).join(' ') + ']]';
  }
}

function printRuleVars(v: RuleVars): string {
  const req = v.required.length ? ['[' + v.required.map((x) => x.name).join(' ') + ']'] : [];
  return [...req, ...v.free.map((x) => x.name)].join(' ');
}

export function printClause(c: Clause): string {
  const src = (s?: { name: string }) => (s ? s.name + ' ' : '');
  switch (c.kind) {
    case 'pattern':
      return '[' + src(c.src) + c.terms.map(printArg).join(' ') + ']';
    case 'predicate':
      return '[(' + [c.fn.name, ...c.args.map(printArg)].join(' ') + ')]';
    case 'function':
      return '[(' + [c.fn.name, ...c.args.map(printArg)].join(' ') + ') ' + printBinding(c.binding) + ']';
    case 'not':
      return '(' + src(c.src) + (c.joinVars ? 'not-join [' + c.joinVars.map((v) => v.name).join(' ') + '] ' : 'not ') + c.clauses.map(printClause).join(' ') + ')';
    case 'or': {
      const branch = (b: Clause[]) => (b.length === 1 ? printClause(b[0]!) : '(and ' + b.map(printClause).join(' ') + ')');
      return '(' + src(c.src) + (c.joinVars ? 'or-join [' + printRuleVars(c.joinVars) + '] ' : 'or ') + c.branches.map(branch).join(' ') + ')';
    }
    case 'and':
      return '(and ' + c.clauses.map(printClause).join(' ') + ')';
    case 'rule-call':
      return '(' + src(c.src) + [c.name, ...c.args.map(printArg)].join(' ') + ')';
  }
}

export function printFindElem(e: FindElem): string {
  switch (e.kind) {
    case 'var':
      return e.name;
    case 'aggregate':
      return '(' + [e.fn.name, ...e.args.map(printArg)].join(' ') + ')';
    case 'pull':
      return '(pull ' + (e.src ? e.src.name + ' ' : '') + e.variable.name + ' ' + (e.pattern.kind === 'pull-pattern' ? '[...]' : e.pattern.name) + ')';
  }
}
