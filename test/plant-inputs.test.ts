// Planting scalar :in values (src/query/plant-inputs.ts): a query with an input gives what the
// same query with the value written in gives, plans the same index bounds, and inputs that the
// find spec, a not/or, a rule or a function position needs stay variables.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { freshConn } from './helpers/tmp.js';
import { type Connection } from '../src/index.js';
import { explain, q } from '../src/query/index.js';
import { plantScalarInputs } from '../src/query/plant-inputs.js';
import { parseQuery } from '../query-lang/datalog/index.js';
import { Keyword } from '../query-lang/edn/types.js';

let conn: Connection;

beforeAll(async () => {
  conn = await freshConn({ noSync: true });
  await conn.transact(`[{:db/ident :p/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
                        {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                        {:db/ident :p/kind :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}]`);
  const kinds = ['a', 'b', 'c'];
  await conn.transact(Array.from({ length: 60 }, (_, i) => ({ 'p/n': i * 3, 'p/name': `n${i % 7}`, 'p/kind': Keyword.of(kinds[i % 3]) })));
});

const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();

describe('planting scalar inputs', () => {
  it('gives the rows of the same query with the value written in (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 200 }), fc.constantFrom('<', '>', '<=', '>=', '='), fc.constantFrom('n1', 'n3', 'zz'), (min, op, name) => {
        const db = conn.db();
        const withInputs = q(`[:find ?e ?n :in $ ?min ?name :where [?e :p/n ?n] [(${op} ?n ?min)] [?e :p/name ?name]]`, db, min, name);
        const written = q(`[:find ?e ?n :where [?e :p/n ?n] [(${op} ?n ${min})] [?e :p/name "${name}"]]`, db);
        expect(sorted(withInputs)).toEqual(sorted(written));
      }),
      { numRuns: 80 },
    );
  });

  it('turns an input bound into the bounds of one AVET range scan, as a literal does', () => {
    const steps = explain('[:find ?e :in $ ?min :where [?e :p/n ?n] [(> ?n ?min)]]', conn.db(), 150).steps;
    expect(steps[0].index).toBe('avet-range');
    expect(steps[0].range).toBe('(150, +inf)');
    expect(steps[0].actualRows).toBe(9); // 153 .. 177
  });

  it('keeps as variables the inputs the find spec, not, or, rules or a function position need', () => {
    const query = parseQuery(`[:find ?e ?shown :in $ ?shown ?a ?b ?c ?d ?f :where
      [?e :p/n ?n] [(> ?n ?a)] (not [?e :p/name ?b]) (or [?e :p/n ?c] [?e :p/name ?c]) [(?f ?n) ?d]]`);
    const rel = { vars: ['?shown', '?a', '?b', '?c', '?d', '?f'], rows: [[1, 2, 'x', 3, 4, (n: number) => n]] };
    const { where, rel: left } = plantScalarInputs(query.where, rel, ['?e', '?shown']);
    expect(left.vars).toEqual(['?shown', '?b', '?c', '?d', '?f']);
    expect((where[1] as { args: unknown[] }).args[1]).toMatchObject({ kind: 'const', value: 2 });
    expect(where[2]).toBe(query.where[2]); // the not is untouched
  });

  it('plants nothing from a relation of several rows or of values that are not plain', () => {
    const query = parseQuery('[:find ?e :in $ [?x ...] ?y :where [?e :p/n ?x] [?e :p/name ?y]]');
    const several = {
      vars: ['?x', '?y'],
      rows: [
        [1, 'a'],
        [2, 'a'],
      ],
    };
    expect(plantScalarInputs(query.where, several, ['?e']).rel).toBe(several);
    const notPlain = { vars: ['?x', '?y'], rows: [[[1, 2], { a: 1 }]] };
    expect(plantScalarInputs(query.where, notPlain, ['?e']).rel).toBe(notPlain);
  });

  it('a keyword input planted in a value position matches as the written keyword does', () => {
    const db = conn.db();
    const withInput = q('[:find (count ?e) . :in $ ?k :where [?e :p/kind ?k]]', db, Keyword.of('b'));
    expect(withInput).toBe(20);
    expect(withInput).toBe(q('[:find (count ?e) . :where [?e :p/kind :b]]', db));
  });
});
