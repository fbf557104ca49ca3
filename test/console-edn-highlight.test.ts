// The query editor's EDN tokens and bracket matching (console/edn-highlight.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { highlightHtml, matchBracket, tokenize } from '../console/edn-highlight.js';

const kinds = (text: string) =>
  tokenize(text)
    .map((t) => [t.kind, text.slice(t.start, t.end)])
    .filter(([k]) => k !== 'space');

describe('tokenize', () => {
  it('marks keywords, variables, strings, numbers, tags and comments', () => {
    expect(kinds('[:find ?e . :where [?e :a/b "x ]" 12] #inst "2025" nil] ; done')).toEqual([
      ['bracket', '['],
      ['keyword', ':find'],
      ['variable', '?e'],
      ['symbol', '.'],
      ['keyword', ':where'],
      ['bracket', '['],
      ['variable', '?e'],
      ['keyword', ':a/b'],
      ['string', '"x ]"'],
      ['number', '12'],
      ['bracket', ']'],
      ['tag', '#inst'],
      ['string', '"2025"'],
      ['literal', 'nil'],
      ['bracket', ']'],
      ['comment', '; done'],
    ]);
    expect(kinds('#{1} "a\\"b"')).toEqual([
      ['bracket', '#{'],
      ['number', '1'],
      ['bracket', '}'],
      ['string', '"a\\"b"'],
    ]);
  });

  it('covers every character exactly once, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'[](){}#"\\;: ?ab1\n,'.split('')) }), (text) => {
        let at = 0;
        for (const t of tokenize(text)) {
          expect(t.start).toBe(at);
          expect(t.end).toBeGreaterThan(t.start);
          at = t.end;
        }
        expect(at).toBe(text.length);
      }),
    );
  });
});

describe('matchBracket', () => {
  const match = (text: string, caret: number) => matchBracket(tokenize(text), text, caret);

  it('finds the partner of the bracket before the caret, skipping brackets in strings and comments', () => {
    const text = '[:find ?x :where [?x :a "]"]] ; ]';
    expect(match(text, 1)).toEqual({ at: 0, match: text.lastIndexOf(']]') + 1 });
    expect(match(text, text.indexOf('[?x') + 1)).toEqual({ at: text.indexOf('[?x'), match: text.lastIndexOf(']]') });
    expect(match(text, text.lastIndexOf(']]') + 1)).toEqual({ at: text.lastIndexOf(']]'), match: text.indexOf('[?x') });
  });

  it('reports a missing or mismatched partner', () => {
    expect(match('[:find (x]', 10)).toEqual({ at: 9, match: null });
    expect(match('[:find', 1)).toEqual({ at: 0, match: null });
    expect(match(':find', 2)).toBeNull();
  });
});

describe('highlightHtml', () => {
  it('escapes markup and marks the matched pair', () => {
    expect(highlightHtml('["<b>"]', 1)).toBe(
      '<span class="tok-bracket bracket-match">[</span><span class="tok-string">&quot;&lt;b&gt;&quot;</span><span class="tok-bracket bracket-match">]</span>',
    );
  });
});
