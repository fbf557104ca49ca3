// Public API of the Datalog/pull parsers: text is read once (positions kept), data is located in
// its printed text without reading it back, and one parser over the EDN data builds the AST.
import { readEdnLocated, type LocatedForm } from '../edn/reader.js';
import { printEdn } from '../edn/printer.js';
import type { EdnValue } from '../edn/types.js';
import { checkDepth, FormParser } from './parser.js';
import { locateData } from './located-data.js';
import { validateQuery, validateRuleSet } from './validate.js';
import { pullPatternFromJs } from './pull-data.js';
import { queryFromJs, rulesFromJs } from './query-data.js';
import type { PullPattern, Query, RuleSet } from './ast.js';

export * from './ast.js';
export { QueryParseError } from './errors.js';
export { validateRuleCalls, validateQuery, validateRuleSet, clauseVars, clauseBinds, bindingVars } from './validate.js';
export { MAX_QUERY_DEPTH } from './parser.js';
export type { LocatedForm } from '../edn/reader.js';

/**
 * Least recently placed first, evicted from the front. A hit moves its entry to the back only once
 * more than half the cache was placed after it: a Map delete and set on every hit cost more than
 * the rest of a repeated small query's parse lookup, and an entry used at least once every max / 2
 * placements still stays.
 */
class Lru<V> {
  private m = new Map<string, { value: V; placed: number }>();
  private placements = 0;
  constructor(readonly max: number) {}
  get(k: string): V | undefined {
    const hit = this.m.get(k);
    if (hit === undefined) return undefined;
    if (this.placements - hit.placed > this.max / 2) this.place(k, hit);
    return hit.value;
  }
  set(k: string, v: V): void {
    this.place(k, { value: v, placed: 0 });
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  private place(k: string, entry: { value: V; placed: number }): void {
    this.m.delete(k);
    entry.placed = ++this.placements;
    this.m.set(k, entry);
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

/** Text read once, with positions: what a caller that looks at a form's shape first passes on. */
export function readLocated(text: string): LocatedForm {
  return readEdnLocated(text);
}

/** A form readLocated gave (not a query, rule set or pattern given as data). */
export function isLocated(x: unknown): x is LocatedForm {
  return x !== null && typeof x === 'object' && (x as LocatedForm).layouts instanceof Map && typeof (x as LocatedForm).text === 'string';
}

/**
 * Parse one kind of form, cached by its text: text is read (unless already read), data is printed
 * for the key and located on a miss. `fromJs` turns plain JS data into EDN data first.
 */
function parseCached<T>(input: unknown, cache: Lru<T>, fromJs: (x: unknown) => unknown, parse: (src: LocatedForm) => T): T {
  const located = isLocated(input) ? input : undefined;
  const data = located || typeof input === 'string' ? undefined : fromJs(input);
  const text = located ? located.text : typeof input === 'string' ? input : printEdn(data);
  const hit = cache.get(text);
  if (hit) return hit;
  const src = located ?? (typeof input === 'string' ? readEdnLocated(text) : locateData(data, text));
  checkDepth(src);
  const result = parse(src);
  cache.set(text, result);
  return result;
}

/**
 * Parse a Datalog query given as EDN text (or text already read by readLocated), EDN data or plain
 * JS data (query-data.ts; positions then refer to the data's printed text, its .text). Results are
 * cached by text: the same text returns the same (shared, do not mutate) Query object. Throws
 * QueryParseError, or EdnSyntaxError for malformed EDN.
 */
export function parseQuery(q: QueryInput | LocatedForm): Query {
  return parseCached(q, queryCache, queryFromJs, (src) => {
    const query = new FormParser(src).query();
    validateQuery(query);
    return query;
  });
}

/** The cached parse of query text, if there is one (no reading). */
export function cachedQuery(text: string): Query | undefined {
  return queryCache.get(text);
}

/** Parse a rule set `[[(name ?a ?b) clause ...] ...]`: text, EDN data or JS data. Cached by text like parseQuery. */
export function parseRules(r: QueryInput | LocatedForm): RuleSet {
  return parseCached(r, rulesCache, rulesFromJs, (src) => {
    const rules = new FormParser(src).ruleSet();
    validateRuleSet(rules);
    return rules;
  });
}

/**
 * Parse a pull pattern `[:a {:b [:c]} ...]`: EDN text, EDN data, or plain JS data (pull-data.ts).
 * Cached by text like parseQuery.
 */
export function parsePull(p: QueryInput | LocatedForm): PullPattern {
  return parseCached(p, pullCache, pullPatternFromJs, (src) => new FormParser(src).pullPattern());
}
