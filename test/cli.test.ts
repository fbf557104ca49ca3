// End-to-end tests of the `factlog` executable: real child processes on temp databases.
// Needs a fresh dist/ (globalSetup test/helpers/build-setup.ts, or `npm run build` first).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../src/index.js';
import { q } from '../src/query/index.js';
import { FORMAT_VERSION } from '../src/storage/store.js';
import { cleanupTempDirs, factlog, tempDir } from './helpers/cli.js';

afterAll(cleanupTempDirs);

const SCHEMA = `[
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/age   :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :person/friend :db/valueType :db.type/ref   :db/cardinality :db.cardinality/many}
 {:db/ident :tx/who :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"}]`;

const PEOPLE = `[{:db/id "ann" :person/email "ann@x" :person/name "Ann" :person/age 30}
 {:db/id "bob" :person/email "bob@x" :person/name "Bob" :person/age 40 :person/friend "ann"}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-02-01T00:00:00Z" :tx/who "seed"}]`;

const AGES = '[:find ?n ?a :where [?e :person/name ?n] [?e :person/age ?a]]';

describe('factlog CLI on one database', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = tempDir();
    db = path.join(dir, 'db');
    fs.writeFileSync(path.join(dir, 'schema.edn'), SCHEMA);
    fs.writeFileSync(path.join(dir, 'people.edn'), PEOPLE);
  });

  it('init creates a database with a schema; init again leaves it alone', async () => {
    const r = await factlog(['init', '--db', db, '--schema', path.join(dir, 'schema.edn')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created database at .*db.*t 1/);
    const again = await factlog(['init', '--db', db]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('transact from a file, an argument and stdin (FACTLOG_DB names the database)', async () => {
    const env = { FACTLOG_DB: db };
    const fromFile = await factlog(['transact', '-f', path.join(dir, 'people.edn')], { env });
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toMatch(/^\{:t 2, :tx 1099511627778, :tempids \{"ann" \d+, "bob" \d+\}/);
    const fromArg = await factlog(['transact', '[[:db/add [:person/email "ann@x"] :person/age 31] {:db/id "datomic.tx" :db/txInstant #inst "2025-03-01T00:00:00Z"}]'], { env });
    expect(fromArg.stdout).toMatch(/^\{:t 3, /);
    const fromStdin = await factlog(['transact', '-'], {
      env,
      input: '[[:db/retract [:person/email "bob@x"] :person/age 40]\n {:db/id "datomic.tx" :db/txInstant #inst "2025-04-01T00:00:00Z" :tx/who "cleanup"}]',
    });
    expect(fromStdin.code).toBe(0);
    expect(fromStdin.stdout).toMatch(/^\{:t 4, /);
  });

  it('query now, as of a date, as of a t, with inputs, json, limit, explain', async () => {
    const [now, asOfDate, asOfT, json, limited, explained, history] = await Promise.all([
      factlog(['query', '--db', db, AGES]),
      factlog(['query', '--db', db, '--as-of', '2025-02-15', '--format', 'table', AGES]),
      factlog(['query', '--db', db, '--as-of', String(2 ** 40 + 2), AGES]),
      factlog(['query', '--db', db, '--format', 'json', '[:find ?n :in $ ?email :where [?e :person/email ?email] [?e :person/name ?n]]', '"bob@x"']),
      factlog(['query', '--db', db, '--limit', '1', '[:find ?n :where [?e :person/name ?n]]']),
      factlog(['query', '--db', db, '--explain', AGES]),
      factlog(['query', '--db', db, '--history', '[:find ?a ?added :where [?e :person/email "ann@x"] [?e :person/age ?a ?tx ?added]]']),
    ]);
    expect(now.stdout).toBe('[["Ann" 31]]\n');
    expect(asOfDate.stdout).toMatch(/\?n\s+\| \?a/);
    expect(asOfDate.stdout).toMatch(/Ann \| 30/);
    expect(asOfDate.stdout).toMatch(/Bob \| 40/);
    expect(asOfDate.stdout).toMatch(/2 rows/);
    expect(asOfT.stdout.split('\n').filter(Boolean).sort()).toEqual(['[["Ann" 30]', ' ["Bob" 40]]'].sort());
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toEqual([['Bob']]);
    expect(limited.stdout.match(/\[".*?"\]/g)).toHaveLength(1);
    expect(limited.stderr).toMatch(/showing 1 of 2/);
    expect(explained.stdout).toMatch(/index=/);
    expect(explained.stdout).toMatch(/total: .*ms/);
    expect(history.stdout).toContain('[30 true]');
    expect(history.stdout).toContain('[30 false]');
    expect(history.stdout).toContain('[31 true]');
  });

  it('pull, entity (by lookup ref, as of), history, diff, log, datoms', async () => {
    const [pulled, entity, hist, diff, log, logJson, datoms] = await Promise.all([
      factlog(['pull', '--db', db, '[:person/name {:person/friend [:person/name]}]', '[:person/email "bob@x"]']),
      factlog(['entity', '--db', db, '--as-of', '2025-02-15', '[:person/email "ann@x"]']),
      factlog(['history', '--db', db, '--format', 'json', '[:person/email "ann@x"]', '--attr', ':person/age']),
      factlog(['diff', '--db', db, '2025-02-15', '2025-04-15', '--format', 'json']),
      factlog(['log', '--db', db]),
      factlog(['log', '--db', db, '--from', '2025-02-15', '--to', '3', '--format', 'json']),
      factlog(['datoms', '--db', db, 'avet', ':person/email', '"ann@x"', '--format', 'edn']),
    ]);
    expect(pulled.stdout.trim()).toBe('{:person/name "Bob", :person/friend [{:person/name "Ann"}]}');
    expect(entity.stdout).toMatch(/:person\/age 30/);
    const rows = hist.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.t, r.op, r.value])).toEqual([
      [2, 'assert', 30],
      [3, 'retract', 30],
      [3, 'assert', 31],
    ]);
    expect(rows[0].instant).toBe('2025-02-01T00:00:00.000Z');
    expect(rows[0]['tx-meta']).toEqual({ 'tx/who': 'seed' });
    const changes = diff.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(changes.map((c) => [c.op, c.attr, c.value]).sort()).toEqual(
      [
        ['+', ':person/age', 31],
        ['+', ':tx/who', 'cleanup'],
        ['-', ':person/age', 30],
        ['-', ':person/age', 40],
      ].sort(),
    );
    expect(diff.stderr).toMatch(/2 added, 2 retracted/);
    const lines = log.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^\{:t 2, :tx 1099511627778, :db\/txInstant #inst "2025-02-01T00:00:00.000Z", :datoms \[/);
    expect(logJson.stdout.trim().split('\n').map((l) => JSON.parse(l).t)).toEqual([3]);
    expect(datoms.stdout).toMatch(/^\{:e \d+, :a :person\/email, :v "ann@x", :tx 1099511627778, :added true\}$/m);
  });

  it('stats and rebuild', async () => {
    const stats = await factlog(['stats', '--db', db, '--format', 'json']);
    const s = JSON.parse(stats.stdout);
    expect(s.transactions).toBe(5);
    expect(s['basis-t']).toBe(4);
    expect(s['first-tx-instant']).toBe('2025-01-01T00:00:00.000Z');
    expect(s['last-tx-instant']).toBe('2025-04-01T00:00:00.000Z');
    expect(s.attributes[':person/age']).toBe(1);
    expect(s.indexes.eavt).toBeGreaterThan(0);
    expect(s['size-bytes']).toBeGreaterThan(0);
    expect(s['log-file-bytes']).toBeGreaterThan(16); // the header and the records
    expect(s['storage-format']).toBe(FORMAT_VERSION);
    const rebuild = await factlog(['rebuild', '--db', db]);
    expect(rebuild.code).toBe(0);
    expect(rebuild.stdout).toMatch(/rebuilt indexes from 5 transactions/);
    const after = await factlog(['query', '--db', db, '--as-of', '2025-02-15', AGES]);
    expect(after.stdout).toContain('["Ann" 30]');
  });

  it('reports bad input with a one-line message and exit code 1', async () => {
    const [edn, tx, date, entity, badIndex] = await Promise.all([
      factlog(['query', '--db', db, '[:find ?n :where\n  [?e :person/name ?n']),
      factlog(['transact', '--db', db, '[{:person/age "old"}]']),
      factlog(['query', '--db', db, '--as-of', 'last tuesday', AGES]),
      factlog(['entity', '--db', db, '[:person/email "nobody@x"]']),
      factlog(['datoms', '--db', db, 'xyz']),
    ]);
    for (const r of [edn, tx, date, entity, badIndex]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^error: /);
    }
    expect(edn.stderr).toMatch(/at 2:22/);
    expect(edn.stderr).toContain('[edn/syntax]');
    expect(edn.stderr).toContain('[?e :person/name ?n');
    expect(tx.stderr).toContain('{:person/age "old"}');
    expect(tx.stderr).toMatch(/\(at 1:2\)/);
    expect(date.stderr).toMatch(/invalid date: "last tuesday"/);
    expect(entity.stderr).toMatch(/no entity matches/);
    expect(badIndex.stderr).toMatch(/unknown index xyz/);
  });
});

describe('factlog CLI errors without a database', () => {
  it('unknown command, unknown option, missing database (not created)', async () => {
    const dir = tempDir();
    const missing = path.join(dir, 'nothing-here');
    const [cmd, opt, noDb, noDbQuery] = await Promise.all([
      factlog(['frobnicate']),
      factlog(['stats', '--db', missing, '--bogus']),
      factlog(['stats', '--db', missing]),
      factlog(['query', '[:find ?e :where [?e :a]]'], { env: { FACTLOG_DB: missing } }),
    ]);
    expect(cmd.code).not.toBe(0);
    expect(cmd.stderr).toMatch(/unknown command 'frobnicate'/);
    expect(opt.code).not.toBe(0);
    expect(opt.stderr).toMatch(/unknown option '--bogus'/);
    for (const r of [noDb, noDbQuery]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: no factlog database at .*nothing-here/);
    }
    expect(fs.existsSync(missing)).toBe(false);
  });
});

describe('export / import', () => {
  const TXS = [
    `[{:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :p/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
      {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
      {:db/ident :p/born :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}
      {:db/ident :p/uid :db/valueType :db.type/uuid :db/cardinality :db.cardinality/one}
      {:db/ident :p/big :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}
      {:db/ident :p/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
      {:db/ident :p/point :db/valueType :db.type/tuple :db/tupleType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/ident :p/status :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
      {:db/ident :status/active} {:db/ident :status/away}
      {:db/ident :p/email+name :db/valueType :db.type/tuple :db/tupleAttrs [:p/email :p/name] :db/cardinality :db.cardinality/one}
      {:db/id "datomic.tx" :db/txInstant #inst "2024-01-01T00:00:00Z"}]`,
    `[{:db/id "a" :p/email "ann@x" :p/name "Ann" :p/tags [:admin :dev] :p/born #inst "1990-05-01T00:00:00Z"
       :p/uid #uuid "6f1c2a4e-1b2c-4d5e-8f90-123456789abc" :p/big 123456789012345678901234567890N :p/score 1.5
       :p/point [1 2] :p/status :status/active}
      {:db/id "b" :p/email "bob@x" :p/name "Bob" :p/friend ["a"] :nick "bobby" :p/big 12N :p/score 2.0}
      {:db/id "datomic.tx" :db/txInstant #inst "2024-02-01T00:00:00Z" :tx/who "seed" :tx/source :import}]`,
    `[[:db/add [:p/email "ann@x"] :p/name "Anna"] [:db/retract [:p/email "ann@x"] :p/tags :dev]
      [:db/add [:p/email "bob@x"] :p/status :status/away] [:db/add [:p/email "bob@x"] :nick "b"]
      {:db/id "datomic.tx" :db/txInstant #inst "2024-03-01T00:00:00Z" :tx/who "fix"}]`,
    `[{:db/id "c" :p/email "cy@x" :p/name "Cy" :p/friend [[:p/email "ann@x"] [:p/email "bob@x"]]}
      [:db/retractEntity [:p/email "bob@x"]]
      {:db/id "datomic.tx" :db/txInstant #inst "2024-04-01T00:00:00Z"}]`,
    `[[:db/add [:p/email "ann@x"] :p/email "ann@y"] {:db/id "datomic.tx" :db/txInstant #inst "2024-04-01T00:00:00Z" :tx/who "move"}]`,
  ];
  // id-free views of a database value, compared at every t
  const QUERIES = [
    '[:find ?email ?name :where [?e :p/email ?email] [?e :p/name ?name]]',
    '[:find ?email ?tag :where [?e :p/email ?email] [?e :p/tags ?tag]]',
    '[:find ?email ?f :where [?e :p/email ?email] [?e :p/friend ?x] [?x :p/name ?f]]',
    '[:find ?email ?born ?uid ?big ?score ?point :where [?e :p/email ?email] [?e :p/born ?born] [?e :p/uid ?uid] [?e :p/big ?big] [?e :p/score ?score] [?e :p/point ?point]]',
    '[:find ?email ?big ?score :where [?e :p/email ?email] [?e :p/big ?big] [?e :p/score ?score]]',
    '[:find ?email ?s :where [?e :p/email ?email] [?e :p/status ?st] [?st :db/ident ?s]]',
    '[:find ?n :where [?e :nick ?n]]',
    '[:find ?who ?inst :where [?tx :tx/who ?who] [?tx :db/txInstant ?inst]]',
    '[:find ?src :where [?tx :tx/source ?src]]',
    '[:find (count ?e) . :where [?e :p/name]]',
    '[:find ?t :where [?e :p/email+name ?t]]',
  ];

  const canon = (x: unknown) =>
    JSON.stringify(x, (_k, v) => (typeof v === 'bigint' ? `${v}N` : v instanceof Date ? v.toISOString() : v && typeof v === 'object' && !Array.isArray(v) && 'fqn' in v ? `:${v.fqn}` : v));

  for (const format of ['jsonl', 'edn'] as const) {
    it(`reproduces every past state (${format})`, async () => {
      const dir = tempDir();
      const src = path.join(dir, 'src');
      const dst = path.join(dir, 'dst');
      const conn = await open({ path: src });
      for (const tx of TXS) await conn.transact(tx);
      await conn.close();

      const exported = await factlog(['export', '--db', src, '--format', format]);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toMatch(/exported 5 transactions/);
      const file = path.join(dir, `dump.${format}`);
      fs.writeFileSync(file, exported.stdout);
      expect(exported.stdout.trim().split('\n')).toHaveLength(5);

      // import refuses a missing database, then works into a new one
      const noDb = await factlog(['import', '--db', dst, file]);
      expect(noDb.code).toBe(1);
      expect((await factlog(['init', '--db', dst])).code).toBe(0);
      const imported = await factlog(['import', '--db', dst, file]);
      expect(imported.stderr).toMatch(/imported 5 transactions/);
      expect(imported.code).toBe(0);
      const [logA, logB, again] = await Promise.all([
        factlog(['log', '--db', src, '--from', '0', '--format', 'json']),
        factlog(['log', '--db', dst, '--from', '0', '--format', 'json']),
        factlog(['import', '--db', dst, file]),
      ]);
      const instants = (text: string) => text.trim().split('\n').map((l) => [JSON.parse(l).t, JSON.parse(l).txInstant]);
      expect(instants(logB.stdout)).toEqual(instants(logA.stdout));
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/not empty/);

      const a = await open({ path: src, create: false });
      const b = await open({ path: dst, create: false });
      try {
        expect(b.db().basisT).toBe(a.db().basisT);
        for (let t = 0; t <= a.db().basisT; t++) {
          for (const query of QUERIES) {
            const ra = q(query, a.db().asOf(t));
            const rb = q(query, b.db().asOf(t));
            const sort = (r: unknown) => (Array.isArray(r) ? r.map(canon).sort() : canon(r));
            expect(sort(rb), `t ${t}: ${query}`).toEqual(sort(ra));
          }
        }
      } finally {
        await a.close();
        await b.close();
      }
    });
  }
});

describe('factlog demo', () => {
  it('creates, recreates its own database, refuses a foreign one', async () => {
    const dir = tempDir();
    const first = await factlog(['demo'], { cwd: dir });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/balances as of 2025-01-15/);
    expect(first.stdout).toMatch(/Alice\s+\| A-1\s+\|\s+1000/);
    expect(first.stdout).toMatch(/balances now[\s\S]*Alice\s+\| A-1\s+\|\s+600/);
    expect(fs.existsSync(path.join(dir, 'factlog-data', '.factlog-demo'))).toBe(true);
    const foreign = path.join(dir, 'mine');
    const [second, refused] = await Promise.all([
      factlog(['demo'], { cwd: dir }),
      factlog(['init', '--db', foreign]).then(() => factlog(['demo', '--db', foreign])),
    ]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/t 6/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing/);
  });
});
