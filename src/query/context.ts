// Per-query evaluation state shared by the engine's parts.
import type { Rule, Clause, PatternClause, PullPattern } from '../../query-lang/datalog/ast.js';
import type { DbView, AttrInfo } from '../db/api.js';
import type { BuiltinContext } from './builtins.js';
import type { Relation } from './relation.js';

export interface ExplainStep {
  /** The clause as EDN text. */
  clause: string;
  /** How it ran: an index name ('eavt', 'aevt', 'avet', 'vaet', 'avet-range'), or 'filter', 'function', 'not', 'or', 'rule', 'collection'. */
  index: string;
  /** 'scan' (one index scan then hash join) or 'probe' (one lookup per bound value), when relevant. */
  strategy?: string;
  /** Range bounds pushed into the index scan, as text. */
  range?: string;
  estimatedRows: number;
  /** Rows of the running relation after this step. */
  actualRows: number;
  /** Datoms read from the index for this step. */
  datomsRead?: number;
  ms: number;
  /** Nested steps: the clauses of a `not`, the branches of an `or`, the rule branches a rule call ran. */
  children?: ExplainStep[];
  /** For rule branches: how many times the branch was evaluated during the fixpoint. */
  evaluations?: number;
}

export interface RuleMode {
  /** The rules module's evaluator (rules.ts), which alone makes and reads it. */
  evaluator: unknown;
  /** The call site that reads its table's delta in this evaluation (semi-naive), if any. */
  deltaCall: Clause | null;
}

/** The engine's clause evaluation, handed to the rule evaluators through the context (so they need not import the engine). */
export type EvalClauses = (ctx: QueryContext, clauses: readonly Clause[], rel: Relation, extraVisible: readonly string[]) => Relation;

export interface QueryContext {
  evalClauses: EvalClauses;
  sources: Map<string, unknown>;
  rules: Map<string, Rule[]>;
  /** Pull patterns bound by name in :in (`:in $ pat`), parsed once. */
  pullPatterns: Map<string, PullPattern>;
  trace: ExplainStep[] | null;
  ruleMode: RuleMode | null;
  depth: number;
  builtins: BuiltinContext;
  /** Attribute resolution cache: one resolution per (db, ref) per query. */
  attrCache: Map<DbView, Map<unknown, AttrInfo | null>>;
  /** Resolved constants of pattern clauses, per db. */
  patternCache: Map<PatternClause, Map<DbView, unknown>>;
}

export function isDb(x: unknown): x is DbView {
  return typeof x === 'object' && x !== null && typeof (x as DbView).datoms === 'function' && typeof (x as DbView).entid === 'function';
}
