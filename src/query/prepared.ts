// What q derives from a query's text alone, kept between calls: the parsed query and the facts about
// it that no database or input changes, so a repeated small query skips parsing and that setup.
import type { Binding, Query } from '../../query-lang/datalog/ast.js';
import { findVars } from './find.js';
import { plantableVars } from './plant-inputs.js';
import { bindingVars } from './vars.js';

export interface PreparedQuery {
  query: Query;
  /** The :in bindings, `$` when the query has none. */
  ins: readonly Binding[];
  /** Variables the find spec (and :with) needs. */
  findVars: string[];
  /** Input variables that may become constants in the where clauses (plant-inputs.ts). */
  plantable: ReadonlySet<string>;
}

const DEFAULT_IN: readonly Binding[] = [{ kind: 'src', name: '$' }];
/** Texts kept; past it the least recently used goes (queries built with values inline would grow it without end). */
export const PREPARED_MAX = 512;

/**
 * Least recently placed first, evicted from the front. A hit moves its entry to the back only once
 * more than half the cache was placed after it (a Map delete and set per hit would cost more than
 * the rest of a hit): an entry used at least once every PREPARED_MAX / 2 placements stays.
 */
const byText = new Map<string, { prepared: PreparedQuery; placed: number }>();
const byQuery = new WeakMap<Query, PreparedQuery>();
let placements = 0;

/** The preparation of a parsed query (made once per Query object). */
export function prepare(query: Query): PreparedQuery {
  let p = byQuery.get(query);
  if (!p) {
    const fv = findVars(query);
    p = {
      query,
      ins: query.in.length ? query.in : DEFAULT_IN,
      findVars: fv,
      plantable: plantableVars(query.where, fv, query.in.flatMap(bindingVars)),
    };
    byQuery.set(query, p);
  }
  return p;
}

/** The preparation of query text seen before, if kept. */
export function preparedText(text: string): PreparedQuery | undefined {
  const hit = byText.get(text);
  if (!hit) return undefined;
  if (placements - hit.placed > PREPARED_MAX / 2) place(text, hit);
  return hit.prepared;
}

/** Keep the preparation of `text` (a query's own text, not a query map's). */
export function rememberText(text: string, prepared: PreparedQuery): void {
  place(text, { prepared, placed: 0 });
  if (byText.size > PREPARED_MAX) byText.delete(byText.keys().next().value as string);
}

function place(text: string, entry: { prepared: PreparedQuery; placed: number }): void {
  byText.delete(text);
  entry.placed = ++placements;
  byText.set(text, entry);
}

/** Forget every kept text (tests compare answers with and without the cache). */
export function clearPrepared(): void {
  byText.clear();
}
