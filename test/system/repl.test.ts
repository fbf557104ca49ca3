// The REPL driven through piped stdin (no terminal): multi-line input, time context, errors.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { inputState, complete, variablesIn } from '../../src/repl/input.js';
import { cleanupTempDirs, factlog, tempDir } from '../helpers/cli.js';

afterAll(cleanupTempDirs);

describe('repl input helpers', () => {
  it('knows when a form is complete, ignoring brackets in strings, comments and chars', () => {
    expect(inputState('[:find ?x')).toBe('incomplete');
    expect(inputState('[:find ?x :where [?x :a "]"]]')).toBe('complete');
    expect(inputState('[:find ?x ; a comment ]\n')).toBe('incomplete');
    expect(inputState('[\\] \\[]')).toBe('complete');
    expect(inputState('"open string')).toBe('incomplete');
    expect(inputState('[1]]')).toBe('unbalanced');
    expect(inputState('.as-of 2025-01-01')).toBe('complete');
  });

  it('completes dot-commands, idents and variables', () => {
    const c = { commands: ['.as-of', '.since', '.schema'], idents: [':person/name', ':person/age'], variables: variablesIn('[:find ?name ?age') };
    expect(complete('.s', c)).toEqual([['.schema', '.since'], '.s']);
    expect(complete('[?e :person/n', c)).toEqual([[':person/name'], ':person/n']);
    expect(complete('[?e :person/name ?n', c)).toEqual([['?name'], '?n']);
  });
});

describe('factlog repl', () => {
  let dir: string;
  let db: string;

  beforeAll(async () => {
    dir = tempDir('factlog-repl-');
    db = path.join(dir, 'db');
    const conn = await open({ path: db });
    await conn.transact(`[{:db/ident :item/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :item/qty :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"}]`);
    await conn.transact('[{:item/name "apple" :item/qty 3} {:db/id "datomic.tx" :db/txInstant #inst "2025-02-01T00:00:00Z"}]');
    await conn.transact('[{:item/name "apple" :item/qty 5} {:item/name "pear" :item/qty 1} {:db/id "datomic.tx" :db/txInstant #inst "2025-03-01T00:00:00Z"}]');
    await conn.close();
  });

  it('runs multi-line queries, switches time context, survives errors (exit code 1), keeps no history', async () => {
    const history = path.join(dir, 'history');
    const input = [
      '[:find ?n ?q',
      ' :where [?e :item/name ?n]',
      '        [?e :item/qty ?q]]',
      '.as-of 2025-02-15',
      '[:find ?n ?q :where [?e :item/name ?n] [?e :item/qty ?q]]',
      '[:find ?n :where [?e :item/name ?n] [?e :item/qty ?q ?x ?y ?z ?w]]',
      '.nonsense',
      '.now',
      '.tx [{:item/name "plum" :item/qty 7}]',
      '[:find (count ?e) . :where [?e :item/name]]',
      '.pull [:item/qty] [:item/name "plum"]',
      '.schema',
      '.timing',
      '[:find ?q . :where [?e :item/name "pear"] [?e :item/qty ?q]]',
      '.exit',
      '[:find ?never :where [?never :item/name]]',
    ].join('\n');
    const r = await factlog(['repl', '--db', db], { input, env: { FACTLOG_HISTORY: history } });
    expect(r.code).toBe(1); // two entries failed
    const out = r.stdout;
    // the multi-line query: current quantities
    expect(out).toMatch(/\?n\s+\| \?q\n-+\+-+\napple \|\s+5\npear\s+\|\s+1\n2 rows \(\d/);
    // as of mid-February only the first apple existed
    expect(out).toMatch(/as-of t 2 \(tx 1099511627778/);
    expect(out).toMatch(/apple \|\s+3\n1 row \(/);
    // errors are reported on stderr, one line each, and the session goes on
    const errors = r.stderr.trim().split('\n');
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^error: .*at most 5 terms.*\[query\/syntax\]$/);
    expect(errors[1]).toMatch(/^error: unknown command \.nonsense .*\[repl\/unknown-command\]$/);
    expect(out).toMatch(/now: t 3/);
    expect(out).toMatch(/\{:t 4, :tx 1099511627780/);
    expect(out).toMatch(/\(count \?e\)\n-+\n\s*3\n1 row/);
    expect(out).toContain('{:item/qty 7}');
    expect(out).toMatch(/:item\/name \| string \| one\s+\| identity/);
    expect(out).toMatch(/timing off\n\?q\n-+\n\s*1\n1 row\n/);
    expect(out).not.toContain('?never');
    // a piped session is a script, not history: only terminal sessions write the history file (repl-tty.test.ts)
    expect(fs.existsSync(history)).toBe(false);
  });

  it('searches a :db/fulltext attribute now and as of before, and lists it in .schema', async () => {
    const input = [
      '.tx [{:db/ident :item/note :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/fulltext true}]',
      '.tx [{:db/id "kiwi" :item/note "Fresh green fruit"}]',
      '.tx [[:db/add 1001 :item/note "Ripe brown fruit"]]',
      '[:find ?e ?note :where [(fulltext $ :item/note "green") [[?e ?note]]]]',
      '[:find ?e ?note :where [(fulltext $ :item/note "fru*") [[?e ?note]]]]',
      '.as-of 1099511627778',
      '[:find ?e ?note :where [(fulltext $ :item/note "green") [[?e ?note]]]]',
      '.schema',
    ].join('\n');
    const ftDb = path.join(dir, 'fulltext-db');
    await (await open({ path: ftDb })).close();
    const r = await factlog(['repl', '--db', ftDb], { input, env: { FACTLOG_HISTORY: path.join(dir, 'history-ft') } });
    expect(r.stderr).toBe('');
    const tables = r.stdout.split(/\n(?=\?e)/);
    expect(tables[1]).toMatch(/^\?e\s+\| \?note\n-+\+-+\n0 rows/);
    expect(tables[2]).toMatch(/1001 \| Ripe brown fruit\n1 row/);
    expect(tables[3]).toMatch(/1001 \| Fresh green fruit\n1 row/);
    expect(r.stdout).toMatch(/:item\/note \| string \| one\s+\|\s+\| fulltext/);
  });

  it('skips comment and #_ lines, runs two forms on a line in order, exits 0 when nothing failed', async () => {
    const history = path.join(dir, 'history-2');
    const input = [
      ';; quantities now',
      '#_[:find ?x :where [?x :item/name]]',
      '   ; indented comment',
      '[:find ?q . :where [?e :item/name "pear"] [?e :item/qty ?q]] #_ignored [:find (count ?e) . :where [?e :item/name]]',
      '.tx [{:db/id -1 :item/name "fig" :item/qty 2}]',
    ].join('\n');
    const ok = await factlog(['repl', '--db', db], { input, env: { FACTLOG_HISTORY: history } });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^\?q\n-+\n\s*1\n1 row \([^)]*\)\n\(count \?e\)\n-+\n\s*3\n1 row/);
    expect(ok.stdout).toMatch(/:tempids \{-1 \d+\}/);
    expect(fs.existsSync(history)).toBe(false);

    const [badDate, twoForms, unfinished] = await Promise.all([
      factlog(['repl', '--db', db], { input: '.as-of 2025-02-30\n', env: { FACTLOG_HISTORY: history } }),
      factlog(['repl', '--db', db], { input: '[:find ?x :where [?x :item/name]] [:find ?y]\n', env: { FACTLOG_HISTORY: history } }),
      factlog(['repl', '--db', db], { input: '[:find ?x\n', env: { FACTLOG_HISTORY: history } }),
    ]);
    expect(badDate.code).toBe(1);
    expect(badDate.stderr).toMatch(/^error: invalid date: "2025-02-30" .*\[cli\/invalid-date\]\n$/);
    expect(twoForms.code).toBe(1);
    expect(twoForms.stdout).toMatch(/4 rows/); // the first form ran
    expect(twoForms.stderr.trim().split('\n')).toHaveLength(1);
    expect(unfinished.code).toBe(1);
    expect(unfinished.stderr).toMatch(/incomplete input discarded/);
  });

  it('.timeout MS stops a long query with query/timeout; .timeout 0 lifts it', async () => {
    const long = '[:find (count ?y) . :where [(range 3000) [?x ...]] [(range 3000) [?y ...]] [(< ?x ?y)]]';
    const input = ['.timeout', '.timeout 100', long, '.timeout 0', '[:find (count ?e) . :where [?e :item/name]]'].join('\n');
    const t0 = performance.now();
    const r = await factlog(['repl', '--db', db], { input });
    expect(r.stdout).toMatch(/query timeout: 60,000 ms/);
    expect(r.stdout).toMatch(/query timeout: 100 ms/);
    expect(r.stderr.trim()).toMatch(/^error: .*timeout of 100 ms.*\[query\/timeout\]$/);
    expect(r.stdout).toMatch(/query timeout: none\n\(count \?e\)\n-+\n\s+\d+\n1 row/);
    expect(r.code).toBe(1);
    expect(performance.now() - t0).toBeLessThan(15_000);
  });

  it('refuses a missing database', async () => {
    const r = await factlog(['repl', '--db', path.join(dir, 'none')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no factlog database/);
  });
});
