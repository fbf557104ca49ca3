// The console's value printing and exports (console/values.ts): EDN text of tagged JSON, CSV, find specs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEdn } from '../query-lang/edn/reader.js';
import { printEdn } from '../query-lang/edn/printer.js';
import { encodeJsonValue } from '../src/cli/json-values.js';
import { csvField, ednOf, findSpec, resultRows, rowsAsCsv, rowsAsEdn, textOf, type Json } from '../console/values.js';

describe('ednOf', () => {
  it('prints each tagged form as EDN', () => {
    expect(ednOf({ '#kw': 'person/name' })).toBe(':person/name');
    expect(ednOf({ '#inst': '2025-01-05T10:00:00.000Z' })).toBe('#inst "2025-01-05T10:00:00.000Z"');
    expect(ednOf({ '#bigint': '12345678901234567890' })).toBe('12345678901234567890N');
    expect(ednOf({ '#double': '-0' })).toBe('-0.0');
    expect(ednOf({ '#set': [1, 'a'] })).toBe('#{1 "a"}');
    expect(ednOf({ '#map': [[{ '#kw': 'a' }, 1]] })).toBe('{:a 1}');
    expect(ednOf(['x', null, true])).toBe('["x" nil true]');
    expect(ednOf({ 'db/id': 1009, 'person/name': 'Ann' })).toBe('{:db/id 1009, :person/name "Ann"}');
    expect(ednOf('say "hi"\n')).toBe('"say \\"hi\\"\\n"');
  });

  it('reads back as the value the server encoded (strings, numbers, keywords, dates, sets)', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }),
      fc.constantFrom('a/b', 'person/name', 'x').map((n) => readEdn(':' + n)),
    );
    fc.assert(
      fc.property(fc.array(value, { maxLength: 5 }), (values) => {
        const text = ednOf(encodeJsonValue(new Set(values)) as Json);
        expect(printEdn(readEdn(text))).toBe(printEdn(readEdn(printEdn(new Set(values)))));
      }),
    );
  });

  it('shows strings bare and instants as ISO text in table cells', () => {
    expect(textOf('Alice')).toBe('Alice');
    expect(textOf({ '#inst': '2025-01-05T10:00:00.000Z' })).toBe('2025-01-05T10:00:00.000Z');
    expect(textOf({ '#kw': 'a/b' })).toBe(':a/b');
  });
});

describe('CSV export', () => {
  it('quotes fields with commas, quotes and line breaks, and ends lines with CRLF', () => {
    expect(
      rowsAsCsv(
        ['?n', '?v'],
        [
          ['a,b', 1],
          ['say "x"', { '#kw': 'k' }],
          ['two\nlines', null],
        ],
      ),
    ).toBe('?n,?v\r\n"a,b",1\r\n"say ""x""",:k\r\n"two\nlines",nil\r\n');
  });

  it('defuses text a spreadsheet would run as a formula, but not negative numbers', () => {
    expect(csvField('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvField('@cmd')).toBe("'@cmd");
    expect(csvField('-12')).toBe('-12');
  });

  it('round-trips any text field through an RFC 4180 reader', () => {
    const parseField = (f: string) => (f.startsWith('"') ? f.slice(1, -1).replace(/""/g, '"') : f);
    fc.assert(
      fc.property(fc.string(), (s) => {
        const field = csvField(s);
        const back = parseField(field);
        expect(back === s || back === "'" + s).toBe(true);
        if (!field.startsWith('"')) expect(field).not.toMatch(/[",\r\n]/);
      }),
    );
  });

  it('prints rows as EDN', () => {
    expect(
      rowsAsEdn([
        [1, 'a'],
        [2, { '#kw': 'b' }],
      ]),
    ).toBe('[[1 "a"]\n [2 :b]]');
  });
});

describe('findSpec and resultRows', () => {
  it('names the columns and knows the shape of each find form', () => {
    expect(findSpec('[:find ?a (count ?b) :where [?a _ ?b]]')).toEqual({ columns: ['?a', '(count ?b)'], shape: 'relation' });
    expect(findSpec('[:find ?a . :in $ ?x :where [?a _ ?x]]')).toEqual({ columns: ['?a'], shape: 'scalar' });
    expect(findSpec('[:find [?a ...] :where [?a :x/y]]')).toEqual({ columns: ['?a'], shape: 'collection' });
    expect(findSpec('[:find [?a ?b] :where [?a :x/y ?b]]')).toEqual({ columns: ['?a', '?b'], shape: 'tuple' });
    expect(findSpec('[:find (pull ?e [:a/b {:c/d [*]}]) :where [?e :a/b]]').columns).toEqual(['(pull ?e [:a/b {:c/d [*]}])']);
  });

  it('turns each shape of result into table rows', () => {
    expect(resultRows([[1, 2]], 'relation')).toEqual([[1, 2]]);
    expect(resultRows([1, 2], 'collection')).toEqual([[1], [2]]);
    expect(resultRows([1, 2], 'tuple')).toEqual([[1, 2]]);
    expect(resultRows(7, 'scalar')).toEqual([[7]]);
    expect(resultRows(null, 'scalar')).toEqual([]);
  });
});
