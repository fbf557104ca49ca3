// Tagged JSON of values (src/cli/json-values.ts) and every --format json printer built on it:
// a value prints so that it reads back equal, and two different values never print the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeJsonValue, encodeJsonValue } from '../src/cli/json-values.js';
import { renderResult, renderRows } from '../src/cli/format.js';
import { toQuery } from '../src/query/index.js';
import { BigDec, Keyword, Sym, Uri, Uuid } from '../query-lang/edn/types.js';

const name = fc.stringMatching(/^[a-z][a-z0-9.*+!?-]{0,6}(\/[a-z_][a-z0-9_-]{0,6})?$/);
/** Strings that look like other values' printed forms, besides random ones. */
const lookalike = fc.constantFrom(':k/w', '9007199254740993', '1.5', 'true', 'null', '#kw', '{"#kw":"k/w"}', '2024-01-01T00:00:00.000Z', '-0', 'NaN', '');
const scalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), lookalike),
  fc.maxSafeInteger(),
  fc.double(), // with -0, NaN and the infinities
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53 + 2, 1e300, 5e-324),
  fc.bigInt(),
  fc.constantFrom(9007199254740993n, 5n, 0n, -1n),
  name.map((n) => Keyword.of(n)),
  name.map((n) => Sym.of(n)),
  fc.date({ noInvalidDate: true }),
  fc.uuid().map((u) => new Uuid(u)),
  fc.boolean(),
);
const tuple = fc.array(fc.oneof(scalar, fc.constant(null)), { minLength: 1, maxLength: 8 });
const value = fc.oneof(scalar, tuple);

/** Whether two values are the same value of the same type (-0 is not 0, NaN is NaN). */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Uuid) return b instanceof Uuid && a.value === b.value;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  return a === b; // strings, booleans, bigints, null; keywords and symbols are interned
}

/** A value as --format json prints it in a row of `datoms`, `history`, `diff`... */
const printed = (v: unknown) => JSON.parse(renderRows(['v'], [[v]], 'json')).v;

describe('--format json is lossless', () => {
  it('a value printed in a row reads back the same', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(same(decodeJsonValue(printed(v)).v, v), `${String(v)} printed as ${JSON.stringify(printed(v))}`).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('two different values never print the same', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const [pa, pb] = [JSON.stringify(printed(a)), JSON.stringify(printed(b))];
        expect(pa === pb).toBe(same(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('the 14 values the issue found printing as 8 print as 14', () => {
    const values = [
      9007199254740993n,
      '9007199254740993',
      Keyword.of('k/w'),
      ':k/w',
      Sym.of('s'),
      's',
      5n,
      5,
      -0,
      0,
      NaN,
      'NaN',
      new Uuid('6f1c2a4e-1b2c-4d5e-8f90-123456789abc'),
      '6f1c2a4e-1b2c-4d5e-8f90-123456789abc',
    ];
    expect(new Set(values.map((v) => JSON.stringify(printed(v)))).size).toBe(14);
  });

  it('a query result prints its values tagged, rows and collections as arrays', () => {
    const query = toQuery('[:find ?a ?b :where [?e :a ?a] [?e :b ?b]]');
    const rows = [
      [9007199254740993n, Keyword.of('k/w')],
      ['9007199254740993', ':k/w'],
    ];
    const out = JSON.parse(renderResult(query, rows, 'json').text);
    expect(out).toEqual([
      [{ '#bigint': '9007199254740993' }, { '#kw': 'k/w' }],
      ['9007199254740993', ':k/w'],
    ]);
    const coll = toQuery('[:find [?t ...] :where [?e :t ?t]]');
    expect(JSON.parse(renderResult(coll, [[1, null], -0], 'json').text)).toEqual([{ '#tuple': [1, null] }, { '#double': '-0' }]);
    const scalarQuery = toQuery('[:find ?b . :where [?e :b ?b]]');
    expect(JSON.parse(renderResult(scalarQuery, 12n, 'json').text)).toEqual({ '#bigint': '12' });
  });

  it('a ref is tagged when the caller knows it is one, and reads back as a ref', () => {
    fc.assert(
      fc.property(fc.nat(), (id) => {
        expect(decodeJsonValue(encodeJsonValue(id, true))).toEqual({ v: id, ref: true });
        expect(decodeJsonValue(encodeJsonValue(id))).toEqual({ v: id, ref: false });
      }),
    );
  });
});

describe('bigdec, uri and bytes in tagged JSON (issue 21)', () => {
  it('encode as {"#bigdec": text} (scale kept), {"#uri": text}, {"#bytes": base64} and read back equal', () => {
    for (const [v, json] of [
      [new BigDec('1.50'), { '#bigdec': '1.50' }],
      [new BigDec('1.5E+2'), { '#bigdec': '1.5E+2' }],
      [new Uri('urn:x'), { '#uri': 'urn:x' }],
      [new Uint8Array([0, 1, 2, 255]), { '#bytes': 'AAEC/w==' }],
    ] as const) {
      expect(encodeJsonValue(v)).toEqual(json);
      expect(decodeJsonValue(JSON.parse(JSON.stringify(json))).v).toEqual(v);
    }
  });

  it('refuse a malformed payload with json/invalid-value', () => {
    for (const bad of [{ '#bigdec': '1.5.0' }, { '#bigdec': 1.5 }, { '#uri': 'a b' }, { '#bytes': 'AAE' }]) {
      expect(() => decodeJsonValue(bad)).toThrow(expect.objectContaining({ code: 'json/invalid-value' }));
    }
  });
});
