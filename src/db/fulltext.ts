// Full-text search of :db/fulltext attributes: keeping the store's full-text index up with the
// log, and answering a search for one database value (now, as of, since, filtered, speculative).
import { FactlogError } from '../../query-lang/errors.js';
import { decodeValue, Tag, txToT } from '../storage/encoding.js';
import type { FulltextDocument } from '../storage/fulltext-index.js';
import type { Store } from '../storage/store.js';
import type { Datom, IndexName } from './api.js';
import type { Overlay } from './overlay.js';
import { Attr, type Schema } from './schema.js';
import { parseSearch, positiveClauses, score, searchMatches, termCounts, tokenize, type CorpusStats, type SearchClause } from './fulltext-query.js';

/** A value's terms, as the index keeps them. */
export function fulltextDocument(a: number, e: number, t: number, i: number, v: string): FulltextDocument {
  const terms = tokenize(v);
  return { a, e, t, i, v, terms: termCounts(terms), length: terms.length };
}

/**
 * Inside a write transaction: index the log entries the full-text index does not hold yet. At
 * each commit that is the commit's own entry; after a rebuild, a replica's catch-up or on a
 * database made before the index existed, all of them. Nothing to do (not even a read) while no
 * attribute is :db/fulltext. An attribute is :db/fulltext from its creation on (it never
 * changes), so the schema of the store's last t says which datoms of any earlier entry to index.
 */
export function catchUpFulltext(store: Store, schema: Schema): void {
  if (!schema.hasFulltext()) return;
  const lastT = store.lastT();
  const indexed = store.fulltext.indexedThrough();
  if (indexed >= lastT) return;
  store.fulltext.putAll(unindexedDocuments(store, schema, indexed, lastT));
  store.fulltext.markIndexedThrough(lastT);
}

/** Whether catchUpFulltext has anything to do (checked before taking a write transaction). */
export function fulltextBehind(store: Store, schema: Schema): boolean {
  return schema.hasFulltext() && store.fulltext.indexedThrough() < store.lastT();
}

/** The documents of the log entries after `indexed` up to `lastT`, from the first fulltext attribute's creation on. */
function* unindexedDocuments(store: Store, schema: Schema, indexed: number, lastT: number, only?: number): Generator<FulltextDocument> {
  // the marker is set only once some attribute is :db/fulltext, so it is past what comes before
  const from = indexed >= 0 ? indexed + 1 : firstFulltextT(store);
  if (from > lastT) return;
  for (const entry of store.logRange(from, lastT + 1)) {
    for (let i = 0; i < entry.datoms.length; i++) {
      const d = entry.datoms[i]!;
      if (!d.added || d.tag !== Tag.String || (only !== undefined && d.a !== only) || !schema.attr(d.a)?.fulltext) continue;
      yield fulltextDocument(d.a, d.e, entry.t, i, decodeValue(d.tag, d.payload) as string);
    }
  }
}

/**
 * The t at which the first stored :db/fulltext attribute was made: no entry before it has a value
 * to index (Infinity when there is none: an attribute made in `with` alone has nothing stored).
 */
function firstFulltextT(store: Store): number {
  let first = Infinity;
  const now = { basisT: store.lastT(), sinceT: null, history: false };
  for (const d of store.reader.datoms('aevt', [Attr.fulltext], undefined, now)) if (d.v === true) first = Math.min(first, txToT(d.tx));
  return first;
}

/** What a search reads of a database value. */
export interface SearchedValue {
  readonly basisT: number;
  readonly overlay: Overlay | null;
  readonly schema: Schema;
  datoms(index: IndexName, ...components: unknown[]): Iterable<Datom>;
}

/** One match: entity, value, the tx that asserted it, score. */
export type FulltextMatch = [number, string, number, number];

/** A value that may match, found in the index or (not indexed yet, or speculative) read directly. */
interface Candidate {
  e: number;
  v: string;
}

/**
 * The datoms of attribute `a` in `db` whose value matches `search`. The index holds every value
 * ever asserted; a candidate is kept when the datom [e a v] is in this value (so as of, since,
 * filters and history are honoured as by any read), with the tx that asserted it there. Values
 * the index does not hold yet (a writer of an older version, a read-only reader of a lagging
 * index) and `with`'s speculative ones are read from the log or the overlay instead.
 * Scores count every value the index holds (and those read besides), not only this value's.
 */
export function searchFulltext(db: SearchedValue, store: Store, a: number, search: string): FulltextMatch[] {
  if (typeof search !== 'string') throw new FactlogError('query/invalid-fulltext', `fulltext searches for a string, not ${String(search)}`);
  const clauses = parseSearch(search);
  const extra = unindexedCandidates(db, store, a);
  const { candidates, stats } = indexedCandidates(store, a, clauses, extra);
  const matches: FulltextMatch[] = [];
  const seen = new Set<string>();
  for (const c of [...candidates, ...extra]) {
    const key = `${c.e}|${c.v}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const terms = tokenize(c.v);
    if (!searchMatches(clauses, terms)) continue;
    const s = score(clauses, terms, stats);
    for (const d of db.datoms('eavt', c.e, a, c.v)) if (d.added) matches.push([d.e, d.v as string, d.tx, s]);
  }
  return matches;
}

/** Candidates from the postings of the search's positive clauses, and the corpus statistics. */
function indexedCandidates(store: Store, a: number, clauses: readonly SearchClause[], extra: readonly Candidate[]) {
  const index = store.fulltext;
  const frequency = new Map<string, number>();
  const documents = new Map<string, { t: number; i: number }>();
  for (const c of positiveClauses(clauses)) {
    const scans = c.kind === 'prefix' ? [{ term: c.prefix, prefix: true }] : c.terms.map((term) => ({ term, prefix: false }));
    for (const { term, prefix } of scans) {
      if (!prefix && frequency.has(term)) continue;
      let n = 0;
      for (const p of index.postings(a, term, prefix)) {
        documents.set(`${p.t}|${p.i}`, p);
        n++;
      }
      if (!prefix) frequency.set(term, n);
    }
  }
  const candidates: Candidate[] = [];
  for (const { t, i } of documents.values()) {
    const doc = index.document(t, i);
    if (doc) candidates.push({ e: doc.e, v: doc.v });
  }
  const [indexedDocs, indexedTokens] = index.totals(a);
  const extraTerms = extra.map((c) => tokenize(c.v));
  const stats: CorpusStats = {
    documents: indexedDocs + extra.length,
    tokens: indexedTokens + extraTerms.reduce((n, terms) => n + terms.length, 0),
    documentFrequency: (term) => (frequency.get(term) ?? 0) + extraTerms.filter((terms) => terms.includes(term)).length,
  };
  return { candidates, stats };
}

/** Values of `a` the index cannot hold: asserted after what it has indexed, or speculatively (`with`). */
function unindexedCandidates(db: SearchedValue, store: Store, a: number): Candidate[] {
  const out: Candidate[] = [];
  const storedBasis = db.overlay ? db.overlay.baseT : db.basisT;
  const indexed = store.fulltext.indexedThrough();
  if (indexed < storedBasis) {
    for (const doc of unindexedDocuments(store, db.schema, indexed, storedBasis, a)) out.push({ e: doc.e, v: doc.v });
  }
  if (db.overlay) {
    for (const { raw, added } of db.overlay.matching('aevt', [a], undefined, false, store.keyCodec)) {
      if (added && raw.tag === Tag.String) out.push({ e: raw.e, v: decodeValue(raw.tag, raw.payload) as string });
    }
  }
  return out;
}
