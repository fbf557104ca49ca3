// index-pull (src/pull/index-pull.ts): entities pulled in AVET or AEVT order, with a start,
// :offset, :limit and :reverse, against the same order worked out from the datoms.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indexPull } from '../src/index.js';
import { freshConn } from './helpers/tmp.js';
import { errorCode } from './helpers/errors.js';
import { P, schema } from './helpers/schemas.js';

describe('index-pull', () => {
  it('walks AVET and AEVT from a start, forwards and backwards, with offset and limit', async () => {
    const conn = await freshConn();
    await conn.transact(schema(P.name, P.age));
    const ages = [40, 25, 33, 25, 61, 18, 33, 50];
    const { tempids } = await conn.transact(`[${ages.map((a, i) => `{:db/id "p${i}" :p/name "p${i}" :p/age ${a}}`).join(' ')}]`);
    const people = ages.map((age, i) => ({ e: tempids[`p${i}`]!, age, name: `p${i}` }));
    const db = conn.db();
    const byAge = [...people].sort((x, y) => x.age - y.age || x.e - y.e);
    const byEntity = [...people].sort((x, y) => x.e - y.e);
    const names = (it: Iterable<Record<string, unknown>>) => [...it].map((r) => r['p/name']);
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.option(fc.nat(70)), fc.nat(9), fc.option(fc.nat(9)), (avet, reverse, from, offset, limit) => {
        const order = avet ? byAge : byEntity;
        const key = (p: (typeof people)[number]) => (avet ? p.age : p.e);
        const fromValue = from === null ? undefined : avet ? from : people[from % people.length]!.e;
        let expected = order.filter((p) => fromValue === undefined || (reverse ? key(p) <= fromValue : key(p) >= fromValue));
        if (reverse) expected = expected.reverse();
        expected = expected.slice(offset, limit === null ? undefined : offset + limit);
        const got = indexPull(db, {
          index: avet ? 'avet' : 'aevt',
          selector: '[:p/name]',
          start: fromValue === undefined ? [':p/age'] : [':p/age', fromValue],
          reverse,
          offset,
          ...(limit === null ? {} : { limit }),
        });
        expect(names(got)).toEqual(expected.map((p) => p.name));
      }),
      { numRuns: 200 },
    );
    expect(errorCode(() => indexPull(db, { index: 'eavt' as 'avet', selector: '[*]', start: [':p/age'] }))).toBe('pull/invalid-index-pull');
    expect(errorCode(() => indexPull(db, { index: 'avet', selector: '[*]', start: [':no/attr'] }))).toBe('pull/invalid-index-pull');
    expect(errorCode(() => indexPull(db, { index: 'avet', selector: '[*]', start: [':p/age'], limit: -1 }))).toBe('pull/invalid-index-pull');
    expect(errorCode(() => indexPull(db.history(), { index: 'avet', selector: '[*]', start: [':p/age'] }))).toBe('pull/history-db');
  });
});
