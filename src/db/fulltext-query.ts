// Full-text analysis and search syntax: a value's terms (Unicode word segmentation, NFKC,
// lower case), a search string parsed into clauses, and whether and how well a value matches.
import { FactlogError } from '../../query-lang/errors.js';

/** ICU's word boundaries (UAX #29, with dictionaries for Chinese, Japanese, Thai...): built into Node. */
const words = new Intl.Segmenter('und', { granularity: 'word' });

/** Longer words are cut into terms of this many code points, as Lucene's StandardTokenizer cuts at 255. */
export const MAX_TERM_LENGTH = 255;

/** The terms of a text, in order: its words, NFKC-normalized and lower-cased; punctuation and spaces dropped. */
export function tokenize(text: string): string[] {
  const terms: string[] = [];
  for (const s of words.segment(text.normalize('NFKC'))) {
    if (!s.isWordLike) continue;
    const word = s.segment.toLowerCase();
    if (word.length <= MAX_TERM_LENGTH) terms.push(word);
    else terms.push(...pieces([...word], MAX_TERM_LENGTH));
  }
  return terms;
}

function pieces(codePoints: string[], size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < codePoints.length; i += size) out.push(codePoints.slice(i, i + size).join(''));
  return out;
}

/** How often each term occurs. */
export function termCounts(terms: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
  return counts;
}

export type Occur = 'should' | 'must' | 'not';

/**
 * One clause of a search: `terms` one word, or several in a row (a "quoted phrase", or a word the
 * analyzer splits, like e-mail); or `prefix`, any term beginning with it (word*).
 */
export type SearchClause = { occur: Occur; kind: 'terms'; terms: string[] } | { occur: Occur; kind: 'prefix'; prefix: string };

export class FulltextSyntaxError extends FactlogError {}

const invalid = (search: string, why: string) => new FulltextSyntaxError('query/invalid-fulltext', `fulltext search ${JSON.stringify(search)}: ${why}`, { form: search });

/** Lucene query syntax factlog does not take: refused rather than searched for as words. */
const UNSUPPORTED = /[(){}[\]^~?:\\/!]|&&|\|\|/;
const OPERATORS = new Set(['AND', 'OR', 'NOT']);

/**
 * Parse a search in the part of Lucene's query syntax factlog takes: words (any may match), "quoted
 * phrases", +required and -excluded clauses, and word* prefixes. Anything else (AND/OR/NOT,
 * parentheses, fields, fuzzy~, boosts^, ? and inner * wildcards) is query/invalid-fulltext.
 */
export function parseSearch(search: string): SearchClause[] {
  const clauses: SearchClause[] = [];
  let i = 0;
  let any = false;
  while (i < search.length) {
    if (/\s/.test(search[i]!)) {
      i++;
      continue;
    }
    any = true;
    const occur: Occur = search[i] === '+' ? 'must' : search[i] === '-' ? 'not' : 'should';
    if (occur !== 'should') i++;
    if (i >= search.length || /\s/.test(search[i]!)) throw invalid(search, `${search[i - 1]} must come right before a word or a phrase`);
    if (search[i] === '"') {
      const close = search.indexOf('"', i + 1);
      if (close < 0) throw invalid(search, 'a phrase is not closed with "');
      if (close + 1 < search.length && !/\s/.test(search[close + 1]!)) throw invalid(search, `unexpected ${JSON.stringify(search[close + 1])} after a phrase`);
      const terms = tokenize(search.slice(i + 1, close));
      if (terms.length > 0) clauses.push({ occur, kind: 'terms', terms });
      i = close + 1;
      continue;
    }
    let end = i;
    while (end < search.length && !/\s/.test(search[end]!)) end++;
    clauses.push(...wordClause(search, search.slice(i, end), occur));
    i = end;
  }
  if (!any) throw invalid(search, 'nothing to search for');
  return clauses;
}

function wordClause(search: string, word: string, occur: Occur): SearchClause[] {
  if (OPERATORS.has(word)) throw invalid(search, `the operator ${word} is not supported (use +word, -word)`);
  if (UNSUPPORTED.test(word) || word.includes('"')) throw invalid(search, `${JSON.stringify(word)} uses query syntax factlog does not support`);
  const star = word.indexOf('*');
  if (star >= 0) {
    const prefix = word.slice(0, -1);
    if (star !== word.length - 1 || prefix === '') throw invalid(search, `${JSON.stringify(word)}: only a trailing * after a word is supported`);
    const terms = tokenize(prefix);
    const normalized = prefix.normalize('NFKC').toLowerCase();
    if (terms.length !== 1 || terms[0] !== normalized) throw invalid(search, `${JSON.stringify(word)}: a prefix must be one word`);
    return [{ occur, kind: 'prefix', prefix: normalized }];
  }
  const terms = tokenize(word);
  return terms.length > 0 ? [{ occur, kind: 'terms', terms }] : [];
}

/** The terms whose postings hold every value a search can match (its positive clauses'). */
export function positiveClauses(clauses: readonly SearchClause[]): SearchClause[] {
  return clauses.filter((c) => c.occur !== 'not');
}

/** Whether a value's terms satisfy one clause. */
export function clauseMatches(clause: SearchClause, terms: readonly string[]): boolean {
  if (clause.kind === 'prefix') return terms.some((t) => t.startsWith(clause.prefix));
  const want = clause.terms;
  for (let start = 0; start + want.length <= terms.length; start++) {
    let k = 0;
    while (k < want.length && terms[start + k] === want[k]) k++;
    if (k === want.length) return true;
  }
  return false;
}

/**
 * Lucene's rule: every required clause matches, no excluded one does, and, when nothing is
 * required, at least one of the others does (so a search of excluded words alone matches nothing).
 */
export function searchMatches(clauses: readonly SearchClause[], terms: readonly string[]): boolean {
  let required = false;
  let optional = false;
  for (const c of clauses) {
    const hit = clauseMatches(c, terms);
    if (c.occur === 'not' && hit) return false;
    if (c.occur === 'must') {
      if (!hit) return false;
      required = true;
    }
    if (c.occur === 'should' && hit) optional = true;
  }
  return required || optional;
}

/** What BM25 needs to know of the indexed values of one attribute. */
export interface CorpusStats {
  documents: number;
  tokens: number;
  /** How many values hold the term. */
  documentFrequency(term: string): number;
}

const K1 = 1.2;
const B = 0.75;

/**
 * A matching value's score: BM25 (k1 1.2, b 0.75, Lucene's defaults) of the terms of the positive
 * clauses it matches, summed; a matched prefix adds 1, as Lucene's constant-score prefix query.
 */
export function score(clauses: readonly SearchClause[], terms: readonly string[], stats: CorpusStats): number {
  const counts = termCounts(terms);
  const averageLength = stats.documents > 0 ? stats.tokens / stats.documents : 1;
  const norm = K1 * (1 - B + (B * terms.length) / (averageLength || 1));
  let total = 0;
  for (const c of clauses) {
    if (c.occur === 'not' || !clauseMatches(c, terms)) continue;
    if (c.kind === 'prefix') {
      total += 1;
      continue;
    }
    for (const term of c.terms) {
      const tf = counts.get(term) ?? 0;
      const n = stats.documentFrequency(term);
      const idf = Math.log(1 + (stats.documents - n + 0.5) / (n + 0.5));
      total += (idf * tf * (K1 + 1)) / (tf + norm);
    }
  }
  return total;
}
