import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Keyword, open, pull, q, type Connection, type Datom, type Db, type IndexName } from '../src/index.js';
import { freshConn, tempDir } from './helpers/tmp.js';
import { errorCode } from './helpers/errors.js';
import { P, schema } from './helpers/schemas.js';

const kw = Keyword.of;

async function people(): Promise<{ conn: Connection; ann: number; bob: number; ts: number[] }> {
  const conn = await freshConn();
  const ts: number[] = [];
  const s = await conn.transact(schema(P.uniqueName, P.age, '{:db/ident :p/likes :db/valueType :db.type/string :db/cardinality :db.cardinality/many}', P.friend));
  ts.push(s.t);
  const r1 = await conn.transact(`[{:db/id "ann" :p/name "Ann" :p/age 30 :p/likes ["tea"]} {:db/id "bob" :p/name "Bob" :p/age 40 :p/friend "ann"}]`);
  ts.push(r1.t);
  const r2 = await conn.transact(`[{:p/name "Ann" :p/age 31 :p/likes ["coffee"]}]`);
  ts.push(r2.t);
  const r3 = await conn.transact(`[[:db/retract ${r1.tempids.ann} :p/likes "tea"] [:db/retract ${r1.tempids.bob} :p/friend ${r1.tempids.ann}]]`);
  ts.push(r3.t);
  return { conn, ann: r1.tempids.ann, bob: r1.tempids.bob, ts };
}

const vs = (db: Db, e: number, a: string) => [...db.datoms('eavt', e, kw(a))].map((d) => d.v);
const brief = (ds: Iterable<Datom>) => [...ds].map((d) => [d.e, d.v, d.added]);

describe('immutable database values', () => {
  it('a value taken before a transaction keeps its facts', async () => {
    const { conn, ann, ts } = await people();
    const db = conn.db();
    await conn.transact(`[{:p/name "Ann" :p/age 99}]`);
    expect(vs(db, ann, 'p/age')).toEqual([31]);
    expect(vs(conn.db(), ann, 'p/age')).toEqual([99]);
    expect(db.basisT).toBe(ts[3]);
    expect(Object.isFrozen(db)).toBe(true);
  });

  it('asOf(t) sees the facts as they were at t, by t, tx id or Date', async () => {
    const { conn, ann, bob, ts } = await people();
    const db = conn.db();
    expect(vs(db.asOf(ts[1]), ann, 'p/age')).toEqual([30]);
    expect(vs(db.asOf(db.tToTx(ts[1])), ann, 'p/age')).toEqual([30]);
    expect(vs(db.asOf(ts[2]), ann, 'p/likes').sort()).toEqual(['coffee', 'tea']);
    expect(vs(db.asOf(ts[3]), ann, 'p/likes')).toEqual(['coffee']);
    expect(vs(db.asOf(ts[2]), bob, 'p/friend')).toEqual([ann]);
    expect(vs(db.asOf(ts[0]), ann, 'p/age')).toEqual([]);
    const instant = db.entity(db.tToTx(ts[2]))!.get('db/txInstant') as Date;
    expect(db.asOf(instant).basisT).toBe(ts[2]);
    expect(db.asOf(new Date(instant.getTime() + 1)).basisT).toBeGreaterThanOrEqual(ts[2]);
    expect(db.asOf(new Date('2000-01-01')).basisT).toBe(0);
  });

  it('since(t) shows only datoms asserted after t', async () => {
    const { conn, ann, ts } = await people();
    const db = conn.db();
    expect(vs(db.since(ts[1]), ann, 'p/age')).toEqual([31]);
    expect(vs(db.since(ts[1]), ann, 'p/name')).toEqual([]);
    expect(vs(db.asOf(ts[2]).since(ts[1]), ann, 'p/likes')).toEqual(['coffee']);
  });

  it('history() returns every assertion and retraction', async () => {
    const { conn, ann, ts } = await people();
    const h = conn.db().history();
    const likes = [...h.datoms('eavt', ann, kw('p/likes'))].map((d) => [d.v, d.added, d.tx - h.tToTx(0)]);
    expect(likes).toEqual(
      expect.arrayContaining([
        ['tea', true, ts[1]],
        ['tea', false, ts[3]],
        ['coffee', true, ts[2]],
      ]),
    );
    expect(likes).toHaveLength(3);
    const ages = [...h.datoms('eavt', ann, kw('p/age'))].map((d) => [d.v, d.added]);
    expect(ages).toEqual([
      [30, true],
      [30, false],
      [31, true],
    ]);
    // history as of an earlier t does not show later retractions
    expect([...conn.db().asOf(ts[1]).history().datoms('eavt', ann, kw('p/age'))].map((d) => d.added)).toEqual([true]);
  });

  it('with() is speculative: nothing is written, values chain', async () => {
    const { conn, ann } = await people();
    const db = conn.db();
    const w = db.with(`[{:p/name "Ann" :p/age 50} {:db/id "c" :p/name "Cid"}]`);
    expect(vs(w.dbAfter, ann, 'p/age')).toEqual([50]);
    expect(vs(db, ann, 'p/age')).toEqual([31]);
    expect(w.dbAfter.basisT).toBe(db.basisT + 1);
    const cid = w.tempids.c;
    expect(vs(w.dbAfter, cid, 'p/name')).toEqual(['Cid']);
    const w2 = w.dbAfter.with(`[[:db/retractEntity ${cid}] {:db/id "d" :p/name "Dee"}]`);
    expect(vs(w2.dbAfter, cid, 'p/name')).toEqual([]);
    expect(w2.tempids.d).not.toBe(cid);
    expect(brief(w2.dbAfter.datoms('avet', kw('p/name'))).map((x) => x[1])).toEqual(['Ann', 'Bob', 'Dee']);
    expect(vs(conn.db(), ann, 'p/age')).toEqual([31]);
    expect([...conn.db().datoms('avet', kw('p/name'))]).toHaveLength(2);
  });

  it('asOf, since and history of a speculative value go by the t of each speculative transaction', async () => {
    const { conn, ann } = await people();
    const db = conn.db();
    const w1 = db.with(`[{:db/id "c" :p/name "Cid"}]`).dbAfter;
    const w2 = w1.with(`[{:db/id "d" :p/name "Dee"} [:db/retract ${ann} :p/age 31]]`).dbAfter;
    const names = (d: Db) => [...d.datoms('avet', kw('p/name'))].map((x) => x.v);
    expect(names(w2)).toEqual(['Ann', 'Bob', 'Cid', 'Dee']);
    // as of the first speculative transaction: the second is not there yet
    expect(names(w2.asOf(w1.basisT))).toEqual(['Ann', 'Bob', 'Cid']);
    expect(vs(w2.asOf(w1.basisT), ann, 'p/age')).toEqual([31]);
    // as of the stored basis: nothing speculative
    expect(names(w2.asOf(db.basisT))).toEqual(['Ann', 'Bob']);
    expect(w2.asOf(db.basisT).basisT).toBe(db.basisT);
    // since: only what came after, speculative transactions included
    expect(names(w2.since(db.basisT))).toEqual(['Cid', 'Dee']);
    expect(names(w2.since(w1.basisT))).toEqual(['Dee']);
    expect(names(w2.since(w2.basisT))).toEqual([]);
    // history: a stored assertion that a speculative transaction retracts shows both events
    expect(brief(w2.history().datoms('eavt', ann, kw('p/age'))).map(([, v, added]) => [v, added])).toEqual([
      [30, true],
      [30, false],
      [31, true],
      [31, false],
    ]);
  });

  it('a history of chained with() values is the history the same transactions would have made', async () => {
    const txs = [
      `[{:p/name "Ann" :p/age 40}]`,
      `[{:p/name "Ann" :p/age 41}]`,
      `[{:p/name "Ann" :p/age 40} {:p/name "Ann" :p/likes ["jam"]}]`,
      `[[:db/retract [:p/name "Ann"] :p/likes "jam"]]`,
    ];
    const spec = await people();
    let w = spec.conn.db();
    for (const tx of txs) w = w.with(tx).dbAfter;
    const real = await people();
    for (const tx of txs) await real.conn.transact(tx);
    const events = (db: Db, e: number) => [...db.history().datoms('eavt', e)].map((d) => [d.a, d.v, d.tx, d.added]);
    expect(events(w, spec.ann)).toEqual(events(real.conn.db(), real.ann));
    expect(events(w.since(spec.ts[3]!), spec.ann)).toEqual(events(real.conn.db().since(real.ts[3]!), real.ann));
  });
});

describe('filtered values', () => {
  it('filter() hides datoms from q, pull, entity, datoms and lookups, and composes with asOf, since, history and itself', async () => {
    const { conn, ann, bob, ts } = await people();
    const db = conn.db();
    const ageAttr = db.attr(kw('p/age'))!.id;
    const seen: Db[] = [];
    const noAges = db.filter((unfiltered, d) => {
      seen.push(unfiltered as Db);
      return d.a !== ageAttr;
    });
    const names = (v: Db) => q<string[]>('[:find [?n ...] :where [?e :p/name ?n]]', v).sort();
    expect(q('[:find ?a :where [?e :p/age ?a]]', noAges)).toEqual([]);
    expect(names(noAges)).toEqual(['Ann', 'Bob']);
    expect(pull(noAges, '[:p/name :p/age]', ann)).toEqual({ 'p/name': 'Ann' });
    expect(noAges.entity(bob)!.get(':p/age')).toBeUndefined();
    expect([...noAges.datoms('aevt', kw('p/age'))]).toEqual([]);
    expect(noAges.stats().attrs['p/age']).toBeUndefined();
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((v) => v.filters === null && v.basisT === db.basisT)).toBe(true);
    // a filter that hides Bob: his lookup ref and his refs are gone too
    const noBob = db.filter((_, d) => d.e !== bob);
    expect(names(noBob)).toEqual(['Ann']);
    expect(noBob.entity('[:p/name "Bob"]')).toBeNull();
    // composition: asOf and history of a filtered value stay filtered, and filters add up
    expect(q('[:find ?a . :where [?e :p/age ?a]]', noBob.asOf(ts[1]!))).toBe(30);
    expect(
      q(
        '[:find ?a . :where [?e :p/age ?a]]',
        db.asOf(ts[1]!).filter((_, d) => d.e !== bob),
      ),
    ).toBe(30);
    expect(q('[:find ?a :where [?e :p/age ?a _ false]]', noAges.history())).toEqual([]);
    expect(q<number[]>('[:find [?a ...] :where [?e :p/age ?a _ false]]', noBob.history())).toEqual([30]);
    expect(names(noBob.filter((_, d) => d.e !== ann))).toEqual([]);
    expect(names(noBob.since(ts[1]!))).toEqual([]);
    expect(() => db.filter('x' as never)).toThrow(expect.objectContaining({ code: 'db/invalid-filter' }));
  });
});

describe('index access', () => {
  it('datoms() by each index and component prefix, in index order', async () => {
    const { conn, ann, bob } = await people();
    const db = conn.db();
    expect(brief(db.datoms('avet', kw('p/age')))).toEqual([
      [ann, 31, true],
      [bob, 40, true],
    ]);
    expect(brief(db.datoms('avet', kw('p/age'), 40))).toEqual([[bob, 40, true]]);
    expect(brief(db.datoms('aevt', kw('p/name'), bob))).toEqual([[bob, 'Bob', true]]);
    expect(brief(db.datoms('eavt', [kw('p/name'), 'Bob'], kw('p/age')))).toEqual([[bob, 40, true]]);
    expect([...db.datoms('vaet', ann)]).toEqual([]);
    expect([...db.asOf(db.basisT - 1).datoms('vaet', ann)].map((d) => d.e)).toEqual([bob]);
    expect([...db.datoms('eavt', kw('p/nope'))]).toEqual([]);
  });

  it('datomArray() reads the same datoms as datoms(), at once, on every kind of value', async () => {
    const { conn, ann, ts } = await people();
    const db = conn.db();
    const views = [db, db.asOf(ts[1]!), db.since(ts[1]!), db.history(), db.filter((_, d) => d.e === ann), (await db.with(`[{:p/name "Cid" :p/age 9}]`)).dbAfter];
    for (const view of views) {
      for (const args of [['eavt', ann], ['aevt', kw('p/age')], ['avet', kw('p/name'), 'Ann'], ['vaet', ann], ['eavt']] as [IndexName, ...unknown[]][]) {
        const array = view.datomArray(...args);
        expect(Array.isArray(array)).toBe(true);
        expect(array).toEqual([...view.datoms(...args)]);
      }
    }
  });

  it('seekDatoms() continues past the prefix; indexRange() bounds values', async () => {
    const { conn, ann, bob } = await people();
    const db = conn.db();
    const seek = [...db.seekDatoms('avet', kw('p/age'), 35)];
    expect(seek[0]).toMatchObject({ e: bob, v: 40 });
    expect(seek.length).toBeGreaterThan(1);
    expect(brief(db.indexRange(kw('p/age'), 30, 40))).toEqual([[ann, 31, true]]);
    expect(brief(db.indexRange(kw('p/age'), 32, null))).toEqual([[bob, 40, true]]);
    expect(brief(db.indexRange(kw('p/name'), 'A', 'B'))).toEqual([[ann, 'Ann', true]]);
    expect(brief(db.indexRange(kw('p/age'), 31, 40, true))).toEqual([
      [ann, 31, true],
      [bob, 40, true],
    ]);
    expect(db.estimateRange(kw('p/age'), 31, 40)).toBe(1);
    expect(db.estimateRange(kw('p/age'), 31, 40, true)).toBe(2);
    expect(db.estimateRange(kw('p/age'), null, null)).toBe(2);
  });

  it('a long given as a bigint (as longs past 2^53 come back) finds the stored long', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :p/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/ident :p/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one}]`);
    const { tempids } = await conn.transact(`[{:db/id "a" :p/id 10 :p/age 5 :p/score 2.0} {:db/id "b" :p/id 9007199254740993 :p/age 7}]`);
    const db = conn.db();
    expect(db.entid([kw('p/id'), 10n])).toBe(tempids.a);
    expect(db.entid([kw('p/id'), 9007199254740993n])).toBe(tempids.b);
    expect(brief(db.datoms('avet', kw('p/age'), 5n))).toEqual([[tempids.a, 5, true]]);
    expect(brief(db.indexRange(kw('p/age'), 5n, 8n))).toEqual([
      [tempids.a, 5, true],
      [tempids.b, 7, true],
    ]);
    expect(brief(db.datoms('avet', kw('p/score'), 2n))).toEqual([[tempids.a, 2, true]]);
    expect(brief(db.datoms('avet', kw('p/age'), 5.5))).toEqual([]);
    expect(q('[:find ?e . :where [?e :p/age 5N]]', db)).toBe(tempids.a);
    expect(q('[:find ?e . :in $ ?v :where [?e :p/age ?v]]', db, 5n)).toBe(tempids.a);
    expect(pull(db, '[:p/age]', '[:p/id 10N]')).toEqual({ 'p/age': 5 });
  });

  it('stats() counts the datoms of each attribute in this value, now, as of, since, in history and with()', async () => {
    const { conn, ts } = await people();
    const byAttr = (db: Db) => {
      const out: Record<string, number> = {};
      for (const d of db.datoms('eavt')) {
        const k = db.ident(d.a)!.fqn;
        out[k] = (out[k] ?? 0) + 1;
      }
      return out;
    };
    const counts = (db: Db) => {
      const s = db.stats();
      expect(s.datoms).toBe(Object.values(s.attrs).reduce((n, a) => n + a.count, 0));
      return Object.fromEntries(Object.entries(s.attrs).map(([k, v]) => [k, v.count]));
    };
    const db = conn.db();
    for (const view of [db, db.asOf(ts[1]!), db.asOf(ts[2]!), db.since(ts[1]!), db.history(), (await db.with(`[{:p/name "Cid" :p/likes ["x" "y"]}]`)).dbAfter]) {
      expect(counts(view)).toEqual(byAttr(view));
    }
    expect(counts(db)['p/likes']).toBe(1);
    expect(counts(db.asOf(ts[1]!))['p/likes']).toBe(1);
    expect(counts(db.history())['p/likes']).toBe(3);
  });

  it('estimateCount() tracks the number of current datoms', async () => {
    const { conn } = await people();
    const db = conn.db();
    expect(db.estimateCount('aevt', kw('p/age'))).toBe(2);
    expect(db.estimateCount('aevt', kw('p/likes'))).toBe(1);
  });
});

describe('entities', () => {
  it('navigates attributes, refs and reverse refs lazily', async () => {
    const { conn, ann, bob, ts } = await people();
    const db = conn.db().asOf(ts[2]);
    const b = db.entity(bob)!;
    const friends = b.get('p/friend') as Set<any>;
    expect([...friends].map((f) => f.get('p/name'))).toEqual(['Ann']);
    const a = db.entity([kw('p/name'), 'Ann'])!;
    expect(a.id).toBe(ann);
    expect([...(a.get('p/_friend') as Set<any>)].map((x) => x.id)).toEqual([bob]);
    expect(a.get(':p/likes')).toEqual(new Set(['tea', 'coffee']));
    expect(a.toJSON()).toEqual({ 'db/id': ann, 'p/name': 'Ann', 'p/age': 31, 'p/likes': expect.arrayContaining(['tea', 'coffee']) });
    expect(db.entity([kw('p/name'), 'Nobody'])).toBeNull();
    expect(db.entid('[:p/name "Ann"]')).toBe(ann);
    expect(db.entid(` ${bob}`)).toBe(bob);
  });

  it('refuse a malformed lookup ref or one on an unknown attribute; an unknown value is not found', async () => {
    const { conn, ann } = await people();
    const db = conn.db();
    for (const ref of ['[:p/name]', '[:p/name "Ann" 2]', '[:not-an-attr 777]', '[]']) {
      expect(
        errorCode(() => db.entity(ref)),
        ref,
      ).toBe('db/invalid-lookup-ref');
      expect(
        errorCode(() => db.entid(ref)),
        ref,
      ).toBe('db/invalid-lookup-ref');
      expect(
        errorCode(() => pull(db, '[*]', ref)),
        ref,
      ).toBe('db/invalid-lookup-ref');
    }
    expect(errorCode(() => db.entity([kw('p/name')]))).toBe('db/invalid-lookup-ref');
    expect(errorCode(() => q('[:find ?a :in $ ?e :where [?e :p/age ?a]]', db, [kw('not/attr'), 1]))).toBe('db/invalid-lookup-ref');
    expect(db.entity('[:p/name "Nobody"]')).toBeNull();
    expect(db.entid([kw('p/name'), 'Ann'])).toBe(ann);
  });

  it('touch() reads every attribute and the components beneath, and keeps what it read', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :o/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :o/line :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
      {:db/ident :o/qty :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    const { tempids } = await conn.transact(`[{:db/id "o" :o/name "order" :o/line [{:o/qty 2} {:o/qty 3}]}]`);
    const order = conn.db().entity(tempids.o!)!;
    expect(order.touch()).toBe(order);
    expect(order.get(':o/name')).toBe('order');
    const lines = [...(order.get(':o/line') as Set<{ get(a: string): unknown; toString(): string }>)];
    expect(lines.map((l) => l.get(':o/qty')).sort()).toEqual([2, 3]);
    expect(lines.every((l) => /:o\/qty \d/.test(l.toString()))).toBe(true); // the components were touched too
    expect(String(order)).toMatch(/^#factlog\/entity \{:db\/id \d+, :o\/name "order", :o\/line #\{\{:db\/id \d+\} \{:db\/id \d+\}\}\}$/);
    await conn.transact(`[[:db/add ${tempids.o} :o/name "changed"]]`);
    expect(order.get(':o/name')).toBe('order'); // an entity belongs to its Db value
    expect(order.toJSON()['o/line']).toHaveLength(2);
  });

  it('toJSON keeps attributes named :__proto__, :constructor, :toString as own keys, in JSON too', async () => {
    const conn = await freshConn();
    const names = ['__proto__', 'constructor', 'toString'];
    await conn.transact(`[${names.map((n) => `{:db/ident :${n} :db/valueType :db.type/string :db/cardinality :db.cardinality/one}`).join(' ')}]`);
    // list forms: as a map key, :__proto__ would read as a reverse attribute
    const r = await conn.transact(names.map((n) => [':db/add', 'x', Keyword.of(n), `v-${n}`]));
    const db = conn.db();
    for (const plain of [db.entity(r.tempids.x!)!.toJSON(), pull(db, '[*]', r.tempids.x!)!]) {
      for (const n of names) {
        expect(Object.hasOwn(plain, n), n).toBe(true);
        expect(plain[n]).toBe(`v-${n}`);
        expect(JSON.parse(JSON.stringify(plain))[n]).toBe(`v-${n}`);
      }
      expect(Object.getPrototypeOf(plain)).toBe(Object.prototype);
    }
  });

  it('gives a ref to an enum as its keyword, as Datomic does', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :p/color :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
      {:db/ident :p/tags :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
      {:db/ident :color/green} {:db/ident :tag/a} {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
    const { tempids } = await conn.transact(`[{:db/id "x" :p/color :color/green :p/tags #{:tag/a "y"}} {:db/id "y" :p/name "plain"}]`);
    const x = conn.db().entity(tempids.x)!;
    expect(x.get(':p/color')).toBe(kw('color/green'));
    const tags = [...(x.get(':p/tags') as Set<unknown>)];
    expect(tags).toContain(kw('tag/a'));
    expect(tags.find((t) => !(t instanceof Keyword))).toMatchObject({ id: tempids.y });
    expect(JSON.parse(JSON.stringify(x.toJSON()))['p/color']).toBe(':color/green');
  });
});

describe('history values', () => {
  it('refuse entities: an attribute there has every value it ever had', async () => {
    const { conn, ann } = await people();
    expect(() => conn.db().history().entity(ann)).toThrow(expect.objectContaining({ code: 'db/history-entity' }));
    expect(conn.db().entity(ann)!.get(':p/age')).toBe(31);
  });
});

describe('persistence', () => {
  it('a reopened database keeps its history and schema', async () => {
    const dir = tempDir();
    const conn = await open({ path: dir });
    await conn.transact(`[{:db/ident :p/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`);
    const r1 = await conn.transact(`[{:db/id "a" :p/n [1 2]}]`);
    const r2 = await conn.transact(`[[:db/retract ${r1.tempids.a} :p/n 1]]`);
    await conn.close();
    const again = await open({ path: dir });
    try {
      const db = again.db();
      expect(db.basisT).toBe(r2.t);
      expect(db.attr('p/n')!.cardinality).toBe('many');
      expect(vs(db, r1.tempids.a, 'p/n')).toEqual([2]);
      expect(vs(db.asOf(r1.t), r1.tempids.a, 'p/n')).toEqual([1, 2]);
      const r3 = await again.transact(`[{:db/id "b" :p/n [5]}]`);
      expect(r3.tempids.b).toBeGreaterThan(r1.tempids.a);
      expect(r3.t).toBe(r2.t + 1);
    } finally {
      await again.close();
    }
  });
});

describe('-0.0 in merged scans (issue 25)', () => {
  it('a history or speculative view lists -0.0 where the index keys it: right before 0.0', async () => {
    const conn = await freshConn();
    await conn.transact('[{:db/ident :z/d :db/valueType :db.type/double :db/cardinality :db.cardinality/many}]');
    const r = await conn.transact('[{:db/id "a" :z/d 0.0} {:db/id "b" :z/d 1.0}]');
    const b = r.tempids['b']!;
    await conn.transact([[':db/add', b, ':z/d', -0]]);
    await conn.transact([[':db/retract', b, ':z/d', -0]]);
    const signs = (ds: Iterable<Datom>) => [...ds].filter((d) => d.v === 0).map((d) => (Object.is(d.v, -0) ? '-0' : '0'));
    expect(signs(conn.db().history().datoms('avet', kw('z/d')))).toEqual(['-0', '-0', '0']);
    const w = conn.db().with([[':db/add', b, ':z/d', -0]]).dbAfter;
    expect(signs(w.datoms('avet', kw('z/d')))).toEqual(['-0', '0']);
  });
});

describe('iterators of a Db value', () => {
  const N = kw('it/n');
  const S = kw('it/s');
  const R = kw('it/r');

  /** A transaction over a pool of entities: small ones, and bulk ones of 64+ datoms that make packed runs. */
  type ItOp =
    | { kind: 'n' | 's'; e: number; v: number }
    | { kind: 'ref'; e: number; target: number }
    | { kind: 'retract-s'; e: number; v: number }
    | { kind: 'retract-entity'; e: number }
    | { kind: 'bulk-new'; count: number; base: number }
    | { kind: 'bulk-existing'; v: number };
  const opArb: fc.Arbitrary<ItOp> = fc.oneof(
    fc.record({ kind: fc.constantFrom('n' as const, 's' as const), e: fc.nat(200), v: fc.nat(30) }),
    fc.record({ kind: fc.constant('ref' as const), e: fc.nat(200), target: fc.nat(200) }),
    fc.record({ kind: fc.constant('retract-s' as const), e: fc.nat(200), v: fc.nat(30) }),
    fc.record({ kind: fc.constant('retract-entity' as const), e: fc.nat(200) }),
    fc.record({ kind: fc.constant('bulk-new' as const), count: fc.integer({ min: 32, max: 90 }), base: fc.nat(1000) }),
    fc.record({ kind: fc.constant('bulk-existing' as const), v: fc.nat(30) }),
  );
  const txArb = fc.array(opArb, { minLength: 1, maxLength: 3 });

  function txData(ops: ItOp[], pool: number[]): unknown[] {
    const at = (i: number) => pool[i % pool.length]!;
    const data: unknown[] = [];
    for (const o of ops) {
      if (o.kind === 'n') data.push([':db/add', at(o.e), N, o.v]);
      else if (o.kind === 's') data.push([':db/add', at(o.e), S, `s${o.v}`]);
      else if (o.kind === 'ref') data.push([':db/add', at(o.e), R, at(o.target)]);
      else if (o.kind === 'retract-s') data.push([':db/retract', at(o.e), S, `s${o.v}`]);
      else if (o.kind === 'retract-entity') data.push([':db/retractEntity', at(o.e)]);
      else if (o.kind === 'bulk-new') {
        for (let i = 0; i < o.count; i++) data.push({ ':db/id': `b${i}`, [N.fqn]: o.base + i, [S.fqn]: `b${o.base + i}`, [R.fqn]: `b${(i * 7 + 1) % o.count}` });
      } else for (const e of pool.slice(0, 70)) data.push([':db/add', e, S, `x${o.v}`]);
    }
    return data;
  }

  /** Commits one transaction; one the transactor refuses (a datom both added and retracted) commits nothing. */
  async function commit(conn: Connection, ops: ItOp[], pool: number[]): Promise<void> {
    try {
      const report = await conn.transact(txData(ops, pool));
      for (const id of Object.values(report.tempids)) pool.push(id);
    } catch (err) {
      if (!(err as { code?: string }).code) throw err;
    }
  }

  type Pick = { view: number; t: number; scan: number; e: number; v: number; w: number };
  function viewOf(db: Db, p: Pick, ts: number[]): Db {
    const t = ts[p.t % ts.length]!;
    return [db, db.asOf(t), db.since(t), db.history(), db.asOf(t).history(), db.since(t).history()][p.view % 6]!;
  }
  function scanOf(db: Db, p: Pick, pool: number[]): Iterable<Datom> {
    const e = pool[p.e % pool.length]!;
    const [lo, hi] = [Math.min(p.v, p.w), Math.max(p.v, p.w)];
    const scans: (() => Iterable<Datom>)[] = [
      () => db.datoms('eavt'),
      () => db.datoms('aevt'),
      () => db.datoms('avet'),
      () => db.datoms('vaet'),
      () => db.datoms('aevt', S),
      () => db.datoms('avet', N),
      () => db.datoms('eavt', e),
      () => db.seekDatoms('eavt', e),
      () => db.seekDatoms('aevt', S, e),
      () => db.seekDatoms('avet', N, lo),
      () => db.indexRange(N, lo, hi * 40),
      () => db.indexRange(S, `b${lo}`, null),
    ];
    return scans[p.scan % scans.length]!();
  }
  const show = (d: Datom) => `${d.e} ${d.a} ${String(d.v)} ${d.tx} ${d.added}`;

  it("give the value's own datoms, whatever is committed between their steps (fast-check)", async () => {
    const pickArb = fc.record({ view: fc.nat(5), t: fc.nat(20), scan: fc.nat(11), e: fc.nat(200), v: fc.nat(40), w: fc.nat(40) });
    const runArb = fc.record({
      history: fc.array(txArb, { minLength: 1, maxLength: 8 }),
      pick: pickArb,
      before: fc.nat(2),
      commits: fc.array(fc.record({ step: fc.nat(300), tx: txArb }), { minLength: 1, maxLength: 12 }),
    });
    await fc.assert(
      fc.asyncProperty(runArb, async ({ history, pick, before, commits }) => {
        const conn = await freshConn({ noSync: true });
        try {
          await conn.transact(`[{:db/ident :it/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
            {:db/ident :it/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
            {:db/ident :it/r :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);
          const pool = [...Object.values((await conn.transact(txData([{ kind: 'bulk-new', count: 80, base: 5000 }], [0]))).tempids)];
          const ts = [conn.db().basisT];
          for (const ops of history) {
            await commit(conn, ops, pool);
            ts.push(conn.db().basisT);
          }
          const db = viewOf(conn.db(), pick, ts);
          const scanned = [...pool]; // the entities the scan picks from, whatever later commits add
          const expected = [...scanOf(db, pick, scanned)].map(show);
          const queue = [...commits].sort((x, y) => x.step - y.step);
          for (const c of queue.splice(0, before)) await commit(conn, c.tx, pool);
          const it = scanOf(db, pick, scanned)[Symbol.iterator]();
          const got: string[] = [];
          for (let step = 0; ; step++) {
            const next = it.next();
            if (next.done) break;
            got.push(show(next.value));
            while (queue.length > 0 && queue[0]!.step <= step) await commit(conn, queue.shift()!.tx, pool);
          }
          expect(got).toEqual(expected);
        } finally {
          await conn.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it('stop with storage/closed once the database is closed', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact(`[{:db/ident :it/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    await conn.transact(Array.from({ length: 9000 }, (_, i) => ({ 'it/n': i })));
    const db = conn.db();
    const it = db.datoms('aevt', N)[Symbol.iterator]();
    expect(it.next().value).toMatchObject({ v: 0 });
    await conn.close();
    expect(() => {
      for (let r = it.next(); !r.done; r = it.next());
    }).toThrow(expect.objectContaining({ code: 'storage/closed' }));
  });
});

describe('tuples in index order, nil first (issue 22)', () => {
  async function composite(createFormat?: number) {
    const conn = await freshConn({ createFormat });
    await conn.transact(`[{:db/ident :r/a :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :r/b :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :r/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/ident :r/a+b :db/valueType :db.type/tuple :db/tupleAttrs [:r/a :r/b] :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`);
    await conn.transact(`[{:r/a "B" :r/b "a"} {:r/a "A" :r/b "b"} {:r/a "A"} {:r/a "A" :r/b "a"} {:r/b "z"}]`);
    return conn;
  }
  const values = (ds: Iterable<Datom>) => [...ds].map((d) => d.v);

  it('indexRange from ["A" nil] to ["A" "z"] over a composite tuple finds the "A" tuples, nil first', async () => {
    const db = (await composite()).db();
    expect(values(db.indexRange(kw('r/a+b'), ['A', null], ['A', 'z']))).toEqual([
      ['A', null],
      ['A', 'a'],
      ['A', 'b'],
    ]);
    expect(values(db.datoms('avet', kw('r/a+b')))).toEqual([
      [null, 'z'],
      ['A', null],
      ['A', 'a'],
      ['A', 'b'],
      ['B', 'a'],
    ]);
  });

  it('seekDatoms from a nil-padded tuple lands on the first tuple at or after it', async () => {
    const db = (await composite()).db();
    expect(values(db.seekDatoms('avet', kw('r/a+b'), ['A', null])).slice(0, 4)).toEqual([
      ['A', null],
      ['A', 'a'],
      ['A', 'b'],
      ['B', 'a'],
    ]);
    expect(values(db.seekDatoms('avet', kw('r/a+b'), ['A', 'aa'])).slice(0, 2)).toEqual([
      ['A', 'b'],
      ['B', 'a'],
    ]);
  });

  it('a database of format 5 keeps working: opens, transacts, keeps its tuple unique, queries and ranges', async () => {
    const conn = await composite(5);
    expect(conn.store.format).toBe(5);
    // the composite is unique: another entity with the same parts is refused
    await expect(conn.transact(`[{:db/id "x" :r/a "A" :r/b "b" :r/n 1}]`)).rejects.toMatchObject({ code: 'tx/unique-conflict' });
    await conn.transact(`[{:r/a "C" :r/b "c"}]`);
    const db = conn.db();
    expect(new Set(values(db.indexRange(kw('r/a+b'), ['A', null], ['A', 'z'])).map((v) => JSON.stringify(v)))).toEqual(new Set(['["A",null]', '["A","a"]', '["A","b"]']));
    expect(q('[:find ?e . :where [?e :r/a+b ["C" "c"]]]', db)).toBe(db.entid([kw('r/a+b'), ['C', 'c']]));
    expect(q('[:find (count ?e) . :where [?e :r/a "A"]]', db)).toBe(3);
  });
});
