// The server's and the client's value encoding: JSON with the CLI's tags, read back to the same JS value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BigDec, Char, EdnList, Keyword, Sym, Tagged, Uuid } from '../query-lang/edn/types.js';
import { ednBodyObject, fromWire, toEdnText, toWire } from '../src/server/wire.js';
import { readEdn } from '../query-lang/edn/reader.js';

const roundTrip = (v: unknown) => fromWire(JSON.parse(JSON.stringify(toWire(v))));

const scalar = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.double(),
  fc.bigInt(),
  fc.constantFrom(Keyword.of('a/b'), Keyword.of('x'), Sym.of('s'), new Uuid('6f1c1f6e-4b4a-4a8e-9a43-0e0b9c0d1e2f'), new Char('c'), new BigDec('1.50')),
  fc.date({ noInvalidDate: true }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, tie('array'), tie('object'), tie('set'), tie('list')),
  array: fc.array(tie('v'), { maxLength: 4 }),
  object: fc.dictionary(fc.string(), tie('v'), { maxKeys: 4 }),
  set: fc.array(scalar, { maxLength: 3 }).map((xs) => new Set(xs)),
  list: fc.array(tie('v'), { maxLength: 3 }).map((xs) => new EdnList(xs as never[])),
})).v;

describe('the wire encoding', () => {
  it('reads back every value it writes (arrays, plain objects, sets, lists, tagged scalars)', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(roundTrip(v)).toEqual(v);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps what JSON alone would lose: -0, NaN, Infinity, bigints, keywords, an object that looks tagged', () => {
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(roundTrip([NaN, Infinity, -Infinity])).toEqual([NaN, Infinity, -Infinity]);
    expect(roundTrip(2n ** 70n)).toBe(2n ** 70n);
    expect(toWire(Keyword.of('person/name'))).toEqual({ '#kw': 'person/name' });
    expect(roundTrip({ '#kw': 'not a keyword' })).toEqual({ '#kw': 'not a keyword' });
    expect(roundTrip(new Map([[Keyword.of('k'), 1]]))).toEqual(new Map([[Keyword.of('k'), 1]]));
    expect(roundTrip(new Tagged('my/tag', 1 as never))).toEqual(new Tagged('my/tag', 1 as never));
  });

  it('reads the CLI forms too: a #tuple is an array', () => {
    expect(fromWire({ '#tuple': [1, { '#kw': 'a' }] })).toEqual([1, Keyword.of('a')]);
  });

  it('refuses JSON that is no value, with a code', () => {
    expect(() => fromWire({ '#nope': 1 })).toThrow(expect.objectContaining({ code: 'json/invalid-value' }));
    expect(() => fromWire({ '#inst': 'yesterday' })).toThrow(expect.objectContaining({ code: 'json/invalid-value' }));
  });

  it('EDN: responses print objects as keyword maps; a body map gives its fields by name', () => {
    expect(toEdnText({ result: [['Ann', 3]], t: 2 })).toBe('{:result [["Ann" 3]], :t 2}');
    expect(ednBodyObject(readEdn('{:query [:find ?x] :asOf 3}'))).toEqual({ query: [Keyword.of('find'), Sym.of('?x')], asOf: 3 });
  });
});
