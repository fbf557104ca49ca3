import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BigDec, Char, EdnList, EdnSyntaxError, Keyword, Sym, Tagged, Uuid, positionOf, readAllEdn, readEdn } from '../query-lang/edn/index.js';
import { Uri } from '../query-lang/edn/types.js';
import { FactlogError } from '../query-lang/errors.js';

function err(text: string): EdnSyntaxError {
  try {
    readEdn(text);
  } catch (e) {
    expect(e).toBeInstanceOf(EdnSyntaxError);
    return e as EdnSyntaxError;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
}

describe('readEdn atoms', () => {
  it('reads nil, booleans, strings', () => {
    expect(readEdn('nil')).toBe(null);
    expect(readEdn('true')).toBe(true);
    expect(readEdn('false')).toBe(false);
    expect(readEdn('"a\\tb\\nc\\rd\\"e\\\\f\\u00e9"')).toBe('a\tb\nc\rd"e\\f\u00e9');
    expect(readEdn('"multi\nline"')).toBe('multi\nline');
    expect(readEdn('nil?')).toBe(Sym.of('nil?'));
  });
  it('reads characters', () => {
    expect(readEdn('\\a')).toEqual(new Char('a'));
    expect(readEdn('\\newline')).toEqual(new Char('\n'));
    expect(readEdn('\\space')).toEqual(new Char(' '));
    expect(readEdn('\\tab')).toEqual(new Char('\t'));
    expect(readEdn('\\u00e9')).toEqual(new Char('\u00e9'));
    expect(readEdn('\\(')).toEqual(new Char('('));
    expect(readEdn('[\\a\\b]')).toEqual([new Char('a'), new Char('b')]);
  });
  it('reads numbers', () => {
    expect(readEdn('42')).toBe(42);
    expect(readEdn('-7')).toBe(-7);
    expect(readEdn('+7')).toBe(7);
    expect(readEdn('9007199254740991')).toBe(9007199254740991);
    expect(readEdn('9007199254740993')).toBe(9007199254740993n);
    expect(readEdn('-9007199254740993')).toBe(-9007199254740993n);
    expect(readEdn('5N')).toBe(5n);
    expect(readEdn('1.5')).toBe(1.5);
    expect(readEdn('-1.5e3')).toBe(-1500);
    expect(readEdn('1E-2')).toBe(0.01);
    expect(readEdn('1.50M')).toEqual(new BigDec('1.50'));
    expect(readEdn('3M')).toEqual(new BigDec('3'));
    expect(readEdn('##Inf')).toBe(Infinity);
    expect(readEdn('##-Inf')).toBe(-Infinity);
    expect(readEdn('##NaN')).toBeNaN();
  });
  it('reads keywords and symbols, interned', () => {
    expect(readEdn(':a/b')).toBe(Keyword.of('a/b'));
    expect(readEdn(':name')).toBe(Keyword.of('name'));
    expect(readEdn('foo.bar/baz')).toBe(Sym.of('foo.bar/baz'));
    expect(readEdn('?x')).toBe(Sym.of('?x'));
    expect(readEdn('$')).toBe(Sym.of('$'));
    expect(readEdn('...')).toBe(Sym.of('...'));
    expect(readEdn('.')).toBe(Sym.of('.'));
    expect(readEdn('_')).toBe(Sym.of('_'));
    expect(readEdn('/')).toBe(Sym.of('/'));
    expect(readEdn('-')).toBe(Sym.of('-'));
    expect(readEdn('not=')).toBe(Sym.of('not='));
    expect(readEdn('pull')).toBe(Sym.of('pull'));
    expect(readEdn(':find')).toBe(Keyword.of('find'));
    expect(readEdn(':find-me')).toBe(Keyword.of('find-me'));
  });
});

describe('readEdn collections', () => {
  it('reads vectors, lists, maps, sets', () => {
    expect(readEdn('[1, 2 ,3]')).toEqual([1, 2, 3]);
    const l = readEdn('(a 1)');
    expect(l).toBeInstanceOf(EdnList);
    expect((l as EdnList).items).toEqual([Sym.of('a'), 1]);
    const m = readEdn('{:a 1 "b" [2]}') as Map<unknown, unknown>;
    expect(m).toBeInstanceOf(Map);
    expect(m.get(Keyword.of('a'))).toBe(1);
    expect(m.get('b')).toEqual([2]);
    expect(readEdn('#{1 :a}')).toEqual(new Set([1, Keyword.of('a')]));
    expect(readEdn('[]')).toEqual([]);
    expect(readEdn('{}')).toEqual(new Map());
    expect(readEdn('#{}')).toEqual(new Set());
  });
  it('handles comments, commas and discard', () => {
    expect(readEdn('; hi\n[1 ; one\n 2]')).toEqual([1, 2]);
    expect(readEdn('[1 #_2 3]')).toEqual([1, 3]);
    expect(readEdn('[1 #_ #_ 2 3 4]')).toEqual([1, 4]);
    expect(readEdn('#_ [a b] 5')).toBe(5);
    expect(readEdn('{:a 1 #_:b #_2}')).toEqual(new Map([[Keyword.of('a'), 1]]));
  });
  it('reads tagged literals', () => {
    const d = readEdn('#inst "1985-04-12T23:20:50.52Z"') as Date;
    expect(d).toBeInstanceOf(Date);
    expect(d.toISOString()).toBe('1985-04-12T23:20:50.520Z');
    expect((readEdn('#inst "2020-01-01"') as Date).toISOString()).toBe('2020-01-01T00:00:00.000Z');
    expect((readEdn('#inst "2020-01-01T10:00:00+02:00"') as Date).toISOString()).toBe('2020-01-01T08:00:00.000Z');
    expect(readEdn('#uuid "F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6"')).toEqual(new Uuid('f81d4fae-7dec-11d0-a765-00a0c91e6bf6'));
    const t = readEdn('#my/tag [1 2]');
    expect(t).toEqual(new Tagged('my/tag', [1, 2]));
  });
  it('readAllEdn reads every form', () => {
    expect(readAllEdn('1 :a [2] #_3')).toEqual([1, Keyword.of('a'), [2]]);
    expect(readAllEdn('  ; nothing')).toEqual([]);
  });
  it('records positions of composite forms', () => {
    const v = readEdn('[1\n  {:a #{2}}\n (x)]') as unknown[];
    expect(positionOf(v)).toEqual({ line: 1, column: 1, offset: 0 });
    const m = v[1] as Map<unknown, unknown>;
    expect(positionOf(m)).toMatchObject({ line: 2, column: 3 });
    expect(positionOf(m.get(Keyword.of('a')) as object)).toMatchObject({ line: 2, column: 7 });
    expect(positionOf(v[2] as object)).toMatchObject({ line: 3, column: 2 });
  });
});

describe('readEdn errors', () => {
  const cases: [string, string, number, number][] = [
    ['', 'end of input', 1, 1],
    ['1 2', 'end of input', 1, 3],
    ['[1 2', "']'", 1, 5],
    ['[1\n 2)', "']'", 2, 3],
    [')', 'unmatched', 1, 1],
    ['{:a}', 'even number', 1, 1],
    ['{:a 1 :a 2}', 'duplicate key', 1, 1],
    ['{[1 #{2 3}] 1 [1 #{3 2}] 2}', 'duplicate key', 1, 1],
    ['#{1 2 1}', 'duplicate', 1, 1],
    ['#inst "2020-02-30"', 'timestamp', 1, 7],
    ['#inst "nope"', 'timestamp', 1, 7],
    ['#inst 5', 'string', 1, 7],
    ['#uuid "abc"', 'UUID', 1, 7],
    ['"a\\qb"', 'escape', 1, 3],
    ['"\\u12"', 'hex', 1, 2],
    ['\\abc', 'character', 1, 1],
    ['012', 'number', 1, 1],
    ['1.5N', 'number', 1, 1],
    ['12abc', 'number', 1, 1],
    ['"abc', 'unterminated', 1, 1],
    ['  :', 'EDN form', 1, 3],
    ['#_', 'discard', 1, 3],
    ['[#_]', 'discard', 1, 4],
    ['#foo', 'after tag', 1, 5],
    ['a/', 'symbol', 1, 1],
    [':a/', 'keyword', 1, 1],
    ['#<foo>', 'dispatch', 1, 1],
  ];
  for (const [text, msg, line, column] of cases) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const e = err(text);
      expect(e.code).toBe('edn/syntax');
      expect(e.message).toContain(msg);
      expect(e.pos).toMatchObject({ line, column });
      expect(e).toBeInstanceOf(FactlogError);
    });
  }
  it('limits nesting depth instead of overflowing the stack', () => {
    for (const text of ['['.repeat(5000), '['.repeat(5000) + ']'.repeat(5000), '#_'.repeat(5000) + '1', '#a '.repeat(5000) + '1', '#{'.repeat(3000), '(['.repeat(3000)]) {
      const e = err(text);
      expect(e.code).toBe('edn/too-deep');
    }
    expect(readEdn('['.repeat(1000) + ']'.repeat(1000))).toBeInstanceOf(Array);
  });
  it('a string literal too long for the lexer is edn/too-long, not a RangeError', () => {
    expect(err('"' + 'a'.repeat(10_000_000) + '"').code).toBe('edn/too-long');
  });
});

describe('readEdn fuzz', () => {
  const alphabet = fc.constantFrom(...'[](){}#_:;,"\\ \n?$%.*+-/0123456789abcNMeE!<=>\'^@`~|&'.split(''), '#inst "', '#uuid "', '#{', '#_', '##Inf', 'nil', '\\u00', ':a/b');
  it('random strings only ever throw FactlogError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.array(alphabet, { maxLength: 60 }).map((a) => a.join('')),
        ),
        (s) => {
          try {
            readAllEdn(s);
          } catch (e) {
            if (!(e instanceof FactlogError)) throw e;
            expect(['edn/syntax', 'edn/too-deep']).toContain(e.code);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('#uri and #bytes (issue 21)', () => {
  it('read a URI and base64 bytes; a decimal keeps its text (scale)', () => {
    expect(readEdn('#uri "https://example.com/a?b=c#d"')).toEqual(new Uri('https://example.com/a?b=c#d'));
    expect(readEdn('#bytes "AAEC/w=="')).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(readEdn('#bytes ""')).toEqual(new Uint8Array([]));
    expect(readEdn('1.50M')).toEqual(new BigDec('1.50'));
  });

  it('refuse what is no URI or no padded base64, with a coded error', () => {
    for (const bad of ['#uri "a b"', '#uri ""', '#uri 5', '#bytes "AAE"', '#bytes "AAF="', '#bytes "A*=="', '#bytes 1']) {
      expect(err(bad).code, bad).toBe('edn/syntax');
    }
  });
});
