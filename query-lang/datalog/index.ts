// Public API of the Datalog/pull parsers.
import type { IToken } from 'chevrotain';
import { Discard, HashBrace, LBrace, LBracket, LParen, RBrace, RBracket, RParen, Tag, tokenPos, tokenize, posAt } from '../edn/lexer.js';
import { readEdn } from '../edn/reader.js';
import { printEdn } from '../edn/printer.js';
import type { EdnValue } from '../edn/types.js';
import { datalogParser } from './parser.js';
import { AstBuilder } from './builder.js';
import { QueryParseError } from './errors.js';
import { validateQuery, validateRuleSet } from './validate.js';
import { pullPatternFromJs } from './pull-data.js';
import { queryFromJs, rulesFromJs } from './query-data.js';
import type { PullPattern, Query, RuleSet } from './ast.js';

export * from './ast.js';
export { QueryParseError } from './errors.js';
export { validateRuleCalls, validateQuery, validateRuleSet, clauseVars, clauseBinds, bindingVars } from './validate.js';
export { DatalogParser, datalogParser, RULE_DESCRIPTIONS } from './parser.js';
export { AstBuilder } from './builder.js';

/** Maximum bracket nesting inside a query/rules/pull text (the Chevrotain grammar is recursive). */
export const MAX_QUERY_DEPTH = 200;

const OPENERS = new Set([LParen, LBracket, LBrace, HashBrace]);
const CLOSERS = new Set([RParen, RBracket, RBrace]);

/** Index just past the form starting at `i` (the text is known to be valid EDN). Iterative. */
function formEnd(toks: IToken[], i: number): number {
  let pending = 1;
  while (pending > 0 && i < toks.length) {
    const t = toks[i]!.tokenType;
    if (t === Discard) {
      i++;
      pending++;
    } else if (t === Tag) {
      i++;
    } else if (OPENERS.has(t)) {
      let depth = 0;
      do {
        const tt = toks[i]!.tokenType;
        if (OPENERS.has(tt)) depth++;
        else if (CLOSERS.has(tt)) depth--;
        i++;
      } while (depth > 0 && i < toks.length);
      pending--;
    } else {
      i++;
      pending--;
    }
  }
  return i;
}

/** Tokens of `text` with `#_ form` removed, after checking `text` is exactly one valid EDN form. */
function grammarTokens(text: string): IToken[] {
  readEdn(text); // EDN-level errors (edn/syntax, edn/too-deep) with precise positions
  const raw = tokenize(text);
  const out: IToken[] = [];
  let depth = 0;
  let tagRun = 0;
  for (let i = 0; i < raw.length; ) {
    const t = raw[i]!;
    if (t.tokenType === Discard) {
      i = formEnd(raw, i + 1);
      continue;
    }
    if (OPENERS.has(t.tokenType)) depth++;
    else if (CLOSERS.has(t.tokenType)) depth--;
    tagRun = t.tokenType === Tag ? tagRun + 1 : 0;
    if (depth + tagRun > MAX_QUERY_DEPTH) {
      throw new QueryParseError('query/too-deep', `expected forms nested at most ${MAX_QUERY_DEPTH} levels deep`, { pos: tokenPos(t) });
    }
    out.push(t);
    i++;
  }
  return out;
}

type EntryRule = 'query' | 'ruleSet' | 'pullPattern';

function parseWith<T>(text: string, rule: EntryRule, build: (b: AstBuilder, cst: ReturnType<typeof datalogParser.query>) => T): T {
  const toks = grammarTokens(text);
  datalogParser.input = toks;
  const cst = datalogParser[rule]();
  const errs = datalogParser.errors;
  if (errs.length > 0) {
    const e = errs[0]!;
    const t = e.token;
    const pos = t && Number.isFinite(t.startOffset) && t.tokenType.name !== 'EOF' ? tokenPos(t) : posAt(text, text.length);
    datalogParser.input = [];
    throw new QueryParseError('query/syntax', e.message, { pos });
  }
  return build(new AstBuilder(text), cst);
}

class Lru<V> {
  private m = new Map<string, V>();
  constructor(readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  clear(): void {
    this.m.clear();
  }
}

const queryCache = new Lru<Query>(512);
const rulesCache = new Lru<RuleSet>(128);
const pullCache = new Lru<PullPattern>(512);

/** Drop all cached parse results. */
export function clearParseCaches(): void {
  queryCache.clear();
  rulesCache.clear();
  pullCache.clear();
}

/** EDN text, EDN data, or plain JS objects (printed as maps with keyword keys). */
export type QueryInput = string | EdnValue | Record<string, unknown>;

function asText(x: QueryInput): string {
  return typeof x === 'string' ? x : printEdn(x);
}

/**
 * Parse a Datalog query given as EDN text, EDN data or plain JS data (query-data.ts; data is
 * printed first, positions then refer to the printed text). Results are cached by text: the same
 * text returns the same (shared, do not mutate) Query object. Throws QueryParseError, or
 * EdnSyntaxError for malformed EDN.
 */
export function parseQuery(q: QueryInput): Query {
  const text = asText(typeof q === 'string' ? q : (queryFromJs(q) as EdnValue));
  const hit = queryCache.get(text);
  if (hit) return hit;
  const query = parseWith(text, 'query', (b, cst) => b.query(cst));
  validateQuery(query);
  queryCache.set(text, query);
  return query;
}

/** Parse a rule set `[[(name ?a ?b) clause ...] ...]`: text, EDN data or JS data. Cached by text like parseQuery. */
export function parseRules(r: QueryInput): RuleSet {
  const text = asText(typeof r === 'string' ? r : (rulesFromJs(r) as EdnValue));
  const hit = rulesCache.get(text);
  if (hit) return hit;
  const rules = parseWith(text, 'ruleSet', (b, cst) => b.ruleSet(cst));
  validateRuleSet(rules);
  rulesCache.set(text, rules);
  return rules;
}

/**
 * Parse a pull pattern `[:a {:b [:c]} ...]`: EDN text, EDN data, or plain JS data (pull-data.ts).
 * Cached by text like parseQuery.
 */
export function parsePull(p: QueryInput): PullPattern {
  const text = asText(typeof p === 'string' ? p : (pullPatternFromJs(p) as EdnValue));
  const hit = pullCache.get(text);
  if (hit) return hit;
  const pattern = parseWith(text, 'pullPattern', (b, cst) => b.pullPattern(cst));
  pullCache.set(text, pattern);
  return pattern;
}
