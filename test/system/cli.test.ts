// End-to-end tests of the `factlog` executable: real child processes on temp databases.
// Needs a fresh dist/ (globalSetup test/helpers/build-setup.ts, or `npm run build` first).
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { q } from '../../src/query/index.js';
import { FORMAT_VERSION } from '../../src/storage/store.js';
import { displayWidth, escapeControls } from '../../src/cli/format.js';
import { decodeJsonValue } from '../../src/cli/json-values.js';
import { BIN, cleanupTempDirs, factlog, ROOT, tempDir, type RunResult } from '../helpers/cli.js';
import { PERSON } from '../helpers/schemas.js';

afterAll(cleanupTempDirs);

const SCHEMA = `[
 ${PERSON.email}
 ${PERSON.name}
 ${PERSON.age}
 ${PERSON.friend}
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
    const rows = hist.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => [r.t, r.op, r.value])).toEqual([
      [2, 'assert', 30],
      [3, 'retract', 30],
      [3, 'assert', 31],
    ]);
    expect(rows[0].instant).toEqual({ '#inst': '2025-02-01T00:00:00.000Z' });
    expect(rows[0]['tx-meta']).toEqual({ 'tx/who': 'seed' });
    const changes = diff.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(changes.map((c) => [c.op, `:${c.attr['#kw']}`, c.value]).sort()).toEqual(
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
    expect(
      logJson.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).t),
    ).toEqual([3]);
    expect(datoms.stdout).toMatch(/^\{:e \d+, :a :person\/email, :v "ann@x", :tx 1099511627778, :added true\}$/m);
  });

  it('stats and rebuild', async () => {
    const stats = await factlog(['stats', '--db', db, '--format', 'json']);
    const s = JSON.parse(stats.stdout);
    expect(s.transactions).toBe(5);
    expect(s['basis-t']).toBe(4);
    expect(s['first-tx-instant']).toEqual({ '#inst': '2025-01-01T00:00:00.000Z' });
    expect(s['last-tx-instant']).toEqual({ '#inst': '2025-04-01T00:00:00.000Z' });
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

  it('refuses impossible dates everywhere and reads a time without a zone as UTC', async () => {
    const [feb30, apr31, h24, diff, log, noZone, withZone] = await Promise.all([
      factlog(['query', '--db', db, '--as-of', '2025-02-30', AGES]),
      factlog(['query', '--db', db, '--as-of', '2025-04-31', AGES]),
      factlog(['query', '--db', db, '--as-of', '2025-02-15T24:00:00Z', AGES]),
      factlog(['diff', '--db', db, '2025-02-30', '2025-03-15']),
      factlog(['log', '--db', db, '--from', '2025-04-31']),
      // 20:00 in New York is already March 1st in UTC, after Ann turned 31
      factlog(['query', '--db', db, '--as-of', '2025-02-28T20:00', AGES], { env: { TZ: 'America/New_York' } }),
      factlog(['query', '--db', db, '--as-of', '2025-02-28T20:00-05:00', AGES], { env: { TZ: 'UTC' } }),
    ]);
    for (const [r, input] of [
      [feb30, '2025-02-30'],
      [apr31, '2025-04-31'],
      [h24, '2025-02-15T24:00:00Z'],
      [diff, '2025-02-30'],
      [log, '2025-04-31'],
    ] as const) {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^error: invalid date: .*\[cli\/invalid-date\]\n$/);
      expect(r.stderr).toContain(JSON.stringify(input));
    }
    expect(noZone.stdout).toContain('["Ann" 30]');
    expect(withZone.stdout).toContain('["Ann" 31]');
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

  it('names and quotes the argument an EDN syntax error is in; refuses --limit on a single value', async () => {
    const byEmail = '[:find ?n . :in $ ?email :where [?e :person/email ?email] [?e :person/name ?n]]';
    const [input, pattern, entity, component, limit, limitTuple] = await Promise.all([
      factlog(['query', '--db', db, byEmail, '"ann@x']),
      factlog(['pull', '--db', db, '[:person/name', '[:person/email "ann@x"]']),
      factlog(['entity', '--db', db, '[:person/email "ann@x"']),
      factlog(['datoms', '--db', db, 'avet', ':person/email', '"ann@x']),
      factlog(['query', '--db', db, '--limit', '0', '--format', 'edn', byEmail, '"ann@x"']),
      factlog(['query', '--db', db, '--limit', '1', '[:find [?n ?a] :where [?e :person/name ?n] [?e :person/age ?a]]']),
    ]);
    for (const r of [input, pattern, entity, component, limit, limitTuple]) {
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(input.stderr).toMatch(/^error: input 1 \(for \?email\) "\\"ann@x": .*\[edn\/syntax\]$/m);
    expect(input.stderr).not.toContain(':find');
    expect(pattern.stderr).toMatch(/^error: pattern "\[:person\/name": /);
    expect(entity.stderr).toMatch(/^error: entity "\[:person\/email \\"ann@x\\"": /);
    expect(component.stderr).toMatch(/^error: component 2 "\\"ann@x": /);
    expect(limit.stderr).toMatch(/--limit applies to queries that return rows.*\[cli\/limit-not-applicable\]/);
    expect(limitTuple.stderr).toContain('[cli/limit-not-applicable]');
  });
});

describe('full-text search from the command line', () => {
  it('query with fulltext, a bad search refused with its code, and an import that indexes', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const dst = path.join(dir, 'dst');
    const schema = path.join(dir, 'schema.edn');
    fs.writeFileSync(schema, '[{:db/ident :note/text :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/fulltext true}]');
    expect((await factlog(['init', '--db', src, '--schema', schema])).code).toBe(0);
    expect((await factlog(['transact', '--db', src, '[{:note/text "Buy fresh bread"} {:note/text "Call the bakery about bread"} {:note/text "Water plants"}]'])).code).toBe(0);
    const SEARCH = '[:find ?text ?score :in $ ?search :where [(fulltext $ :note/text ?search) [[_ ?text _ ?score]]]]';
    const found = await factlog(['query', '--db', src, '--format', 'json', SEARCH, '"+bread -bakery"']);
    expect(found.stderr).toBe('');
    expect((JSON.parse(found.stdout) as [string, number][]).map(([text]) => text)).toEqual(['Buy fresh bread']);
    const bad = await factlog(['query', '--db', src, SEARCH, '"bread AND water"']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[query\/invalid-fulltext\]/);
    const exported = await factlog(['export', '--db', src]);
    const file = path.join(dir, 'dump.edn');
    fs.writeFileSync(file, exported.stdout);
    expect((await factlog(['init', '--db', dst])).code).toBe(0);
    expect((await factlog(['import', '--db', dst, file])).code).toBe(0);
    const imported = await factlog(['query', '--db', dst, '--format', 'json', SEARCH, '"plant*"']);
    expect((JSON.parse(imported.stdout) as [string, number][]).map(([text]) => text)).toEqual(['Water plants']);
    const reader = await open({ path: dst, readOnly: true });
    expect(reader.store.fulltext.indexedThrough()).toBe(reader.db().basisT); // indexed by the import's commits
    await reader.close();
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

describe('usage errors carry a code', () => {
  it('unknown option and command, invalid choice, missing argument or option, extra arguments: one coded line, exit 1', async () => {
    const cases: [string[], RegExp][] = [
      [['stats', '--bogus'], /^error: unknown option '--bogus'.* \[cli\/unknown-option\]\n$/],
      [['frobnicate'], /^error: unknown command 'frobnicate'.* \[cli\/unknown-command\]\n$/],
      [['query', '--format', 'xml', '[:find ?e :where [?e :a]]'], /^error: option '--format <format>' argument 'xml' is invalid\..* \[cli\/invalid-argument\]\n$/],
      [['pull'], /^error: missing required argument 'pattern' \[cli\/missing-argument\]\n$/],
      [['query', '--limit'], /^error: option '--limit <n>' argument missing \[cli\/missing-argument\]\n$/],
      [['replicate', '--from', 'x'], /^error: required option '--to <dir>' not specified \[cli\/missing-option\]\n$/],
      [['init', 'extra'], /^error: too many arguments for 'init'.* \[cli\/too-many-arguments\]\n$/],
    ];
    const results = await Promise.all(cases.map(([args]) => factlog(args)));
    results.forEach((r, i) => {
      expect(r.stderr, cases[i]![0].join(' ')).toMatch(cases[i]![1]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
    });
  });

  it('--help and --version still exit 0', async () => {
    const [help, version, subHelp] = await Promise.all([factlog(['--help']), factlog(['--version']), factlog(['import', '--help'])]);
    for (const r of [help, version, subHelp]) {
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
    }
    expect(help.stdout).toMatch(/^Usage: factlog/);
    expect(version.stdout.trim()).toBe('0.1.0');
    expect(subHelp.stdout).toMatch(/^Usage: factlog import/);
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
      {:db/id "d" :p/email "dee@x"}
      {:db/id "datomic.tx" :db/txInstant #inst "2024-04-01T00:00:00Z"}]`,
    // composite tuples with a missing part (nil): Dee never had a name, Cy loses hers
    `[[:db/add [:p/email "ann@x"] :p/email "ann@y"] [:db/retract [:p/email "cy@x"] :p/name "Cy"]
      {:db/id "datomic.tx" :db/txInstant #inst "2024-04-01T00:00:00Z" :tx/who "move"}]`,
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
      expect(exported.stdout).toContain(format === 'jsonl' ? '["dee@x",null]' : '["dee@x" nil]');
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
      const instants = (text: string) =>
        text
          .trim()
          .split('\n')
          .map((l) => [JSON.parse(l).t, JSON.parse(l).txInstant]);
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

  it('bigdec, float, uri and bytes values survive export and import (jsonl and edn), and print as EDN and JSON (issue 21)', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const conn = await open({ path: src });
    await conn.transact(`[{:db/ident :v/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :v/dec :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/many}
      {:db/ident :v/rate :db/valueType :db.type/float :db/cardinality :db.cardinality/one}
      {:db/ident :v/home :db/valueType :db.type/uri :db/cardinality :db.cardinality/one}
      {:db/ident :v/key :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one}]`);
    await conn.transact(`[{:v/id "a" :v/dec [1.50M 1.5M -0.001M 1.5E+2M] :v/rate 0.1 :v/home #uri "https://example.com/a?b" :v/key #bytes "AAEC/w=="}]`);
    await conn.transact(`[[:db/retract [:v/id "a"] :v/dec 1.5M] [:db/add [:v/id "a"] :v/key #bytes "AQ=="]]`);
    await conn.close();
    const PULL = '[:find (pull ?e [:v/dec :v/rate :v/home :v/key]) . :where [?e :v/id "a"]]';
    const edn = await factlog(['query', '--db', src, '--format', 'edn', PULL]);
    expect(edn.stdout).toContain('#uri "https://example.com/a?b"');
    expect(edn.stdout).toContain('#bytes "AQ=="');
    expect(edn.stdout).toMatch(/:v\/dec \[(\S+M ?){3}\]/);
    expect(edn.stdout).toContain('1.50M');
    const json = await factlog(['query', '--db', src, '--format', 'json', '[:find [?d ...] :where [_ :v/dec ?d]]']);
    expect(new Set((JSON.parse(json.stdout) as unknown[]).map((v) => JSON.stringify(v)))).toEqual(new Set(['{"#bigdec":"1.50"}', '{"#bigdec":"-0.001"}', '{"#bigdec":"1.5E+2"}']));
    for (const format of ['jsonl', 'edn'] as const) {
      const dst = path.join(dir, `dst-${format}`);
      const exported = await factlog(['export', '--db', src, '--format', format]);
      expect(exported.code).toBe(0);
      const file = path.join(dir, `dump.${format}`);
      fs.writeFileSync(file, exported.stdout);
      expect((await factlog(['init', '--db', dst])).code).toBe(0);
      const imported = await factlog(['import', '--db', dst, file]);
      expect(imported.stderr).toMatch(/imported 3 transactions/);
      for (const asOf of [[], ['--as-of', String(2 ** 40 + 2)]]) {
        const [a, b] = await Promise.all([factlog(['query', '--db', src, '--format', 'edn', ...asOf, PULL]), factlog(['query', '--db', dst, '--format', 'edn', ...asOf, PULL])]);
        expect(b.stdout).toBe(a.stdout);
      }
    }
  });
});

describe('import refuses malformed lines with a coded error, importing nothing', () => {
  const HEAD = '{"t":1,"tx":13194139534313,"txInstant":"2024-01-01T00:00:00.000Z","datoms":[[13194139534313,":db/txInstant",{"#inst":"2024-01-01T00:00:00.000Z"},true]]}';
  const datomLine = (t: number, value: string) => `{"t":${t},"tx":${13194139534312 + t},"txInstant":"2024-01-0${t}T00:00:00.000Z","datoms":[[1001,":a",${value},true]]}`;

  /** Import `lines` into a new database: the result, and the database's t after it. */
  async function importLines(lines: string[], env: Record<string, string> = {}): Promise<{ r: RunResult; t: number }> {
    const dir = tempDir();
    const file = path.join(dir, 'in.jsonl');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const db = path.join(dir, 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const r = await factlog(['import', '--db', db, file], { env });
    const stats = await factlog(['stats', '--db', db, '--format', 'json']);
    return { r, t: JSON.parse(stats.stdout)['basis-t'] };
  }

  function expectRefused(r: RunResult, pattern: RegExp): void {
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }

  it('a line longer than the limit: cli/line-too-long with its number and the limit', async () => {
    const long = datomLine(2, JSON.stringify('x'.repeat(3 * 1024 * 1024)));
    const [tooLong, fits] = await Promise.all([
      importLines([HEAD, long, datomLine(3, '1')], { FACTLOG_IMPORT_MAX_LINE_BYTES: String(1024 * 1024) }),
      importLines([HEAD, long, datomLine(3, '1')]),
    ]);
    expectRefused(tooLong.r, /^error: line 2 is longer than 1048576 bytes, the most import reads \(FACTLOG_IMPORT_MAX_LINE_BYTES\); nothing imported.* \[cli\/line-too-long\]$/m);
    expect(tooLong.t).toBe(0);
    expect(fits.r.stderr).toMatch(/imported 3 transactions/);
    expect(fits.t).toBe(3);
  });

  it('a malformed tagged value or a deeply nested line: cli/import naming the line', async () => {
    let deep = '1';
    for (let i = 0; i < 20_000; i++) deep = `{"#tuple":[${deep}]}`;
    const cases: [string, RegExp][] = [
      ['{"#bigint":"12abc"}', /^error: line 2: invalid #bigint "12abc".*; nothing imported.*\[cli\/import\]$/m],
      [deep, /^error: line 2: a value nested deeper than 100 levels.*; nothing imported.*\[cli\/import\]$/m],
      ['{"#double":"abc"}', /^error: line 2: invalid #double "abc".*; nothing imported.*\[cli\/import\]$/m],
      ['{"#uuid":"nope"}', /^error: line 2: invalid #uuid "nope".*; nothing imported.*\[cli\/import\]$/m],
      ['{"#ref":"x"}', /^error: line 2: invalid #ref "x".*; nothing imported.*\[cli\/import\]$/m],
      ['{"#kw":"a","#sym":"b"}', /^error: line 2: an untagged object.*; nothing imported.*\[cli\/import\]$/m],
    ];
    const results = await Promise.all(cases.map(([value]) => importLines([HEAD, datomLine(2, value)])));
    results.forEach(({ r, t }, i) => {
      expectRefused(r, cases[i]![1]);
      expect(t).toBe(0);
    });
  }, 180_000);
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
    expect(first.stdout).toMatch(/factlog serve --db factlog-data/);
    const foreign = path.join(dir, 'mine');
    const [second, refused] = await Promise.all([factlog(['demo'], { cwd: dir }), factlog(['init', '--db', foreign]).then(() => factlog(['demo', '--db', foreign]))]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/t 6/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refusing/);
  });
});

describe('import is all or nothing', () => {
  it('a bad line after several committed batches leaves the database empty, and the import can be rerun', async () => {
    const dir = tempDir();
    const src = path.join(dir, 'src');
    const conn = await open({ path: src, noSync: true });
    await conn.transact('[{:db/ident :n/i :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    for (let i = 0; i < 599; i++) await conn.transact(`[{:n/i ${i}}]`);
    await conn.close();
    const exported = await factlog(['export', '--db', src]);
    const lines = exported.stdout.trim().split('\n');
    expect(lines).toHaveLength(600);
    // line 590 gives a long attribute a string: only transacting it finds that out, after 2 batches of 256
    const bad = JSON.parse(lines[589]!);
    bad.datoms[0][2] = 'not a number';
    const good = path.join(dir, 'good.jsonl');
    const broken = path.join(dir, 'broken.jsonl');
    fs.writeFileSync(good, exported.stdout);
    fs.writeFileSync(broken, [...lines.slice(0, 589), JSON.stringify(bad), ...lines.slice(590)].join('\n') + '\n');

    const dst = path.join(dir, 'dst');
    expect((await factlog(['init', '--db', dst])).code).toBe(0);
    const failed = await factlog(['import', '--db', dst, broken]);
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toMatch(/^error: line 590 \(t 590\): .*not a number.*; nothing imported, the database is as it was \(t 0\) \[cli\/import\]$/m);
    const stats = JSON.parse((await factlog(['stats', '--db', dst, '--format', 'json'])).stdout);
    expect(stats['basis-t']).toBe(0);
    expect(stats.attributes[':n/i']).toBeUndefined();

    const retried = await factlog(['import', '--db', dst, good]);
    expect(retried.stderr).toMatch(/imported 600 transactions/);
    expect(retried.code).toBe(0);
    const count = await factlog(['query', '--db', dst, '[:find (count ?e) . :where [?e :n/i]]']);
    expect(count.stdout.trim()).toBe('599');
  });
});

describe('init --schema with a schema that does not transact', () => {
  it('removes what init created, so that init can be run again', async () => {
    const dir = tempDir();
    const bad = path.join(dir, 'bad.edn');
    const good = path.join(dir, 'good.edn');
    fs.writeFileSync(bad, '[{:db/ident :a/b :db/valueType :db.type/nope :db/cardinality :db.cardinality/one}]');
    fs.writeFileSync(good, '[{:db/ident :a/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    const fresh = path.join(dir, 'new', 'db');
    const failed = await factlog(['init', '--db', fresh, '--schema', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: schema not transacted, no database created: .*:db\.type\/nope.*\[tx\/unknown-ident\]$/m);
    expect(fs.existsSync(path.join(dir, 'new'))).toBe(false);
    // an empty directory that was there before stays, empty
    const existing = path.join(dir, 'existing');
    fs.mkdirSync(existing);
    expect((await factlog(['init', '--db', existing, '--schema', bad])).code).toBe(1);
    expect(fs.readdirSync(existing)).toEqual([]);
    const retried = await factlog(['init', '--db', fresh, '--schema', good]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/created database at .*t 1/);
  });
});

describe('output details', () => {
  it('tables escape control characters and align wide characters', async () => {
    expect(displayWidth('abc')).toBe(3);
    expect(displayWidth('日本語')).toBe(6);
    expect(displayWidth('ｶﾀｶﾅ')).toBe(4); // halfwidth katakana
    expect(displayWidth('ＡＢ')).toBe(4); // fullwidth latin
    expect(displayWidth('😀')).toBe(2);
    expect(displayWidth('👍🏽')).toBe(2);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('한국')).toBe(4);
    expect(escapeControls('a\tb\r\n\u0001\u001b[31m\u007f')).toBe('a\\tb\\r\\n\\u0001\\u001b[31m\\u007f');

    const db = path.join(tempDir(), 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const names = ['日本語', 'a\tb\u0001\u001b[31mred', '😀 ok', 'e\u0301', 'plain'];
    const tx = '[' + names.map((n, i) => `{:w/name ${JSON.stringify(n)} :w/k ${i}}`).join(' ') + ']';
    expect((await factlog(['transact', '--db', db, tx])).code).toBe(0);
    const r = await factlog(['query', '--db', db, '--format', 'table', '[:find ?n ?k :where [?e :w/name ?n] [?e :w/k ?k]]']);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    const escaped = 'a\\tb\\u0001\\u001b[31mred';
    const w = escaped.length; // the widest cell
    const row = (name: string, width: number, k: number) => `${name}${' '.repeat(w - width)} |  ${k}`;
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.slice(0, 2)).toEqual([`?n${' '.repeat(w - 2)} | ?k`, `${'-'.repeat(w)}-+---`]);
    expect(lines.slice(2, 7).sort()).toEqual([row('日本語', 6, 0), row(escaped, w, 1), row('😀 ok', 5, 2), row('e\u0301', 1, 3), row('plain', 5, 4)].sort());
  });

  it('stats tables are apart, :keys headers show without rows, a numeric tempid prints as given', async () => {
    const db = path.join(tempDir(), 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const neg = await factlog(['transact', '--db', db, '[{:db/id -1 :w/name "neg"} {:db/id "s" :w/name "str"}]']);
    expect(neg.stdout).toMatch(/:tempids \{-1 \d+, "s" \d+\}/);
    const [stats, keys] = await Promise.all([
      factlog(['stats', '--db', db, '--format', 'table']),
      factlog(['query', '--db', db, '--format', 'table', '[:find ?n ?e :keys name id :where [?e :w/name ?n] [?e :w/name "nobody"]]']),
    ]);
    expect(stats.stdout).toMatch(/storage-format +\| \d+\n\nindex +\| datoms\n/);
    expect(stats.stdout).toMatch(/\n\nattribute +\| datoms\n/);
    expect(keys.stdout).toBe('name | id\n-----+---\n0 rows\n');
  });

  it('--format json prints values that look alike apart, tagged as export writes them', async () => {
    const db = path.join(tempDir(), 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const inputs =
      '[9007199254740993N "9007199254740993" :k/w ":k/w" k/w "k/w" 5N "5" -0.0 ##NaN "NaN" ##Inf [1 nil] "[1 nil]"' +
      ' #inst "2024-01-01T00:00:00Z" "2024-01-01T00:00:00.000Z" #uuid "6f1c2a4e-1b2c-4d5e-8f90-123456789abc" "6f1c2a4e-1b2c-4d5e-8f90-123456789abc"]';
    const r = await factlog(['query', '--db', db, '--format', 'json', '[:find [?v ...] :in $ [?v ...]]', inputs]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed: unknown[] = JSON.parse(r.stdout);
    expect(printed).toHaveLength(18);
    expect(new Set(printed.map((p) => JSON.stringify(p))).size).toBe(18);
    expect(printed).toContainEqual({ '#bigint': '9007199254740993' });
    expect(printed).toContainEqual({ '#kw': 'k/w' });
    expect(printed).toContainEqual({ '#sym': 'k/w' });
    expect(printed).toContainEqual({ '#double': '-0' });
    expect(printed).toContainEqual({ '#tuple': [1, null] });
    const back = printed.map((p) => decodeJsonValue(p).v);
    expect(back).toContainEqual(9007199254740993n);
    expect(back.filter((v) => Object.is(v, -0))).toHaveLength(1);
  });
});

// Root ignores file modes: as root the commands run as nobody (setpriv, util-linux) or not at all.
const isRoot = process.getuid?.() === 0;
const hasSetpriv = isRoot && spawnSync('setpriv', ['--version']).status === 0;
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

/**
 * bin/factlog.js where nobody can run it: the checkout's own when nobody may enter every folder
 * above it, else a copy of what the CLI runs (bin, dist, the production packages) in a folder
 * nobody can read, so the test passes wherever the checkout lives (a home directory, mktemp -d).
 */
let binForNobody: string | undefined;
function reachableBin(): string {
  if (binForNobody) return binForNobody;
  const canRun = (bin: string) => spawnSync(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), process.execPath, bin, '--version']).status === 0;
  if (!isRoot || canRun(BIN)) return (binForNobody = BIN);
  const copy = tempDir('factlog-cli-copy-');
  fs.chmodSync(copy, 0o755);
  for (const part of ['bin', 'package.json', 'dist/src', 'dist/query-lang']) fs.cpSync(path.join(ROOT, part), path.join(copy, part), { recursive: true });
  const packages = spawnSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\n');
  for (const dir of packages.filter((p) => p.startsWith(path.join(ROOT, 'node_modules') + path.sep))) {
    fs.cpSync(dir, path.join(copy, path.relative(ROOT, dir)), { recursive: true });
  }
  const bin = path.join(copy, 'bin', 'factlog.js');
  if (!canRun(bin)) throw new Error(`nobody cannot run the copy of factlog at ${bin} either`);
  return (binForNobody = bin);
}

/** `factlog ...args` as an ordinary user. */
function factlogAsUser(args: string[], input = ''): Promise<RunResult> {
  const via = isRoot ? AS_NOBODY : undefined;
  return factlog(args, { input, env: { FACTLOG_HISTORY: '/dev/null' }, via, bin: reachableBin() });
}

describe.skipIf(isRoot && !hasSetpriv)('a database directory this process may not write', () => {
  it('read commands open it read-only; init below it says why it cannot', async () => {
    const root = tempDir();
    const db = path.join(root, 'db');
    const conn = await open({ path: db });
    await conn.transact(`[{:db/ident :ro/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/id "datomic.tx" :db/txInstant #inst "2024-01-01T00:00:00Z"}]`);
    await conn.transact('[{:ro/name "kept" :ro/n 1} {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"}]');
    await conn.close();
    const copy = path.join(root, 'copy');
    fs.cpSync(db, copy, { recursive: true });
    const chmodAll = (mode: number) => {
      for (const name of fs.readdirSync(copy)) fs.chmodSync(path.join(copy, name), mode & 0o444);
      fs.chmodSync(copy, mode);
    };
    fs.chmodSync(root, 0o755);
    chmodAll(0o555);
    try {
      const query = '[:find ?n . :where [?e :ro/name ?n]]';
      const results = await Promise.all([
        factlogAsUser(['query', '--db', copy, query]),
        factlogAsUser(['query', '--db', copy, '--as-of', '2025-06-01', query]),
        factlogAsUser(['pull', '--db', copy, '[*]', '[:ro/name "kept"]']),
        factlogAsUser(['entity', '--db', copy, '[:ro/name "kept"]']),
        factlogAsUser(['history', '--db', copy, '--format', 'edn', '[:ro/name "kept"]']),
        factlogAsUser(['diff', '--db', copy, '0', '2']),
        factlogAsUser(['log', '--db', copy]),
        factlogAsUser(['datoms', '--db', copy, 'aevt', ':ro/name']),
        factlogAsUser(['export', '--db', copy]),
        factlogAsUser(['stats', '--db', copy, '--format', 'json']),
        factlogAsUser(['repl', '--db', copy], `${query}\n`),
      ]);
      for (const r of results) {
        expect(r.stderr).not.toMatch(/error/);
        expect(r.code).toBe(0);
      }
      expect(results[0]!.stdout).toBe('"kept"\n');
      expect(results[10]!.stdout).toMatch(/kept\n1 row/);
      const refused = await factlogAsUser(['transact', '--db', copy, '[{:ro/n 2}]']);
      expect(refused.code).toBe(1);
      const init = await factlogAsUser(['init', '--db', path.join(copy, 'sub', 'db')]);
      expect(init.code).toBe(1);
      expect(init.stderr).toMatch(/^error: cannot create a database at .*sub.*EACCES.*\[cli\/cannot-create\]$/m);
    } finally {
      chmodAll(0o755);
      fs.chmodSync(root, 0o700);
    }
  });
});

describe('backup and restore of damaged or partial copies', () => {
  async function sourceDb(dir: string): Promise<string> {
    const src = path.join(dir, 'src');
    const conn = await open({ path: src });
    for (let i = 0; i < 10; i++) await conn.transact(Array.from({ length: 60 }, (_, j) => ({ 'item/name': `item ${i}-${j}` })));
    await conn.close();
    return src;
  }

  // before: restore copied a truncated backup (or died copying it) and the copy crashed on query
  it('restore refuses a truncated backup with storage/damaged-file and creates nothing', async () => {
    const dir = tempDir();
    const backupDir = path.join(dir, 'backup');
    expect((await factlog(['backup', '--db', await sourceDb(dir), backupDir])).code).toBe(0);
    const file = path.join(backupDir, 'factlog.mdb');
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    const restored = path.join(dir, 'restored');
    const r = await factlog(['restore', backupDir, restored]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: .*backup.factlog\.mdb is damaged: it is shorter than its header says .*\[storage\/damaged-file\]$/m);
    expect(fs.existsSync(restored)).toBe(false);
  });

  // A file-size limit (ulimit -f, SIGXFSZ ignored) fails the copy's writes with EFBIG, as a full
  // disk fails them with ENOSPC, through the same code path (test/feed.test.ts mounts a full tmpfs).
  it('a backup that cannot be written whole: storage/backup-failed, no factlog.mdb at the target, restore refuses it', async () => {
    const dir = tempDir();
    const src = await sourceDb(dir);
    const target = path.join(dir, 'backup');
    const limited = ['bash', '-c', 'trap "" XFSZ; ulimit -f 64; exec "$@"', 'bash'];
    const r = await factlog(['backup', '--db', src, target], { via: limited });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: the backup to .*backup failed, nothing was kept: .*\[storage\/backup-failed\]$/m);
    expect(fs.existsSync(target)).toBe(false);
    fs.mkdirSync(target);
    const again = await factlog(['backup', '--db', src, target], { via: limited });
    expect(again.code).toBe(1);
    expect(fs.readdirSync(target)).toEqual([]);
    const restore = await factlog(['restore', target, path.join(dir, 'restored')]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/\[storage\/no-database\]$/m);
  });
});

describe('init and the commands on what is not a whole factlog database', () => {
  const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

  // before: "database already exists at ...; nothing done", exit 0
  it("init on random bytes, on another program's LMDB file, on a truncated database: exit 1, coded, untouched", async () => {
    const random = tempDir();
    fs.writeFileSync(path.join(random, 'factlog.mdb'), crypto.randomBytes(64 * 1024));
    const foreign = tempDir();
    const env = openLmdb({ path: path.join(foreign, 'factlog.mdb'), maxDbs: 2 });
    await env.openDB('theirs', {}).put('key', 'value');
    await env.close();
    const truncated = path.join(tempDir(), 'db');
    const conn = await open({ path: truncated });
    for (let i = 0; i < 10; i++) await conn.transact(Array.from({ length: 60 }, (_, j) => ({ 'item/name': `item ${i}-${j}` })));
    await conn.close();
    fs.truncateSync(path.join(truncated, 'factlog.mdb'), Math.floor(fs.statSync(path.join(truncated, 'factlog.mdb')).size / 2));
    for (const [dir, code] of [
      [random, 'storage/not-a-database'],
      [foreign, 'storage/not-a-database'],
      [truncated, 'storage/damaged-file'],
    ] as const) {
      const before = digest(path.join(dir, 'factlog.mdb'));
      const r = await factlog(['init', '--db', dir]);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`^error: .*factlog\\.mdb (is not|is damaged|is an LMDB file of another program).*\\[${code}\\]$`, 'm'));
      expect(r.stdout).toBe('');
      expect(digest(path.join(dir, 'factlog.mdb'))).toBe(before);
    }
  });

  /** A database of two transactions from which factlog.mdb (the indexes) was removed: only factlog.log is left. */
  async function logOnly(): Promise<string> {
    const dir = path.join(tempDir(), 'db');
    expect((await factlog(['init', '--db', dir])).code).toBe(0);
    expect((await factlog(['transact', '--db', dir, '[{:db/id "a" :w/name "kept"}]'])).code).toBe(0);
    for (const name of fs.readdirSync(dir)) if (name.startsWith('factlog.mdb')) fs.rmSync(path.join(dir, name));
    expect(fs.readdirSync(dir)).toEqual(['factlog.log']);
    return dir;
  }

  // before: init said "created database" while bringing the old transactions back; query said
  // "no factlog database ... run init"
  it('a directory holding only factlog.log: init creates nothing and says so; a command rebuilds the indexes and says so', async () => {
    const dir = await logOnly();
    const init = await factlog(['init', '--db', dir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toBe('');
    expect(init.stderr).toMatch(
      /^a factlog database already exists at .*: its log \(factlog\.log\) is there but its indexes \(factlog\.mdb\) are missing; .*`factlog rebuild --db .*`.*nothing done/m,
    );
    expect(fs.readdirSync(dir)).toEqual(['factlog.log']);
    const query = await factlog(['query', '--db', dir, '[:find ?n . :where [_ :w/name ?n]]']);
    expect(query.code, query.stderr).toBe(0);
    expect(query.stdout).toBe('"kept"\n');
    expect(query.stderr).toMatch(/^factlog\.mdb was missing: rebuilt the indexes of .* from factlog\.log \(t 1\)$/m);
    const again = await factlog(['query', '--db', dir, '[:find ?n . :where [_ :w/name ?n]]']);
    expect(again.stderr).toBe('');
  });

  it.skipIf(isRoot && !hasSetpriv)('indexes missing and no write access: the CLI says to run `factlog rebuild`, not to call open()', async () => {
    const dir = await logOnly();
    fs.chmodSync(path.dirname(dir), 0o755);
    fs.chmodSync(path.join(dir, 'factlog.log'), 0o444);
    fs.chmodSync(dir, 0o555);
    try {
      const r = await factlogAsUser(['query', '--db', dir, '[:find ?n . :where [_ :w/name ?n]]']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^error: the indexes of .* \(factlog\.mdb\) are missing .*run `factlog rebuild --db .*` \(as a user who may write .*\) \[storage\/needs-recovery\]$/m);
      expect(r.stderr).not.toMatch(/open\(\)|open it for writing/);
    } finally {
      fs.chmodSync(dir, 0o755);
    }
  });

  it('a log whose first record is damaged: messages in CLI terms, never "open()"', async () => {
    const dir = await logOnly();
    const log = path.join(dir, 'factlog.log');
    const bytes = fs.readFileSync(log);
    bytes[30] = bytes[30]! ^ 0xff; // inside the first record, after the 16-byte header and its frame
    fs.writeFileSync(log, bytes);
    for (const args of [['init'], ['transact', '[{:w/name "new"}]'], ['query', '[:find ?n :where [_ :w/name ?n]]']]) {
      const r = await factlog([args[0]!, '--db', dir, ...args.slice(1)]);
      expect(r.stderr).not.toMatch(/open\(\)|open it for writing/);
      if (r.code !== 0) expect(r.stderr).toMatch(/^error: .* \[[a-z-]+\/[a-z-]+\]$/m);
    }
  });
});

describe('factlog verify', () => {
  it('exits 0 with a summary on a sound database, 1 with a coded error naming the damage', async () => {
    const db = path.join(tempDir(), 'db');
    const conn = await open({ path: db });
    await conn.transact('[{:db/ident :k/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
    await conn.transact('[{:db/id "a" :k/n 41}]');
    await conn.close();
    const sound = await factlog(['verify', '--db', db]);
    expect(sound.stderr).toBe('');
    expect(sound.code).toBe(0);
    expect(sound.stdout).toMatch(/^sound: 3 transactions in the log \(checksums checked\), 3 records in factlog\.log, \d+ index keys equal to the log's replay\n$/);
    // a byte of LMDB's file flipped: t 2's txInstant in the log table
    const file = path.join(db, 'factlog.mdb');
    const bytes = fs.readFileSync(file);
    const conn2 = await open({ path: db, readOnly: true });
    const record = Buffer.from(conn2.store.logRecordAt(2)!);
    await conn2.close();
    for (let at = bytes.indexOf(record); at !== -1; at = bytes.indexOf(record, at + 1)) bytes[at + 12] ^= 0x01; // stale copies too
    fs.writeFileSync(file, bytes);
    const damaged = await factlog(['verify', '--db', db]);
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toBe('');
    expect(damaged.stderr).toMatch(/\nerror: .*factlog\.mdb is damaged: the log record of t=2 fails its checksum.* \[storage\/mdb-damaged\]\n$/);
    const missing = await factlog(['verify', '--db', path.join(tempDir(), 'none')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/\[cli\/no-database\]/);
  });
});

describe('transaction functions and predicates from --tx-fns', () => {
  const FNS = `export default {
  txFns: {
    'bank/transfer': (db, from, to, amount) => {
      const balance = (e) => db.entity(e).get(':acct/balance');
      return [[':db/add', from, ':acct/balance', balance(from) - amount], [':db/add', to, ':acct/balance', balance(to) + amount]];
    },
  },
  predicates: { 'bank/non-negative?': (v) => v >= 0 },
};`;
  const BANK = `[{:db/ident :acct/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :acct/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db.attr/preds bank/non-negative?}]`;
  const BALANCES = '[:find ?id ?b :where [?a :acct/id ?id] [?a :acct/balance ?b]]';

  async function bankDb(): Promise<{ dir: string; db: string; fns: string }> {
    const dir = tempDir();
    const db = path.join(dir, 'db');
    const fns = path.join(dir, 'bank-fns.mjs');
    fs.writeFileSync(fns, FNS);
    fs.writeFileSync(path.join(dir, 'schema.edn'), BANK);
    expect((await factlog(['init', '--db', db, '--schema', path.join(dir, 'schema.edn')])).code).toBe(0);
    const seed = await factlog(['transact', '--db', db, '--tx-fns', fns, '[{:acct/id "a" :acct/balance 100} {:acct/id "b" :acct/balance 0}]']);
    expect(seed.stderr).toBe('');
    return { dir, db, fns };
  }

  it('transact --tx-fns calls them; without it the call and the predicate are refused, coded, nothing written', async () => {
    const { db, fns } = await bankDb();
    const ok = await factlog(['transact', '--db', db, '--tx-fns', fns, '[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 30]]']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^\{:t 3, /);
    const overdraw = await factlog(['transact', '--db', db, '--tx-fns', fns, '[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 500]]']);
    expect(overdraw.code).toBe(1);
    expect(overdraw.stderr).toMatch(/:acct\/balance value -430 fails predicate bank\/non-negative\? .*\[tx\/attr-pred-failed\]/);
    const unknown = await factlog(['transact', '--db', db, '[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 1]]']);
    expect(unknown.stderr).toMatch(/no transaction function of that name is registered .*\[tx\/unknown-operation\]/);
    const unchecked = await factlog(['transact', '--db', db, '[[:db/add [:acct/id "a"] :acct/balance 1]]']);
    expect(unchecked.stderr).toMatch(/bank\/non-negative\? is not registered .*\[tx\/unknown-predicate\]/);
    const rows = await factlog(['query', '--db', db, '--format', 'edn', BALANCES]);
    expect(rows.stdout.trim().replace(/\s+/g, ' ')).toBe('[["a" 70] ["b" 30]]');
  });

  it('a module that cannot load or exports nothing useful: cli/tx-fns', async () => {
    const { dir, db } = await bankDb();
    const missing = await factlog(['transact', '--db', db, '--tx-fns', path.join(dir, 'nope.mjs'), '[]']);
    expect(missing.stderr).toMatch(/cannot load --tx-fns .*\[cli\/tx-fns\]/);
    fs.writeFileSync(path.join(dir, 'empty.mjs'), 'export const x = 1;');
    const empty = await factlog(['transact', '--db', db, '--tx-fns', path.join(dir, 'empty.mjs'), '[]']);
    expect(empty.stderr).toMatch(/exports no txFns or predicates .*\[cli\/tx-fns\]/);
  });

  it('repl --tx-fns: .tx calls them', async () => {
    const { dir, db, fns } = await bankDb();
    const input = `.tx [[:bank/transfer [:acct/id "a"] [:acct/id "b"] 5]]\n${BALANCES}\n`;
    const r = await factlog(['repl', '--db', db, '--tx-fns', fns], { input, env: { FACTLOG_HISTORY: path.join(dir, 'history') } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/"a"\s+\|\s+95|a\s+\|\s+95/);
  });

  it('export then import needs neither the functions nor the predicates: the log holds datoms', async () => {
    const { dir, db, fns } = await bankDb();
    await factlog(['transact', '--db', db, '--tx-fns', fns, '[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 40]]']);
    const exported = await factlog(['export', '--db', db]);
    const file = path.join(dir, 'bank.jsonl');
    fs.writeFileSync(file, exported.stdout);
    const copy = path.join(dir, 'copy');
    expect((await factlog(['init', '--db', copy])).code).toBe(0);
    const imported = await factlog(['import', '--db', copy, file]);
    expect(imported.code, imported.stderr).toBe(0);
    const rows = await factlog(['query', '--db', copy, '--format', 'edn', BALANCES]);
    expect(rows.stdout.trim().replace(/\s+/g, ' ')).toBe('[["a" 60] ["b" 40]]');
  });
});
