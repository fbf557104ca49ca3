// Attribute columns (src/db/columns.ts): the in-memory copies of whole attributes of a Db value
// that queries use when they read many entities. Every answer served from a column must equal
// the answer read from LMDB; a second database with columns turned off is the reference.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { AttributeColumn, ColumnCache } from '../src/db/columns.js';
import { explain, q } from '../src/query/index.js';
import { pull, type Connection, type Db } from '../src/index.js';
import { freshConn } from './helpers/tmp.js';
import { P } from './helpers/schemas.js';

const visitAll = (col: AttributeColumn) => {
  const out: [number, unknown, number][] = [];
  col.visitAll((e, v, tx) => out.push([e, v, tx]));
  return out;
};
const range = (col: AttributeColumn, lo: unknown, loInc: boolean, hi: unknown, hiInc: boolean) => {
  const out: [number, unknown][] = [];
  const ok = col.visitValueRange(lo, loInc, hi, hiInc, (e, v) => out.push([e, v]));
  return ok ? out : null;
};

describe('AttributeColumn', () => {
  it('groups datoms by entity, keeping the order within an entity', () => {
    const col = AttributeColumn.fromDatoms([5, 3, 5, 9, 3], ['a', 'b', 'c', 'd', 'e'], [1, 2, 3, 4, 5]);
    expect(visitAll(col)).toEqual([
      [3, 'b', 2],
      [3, 'e', 5],
      [5, 'a', 1],
      [5, 'c', 3],
      [9, 'd', 4],
    ]);
    expect(col.entityCount).toBe(3);
    const of5: unknown[] = [];
    expect(col.visitEntity(5, (_e, v) => of5.push(v))).toBe(true);
    expect(of5).toEqual(['a', 'c']);
    expect(col.visitEntity(4, () => expect.unreachable())).toBe(false);
    expect(col.slotOf(-1)).toBe(-1);
    expect(col.slotOf(100)).toBe(-1);
  });

  it('finds entities whether their ids are dense or sparse', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 2 ** 40 }), { maxLength: 60 }), fc.boolean(), (ids, dense) => {
        const es = dense ? ids.map((_, i) => 1000 + i * 2) : ids;
        const col = AttributeColumn.fromDatoms(
          es,
          es.map((e) => e * 2),
          es.map(() => 1),
        );
        for (const e of es) expect(col.slotOf(e) >= 0 && visitAll(col)[col.slotOf(e)]![1]).toBe(e * 2);
        expect(col.slotOf(dense ? 1001 : 2 ** 40 + 1)).toBe(-1);
      }),
    );
  });

  it('answers value ranges in value order, as AVET would', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 80 }),
        fc.option(fc.integer({ min: -60, max: 60 }), { nil: undefined }),
        fc.option(fc.integer({ min: -60, max: 60 }), { nil: undefined }),
        fc.boolean(),
        fc.boolean(),
        (vs, lo, hi, loInc, hiInc) => {
          const es = vs.map((_, i) => i + 1);
          const col = AttributeColumn.fromDatoms(
            es,
            vs,
            es.map(() => 7),
          );
          const expected = es
            .map((e, i) => [e, vs[i]!] as [number, number])
            .filter(([, v]) => (lo === undefined || v > lo || (loInc && v === lo)) && (hi === undefined || v < hi || (hiInc && v === hi)))
            .sort((x, y) => x[1] - y[1] || x[0] - y[0]);
          // counting does not build the value order; once built, it counts what a visit visits
          if (vs.length) expect(col.countValueRange(lo, loInc, hi, hiInc)).toBeNull();
          expect(range(col, lo, loInc, hi, hiInc)).toEqual(expected);
          expect(col.countValueRange(lo, loInc, hi, hiInc)).toBe(expected.length);
        },
      ),
    );
  });

  it("orders strings by UTF-16 unit (the query language's order, and format 5's keys), not by code point", () => {
    const astral = '\u{1F600}'; // a surrogate pair: below U+FFFF in UTF-16 units, above it as a code point
    const col = AttributeColumn.fromDatoms([1, 2, 3], [astral, '\uFFFD', 'a'], [1, 1, 1]);
    expect(range(col, undefined, true, undefined, true)!.map(([, v]) => v)).toEqual(['a', astral, '\uFFFD']);
    expect(range(col, 'b', true, undefined, true)!.map(([e]) => e)).toEqual([1, 2]);
    expect(range(col, undefined, true, '\uFF01', false)!.map(([e]) => e)).toEqual([3, 1]);
  });

  it('declines mixed values and bounds of another type', () => {
    const mixed = AttributeColumn.fromDatoms([1, 2], [1, 'x'], [1, 1]);
    expect(range(mixed, undefined, true, undefined, true)).toBeNull();
    const nums = AttributeColumn.fromDatoms([1, 2], [1, 2], [1, 1]);
    expect(range(nums, 'a', true, undefined, true)).toBeNull();
  });
});

describe('ColumnCache', () => {
  const col = (n: number) => AttributeColumn.fromDatoms([...Array(n).keys()], Array(n).fill(0), Array(n).fill(1));

  it('keeps the most recently used columns within its datom budget', () => {
    const cache = new ColumnCache(10);
    cache.put('a', col(4));
    cache.put('b', col(4));
    expect(cache.get('a')).toBeDefined(); // a is now the most recent
    cache.put('c', col(4));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')?.size).toBe(4);
    expect(cache.get('c')?.size).toBe(4);
    expect(cache.heldDatoms).toBe(8);
    cache.put('huge', col(11));
    expect(cache.get('huge')).toBeUndefined();
    expect(cache.heldDatoms).toBe(8);
  });

  it('counts a column held under several keys (Db values no commit changed it for) once', () => {
    const cache = new ColumnCache(10);
    const shared = col(4);
    cache.put('a@1', shared);
    cache.put('a@2', shared);
    cache.put('a@3', shared);
    expect(cache.heldDatoms).toBe(4);
    cache.put('b@3', col(6)); // fits: the shared column counts 4, not 12
    expect(cache.get('a@1')).toBe(shared);
    expect(cache.get('b@3')?.size).toBe(6);
    expect(cache.heldDatoms).toBe(10);
    cache.put('c@3', col(3)); // evicts least recently used keys until it fits
    expect(cache.heldDatoms).toBeLessThanOrEqual(10);
    expect(cache.get('c@3')?.size).toBe(3);
  });

  it('holds nothing with a budget of 0', () => {
    const cache = new ColumnCache(0);
    cache.put('a', col(1));
    expect(cache.get('a')).toBeUndefined();
    expect(cache.fits(1)).toBe(false);
  });

  it('counts reads per key', () => {
    const cache = new ColumnCache();
    expect(cache.countReads('k', 0)).toBe(0);
    expect(cache.countReads('k')).toBe(1);
    expect(cache.countReads('k', 5)).toBe(6);
  });
});

const SCHEMA = `[${P.name}
 ${P.age}
 {:db/ident :p/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :p/likes :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`;
const NAMES = ['Ivan', 'Petr', 'Oleg', 'Yuri'];
const QUERIES = [
  '[:find ?e ?a :where [?e :p/name "Ivan"] [?e :p/age ?a]]',
  '[:find ?e ?a :where [?e :p/age ?a] [?e :p/name "Ivan"]]',
  '[:find ?e :where [?e :p/name "Ivan"] [?e :p/age 30]]',
  '[:find ?e ?t :where [?e :p/name "Oleg"] [?e :p/tag ?t]]',
  '[:find ?e ?f :where [?e :p/name "Yuri"] [?e :p/likes ?f] [?f :p/name "Ivan"]]',
  '[:find ?e :where [?e :p/age ?a] [(> ?a 40)] [(<= ?a 60)]]',
  '[:find ?n (count ?e) :where [?e :p/name ?n] [?e :p/age ?a]]',
  '[:find ?e ?n :where [?e :p/age 30] [?e :p/name ?n]]',
  '[:find ?e :where [?e :p/age ?a] [(< ?a 20)] [?e :p/name "Ivan"]]',
  '[:find ?e :where [?e :p/age ?a] [(< ?a 20)] [?e :p/tag :t1]]',
];
const norm = (rows: unknown) => JSON.stringify((rows as unknown[][]).map((r) => JSON.stringify(r)).sort());

/** The same transactions on two databases: one with columns, one reading only LMDB. */
async function twins(): Promise<{ cols: Connection; lmdb: Connection; ts: number[] }> {
  const cols = await freshConn({ noSync: true });
  const lmdb = await freshConn({ noSync: true, columnDatoms: 0 });
  const ts: number[] = [];
  const both = async (tx: unknown) => {
    const [r] = await Promise.all([cols.transact(tx), lmdb.transact(tx)]);
    ts.push(r.t);
  };
  await both(SCHEMA);
  const people = Array.from({ length: 400 }, (_, i) => `{:db/id "p${i}" :p/name "${NAMES[i % 4]}" :p/age ${(i * 7) % 80} :p/tag [:t${i % 3} :u${i % 5}]}`);
  await both(`[${people.join(' ')}]`);
  const es = [...cols.db().datoms('aevt', ':p/name')].map((d) => d.e);
  // later history: age changes, renames, tags and likes added and retracted
  for (let round = 0; round < 4; round++) {
    const tx: string[] = [];
    es.forEach((e, i) => {
      if ((i + round) % 3 === 0) tx.push(`[:db/add ${e} :p/age ${(i * 13 + round * 11) % 80}]`);
      if ((i + round) % 7 === 0) tx.push(`[:db/add ${e} :p/name "${NAMES[(i + round) % 4]}"]`);
      if ((i + round) % 5 === 0) tx.push(`[:db/add ${e} :p/tag :r${round}]`);
      if ((i + round) % 6 === 0) tx.push(`[:db/retract ${e} :p/tag :t${i % 3}]`);
      if ((i + round) % 11 === 0) tx.push(`[:db/add ${e} :p/likes ${es[(i * 3 + round) % es.length]}]`);
    });
    await both(`[${tx.join(' ')}]`);
  }
  return { cols, lmdb, ts };
}

describe('queries served from columns', () => {
  let cols: Connection;
  let lmdb: Connection;
  let ts: number[];
  beforeAll(async () => {
    ({ cols, lmdb, ts } = await twins());
  });

  it('read a pattern whose entity and value are both bound from the column, checking the value there', () => {
    const db = cols.db();
    const es = [...db.datoms('aevt', ':p/name')].map((d) => d.e);
    // every entity paired with every name: only the true pairs survive
    const pairs = es.flatMap((e) => NAMES.map((n) => [e, n]));
    const query = '[:find ?e ?n :in $ [[?e ?n]] :where [?e :p/name ?n]]';
    const e = explain(query, db, pairs);
    // one lookup of the entity's datoms per row (one name each), not a pass over the attribute grouped by (e, v)
    expect(e.steps[0]).toMatchObject({ strategy: 'column', datomsRead: pairs.length });
    expect(e.resultCount).toBe(es.length);
    expect(norm(e.result)).toBe(norm(q(query, lmdb.db(), pairs)));
  });

  it('scan a held column rather than probe LMDB once per input value when there are many values', () => {
    const db = cols.db();
    const query = '[:find ?e :in $ [?a ...] :where [?e :p/age ?a]]';
    q('[:find (count ?e) . :where [?e :p/age ?a] [(>= ?a 0)]]', db); // reads every age: the column is built
    // 10 ages: 10 LMDB probes cost less than a scan of 400 datoms even from memory
    const few = explain(
      query,
      db,
      Array.from({ length: 10 }, (_, i) => i),
    );
    expect(few.steps[0]!.index).toBe('avet'); // one lookup per age
    // 30 ages: 30 probes (~360 datoms' worth against LMDB, ~3,000 against a column) > 400 datoms
    const ages = Array.from({ length: 30 }, (_, i) => i);
    const many = explain(query, db, ages);
    expect(many.steps[0]).toMatchObject({ index: 'aevt', strategy: 'column', datomsRead: 400 }); // one pass over the column
    expect(norm(many.result)).toBe(norm(q(query, lmdb.db(), ages)));
  });

  it('read a bound entity attribute from its column, with the same answers as LMDB', () => {
    const e = explain(QUERIES[0]!, cols.db());
    expect(e.steps.map((s) => s.strategy)).toContain('column');
    const off = explain(QUERIES[0]!, lmdb.db());
    expect(off.steps.map((s) => s.strategy)).not.toContain('column');
    expect(norm(e.result)).toBe(norm(off.result));
    expect(e.resultCount).toBeGreaterThan(50);
  });

  it('give the same answers as LMDB now, as of every t, and since a t (each query run twice)', () => {
    const views = (c: Connection): Db[] => [c.db(), ...ts.map((t) => c.db().asOf(t)), c.db().since(ts[2]!)];
    const a = views(cols);
    const b = views(lmdb);
    let compared = 0;
    for (let i = 0; i < a.length; i++) {
      for (const text of QUERIES) {
        const expected = norm(q(text, b[i]!));
        // the first run may read LMDB and build columns; the second reads the columns
        expect(norm(q(text, a[i]!)), `${text} on view ${i}`).toBe(expected);
        expect(norm(q(text, a[i]!)), `${text} on view ${i}, again`).toBe(expected);
        compared++;
      }
    }
    expect(compared).toBe(QUERIES.length * (ts.length + 2));
  });

  it('never serve a stale datom: an older db value keeps its answers after a commit', async () => {
    const before = cols.db();
    const text = '[:find ?e ?a :where [?e :p/name "Ivan"] [?e :p/age ?a]]';
    const old = norm(q(text, before));
    q(text, before); // columns of `before` are held now
    const ivans = q<number[]>('[:find [?e ...] :where [?e :p/name "Ivan"]]', before);
    const tx = ivans.map((e) => [':db/add', e, ':p/age', 99]);
    await Promise.all([cols.transact(tx), lmdb.transact(tx)]); // the twins stay equal
    const after = cols.db();
    expect(norm(q(text, before))).toBe(old);
    const now = q<[number, number][]>(text, after);
    expect(now.length).toBe(ivans.length);
    expect(now.every(([, a]) => a === 99)).toBe(true);
  });

  it('past views keep entities in memory: pulls and datoms equal LMDB, twice, and the datoms are frozen', () => {
    const es = [...lmdb.db().datoms('aevt', ':p/name')].map((d) => d.e).slice(0, 60);
    for (const t of ts) {
      const [a, b] = [cols.db().asOf(t), lmdb.db().asOf(t)];
      for (const e of es) {
        const expected = JSON.stringify(pull(b, '[*]', e));
        expect(JSON.stringify(pull(a, '[*]', e))).toBe(expected);
        expect(JSON.stringify(pull(a, '[*]', e))).toBe(expected);
        expect(JSON.stringify([...a.datoms('eavt', e)])).toBe(JSON.stringify([...b.datoms('eavt', e)]));
      }
    }
    const d = [...cols.db().asOf(ts[2]!).datoms('eavt', es[0]!)][0]!;
    expect(Object.isFrozen(d)).toBe(true);
  });

  it('are carried over commits: a new db value advances the last column by the entities the log says changed', async () => {
    const text = '[:find ?e ?a ?t :where [?e :p/name "Petr"] [?e :p/age ?a] [?e :p/tag ?t]]';
    q(text, cols.db()); // columns of the current value are held
    const petrs = q<number[]>('[:find [?e ...] :where [?e :p/name "Petr"]]', lmdb.db()).sort((x, y) => x - y);
    const steps = [
      (e: number[]) => `[[:db/add ${e[0]} :p/age 77] [:db/retract ${e[1]} :p/tag :t0] [:db/add ${e[1]} :p/tag :new]]`,
      (e: number[]) => `[[:db.fn/retractEntity ${e[2]}] {:db/id "n" :p/name "Petr" :p/age 5 :p/tag [:x :y]}]`,
      (e: number[]) => `[[:db/retract ${e[3]} :p/age ${q<number>(`[:find ?a . :where [${e[3]} :p/age ?a]]`, lmdb.db())}]]`,
      () => `[{:db/id "other" :p/likes 1}]`, // touches none of the query's attributes
    ];
    for (const step of steps) {
      const tx = step(petrs);
      await Promise.all([cols.transact(tx), lmdb.transact(tx)]);
      const e = explain(text, cols.db());
      expect(e.steps.filter((s) => s.strategy === 'column').length, tx).toBeGreaterThan(0);
      expect(norm(e.result), tx).toBe(norm(q(text, lmdb.db())));
      expect(norm(q('[:find ?e ?a :where [?e :p/age ?a]]', cols.db())), tx).toBe(norm(q('[:find ?e ?a :where [?e :p/age ?a]]', lmdb.db())));
    }
  });

  it('are not built for point lookups of unique values, but are for lookups that read many datoms', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact(
      '[{:db/ident :u/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity} {:db/ident :u/team :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]',
    );
    await conn.transact(Array.from({ length: 640 }, (_, i) => ({ ':u/email': `u${i}@x`, ':u/team': i % 4 })));
    const held = () => (conn as unknown as { ctx: { columns: ColumnCache } }).ctx.columns.heldDatoms;
    const db = conn.db();
    for (let i = 0; i < 640; i++) expect(q(`[:find ?e . :where [?e :u/email "u${i}@x"]]`, db)).toBeTypeOf('number');
    expect(held()).toBe(0);
    // now, a column waits until lookups have read half as many datoms as it would hold (320)
    for (let i = 0; i < 2; i++) expect(q(`[:find (count ?e) . :where [?e :u/team ${i}]]`, db)).toBe(160);
    expect(held()).toBe(0);
    expect(q(`[:find (count ?e) . :where [?e :u/team 2]]`, db)).toBe(160);
    expect(held()).toBe(640);
    // explain tells which: the same AVET lookup, read from LMDB before and from the column after
    const lookup = (db2: Db) => explain('[:find (count ?e) . :where [?e :u/team 3]]', db2).steps[0]!;
    expect(lookup(db)).toMatchObject({ index: 'avet', strategy: 'column', actualRows: 160 });
    const fresh = await freshConn({ noSync: true, columnDatoms: 0 });
    await fresh.transact('[{:db/ident :u/team :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    await fresh.transact(Array.from({ length: 64 }, (_, i) => ({ ':u/team': i % 4 })));
    expect(lookup(fresh.db())).toMatchObject({ index: 'avet', strategy: 'scan', actualRows: 16 });
  });

  it('are built sooner for value lookups of a past value, which also skip retracted datoms', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact('[{:db/ident :u/team :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    const r = await conn.transact(Array.from({ length: 640 }, (_, i) => ({ ':u/team': i % 4 })));
    await conn.transact([{ ':u/team': 9 }]);
    const held = () => (conn as unknown as { ctx: { columns: ColumnCache } }).ctx.columns.heldDatoms;
    const past = conn.db().asOf(r.t);
    expect(q(`[:find (count ?e) . :where [?e :u/team 1]]`, past)).toBe(160);
    expect(held()).toBe(0);
    expect(q(`[:find (count ?e) . :where [?e :u/team 2]]`, past)).toBe(160);
    expect(held()).toBe(640);
  });

  it('count ranges for planning from a column with its value order, as LMDB counts them', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact('[{:db/ident :u/score :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    await conn.transact(Array.from({ length: 300 }, (_, i) => ({ ':u/score': (i * 37) % 101 })));
    const db = conn.db();
    const bounds: [number | undefined, number | undefined, boolean][] = [
      [50, undefined, false],
      [10, 20, false],
      [10, 20, true],
      [undefined, 5, true],
      [70, 30, false],
    ];
    const fromLmdb = bounds.map(([lo, hi, inc]) => db.estimateRange(':u/score', lo, hi, inc));
    // range queries over the whole attribute: the first reads LMDB, the second builds the column
    for (let i = 0; i < 2; i++) expect(q('[:find (count ?e) . :where [?e :u/score ?s] [(>= ?s 0)]]', db)).toBe(300);
    const held = (conn as unknown as { ctx: { columns: ColumnCache } }).ctx.columns.heldDatoms;
    expect(held).toBe(300);
    expect(bounds.map(([lo, hi, inc]) => db.estimateRange(':u/score', lo, hi, inc))).toEqual(fromLmdb);
    expect(fromLmdb[0]).toBeGreaterThan(0);
    // and it was the column that counted them
    const memory = (db as unknown as { memory: { countValueRange(a: number, lo: unknown, hi: unknown, inc: boolean): number | null } }).memory;
    expect(memory.countValueRange(db.attr(':u/score')!.id, 50, undefined, false)).toBe(fromLmdb[0]);
  });

  it('are not used for history or speculative views', () => {
    const h = explain('[:find ?e ?a :where [?e :p/name "Ivan"] [?e :p/age ?a]]', cols.db().history());
    expect(h.steps.map((s) => s.strategy)).not.toContain('column');
    const w = cols.db().with('[[:db/add "x" :p/name "Ivan"] [:db/add "x" :p/age 1]]').dbAfter;
    const rows = q<[number, number][]>('[:find ?e ?a :where [?e :p/name "Ivan"] [?e :p/age ?a]]', w);
    expect(rows.some(([, a]) => a === 1)).toBe(true);
  });
});
