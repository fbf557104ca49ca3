// A history value's distinct (entity, value) pairs of an attribute (src/db/history-pairs.ts): every
// version of a fact counted once, retractions included, -0 one value with 0, kept per history value.
import { describe, expect, it } from 'vitest';
import { freshConn } from './helpers/tmp.js';

const SCHEMA = `[{:db/ident :p/city :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/x :db/valueType :db.type/double :db/cardinality :db.cardinality/many}]`;

const pairsOf = (col: { es: readonly number[]; vs: readonly unknown[] } | null) => (col ? col.es.map((e, i) => [e, col.vs[i]]) : null);

describe('history pairs', () => {
  it('hold each version of a fact once, grouped by entity, for history values only', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const made = await conn.transact('[{:db/id "a" :p/city "Lyon"} {:db/id "b" :p/city "Oslo"}]');
    const [a, b] = [made.tempids.a!, made.tempids.b!];
    await conn.transact(`[[:db/add ${a} :p/city "Rome"]]`);
    await conn.transact(`[[:db/add ${a} :p/city "Lyon"]]`);
    const city = conn.db().entid(':p/city')!;
    const h = conn.db().history();
    expect(pairsOf(h.historyPairs(city))).toEqual([
      [a, 'Lyon'],
      [a, 'Rome'],
      [b, 'Oslo'],
    ]);
    // since: the retraction of Rome (and Lyon asserted again); asOf: what was there by then
    expect(pairsOf(conn.db().since(made.t).history().historyPairs(city))).toEqual([
      [a, 'Lyon'],
      [a, 'Rome'],
    ]);
    expect(pairsOf(conn.db().asOf(made.t).history().historyPairs(city))).toEqual([
      [a, 'Lyon'],
      [b, 'Oslo'],
    ]);
    expect(h.historyPairs(city)).toBe(h.historyPairs(city));
    expect(conn.db().historyPairs(city)).toBeNull();
    expect(h.filter(() => true).historyPairs(city)).toBeNull();
  });

  it('take -0 and 0 as one value, as a join does', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const made = await conn.transact('[{:db/id "a" :p/x [0.0 -0.0 1.5]}]');
    const x = conn.db().entid(':p/x')!;
    const pairs = pairsOf(conn.db().history().historyPairs(x))!;
    expect(pairs.map(([e]) => e)).toEqual(pairs.map(() => made.tempids.a));
    expect(pairs.map(([, v]) => v)).toContain(1.5);
    expect(pairs.filter(([, v]) => v === 0)).toHaveLength(1);
  });
});
