// Excision (offline, and on a live connection) and compaction in real processes: refused while another process has the database
// open, and a SIGKILL at any moment leaves the old database or the new, never a broken one.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { factlog } from '../helpers/cli.js';
import { runFixture } from '../helpers/proc.js';
import { tempDir } from '../helpers/tmp.js';

const SECRET = 'ZQX-killed-secret-ZQX';
const REQUEST = '[[:db/excise [:p/email "ann@x"]]]';

async function populated(): Promise<string> {
  const dir = path.join(tempDir('factlog-excise-sys-'), 'db');
  const conn = await open({ path: dir });
  await conn.transact(`[{:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
    {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
  await conn.transact(`[{:p/email "ann@x" :p/name "${SECRET}"}]`);
  for (let i = 0; i < 100; i++) await conn.transactBatch(Array.from({ length: 10 }, (_, j) => [{ ':p/email': `p${i}-${j}@x`, ':p/name': `person ${i} ${j}` }]));
  await conn.close();
  return dir;
}

function holdsSecret(dir: string): boolean {
  return fs.readdirSync(dir).some((name) => fs.statSync(path.join(dir, name)).isFile() && fs.readFileSync(path.join(dir, name)).includes(Buffer.from(SECRET)));
}

/** After a kill: the database opens and verifies, and is the old one (t, Ann) or the new (t + 1, no Ann, no secret bytes). */
async function oldOrNew(dir: string, lastT: number): Promise<'old' | 'new'> {
  const conn = await open({ path: dir });
  try {
    expect((await conn.verify()).ok).toBe(true);
    const ann = conn.db().entid('[:p/email "ann@x"]');
    if (conn.basisT === lastT) {
      expect(ann).not.toBeNull();
      return 'old';
    }
    expect(conn.basisT).toBe(lastT + 1);
    expect(ann).toBeNull();
  } finally {
    await conn.close();
  }
  expect(holdsSecret(dir)).toBe(false);
  return 'new';
}

describe('excise and compact in real processes', () => {
  it('refuse while another process has the database open, changing nothing', async () => {
    const dir = await populated();
    const holder = runFixture('excise-runner.mjs', [dir, 'hold']);
    try {
      await holder.waitForLine((l) => l === 'open');
      for (const args of [['excise', REQUEST], ['live', REQUEST], ['compact']]) {
        const run = await runFixture('excise-runner.mjs', [dir, ...args]).done;
        expect(run.code).not.toBe(0);
        expect(run.stderr).toMatch(args[0] === 'compact' ? /storage\/compact-busy/ : /storage\/excise-busy/);
      }
    } finally {
      holder.child.kill('SIGKILL');
      await holder.done;
    }
    expect(holdsSecret(dir)).toBe(true);
  });

  it.each(['excise', 'live'])('SIGKILL at any moment of an excision (%s) leaves the old database or the new', async (mode) => {
    const dir = await populated();
    const lastT = (await open({ path: dir, readOnly: true }).then(async (c) => [c.basisT, await c.close()]))[0] as number;
    const seen = new Set<string>();
    for (const delay of [0, 30, 60, 100, 150, 200, 300, 400, 600, 900]) {
      const run = runFixture('excise-runner.mjs', [dir, mode, REQUEST]);
      await run.waitForLine((l) => l === 'start');
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      await run.done;
      const outcome = await oldOrNew(dir, lastT);
      seen.add(outcome);
      if (outcome === 'new') break;
    }
    expect(seen.has('new') || seen.has('old')).toBe(true);
    // whatever the kills left, an excision run to its end removes the secret
    if (!seen.has('new')) expect((await runFixture('excise-runner.mjs', [dir, mode, REQUEST]).done).code).toBe(0);
    expect(await oldOrNew(dir, lastT)).toBe('new');
    // a kill between the swap and the clean-up leaves the emptied side directory: the next rewrite removes it
    if (fs.readdirSync(path.dirname(dir)).length > 1) expect((await runFixture('excise-runner.mjs', [dir, 'compact']).done).code).toBe(0);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['db']);
  });

  it('SIGKILL at any moment of a compaction leaves a database that opens with every fact', async () => {
    const dir = await populated();
    for (const delay of [0, 50, 100, 200, 400]) {
      const run = runFixture('excise-runner.mjs', [dir, 'compact']);
      await run.waitForLine((l) => l === 'start');
      await new Promise((r) => setTimeout(r, delay));
      run.child.kill('SIGKILL');
      await run.done;
      const conn = await open({ path: dir });
      try {
        expect((await conn.verify()).ok).toBe(true);
        expect(conn.db().entid('[:p/email "p99-9@x"]')).not.toBeNull();
      } finally {
        await conn.close();
      }
    }
  });
});

describe("factlog excise, factlog compact and the REPL's .excise", () => {
  it('excise and compact from the command line; a bad request is a coded error', async () => {
    const dir = await populated();
    const bad = await factlog(['excise', '--db', dir, '[[:db/excise :db/ident]]']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/\[tx\/excise-system-entity\]/);
    const ok = await factlog(['excise', '--db', dir, REQUEST]);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toMatch(/^excised 2 datoms from .*; the request is t \d+/);
    expect(holdsSecret(dir)).toBe(false);
    const compacted = await factlog(['compact', '--db', dir]);
    expect(compacted.stdout).toMatch(/^compacted .*: \d+ -> \d+ bytes/);
    const who = await factlog(['query', '--db', dir, '--format', 'edn', '[:find ?e . :where [_ :db/excise ?e]]']);
    expect(who.stdout.trim()).toMatch(/^\d+$/);
  });

  it(".excise in the REPL closes the session's connection, excises and reopens it", async () => {
    const dir = await populated();
    const input = [`.excise ${REQUEST}`, '[:find ?n . :where [?e :p/email "p0-0@x"] [?e :p/name ?n]]', '[:find (count ?e) . :where [?e :p/email "ann@x"]]'].join('\n');
    const r = await factlog(['repl', '--db', dir], { input, env: { FACTLOG_HISTORY: path.join(path.dirname(dir), 'history') } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/excised 2 datoms; the request is t \d+/);
    expect(r.stdout).toMatch(/person 0 0/);
    expect(holdsSecret(dir)).toBe(false);
  });
});
