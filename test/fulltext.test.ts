// Full-text search (src/db/fulltext.ts, src/storage/fulltext-index.ts): Datomic's
// (fulltext $ :attr ?search) [[?e ?value ?tx ?score]] on now, past, speculative and filtered
// values; the index kept at commit and rebuilt from the log; a naive model for random texts.
import path from 'node:path';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { open, replicate, type Connection, type Db } from '../src/index.js';
import { q } from '../src/query/index.js';
import { DATA_FILE } from '../src/storage/store.js';
import { errorCode } from './helpers/errors.js';
import { freshConn, tempDir } from './helpers/tmp.js';

const SCHEMA = `[
 {:db/ident :doc/text  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/fulltext true}
 {:db/ident :doc/tags  :db/valueType :db.type/string :db/cardinality :db.cardinality/many :db/fulltext true}
 {:db/ident :doc/title :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`;

const SEARCH = `[:find ?e ?v ?tx ?score :in $ ?search :where [(fulltext $ :doc/text ?search) [[?e ?v ?tx ?score]]]]`;
const ENTITIES = `[:find [?e ...] :in $ ?search :where [(fulltext $ :doc/text ?search) [[?e]]]]`;

const found = (db: Db, search: string, attr = ':doc/text') =>
  (q(`[:find [?e ...] :in $ ?search :where [(fulltext $ ${attr} ?search) [[?e]]]]`, db, search) as number[]).sort((x, y) => x - y);

async function library(): Promise<{ conn: Connection; ids: Record<string, number>; t: number }> {
  const conn = await freshConn();
  await conn.transact(SCHEMA);
  const { tempids, t } = await conn.transact(`[
   {:db/id "fox" :doc/text "The quick brown fox jumps over the lazy dog" :doc/title "fox"}
   {:db/id "dog" :doc/text "A quick brown dog; the dog sleeps." :doc/title "dog"}
   {:db/id "mail" :doc/text "Send an e-mail to the Postmaster" :doc/title "mail"}
   {:db/id "cjk" :doc/text "北京欢迎你 — Ｈｅｌｌｏ Wörld" :doc/title "cjk"}]`);
  return { conn, ids: tempids, t };
}

describe('fulltext in queries', () => {
  it('binds entity, value, asserting tx and a float score', async () => {
    const { conn, ids, t } = await library();
    const rows = q(SEARCH, conn.db(), 'fox') as [number, string, number, number][];
    expect(rows).toHaveLength(1);
    const [e, v, tx, score] = rows[0]!;
    expect([e, v, tx]).toEqual([ids.fox, 'The quick brown fox jumps over the lazy dog', conn.db().tToTx(t)]);
    expect(typeof score).toBe('number');
    expect(score).toBeGreaterThan(0);
  });

  it('matches words in any case and Unicode form, and any of several words', async () => {
    const { conn, ids } = await library();
    const db = conn.db();
    expect(found(db, 'QUICK')).toEqual([ids.fox, ids.dog].sort());
    expect(found(db, 'postmaster')).toEqual([ids.mail]);
    expect(found(db, 'hello wörld')).toEqual([ids.cjk]); // fullwidth letters are NFKC-normalized
    expect(found(db, '北京')).toEqual([ids.cjk]);
    expect(found(db, 'fox postmaster')).toEqual([ids.fox, ids.mail].sort());
    expect(found(db, 'cat')).toEqual([]);
  });

  it('takes "phrases", +required, -excluded and prefix* clauses', async () => {
    const { conn, ids } = await library();
    const db = conn.db();
    expect(found(db, '"brown dog"')).toEqual([ids.dog]);
    expect(found(db, '"dog brown"')).toEqual([]);
    expect(found(db, '+quick +lazy')).toEqual([ids.fox]);
    expect(found(db, 'quick -fox')).toEqual([ids.dog]);
    expect(found(db, '-fox')).toEqual([]); // as Lucene: excluded words alone match nothing
    expect(found(db, 'jump*')).toEqual([ids.fox]);
    expect(found(db, 'e-mail')).toEqual([ids.mail]); // split by the analyzer: a phrase of e, mail
  });

  it('scores a value with more of the words higher', async () => {
    const { conn, ids } = await library();
    const rows = q(SEARCH, conn.db(), 'dog') as [number, string, number, number][];
    const score = new Map(rows.map(([e, , , s]) => [e, s]));
    expect(score.get(ids.dog)!).toBeGreaterThan(score.get(ids.fox)!);
  });

  it('searches cardinality-many values one by one', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const { tempids } = await conn.transact(`[{:db/id "x" :doc/tags ["red apple" "green pear"]}]`);
    const rows = q(`[:find ?e ?v :where [(fulltext $ :doc/tags "pear") [[?e ?v]]]]`, conn.db());
    expect(rows).toEqual([[tempids.x, 'green pear']]);
  });

  it('indexes a word longer than any LMDB key, and a value holding a lone surrogate, exactly', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const long = 'x'.repeat(5000);
    const odd = 'fox \uD800 den';
    const { tempids } = await conn.transact([
      { 'db/id': 'l', 'doc/text': `a ${long} b` },
      { 'db/id': 'o', 'doc/text': odd },
    ]);
    expect(found(conn.db(), long)).toEqual([tempids.l]);
    expect(found(conn.db(), 'x'.repeat(255))).toEqual([tempids.l]);
    expect(q(`[:find ?v . :where [(fulltext $ :doc/text "den") [[_ ?v]]]]`, conn.db())).toBe(odd);
  });

  it('refuses an attribute that is not :db/fulltext, an unknown one, and a search that is not a string', async () => {
    const { conn } = await library();
    const db = conn.db();
    expect(errorCode(() => q(`[:find ?e :where [(fulltext $ :doc/title "fox") [[?e]]]]`, db))).toBe('query/not-fulltext');
    expect(errorCode(() => q(`[:find ?e :where [(fulltext $ :doc/nope "fox") [[?e]]]]`, db))).toBe('query/unknown-attribute');
    expect(errorCode(() => q(`[:find ?e :where [(fulltext $ :doc/text 42) [[?e]]]]`, db))).toBe('query/invalid-fulltext');
    expect(errorCode(() => db.fulltext(':doc/title', 'fox'))).toBe('db/not-fulltext');
  });

  it('refuses search syntax it does not take rather than searching for it', async () => {
    const { conn } = await library();
    for (const search of ['fox AND dog', 'fox OR dog', 'NOT fox', '(fox)', 'text:fox', 'fox~', 'fox^2', 'f?x', 'f*x', '*', '"open', '+', 'fox && dog', '   ', '']) {
      expect(
        errorCode(() => q(ENTITIES, conn.db(), search)),
        search,
      ).toBe('query/invalid-fulltext');
    }
  });
});

describe('fulltext on other values of the database', () => {
  it('finds a value retracted later as of before, not now', async () => {
    const { conn, ids, t } = await library();
    await conn.transact(`[[:db/add ${ids.fox} :doc/text "A slow green turtle"]]`);
    expect(found(conn.db(), 'fox')).toEqual([]);
    expect(found(conn.db(), 'turtle')).toEqual([ids.fox]);
    expect(found(conn.db().asOf(t), 'fox')).toEqual([ids.fox]);
    expect(found(conn.db().asOf(t), 'turtle')).toEqual([]);
    expect(found(conn.db().since(t), 'turtle')).toEqual([ids.fox]);
    expect(found(conn.db().since(t), 'quick')).toEqual([]);
  });

  it('gives every assertion of a matching value on a history value', async () => {
    const { conn, ids, t } = await library();
    await conn.transact(`[[:db/retract ${ids.fox} :doc/text "The quick brown fox jumps over the lazy dog"]]`);
    const { t: again } = await conn.transact(`[[:db/add ${ids.fox} :doc/text "The quick brown fox jumps over the lazy dog"]]`);
    const txs = q(`[:find [?tx ...] :where [(fulltext $ :doc/text "fox") [[_ _ ?tx]]]]`, conn.db().history()) as number[];
    expect(txs.sort()).toEqual([conn.db().tToTx(t), conn.db().tToTx(again)]);
  });

  it('searches speculative values of with', async () => {
    const { conn, ids } = await library();
    const { dbAfter, tempids } = conn.db().with(`[{:db/id "new" :doc/text "a red fox"} [:db/retract ${ids.fox} :doc/text "The quick brown fox jumps over the lazy dog"]]`);
    expect(found(dbAfter, 'fox')).toEqual([tempids.new]);
    expect(found(conn.db(), 'fox')).toEqual([ids.fox]);
  });

  it('searches an attribute made in with, on a database with none stored', async () => {
    const conn = await freshConn();
    const { dbAfter } = conn.db().with(`[{:db/ident :memo/text :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/fulltext true}]`);
    const { dbAfter: withMemo, tempids } = dbAfter.with(`[{:db/id "m" :memo/text "speculative words"}]`);
    expect(found(withMemo, 'words', ':memo/text')).toEqual([tempids.m]);
  });

  it('honours filter', async () => {
    const { conn, ids } = await library();
    const db = conn.db().filter((_db, d) => d.e !== ids.fox);
    expect(found(db, 'quick')).toEqual([ids.dog]);
  });
});

describe('the full-text index', () => {
  it('is rebuilt from the log into the same entries', async () => {
    const { conn, ids } = await library();
    await conn.transact(`[[:db/add ${ids.dog} :doc/text "A quick brown cat"] {:doc/tags ["x y" "z"]}]`);
    const before = conn.store.fulltext.dump();
    expect(before.length).toBeGreaterThan(10);
    await conn.rebuildIndexes();
    expect(conn.store.fulltext.dump()).toEqual(before);
    expect(found(conn.db(), 'dog')).toEqual([ids.fox]);
  });

  it('heals when the table is missing (a database made before it) on the next open for writing', async () => {
    const dir = path.join(tempDir(), 'db');
    let conn = await open({ path: dir });
    await conn.transact(SCHEMA);
    const { tempids } = await conn.transact(`[{:db/id "a" :doc/text "hello old world"}]`);
    const before = conn.store.fulltext.dump();
    await conn.close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
    env.openDB('fulltext', {}).dropSync();
    await env.close();
    // read-only, the index is missing: the search reads the log instead
    const reader = await open({ path: dir, readOnly: true });
    expect(found(reader.db(), 'world')).toEqual([tempids.a]);
    await reader.close();
    conn = await open({ path: dir });
    expect(conn.store.fulltext.dump()).toEqual(before);
    expect(found(conn.db(), 'world')).toEqual([tempids.a]);
    await conn.close();
  });

  it('works on a database of an older format', async () => {
    const conn = await freshConn({ createFormat: 4 });
    await conn.transact(SCHEMA);
    const { tempids } = await conn.transact(`[{:db/id "a" :doc/text "format four text"}]`);
    expect(found(conn.db(), 'four')).toEqual([tempids.a]);
  });

  it('is carried to a replica, which answers the same', async () => {
    const { conn } = await library();
    const to = path.join(tempDir(), 'replica');
    await replicate({ from: conn.path, to });
    const replica = await open({ path: to, readOnly: true });
    try {
      for (const search of ['quick', '"brown dog"', 'jump*', '北京']) expect(found(replica.db(), search)).toEqual(found(conn.db(), search));
      expect(replica.store.fulltext.indexedThrough()).toBe(replica.db().basisT);
    } finally {
      await replica.close();
    }
  });

  it('costs nothing while no attribute is :db/fulltext', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :x/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
    await conn.transact(`[{:x/s "some words"}]`);
    expect(conn.store.fulltext.dump()).toEqual([]);
  });
});

describe(':db/fulltext in the schema', () => {
  it('is known to every database, old or new', async () => {
    const conn = await freshConn({ createFormat: 3 });
    await conn.transact(SCHEMA);
    expect(conn.db().attr(':doc/text')!.fulltext).toBe(true);
    expect(conn.db().attr(':doc/title')!.fulltext).toBe(false);
    expect(q(`[:find [?i ...] :where [?a :db/fulltext true] [?a :db/ident ?i]]`, conn.db())!.map(String).sort()).toEqual([':doc/tags', ':doc/text']);
  });

  it('is only on string attributes, and never altered (as Datomic)', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const refused = async (tx: string) =>
      conn.transact(tx).then(
        () => 'no error',
        (e: { code?: string }) => e.code,
      );
    expect(await refused(`[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/fulltext true}]`)).toBe('tx/invalid-schema');
    expect(await refused(`[{:db/id :doc/title :db/fulltext true}]`)).toBe('tx/invalid-schema');
    expect(await refused(`[[:db/retract :doc/text :db/fulltext true]]`)).toBe('tx/invalid-schema');
    expect(await refused(`[{:db/id :doc/text :db/fulltext false}]`)).toBe('tx/invalid-schema');
  });
});

describe('against a naive model', () => {
  const WORDS = ['alpha', 'Beta', 'gamma', 'DELTA', 'épée', 'naïve', 'x1', '東京', 'straße'];
  const text = fc.array(fc.constantFrom(...WORDS, ',', '.', ' - ', '!'), { minLength: 0, maxLength: 8 }).map((parts) => parts.join(' '));

  it('a one-word search finds exactly the current values holding the word', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), text), { minLength: 1, maxLength: 12 }), fc.constantFrom(...WORDS), async (writes, word) => {
        const conn = await freshConn();
        await conn.transact(SCHEMA);
        const { tempids } = await conn.transact(`[${[0, 1, 2, 3, 4].map((i) => `{:db/id "e${i}" :doc/title "${i}"}`).join(' ')}]`);
        const model = new Map<number, string>();
        for (const [i, value] of writes) {
          const e = tempids[`e${i}`]!;
          await conn.transact([[':db/add', e, ':doc/text', value]]);
          model.set(e, value);
        }
        const want = [...model]
          .filter(([, v]) =>
            v
              .toLowerCase()
              .split(/[\s,.!-]+/)
              .includes(word.toLowerCase()),
          )
          .map(([e]) => e)
          .sort((x, y) => x - y);
        expect(found(conn.db(), word)).toEqual(want);
        await conn.close();
      }),
      { numRuns: 15 },
    );
  });
});
