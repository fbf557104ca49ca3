// The full-text analyzer and search syntax (src/db/fulltext-query.ts): terms, clauses, matching, scores.
import { describe, expect, it } from 'vitest';
import { parseSearch, score, searchMatches, tokenize } from '../src/db/fulltext-query.js';
import { errorCode } from './helpers/errors.js';

describe('tokenize', () => {
  it('gives words, lower-cased and NFKC-normalized, without punctuation', () => {
    expect(tokenize('The Quick, brown FOX!')).toEqual(['the', 'quick', 'brown', 'fox']);
    expect(tokenize('Ｈｅｌｌｏ ﬁne')).toEqual(['hello', 'fine']);
    expect(tokenize('Cafe\u0301 naïve')).toEqual(['café', 'naïve']);
    expect(tokenize("don't stop 3.14")).toEqual(["don't", 'stop', '3.14']);
    expect(tokenize('e-mail')).toEqual(['e', 'mail']);
    expect(tokenize(' ,.;!? ')).toEqual([]);
  });

  it('splits Chinese and Japanese into words (ICU dictionaries)', () => {
    expect(tokenize('北京欢迎你')).toEqual(['北京', '欢迎', '你']);
    expect(tokenize('こんにちは世界')).toEqual(['こんにちは', '世界']);
  });
});

describe('parseSearch', () => {
  it('reads words, phrases, +, - and prefixes', () => {
    expect(parseSearch('Fox  "Lazy DOG" +jumps -cat qui*')).toEqual([
      { occur: 'should', kind: 'terms', terms: ['fox'] },
      { occur: 'should', kind: 'terms', terms: ['lazy', 'dog'] },
      { occur: 'must', kind: 'terms', terms: ['jumps'] },
      { occur: 'not', kind: 'terms', terms: ['cat'] },
      { occur: 'should', kind: 'prefix', prefix: 'qui' },
    ]);
  });

  it('drops a word with no terms, but refuses an empty search', () => {
    expect(parseSearch('fox ,')).toHaveLength(1);
    expect(errorCode(() => parseSearch(''))).toBe('query/invalid-fulltext');
  });

  it('refuses the rest of Lucene syntax with query/invalid-fulltext', () => {
    for (const s of ['a AND b', 'a OR b', 'NOT a', '(a)', 'f:a', 'a~2', 'a^3', 'a?', 'a*b', '*', '"a', '"a"b', '- a', 'a || b', 'a-b*']) {
      expect(
        errorCode(() => parseSearch(s)),
        s,
      ).toBe('query/invalid-fulltext');
    }
  });
});

describe('searchMatches and score', () => {
  const terms = tokenize('the quick brown fox');
  const matches = (s: string) => searchMatches(parseSearch(s), terms);

  it('follows Lucene: any optional clause, every required one, no excluded one', () => {
    expect(matches('cat fox')).toBe(true);
    expect(matches('cat dog')).toBe(false);
    expect(matches('+fox +cat')).toBe(false);
    expect(matches('+fox cat')).toBe(true);
    expect(matches('fox -brown')).toBe(false);
    expect(matches('-cat')).toBe(false);
    expect(matches('"quick brown"')).toBe(true);
    expect(matches('"brown quick"')).toBe(false);
    expect(matches('br*')).toBe(true);
  });

  it('is BM25: rarer terms and more occurrences score higher; a prefix scores 1', () => {
    const stats = { documents: 10, tokens: 40, documentFrequency: (t: string) => (t === 'the' ? 10 : 1) };
    expect(score(parseSearch('fox'), terms, stats)).toBeGreaterThan(score(parseSearch('the'), terms, stats));
    expect(score(parseSearch('fox'), tokenize('fox fox'), stats)).toBeGreaterThan(score(parseSearch('fox'), tokenize('fox cat'), stats));
    expect(score(parseSearch('qu*'), terms, stats)).toBe(1);
  });
});
