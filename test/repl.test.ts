// The REPL driven through piped stdin (no terminal): multi-line input, time context, errors.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../src/index.js';
import { inputState, complete, variablesIn } from '../src/repl/input.js';
import { cleanupTempDirs, factlog, tempDir } from './helpers/cli.js';

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

  it('runs multi-line queries, switches time context, survives errors, keeps history', async () => {
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
    expect(r.code).toBe(0);
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
    const lines = fs.readFileSync(history, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('[:find ?n ?q :where [?e :item/name ?n] [?e :item/qty ?q]]');
    expect(lines.at(-1)).toBe('.exit');
  });

  it('refuses a missing database', async () => {
    const r = await factlog(['repl', '--db', path.join(dir, 'none')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no factlog database/);
  });
});
