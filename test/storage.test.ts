import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { Keyword, open, pull, q, verify, type Connection } from '../src/index.js';
import { DATA_FILE, FORMAT_VERSION } from '../src/storage/store.js';
import { encodeLogRecord } from '../src/storage/log.js';
import { tempDir } from './helpers/tmp.js';
import { KEY_SLOTS } from '../src/storage/encoding.js';
import { Attr } from '../src/db/schema.js';
import { compareValues } from '../query-lang/edn/compare.js';
import { printEdn } from '../query-lang/edn/printer.js';

/** Transact `tx` on each connection: 'ok' or the error's code, per connection. */
function transactOnEach(conns: Connection[], tx: unknown): Promise<string[]> {
  return Promise.all(
    conns.map((c) =>
      c.transact(tx as never).then(
        () => 'ok',
        (e: { code: string }) => e.code,
      ),
    ),
  );
}

async function openError(options: Parameters<typeof open>[0]): Promise<any> {
  return open(options).then(
    async (c) => {
      await c.close();
      return null;
    },
    (e) => e,
  );
}

describe('opening a directory', () => {
  it('creates a database in a missing or empty directory, with a format version', async () => {
    const dir = path.join(tempDir(), 'new');
    const conn = await open({ path: dir });
    expect(fs.existsSync(path.join(dir, DATA_FILE))).toBe(true);
    expect(conn.basisT).toBe(0);
    await conn.close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
    expect(env.openDB('meta', {}).get('formatVersion')).toBe(FORMAT_VERSION);
    await env.close();
  });

  it('refuses a directory that is not a factlog database', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'hello');
    const err = await openError({ path: dir });
    expect(err?.code).toBe('storage/not-a-database');
    expect(fs.readdirSync(dir)).toEqual(['notes.txt']);
    const file = path.join(dir, 'notes.txt');
    expect((await openError({ path: file }))?.code).toBe('storage/not-a-database');
  });

  it('refuses an LMDB file that factlog did not write', async () => {
    const dir = tempDir();
    const env = openLmdb({ path: path.join(dir, DATA_FILE) });
    await env.put('x', 1);
    await env.close();
    expect((await openError({ path: dir }))?.code).toBe('storage/not-a-database');
  });

  it('does not create a database when create is false', async () => {
    const dir = path.join(tempDir(), 'missing');
    expect((await openError({ path: dir, create: false }))?.code).toBe('storage/no-database');
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a database written by a newer format, leaving it untouched', async () => {
    const dir = path.join(tempDir(), 'db');
    await (await open({ path: dir })).close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
    await env.openDB('meta', {}).put('formatVersion', FORMAT_VERSION + 1);
    await env.close();
    const before = fs.readFileSync(path.join(dir, DATA_FILE));
    const err = await openError({ path: dir });
    expect(err?.code).toBe('storage/newer-format');
    expect(fs.readFileSync(path.join(dir, DATA_FILE)).equals(before)).toBe(true);
  });
});

describe('history and the log', () => {
  it(':db/noHistory attributes keep no history in the indexes, but the log has every datom', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    try {
      await conn.transact(`[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}
                            {:db/ident :c/h :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
      const r = await conn.transact(`[{:db/id "c" :c/n 1 :c/h 1}]`);
      await conn.transact(`[{:db/id ${r.tempids.c} :c/n 2 :c/h 2}]`);
      const h = conn.db().history();
      expect([...h.datoms('eavt', r.tempids.c, Keyword.of('c/n'))].map((d) => d.v)).toEqual([2]);
      expect([...h.datoms('eavt', r.tempids.c, Keyword.of('c/h'))].map((d) => [d.v, d.added])).toEqual([
        [1, true],
        [1, false],
        [2, true],
      ]);
      const logged = [...conn.txRange(r.t + 1)].flatMap((e) => e.data).filter((d) => d.e === r.tempids.c);
      expect(logged).toHaveLength(4);
      // rebuilding keeps the same policy
      const current = conn.store.dumpIndex('eavt', 'history');
      await conn.rebuildIndexes();
      expect(conn.store.dumpIndex('eavt', 'history')).toEqual(current);
    } finally {
      await conn.close();
    }
  });

  it('txRange reads the log by t, oldest first', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    try {
      for (let i = 0; i < 5; i++) await conn.transact([{ 'x/n': i }]);
      const entries = [...conn.txRange(2, 4)];
      expect(entries.map((e) => e.t)).toEqual([2, 3]);
      expect(entries[0].instant).toBeInstanceOf(Date);
      expect(entries[0].tx).toBe(conn.db().tToTx(2));
    } finally {
      await conn.close();
    }
  });

  it('stats reports entries per index and size on disk', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    try {
      await conn.transact([{ 'x/n': 1 }]);
      const stats = conn.store.stats();
      expect(stats.entries.log).toBe(2);
      expect(stats.entries.eavt).toBeGreaterThan(0);
      expect(stats.sizeBytes).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  });
});

describe("durability: 'process'", () => {
  it('commits without fsync and the data is there after reopening', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir, durability: 'process' });
    await conn.transact('[{:db/ident :n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    for (let i = 0; i < 20; i++) await conn.transact([[':db/add', 'x', ':n', i]]);
    await conn.close();
    const again = await open({ path: dir, create: false });
    try {
      expect(again.basisT).toBe(21);
    } finally {
      await again.close();
    }
  });
});

describe('long values', () => {
  it('values longer than an LMDB key are stored out of line and behave like any other value', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    try {
      await conn.transact(`[{:db/ident :doc/key :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                            {:db/ident :doc/tags :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]`);
      const body = (n: number) => `${n}:` + 'ünïcode ✓ '.repeat(600); // about 8 KB of UTF-8
      const key = 'k'.repeat(2500);
      const r1 = await conn.transact([{ 'db/id': 'd', 'doc/key': key, 'doc/tags': [body(1), body(2), 'short'] }]);
      const d = r1.tempids.d;
      const tags = (db = conn.db()) => [...db.datoms('eavt', d, Keyword.of('doc/tags'))].map((x) => x.v).sort();
      expect(tags()).toEqual([body(1), body(2), 'short'].sort());
      // found by value: lookup refs, AVET, upsert through a long unique identity
      expect(conn.db().entid([Keyword.of('doc/key'), key])).toBe(d);
      expect([...conn.db().datoms('avet', Keyword.of('doc/tags'), body(2))].map((x) => x.e)).toEqual([d]);
      const up = await conn.transact([{ 'db/id': 'again', 'doc/key': key, 'doc/tags': ['more'] }]);
      expect(up.tempids.again).toBe(d);
      // retraction, history, asOf
      const r2 = await conn.transact([[':db/retract', d, ':doc/tags', body(1)]]);
      expect(tags()).toEqual([body(2), 'more', 'short'].sort());
      expect(tags(conn.db().asOf(r1.t))).toEqual([body(1), body(2), 'short'].sort());
      const retracted = [...conn.db().history().datoms('eavt', d, Keyword.of('doc/tags'))].filter((x) => !x.added);
      expect(retracted.map((x) => [x.v, x.tx])).toEqual([[body(1), conn.db().tToTx(r2.t)]]);
      // a value that looks like the in-key marker is refused rather than misread
      const marker = 'p'.repeat(200) + '\u0005\u0005' + 'a'.repeat(64);
      expect((await conn.transact([{ 'doc/tags': marker }]).catch((e) => e)).code).toBe('tx/invalid-value');
      // the log holds the whole value; rebuilding from it gives identical indexes
      const logged = [...conn.txRange(r1.t, r1.t + 1)][0].data.map((x) => x.v);
      expect(logged).toContain(body(1));
      const dump = conn.store.dumpIndex('avet', 'current');
      await conn.rebuildIndexes();
      expect(conn.store.dumpIndex('avet', 'current')).toEqual(dump);
      expect(tags()).toEqual([body(2), 'more', 'short'].sort());
      // strings holding \u0000-\u0004 (lmdb-js would cut a key string of 64+ characters there) round-trip
      const nul = 'before\u0000after\u0003 '.repeat(10);
      const r3 = await conn.transact([{ 'db/id': 'n', 'doc/key': nul }]);
      expect([...conn.db().datoms('eavt', r3.tempids.n, Keyword.of('doc/key'))].map((x) => x.v)).toEqual([nul]);
      expect(conn.db().entid([Keyword.of('doc/key'), nul])).toBe(r3.tempids.n);
    } finally {
      await conn.close();
    }
  });
});

describe('long values of two open databases', () => {
  it("are read from the database that holds their keys: one missing from its values table is an error there, never another database's", async () => {
    const long = 'shared '.repeat(400);
    const schema = '[{:db/ident :doc/body :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]';
    const damagedDir = path.join(tempDir(), 'damaged');
    let damaged = await open({ path: damagedDir });
    await damaged.transact(schema);
    await damaged.transact([{ 'doc/body': long }]);
    await damaged.close();
    // take the value out of its values table (as damage would): the index keys keep its marker
    const env = openLmdb({ path: path.join(damagedDir, DATA_FILE), maxDbs: 16 });
    const values = env.openDB('values', {});
    for (const key of [...values.getKeys()]) values.removeSync(key);
    await env.close();
    const other = await open({ path: path.join(tempDir(), 'other') });
    try {
      await other.transact(schema);
      await other.transact([{ 'doc/body': long }]);
      damaged = await open({ path: damagedDir });
      const bodies = (conn: typeof other) => [...conn.db().datoms('aevt', Keyword.of('doc/body'))].map((d) => d.v);
      expect(bodies(other)).toEqual([long]);
      expect(() => bodies(damaged)).toThrow(/missing from the values table/);
    } finally {
      await other.close();
      await damaged.close();
    }
  });
});

describe('format 5: every JS string exactly (issue 25)', () => {
  const strings = ['x\uD800', 'a\uD83D\uDE00', '\uDFFF', 'long\uDC00'.repeat(400), 'ctl\u0001\uD800'];
  const schema = '[{:db/ident :s/v :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]';
  const read = (conn: Awaited<ReturnType<typeof open>>) => q('[:find [?v ...] :where [_ :s/v ?v]]', conn.db()) as string[];

  it('keeps lone surrogates through keys, the values table, a reopen and a rebuild from the log file', async () => {
    const dir = path.join(tempDir(), 'db');
    let conn = await open({ path: dir });
    expect(conn.store.format).toBe(FORMAT_VERSION);
    await conn.transact(schema);
    await conn.transact([{ 's/v': strings }]);
    expect(new Set(read(conn))).toEqual(new Set(strings));
    await conn.close();
    conn = await open({ path: dir });
    expect(new Set(read(conn))).toEqual(new Set(strings));
    const dump = conn.store.dumpIndex('avet', 'current');
    await conn.close();
    fs.rmSync(path.join(dir, DATA_FILE));
    conn = await open({ path: dir });
    try {
      expect(new Set(read(conn))).toEqual(new Set(strings));
      expect(conn.store.dumpIndex('avet', 'current')).toEqual(dump);
    } finally {
      await conn.close();
    }
  });

  it('an older format, whose keys are UTF-8, refuses a lone surrogate with tx/invalid-value and changes nothing', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db'), createFormat: 4 });
    try {
      await conn.transact(schema);
      const t = conn.db().basisT;
      for (const s of strings.filter((x) => /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(x))) {
        expect((await conn.transact([{ 's/v': s }]).catch((e) => e)).code).toBe('tx/invalid-value');
      }
      expect(conn.db().basisT).toBe(t);
      await conn.transact([{ 's/v': 'a\uD83D\uDE00' }]);
      expect(read(conn)).toEqual(['a\uD83D\uDE00']);
    } finally {
      await conn.close();
    }
  });
});

describe('index key formats', () => {
  const schema = `[{:db/ident :k/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                   {:db/ident :k/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}
                   {:db/ident :k/x :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
                   {:db/ident :k/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`;
  async function fill(conn: Awaited<ReturnType<typeof open>>): Promise<number> {
    await conn.transact(schema);
    const r = await conn.transact(`[{:db/id "a" :k/name "Ann" :k/n [1 -2 300000 9007199254740993N] :k/x -2.5}
                                    {:db/id "b" :k/name "Ünï ✓" :k/n 7 :k/x 0.125 :k/ref "a"}]`);
    const mid = r.t;
    await conn.transact(`[[:db/retract [:k/name "Ann"] :k/n -2] [:db/add [:k/name "Ann"] :k/x 1e300]]`);
    await conn.transact(`[[:db/retractEntity [:k/name "Ünï ✓"]]]`);
    return mid;
  }
  const views = (conn: Awaited<ReturnType<typeof open>>, mid: number) => {
    const all = '[:find ?n ?v :where [?e :k/name ?n] [?e :k/n ?v]]';
    const range = '[:find ?e ?x :where [?e :k/x ?x] [(< ?x 1)]]';
    const db = conn.db();
    return {
      now: [q(all, db), q(range, db)],
      past: [q(all, db.asOf(mid)), q(range, db.asOf(mid)), q('[:find ?e :where [?e :k/ref ?a] [?a :k/name "Ann"]]', db.asOf(mid))],
      history: [...db.history().datoms('aevt', Keyword.of('k/n'))].map((d) => [d.v, d.added]),
      pulled: pull(db, '[*]', [Keyword.of('k/name'), 'Ann']),
    };
  };

  it('a database made in format 1 (ordered-binary keys) keeps its format and gives the same answers as a new one', async () => {
    const oldDir = path.join(tempDir(), 'old');
    const oldConn = await open({ path: oldDir, createFormat: 1 });
    const mid = await fill(oldConn);
    await oldConn.close();
    const newConn = await open({ path: path.join(tempDir(), 'new') });
    try {
      expect(await fill(newConn)).toBe(mid);
      const reopened = await open({ path: oldDir, create: false });
      let viaFactlog: unknown[][] = [];
      try {
        expect(reopened.store.format).toBe(1);
        expect(newConn.store.format).toBe(FORMAT_VERSION);
        expect(views(reopened, mid)).toEqual(views(newConn, mid));
        // and it still takes writes in its own format
        await reopened.transact(`[{:k/name "Cy" :k/n 3}]`);
        expect(q('[:find ?v . :where [?e :k/name "Cy"] [?e :k/n ?v]]', reopened.db())).toBe(3);
        viaFactlog = reopened.store.dumpIndex('eavt', 'current');
      } finally {
        await reopened.close();
      }
      // the keys on disk really are in two formats: lmdb-js's default encoding reads format 1's
      const env = openLmdb({ path: path.join(oldDir, DATA_FILE), maxDbs: 16, readOnly: true });
      const oldKeys = [...env.openDB('eavt', { encoding: 'binary' }).getKeys({})] as unknown[][];
      await env.close();
      expect(oldKeys).toEqual(viaFactlog);
      expect(newConn.store.dumpIndex('eavt', 'current').length).toBe(oldKeys.length - 3); // Cy's two datoms and its tx's
    } finally {
      await newConn.close();
    }
  });

  it('format 2 keys take about half the bytes of format 1 keys', async () => {
    const sizes: number[] = [];
    for (const createFormat of [1, 2]) {
      const dir = path.join(tempDir(), `f${createFormat}`);
      const conn = await open({ path: dir, createFormat, noSync: true });
      await conn.transact('[{:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
      await conn.transactBatch(Array.from({ length: 20 }, (_, i) => Array.from({ length: 1000 }, (_, j) => ({ 'p/age': (i * 1000 + j) % 97 }))));
      await conn.close();
      const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16, readOnly: true });
      const stats = env.openDB('avet', { encoding: 'binary', keyEncoding: 'binary' }).getStats() as { treeLeafPageCount: number };
      let bytes = 0;
      for (const k of env.openDB('avet', { encoding: 'binary', keyEncoding: 'binary' }).getKeys({})) bytes += (k as Buffer).length;
      await env.close();
      sizes.push(bytes);
      expect(stats.treeLeafPageCount).toBeGreaterThan(0);
    }
    expect(sizes[1]! / sizes[0]!).toBeLessThan(0.6);
  });
});

describe('format 4: runs of keys', () => {
  /** A seeded sequence of big and small transactions: loads, updates, retractions, retractEntity. */
  function workload(seed: number): unknown[][] {
    let s = seed;
    const rand = (n: number) => (s = (s * 1103515245 + 12345) % 2 ** 31) % n;
    const person = (i: number) => ({ ':db/id': `p${i}`, ':p/id': i, ':p/name': ['Ann', 'Bo', 'Cy', 'Dé'][rand(4)], ':p/age': rand(90), ':p/tags': [rand(5), rand(5) + 5] });
    const txs: unknown[][] = [
      [
        { ':db/ident': ':p/id', ':db/valueType': ':db.type/long', ':db/cardinality': ':db.cardinality/one', ':db/unique': ':db.unique/identity' },
        { ':db/ident': ':p/name', ':db/valueType': ':db.type/string', ':db/cardinality': ':db.cardinality/one' },
        { ':db/ident': ':p/age', ':db/valueType': ':db.type/long', ':db/cardinality': ':db.cardinality/one' },
        { ':db/ident': ':p/tags', ':db/valueType': ':db.type/long', ':db/cardinality': ':db.cardinality/many' },
        { ':db/ident': ':p/friend', ':db/valueType': ':db.type/ref', ':db/cardinality': ':db.cardinality/many' },
      ],
      Array.from({ length: 300 }, (_, i) => person(i)),
    ];
    for (let k = 0; k < 120; k++) {
      const i = rand(300);
      const ref = [':p/id', i];
      switch (rand(6)) {
        case 0:
          txs.push([[':db/add', ref, ':p/age', rand(90)]]);
          break;
        case 1:
          txs.push([[':db/retract', ref, ':p/tags', rand(10)]]);
          break;
        case 2:
          txs.push([[':db/retractEntity', ref]]);
          break;
        case 3:
          txs.push([[':db/add', ref, ':p/friend', [':p/id', rand(300)]]]);
          break;
        case 4:
          // a big transaction into what is there: updates land inside runs
          txs.push(Array.from({ length: 40 }, () => ({ ':p/id': rand(300), ':p/age': rand(90), ':p/name': 'Eve' })));
          break;
        default:
          txs.push([person(300 + k)]);
      }
    }
    return txs;
  }

  /** Every index's keys, but for :db/txInstant datoms (the two databases' clocks differ). */
  async function dumps(conn: Awaited<ReturnType<typeof open>>): Promise<unknown[]> {
    return (['eavt', 'aevt', 'avet', 'vaet'] as const).flatMap((i) =>
      (['current', 'history'] as const).map((which) => conn.store.dumpIndex(i, which).filter((k) => k[KEY_SLOTS[i].a] !== Attr.txInstant)),
    );
  }

  it.each([4, 5, 6, FORMAT_VERSION])('holds the same datoms as format 3 (one entry per key) after the same transactions, and after a rebuild (format %i)', async (format) => {
    const txs = workload(7);
    const conns = [await open({ path: path.join(tempDir(), 'f3'), createFormat: 3, noSync: true }), await open({ path: path.join(tempDir(), 'f4'), createFormat: format, noSync: true })];
    try {
      expect(conns.map((c) => c.store.format)).toEqual([3, format]);
      for (const tx of txs) {
        const outcomes = await transactOnEach(conns, tx);
        expect(outcomes[1]).toBe(outcomes[0]);
      }
      const [old, packed] = conns as [Awaited<ReturnType<typeof open>>, Awaited<ReturnType<typeof open>>];
      // format 6 keys keywords (the schema's idents) in another order: the same keys, as sets
      const asSets = (ds: unknown[]) => (format >= 6 ? ds.map((keys) => (keys as unknown[]).map((k) => JSON.stringify(k, (_, v) => (typeof v === 'bigint' ? `${v}n` : v))).sort()) : ds);
      expect(asSets(await dumps(packed))).toEqual(asSets(await dumps(old)));
      const query = '[:find ?id ?n ?a :where [?e :p/id ?id] [?e :p/name ?n] [?e :p/age ?a]]';
      expect(q(query, packed.db())).toEqual(q(query, old.db()));
      const mid = Math.floor(packed.basisT / 2);
      expect(q(query, packed.db().asOf(mid))).toEqual(q(query, old.db().asOf(mid)));
      expect(packed.store.stats().entries).toEqual(old.store.stats().entries);
      const before = await dumps(packed);
      await packed.rebuildIndexes();
      expect(await dumps(packed)).toEqual(before);
    } finally {
      for (const c of conns) await c.close();
    }
  });

  it('a big transaction takes a few LMDB entries per index, not one per datom', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir, noSync: true });
    for (const tx of workload(3).slice(0, 2)) await conn.transact(tx);
    const datoms = conn.store.stats().entries.eavt!;
    await conn.close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16, readOnly: true });
    try {
      const entries = (env.openDB('eavt', { encoding: 'binary', keyEncoding: 'binary' }).getStats() as { entryCount: number }).entryCount;
      expect(datoms).toBeGreaterThan(1500);
      expect(entries).toBeLessThan(datoms / 10);
    } finally {
      await env.close();
    }
  });

  it('format 7: a new database is format 7; a format 6 one keeps its format, reads, takes writes and verifies clean, with the same datoms', async () => {
    const dirs = [path.join(tempDir(), 'f6'), path.join(tempDir(), 'f7')];
    const txs = workload(5);
    const written = [await open({ path: dirs[0]!, createFormat: 6, noSync: true }), await open({ path: dirs[1]!, noSync: true })];
    expect(written.map((c) => c.store.format)).toEqual([6, 7]);
    for (const c of written) {
      for (const tx of txs.slice(0, 60)) await c.transact(tx).catch(() => undefined);
      await c.close();
    }
    const conns = [await open({ path: dirs[0]!, create: false }), await open({ path: dirs[1]!, create: false })];
    try {
      expect(conns.map((c) => c.store.format)).toEqual([6, 7]);
      for (const tx of txs.slice(60)) {
        const outcomes = await transactOnEach(conns, tx);
        expect(outcomes[1]).toBe(outcomes[0]);
      }
      const [f6, f7] = conns as [Awaited<ReturnType<typeof open>>, Awaited<ReturnType<typeof open>>];
      expect(await dumps(f7)).toEqual(await dumps(f6));
      const query = '[:find ?id ?n ?a :where [?e :p/id ?id] [?e :p/name ?n] [?e :p/age ?a]]';
      expect(q(query, f7.db().asOf(100))).toEqual(q(query, f6.db().asOf(100)));
    } finally {
      for (const c of conns) await c.close();
    }
    for (const dir of dirs) expect((await verify(dir)).problems).toEqual([]);
  });

  it('format 7 runs take under 60% of the bytes of format 6 runs for the same keys', async () => {
    const leafBytes: number[] = [];
    for (const createFormat of [6, 7]) {
      const dir = path.join(tempDir(), `f${createFormat}`);
      const conn = await open({ path: dir, createFormat, noSync: true });
      for (const tx of workload(3).slice(0, 2)) await conn.transact(tx);
      await conn.transact(Array.from({ length: 3000 }, (_, i) => ({ ':p/id': 1000 + i, ':p/name': `name ${i % 50}`, ':p/age': i % 90, ':p/tags': [i % 5] })));
      await conn.close();
      const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16, readOnly: true });
      try {
        for (const index of ['eavt', 'aevt', 'avet']) {
          let bytes = 0;
          for (const { value } of env.openDB(index, { encoding: 'binary', keyEncoding: 'binary' }).getRange({})) bytes += (value as Buffer).length;
          leafBytes.push(bytes);
        }
      } finally {
        await env.close();
      }
    }
    const [f6, f7] = [leafBytes.slice(0, 3), leafBytes.slice(3)];
    f7.forEach((bytes, i) => expect(bytes).toBeLessThan(0.6 * f6[i]!));
  });
});

describe('format 5: checksummed log records in LMDB', () => {
  /** A closed database whose t 2 holds a long and a string; returns its directory and t 2's log record bytes. */
  async function withLog(createFormat?: number): Promise<{ dir: string; record: Buffer }> {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir, createFormat });
    await conn.transact('[{:db/ident :k/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    await conn.transact('[{:db/id "a" :k/n 41 :db/doc "forty-one"}]');
    const record = Buffer.from(encodeLogRecord(conn.store.logEntry(2)!));
    await conn.close();
    return { dir, record };
  }

  /** Flip one bit of t 2's txInstant where the record lies in factlog.mdb. */
  function flipInstant(dir: string, record: Buffer): void {
    const file = path.join(dir, DATA_FILE);
    const bytes = fs.readFileSync(file);
    expect(bytes.indexOf(record)).toBeGreaterThan(0);
    // version byte, tx, then the instant's third byte; in stale copies in free pages too
    for (let at = bytes.indexOf(record); at !== -1; at = bytes.indexOf(record, at + 1)) bytes[at + 1 + 8 + 2] ^= 0x04;
    fs.writeFileSync(file, bytes);
  }

  it('a changed byte in a log record of factlog.mdb is an error on every read of it, never a different instant', async () => {
    const { dir, record } = await withLog();
    flipInstant(dir, record);
    const conn = await open({ path: dir, readOnly: true });
    try {
      expect(conn.store.format).toBe(FORMAT_VERSION);
      expect(() => [...conn.txRange(0)]).toThrow(expect.objectContaining({ code: 'storage/mdb-damaged', message: expect.stringContaining('t=2') }));
      expect(() => conn.store.logEntry(2)).toThrow(expect.objectContaining({ code: 'storage/mdb-damaged' }));
      expect([...conn.txRange(0, 2)].map((tx) => tx.t)).toEqual([0, 1]); // the others still read
    } finally {
      await conn.close();
    }
  });

  it('format 4 databases keep their unchecksummed log table and keep working', async () => {
    const { dir } = await withLog(4);
    const conn = await open({ path: dir });
    try {
      expect(conn.store.format).toBe(4);
      await conn.transact('[[:db/add "b" :k/n 42]]');
      expect([...conn.txRange(0)].map((tx) => tx.t)).toEqual([0, 1, 2, 3]);
    } finally {
      await conn.close();
    }
  });
});

describe('format 6: tuples and keywords keyed in the query order (issue 22)', () => {
  const schema = `[{:db/ident :t/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
    {:db/ident :t/pair :db/valueType :db.type/tuple :db/tupleTypes [:db.type/string :db.type/double] :db/cardinality :db.cardinality/many}
    {:db/ident :t/kw :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
    {:db/ident :t/a :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :t/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
    {:db/ident :t/a+b :db/valueType :db.type/tuple :db/tupleAttrs [:t/a :t/b] :db/cardinality :db.cardinality/one}]`;
  /** Seeded transactions of tuples (nil parts, -0, astral and long strings) and keywords: one big, then small ones and retractions. */
  function workload(seed: number): unknown[][] {
    let s = seed;
    const rand = (n: number) => (s = (s * 1103515245 + 12345) % 2 ** 31) % n;
    const text = () => [['', 'a', 'B', 'é', '😀', '\uFF01', 'a b'][rand(7)]!, 'x'.repeat(rand(10) === 0 ? 1500 : rand(3))].join('');
    const num = () => [-0, 0, 1.5, -2, 1e300, -Infinity, rand(5)][rand(7)]!;
    const kw = () => `:${['', 'a/', 'a.b/', 'ab/', 'b/'][rand(5)]}${['a', 'b', 'z', 'a.b'][rand(4)]}`;
    const entity = (i: number) => {
      const e: Record<string, unknown> = { ':t/id': i, ':t/pair': [[text(), num()]], ':t/kw': [kw(), kw()] };
      if (rand(3)) e[':t/a'] = text();
      if (rand(3)) e[':t/b'] = rand(4) - 2;
      return e;
    };
    const txs: unknown[][] = [Array.from({ length: 150 }, (_, i) => entity(i))];
    for (let k = 0; k < 40; k++) {
      const ref = [':t/id', rand(150)];
      const change = [
        [':db/retractEntity', ref],
        [':db/add', ref, ':t/a', text()],
        [':db/retract', ref, ':t/b', rand(4) - 2],
        [':db/add', ref, ':t/kw', kw()],
      ];
      txs.push(rand(2) ? [change[rand(4)]] : [entity(1000 + k)]);
    }
    return txs;
  }

  it('holds the same datoms as format 5, in the query order, after the same transactions, a rebuild, and a reopen', async () => {
    const dirs = [path.join(tempDir(), 'f5'), path.join(tempDir(), 'f6')];
    const conns = [await open({ path: dirs[0]!, createFormat: 5, noSync: true }), await open({ path: dirs[1]!, createFormat: 6, noSync: true })];
    const [f5, f6] = conns as [Awaited<ReturnType<typeof open>>, Awaited<ReturnType<typeof open>>];
    const facts = (c: typeof f5, attr: string) => [...c.db().datoms('aevt', Keyword.of(attr))].map((d) => `${d.e} ${printEdn(d.v as never)}`).sort();
    try {
      expect(f6.store.format).toBe(6);
      for (const c of conns) await c.transact(schema);
      for (const tx of workload(11)) {
        const outcomes = await transactOnEach(conns, tx);
        expect(outcomes[1]).toBe(outcomes[0]);
      }
      for (const attr of ['t/pair', 't/kw', 't/a+b']) {
        expect(facts(f6, attr)).toEqual(facts(f5, attr));
        // AVET in the query's order: by value, then entity; tuples over 1 KB printed after the others
        const avet = [...f6.db().datoms('avet', Keyword.of(attr))];
        const long = (v: unknown) => Buffer.byteLength(printEdn(v as never)) > 1024;
        const short = avet.filter((d) => !long(d.v));
        // (values the query compares equal, as -0.0 and 0.0, side by side in either order)
        short.slice(1).forEach((d, i) => {
          const order = compareValues(short[i]!.v, d.v);
          expect(order).toBeLessThanOrEqual(0);
          if (printEdn(short[i]!.v as never) === printEdn(d.v as never)) expect(short[i]!.e).toBeLessThan(d.e);
        });
        expect(avet.slice(short.length).every((d) => long(d.v))).toBe(true);
      }
      expect([...f6.db().datoms('avet', Keyword.of('t/pair'))].some((d) => Buffer.byteLength(printEdn(d.v as never)) > 1024)).toBe(true);
      const before = ['eavt', 'aevt', 'avet'].map((i) => f6.store.dumpIndex(i as 'eavt', 'current'));
      await f6.rebuildIndexes();
      expect(['eavt', 'aevt', 'avet'].map((i) => f6.store.dumpIndex(i as 'eavt', 'current'))).toEqual(before);
    } finally {
      for (const c of conns) await c.close();
    }
    const reopened = await open({ path: dirs[1]! });
    try {
      expect(reopened.store.format).toBe(6);
      await reopened.transact([{ ':t/id': 5000, ':t/pair': [['A', -0]] }]);
      expect(q('[:find ?e . :where [?e :t/pair ["A" -0.0]]]', reopened.db())).toBe(reopened.db().entid([Keyword.of('t/id'), 5000]));
    } finally {
      await reopened.close();
    }
  });
});

describe('a new database', () => {
  // A bootstrap packed into runs would flag every index as holding runs, and every later small
  // transaction would then pay a seek per key (add-5 at half its speed).
  it('holds its bootstrap key by key: no index is marked as holding runs', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir });
    await conn.transact([{ 'db/ident': ':p/name', 'db/valueType': ':db.type/string', 'db/cardinality': ':db.cardinality/one' }]);
    await conn.close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), readOnly: true, maxDbs: 32 });
    const meta = env.openDB('meta', {});
    const flagged = [...meta.getKeys()].map(String).filter((k) => k.startsWith('runs:'));
    await env.close();
    expect(flagged).toEqual([]);
  });
});
