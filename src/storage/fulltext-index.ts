// The full-text index: the terms of every string value ever asserted for a :db/fulltext attribute,
// in LMDB's `fulltext` table. Derived from the log like the other indexes; knows nothing of schema.
import type { Database, RootDatabase } from 'lmdb';
import { decodeExact, hasLoneSurrogate, wtf8 } from './exact-utf8.js';

export const FULLTEXT_DB = 'fulltext';

/**
 * A value's terms as the index keeps them. A document is one assertion in the log: the datom at
 * position `i` of transaction `t`, so a rebuild from the log makes exactly the same keys.
 */
export interface FulltextDocument {
  a: number;
  e: number;
  t: number;
  i: number;
  v: string;
  /** Term -> how often it occurs in the value. */
  terms: Map<string, number>;
  /** The value's number of tokens. */
  length: number;
}

export interface Posting {
  term: string;
  t: number;
  i: number;
  tf: number;
}

export interface StoredDocument {
  a: number;
  e: number;
  v: string;
  length: number;
}

// Keys (lmdb-js's ordered-binary arrays; values msgpack):
//   ['p', a, term, t, i] -> term frequency       a posting
//   ['d', t, i]          -> [a, e, v, length]     a document
//   ['s', a]             -> [documents, tokens]   an attribute's totals, for scoring
//   ['m']                -> t                     every log entry up to t is indexed
const MARK = ['m'];

export class FulltextIndex {
  private constructor(private readonly table: Database<any, any> | null) {}

  /** Opened with the store; a read-only store of a file that never had the table sees it empty. */
  static open(env: RootDatabase, readOnly: boolean): FulltextIndex {
    // lmdb-js cannot open a missing table read-only (and leaves the environment unusable if asked to)
    if (readOnly && !hasTable(env, FULLTEXT_DB)) return new FulltextIndex(null);
    return new FulltextIndex(env.openDB(FULLTEXT_DB, {}));
  }

  /** The last t whose log entry is indexed (-1: none). */
  indexedThrough(): number {
    return this.table?.get(MARK) ?? -1;
  }

  /** Inside a write transaction. */
  markIndexedThrough(t: number): void {
    this.writable().putSync(MARK, t);
  }

  /** Inside a write transaction: index these values; each attribute's totals are written once. */
  putAll(docs: Iterable<FulltextDocument>): void {
    const table = this.writable();
    const totals = new Map<number, [number, number]>();
    for (const doc of docs) {
      for (const [term, tf] of doc.terms) table.putSync(['p', doc.a, term, doc.t, doc.i], tf);
      // msgpack would turn a lone surrogate into U+FFFD: such a value is kept as its WTF-8 bytes
      table.putSync(['d', doc.t, doc.i], [doc.a, doc.e, hasLoneSurrogate(doc.v) ? wtf8(doc.v) : doc.v, doc.length]);
      const [documents, tokens] = totals.get(doc.a) ?? this.totals(doc.a);
      totals.set(doc.a, [documents + 1, tokens + doc.length]);
    }
    for (const [a, sums] of totals) table.putSync(['s', a], sums);
  }

  /** Inside a write transaction: empty the index (for a rebuild). */
  clear(): void {
    this.table?.clearSync();
  }

  /** Documents of attribute `a` and their tokens in all. */
  totals(a: number): [number, number] {
    return this.table?.get(['s', a]) ?? [0, 0];
  }

  /** The postings of `term` in attribute `a`, or of every term it begins when `prefix`. */
  *postings(a: number, term: string, prefix: boolean): Generator<Posting> {
    if (!this.table) return;
    for (const { key, value } of this.table.getRange({ start: ['p', a, term] })) {
      const found = key[2];
      if (key[0] !== 'p' || key[1] !== a || typeof found !== 'string') return;
      if (prefix ? !found.startsWith(term) : found !== term) return;
      yield { term: found, t: key[3], i: key[4], tf: value };
    }
  }

  document(t: number, i: number): StoredDocument | undefined {
    const found = this.table?.get(['d', t, i]);
    if (!found) return undefined;
    const v = typeof found[2] === 'string' ? found[2] : decodeExact(found[2], 0, found[2].length);
    return { a: found[0], e: found[1], v, length: found[3] };
  }

  /** Every entry, for comparing a rebuilt index with the one it replaced. */
  dump(): [unknown, unknown][] {
    return this.table ? [...this.table.getRange({})].map(({ key, value }) => [key, value]) : [];
  }

  private writable(): Database<any, any> {
    if (!this.table) throw new Error('the full-text index is read-only here');
    return this.table;
  }
}

function hasTable(env: RootDatabase, name: string): boolean {
  for (const key of env.getKeys({})) if (key === name) return true;
  return false;
}
