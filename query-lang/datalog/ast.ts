// Typed AST for Datomic-dialect Datalog queries, rules and pull patterns.
// Produced by query-lang's parsers, consumed by src/query and src/pull. No storage knowledge here.
import type { EdnValue, SourcePos } from '../edn/types.js';

export interface Located {
  /** Where the form starts in the query text, when it came from text. */
  pos?: SourcePos;
}

/** `?name` — name includes the `?`. */
export interface Variable extends Located {
  kind: 'var';
  name: string;
}

/** `$` or `$name` — name includes the `$`. */
export interface SrcVar extends Located {
  kind: 'src';
  name: string;
}

/** `_` */
export interface Blank extends Located {
  kind: 'blank';
}

/** Any EDN literal (keyword, string, number, lookup-ref vector, ...). */
export interface Constant extends Located {
  kind: 'const';
  value: EdnValue;
}

/** A plain symbol naming a function or predicate: `<`, `str`, `clojure.string/includes?`. */
export interface FnName extends Located {
  kind: 'fn-name';
  name: string;
}

export type Term = Variable | Constant | Blank;
export type FnArg = Variable | Constant | SrcVar | Blank;

// ---------- find ----------

export interface AggregateElem extends Located {
  kind: 'aggregate';
  /** `count`, `sum`, `min`, ... or a variable bound to a custom aggregate function (`?agg`). */
  fn: FnName | Variable;
  /** All arguments; by convention the last is the aggregated variable, others are constants like `n`. */
  args: (Variable | Constant)[];
}

/**
 * A plain symbol naming a pull pattern given as an input (Datomic's `pattern-name`): only in :in
 * and as the pattern of a pull expression, as in `[:find (pull ?e pat) :in $ pat ...]`.
 */
export interface PatternName extends Located {
  kind: 'pattern-name';
  name: string;
}

export interface PullElem extends Located {
  kind: 'pull';
  src?: SrcVar;
  variable: Variable;
  /** The pattern written in the query, or a variable or pattern name bound to a pattern given as an input. */
  pattern: PullPattern | Variable | PatternName;
}

export type FindElem = Variable | AggregateElem | PullElem;

export type FindSpec =
  | { kind: 'find-rel'; elements: FindElem[] }
  | { kind: 'find-scalar'; element: FindElem } // ?a .
  | { kind: 'find-coll'; element: FindElem } // [?a ...]
  | { kind: 'find-tuple'; elements: FindElem[] }; // [?a ?b]

export interface ReturnMap {
  kind: 'keys' | 'strs' | 'syms';
  names: string[];
}

// ---------- in ----------

export type Binding =
  | SrcVar
  | { kind: 'rules-var'; name: string } // %  or %name
  | Variable // scalar binding
  | Blank
  | PatternName // only at the top level of :in
  | { kind: 'bind-tuple'; elements: Binding[] } // [?a ?b]
  | { kind: 'bind-coll'; element: Binding } // [?a ...]
  | { kind: 'bind-rel'; elements: Binding[] }; // [[?a ?b]]

// ---------- where ----------

export interface PatternClause extends Located {
  kind: 'pattern';
  src?: SrcVar;
  /** e a v tx added — 1 to 5 terms. */
  terms: Term[];
}

export interface PredicateClause extends Located {
  kind: 'predicate';
  fn: FnName | Variable;
  args: FnArg[];
}

export interface FunctionClause extends Located {
  kind: 'function';
  fn: FnName | Variable;
  args: FnArg[];
  binding: Binding;
}

export interface NotClause extends Located {
  kind: 'not';
  src?: SrcVar;
  /** Present for `not-join`. */
  joinVars?: Variable[];
  clauses: Clause[];
}

export interface OrClause extends Located {
  kind: 'or';
  src?: SrcVar;
  /** Present for `or-join`; `required` are the `[?a]` bracketed ones. */
  joinVars?: RuleVars;
  /** Each branch is a conjunction: a single clause or the clauses of an `(and ...)`. */
  branches: Clause[][];
}

export interface AndClause extends Located {
  kind: 'and';
  clauses: Clause[];
}

export interface RuleCall extends Located {
  kind: 'rule-call';
  src?: SrcVar;
  name: string;
  args: Term[];
}

export type Clause = PatternClause | PredicateClause | FunctionClause | NotClause | OrClause | AndClause | RuleCall;

// ---------- rules ----------

export interface RuleVars {
  required: Variable[];
  free: Variable[];
}

export interface Rule extends Located {
  name: string;
  vars: RuleVars;
  clauses: Clause[];
}

/** All rule branches; several branches may share a name (disjunction). */
export type RuleSet = Rule[];

// ---------- query ----------

export interface Query extends Located {
  find: FindSpec;
  returnMap?: ReturnMap;
  with: Variable[];
  /** Defaults to `[$]` when the query has no :in. */
  in: Binding[];
  where: Clause[];
  /** The query's source text (EDN), when parsed from text. */
  text?: string;
}

// ---------- pull ----------

export interface PullPattern extends Located {
  kind: 'pull-pattern';
  elements: PullElement[];
}

export type PullElement = PullWildcard | PullAttr;

export interface PullWildcard extends Located {
  kind: 'wildcard';
}

export interface PullAttr extends Located {
  kind: 'pull-attr';
  /** Attribute ident without colon and without the reverse underscore: 'person/friend'. `db/id` allowed. */
  attr: string;
  reverse: boolean;
  /** Key used in the result; defaults to the attribute as written (e.g. 'person/_friend'). */
  as?: EdnValue;
  /** undefined: default limit (1000 for many); null: `(limit :a nil)` i.e. no limit. */
  limit?: number | null;
  /** `(default :a v)` — present when given. */
  default?: { value: EdnValue };
  /** `[:a :xform f]`: the name of the function applied to the attribute's value. */
  xform?: string;
  /** Nested pattern (map spec), or recursion: `...` (depth null) or a number. */
  sub?: PullPattern | { kind: 'recurse'; depth: number | null };
}
