import { describe, it, expect, beforeAll } from 'vitest';
import fc from 'fast-check';
import { Keyword, type Connection, type Db } from '../src/index.js';
import { q } from '../src/query/index.js';
import { clearPrepared, preparedText, PREPARED_MAX } from '../src/query/prepared.js';
import { clearParseCaches } from '../query-lang/datalog/index.js';
import { freshConn } from './helpers/tmp.js';

const SCHEMA = `[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :p/kind :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}]`;

const EMAILS = ['a@x', 'b@x', 'c@x', 'd@x', 'nobody@x'];

/** A shop of people whose later transactions change names, ages and friends: each db value differs. */
async function people(conn: Connection, shift: number): Promise<number> {
  await conn.transact(SCHEMA);
  const tx = EMAILS.slice(0, 4).map((m, i) => `{:db/id "${m}" :p/email "${m}" :p/name "n${(i + shift) % 3}" :p/age ${20 + ((i * 7 + shift) % 30)} :p/kind :k/${i % 2 ? 'odd' : 'even'}}`);
  await conn.transact(`[${tx.join(' ')} [:db/add "a@x" :p/friend "b@x"] [:db/add "b@x" :p/friend "c@x"]]`);
  const t = conn.db().basisT;
  await conn.transact(
    `[[:db/add [:p/email "c@x"] :p/friend [:p/email "${EMAILS[shift % 4]}"]] [:db/retract [:p/email "a@x"] :p/friend [:p/email "b@x"]] [:db/add [:p/email "d@x"] :p/age ${40 + shift}]]`,
  );
  return t;
}

const RULES = '[[(knows ?a ?b) [?a :p/friend ?b]] [(knows ?a ?b) [?a :p/friend ?c] (knows ?c ?b)]]';

/** Query texts and a generator of their inputs (after the db). */
const QUERIES: { text: string; inputs: fc.Arbitrary<unknown[]> }[] = [
  { text: '[:find ?e . :in $ ?email :where [?e :p/email ?email]]', inputs: fc.constantFrom(...EMAILS).map((m) => [m]) },
  { text: '[:find ?n :in $ ?e :where [?e :p/name ?n]]', inputs: fc.constantFrom(...EMAILS).map((m) => [[Keyword.of('p/email'), m]]) },
  { text: '[:find [?n ...] :in $ [?email ...] :where [?e :p/email ?email] [?e :p/name ?n]]', inputs: fc.subarray(EMAILS).map((ms) => [ms]) },
  { text: '[:find ?e ?f :in $ ?min :where [?e :p/age ?a] [(>= ?a ?min)] [?e :p/friend ?f]]', inputs: fc.integer({ min: 15, max: 60 }).map((n) => [n]) },
  { text: '[:find ?e . :in $ ?who :where [?e :p/friend ?who]]', inputs: fc.constantFrom(...EMAILS).map((m) => [[':p/email', m]]) },
  { text: '[:find (count ?e) . :where [?e :p/name]]', inputs: fc.constant([]) },
  { text: '[:find ?k (count ?e) :where [?e :p/kind ?k]]', inputs: fc.constant([]) },
  { text: '[:find ?e :in $ ?kind :where [?e :p/kind ?kind]]', inputs: fc.constantFrom('k/odd', 'k/even').map((k) => [Keyword.of(k)]) },
  { text: '[:find ?b :in $ % ?email :where [?a :p/email ?email] (knows ?a ?b)]', inputs: fc.constantFrom(...EMAILS).map((m) => [RULES, m]) },
  { text: '[:find ?n . :in $ ?email :where [?e :p/email ?email] [?e :p/name ?n]]', inputs: fc.constantFrom(...EMAILS).map((m) => [m, { timeout: 5000 }]) },
];

const canonical = (x: unknown): string => (Array.isArray(x) ? JSON.stringify(x.map((r) => JSON.stringify(r)).sort()) : JSON.stringify(x));

/** The answer, or the error's code: a cached query must fail as the uncached one does. */
function answer(text: string, db: Db, inputs: unknown[]): string {
  try {
    return canonical(q(text, db, ...inputs));
  } catch (e) {
    return `error ${(e as { code?: string }).code}`;
  }
}

describe('prepared queries', () => {
  let dbs: Db[];
  beforeAll(async () => {
    const one = await freshConn();
    const two = await freshConn();
    const t1 = await people(one, 0);
    const t2 = await people(two, 1);
    dbs = [one.db(), one.db().asOf(t1), one.db().history(), two.db(), two.db().asOf(t2), two.db().since(t2)];
  });

  it('answer as a query parsed anew does, whatever the db, its basis and the inputs', () => {
    const call = fc.integer({ min: 0, max: QUERIES.length - 1 }).chain((i) => fc.tuple(fc.constant(i), fc.nat({ max: 5 }), QUERIES[i]!.inputs));
    fc.assert(
      fc.property(fc.array(call, { minLength: 1, maxLength: 25 }), (calls) => {
        clearPrepared();
        for (const [i, d, inputs] of calls) {
          const text = QUERIES[i]!.text;
          const cached = answer(text, dbs[d]!, inputs);
          clearPrepared();
          clearParseCaches();
          expect(answer(text, dbs[d]!, inputs)).toBe(cached);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a repeated text is parsed once, and the texts kept are bounded (least recently used leave first)', () => {
    clearPrepared();
    const lookup = QUERIES[0]!.text;
    const db = dbs[0]!;
    expect(q(lookup, db, 'a@x')).toBeTypeOf('number');
    const kept = preparedText(lookup);
    expect(kept).toBeDefined();
    const texts = Array.from({ length: PREPARED_MAX + 10 }, (_, i) => `[:find ?e . :where [?e :p/age ${i}]]`);
    texts.forEach((t, i) => {
      q(t, db);
      if (i % 50 === 0) q(lookup, db, 'b@x');
    });
    expect(preparedText(lookup)).toBe(kept);
    expect(preparedText(texts[0]!)).toBeUndefined();
    expect(preparedText(texts[texts.length - 1]!)).toBeDefined();
  });

  it('a query map given as text is not kept under its text (its :args are part of it)', () => {
    clearPrepared();
    const map = '{:query [:find ?e . :in $ ?email :where [?e :p/email ?email]] :args []}';
    expect(q(map, dbs[0]!, 'a@x')).toBe(q(QUERIES[0]!.text, dbs[0]!, 'a@x'));
    expect(preparedText(map)).toBeUndefined();
  });
});
