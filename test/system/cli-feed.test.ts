// End-to-end: replicate and backup/restore through the real executable.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backup, open, restore } from '../../src/index.js';
import { BIN, cleanupTempDirs, factlog, ROOT, tempDir } from '../helpers/cli.js';

afterAll(cleanupTempDirs);

describe('factlog replicate / backup / restore', () => {
  it('replicates a database, catches up after more writes, and the replica answers the same', async () => {
    const root = tempDir();
    const db = path.join(root, 'primary');
    const replica = path.join(root, 'replica');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    for (const n of [1, 2, 3]) {
      expect((await factlog(['transact', '--db', db, `[{:acct/name "a${n}" :acct/n ${n}}]`])).code).toBe(0);
    }
    const first = await factlog(['replicate', '--from', db, '--to', replica]);
    expect(first.code, first.stderr).toBe(0);
    // t 0 (the bootstrap) to t 3: 4 transactions copied
    expect(first.stdout).toMatch(/^replica .* at t 3 \(4 transactions in [\d.]+ s\)\n$/);
    expect((await factlog(['transact', '--db', db, `[{:acct/name "a4" :acct/n 4}]`])).code).toBe(0);
    expect((await factlog(['replicate', '--from', db, '--to', replica])).stdout).toMatch(/at t 4 \(1 transaction in /);
    expect((await factlog(['replicate', '--from', db, '--to', replica])).stdout).toMatch(/up to date/);
    const query = `[:find ?n ?v :where [?e :acct/name ?n] [?e :acct/n ?v]]`;
    for (const asOf of ['2', '4']) {
      const [p, r] = await Promise.all([
        factlog(['query', '--db', db, '--as-of', asOf, '--format', 'json', query]),
        factlog(['query', '--db', replica, '--as-of', asOf, '--format', 'json', query]),
      ]);
      expect(r.stdout).toBe(p.stdout);
      expect(p.stdout.length).toBeGreaterThan(2);
    }
    const refused = await factlog(['transact', '--db', replica, `[{:acct/name "x"}]`]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/read replica/);
  });

  it('checks --from before creating anything at --to', async () => {
    const root = tempDir();
    const replica = path.join(root, 'replica');
    const r = await factlog(['replicate', '--from', path.join(root, 'typo'), '--to', replica]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: no factlog database at .*typo.*\[cli\/no-database\]\n$/);
    expect(fs.existsSync(replica)).toBe(false);
  });

  it('counts every transaction a fresh replica copies', async () => {
    const root = tempDir();
    const db = path.join(root, 'primary');
    const conn = await open({ path: db });
    for (let i = 0; i < 12; i++) await conn.transact(`[{:acct/name "a${i}"}]`);
    await conn.close();
    const r = await factlog(['replicate', '--from', db, '--to', path.join(root, 'replica')]);
    expect(r.stdout).toMatch(/at t 12 \(13 transactions in /);
  });

  it('backs up and restores', async () => {
    const root = tempDir();
    const db = path.join(root, 'db');
    await factlog(['init', '--db', db]);
    await factlog(['transact', '--db', db, `[{:acct/name "saved"}]`]);
    const b = await factlog(['backup', '--db', db, path.join(root, 'bk')]);
    expect(b.code, b.stderr).toBe(0);
    const again = await factlog(['backup', '--db', db, path.join(root, 'bk')]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not empty/);
    expect((await factlog(['restore', path.join(root, 'bk'), path.join(root, 'restored')])).code).toBe(0);
    const q = await factlog(['query', '--db', path.join(root, 'restored'), '--format', 'json', '[:find [?n ...] :where [_ :acct/name ?n]]']);
    expect(JSON.parse(q.stdout)).toEqual(['saved']);
  });
});

describe('factlog replicate from a primary whose history was replaced', () => {
  /** A primary at t 10, and in a side directory its backup from t 5 restored and written to t 13. */
  async function primaryAndReplacement(root: string): Promise<{ db: string; side: string }> {
    const db = path.join(root, 'primary');
    const conn = await open({ path: db });
    for (let i = 0; i < 5; i++) await conn.transact([{ 'acct/name': `kept${i}` }]);
    await backup(db, path.join(root, 'bk'));
    for (let i = 0; i < 5; i++) await conn.transact([{ 'acct/name': `lost${i}` }]);
    await conn.close();
    const side = path.join(root, 'side');
    await restore(path.join(root, 'bk'), side);
    const other = await open({ path: side });
    for (let i = 0; i < 8; i++) await other.transact([{ 'acct/name': `other${i}` }]);
    await other.close();
    return { db, side };
  }

  function swapInto(side: string, db: string): void {
    fs.renameSync(db, `${db}.old`);
    fs.renameSync(side, db);
  }

  it('refuses to catch up with a coded error and leaves the replica as it was', async () => {
    const root = tempDir();
    const { db, side } = await primaryAndReplacement(root);
    const replica = path.join(root, 'replica');
    expect((await factlog(['replicate', '--from', db, '--to', replica])).stdout).toMatch(/at t 10 /);
    swapInto(side, db);
    const r = await factlog(['replicate', '--from', db, '--to', replica]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*t=10.*\[feed\/diverged\]\n$/);
    const q = await factlog(['query', '--db', replica, '--format', 'json', '[:find (count ?e) . :where [?e :acct/name]]']);
    expect(q.stdout.trim()).toBe('10');
  });

  it('a history that differs only at t 7 of 10 is refused, the message naming t=7', async () => {
    const root = tempDir();
    const write = async (dir: string, names: string[]) => {
      const conn = await open({ path: dir });
      for (const [i, name] of names.entries()) {
        const instant = new Date(Date.UTC(2020, 0, 1) + (i + 1) * 1000).toISOString();
        await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "${instant}"} {:acct/name "${name}"}]`);
      }
      await conn.close();
    };
    const names = Array.from({ length: 10 }, (_, i) => `n${i + 1}`);
    const db = path.join(root, 'primary');
    await write(db, names);
    const replica = path.join(root, 'replica');
    expect((await factlog(['replicate', '--from', db, '--to', replica])).stdout).toMatch(/at t 10 /);
    const side = path.join(root, 'side');
    await write(side, [...names.slice(0, 6), 'changed', ...names.slice(7), 'n11', 'n12']);
    swapInto(side, db);
    const r = await factlog(['replicate', '--from', db, '--to', replica]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: .*differ from t=7 on.*\[feed\/diverged\]\n$/);
    const q = await factlog(['query', '--db', replica, '--format', 'json', '[:find (count ?e) . :where [?e :acct/name]]']);
    expect(q.stdout.trim()).toBe('10');
  });

  it('--follow stops with a coded error when the primary is replaced under it', async () => {
    const root = tempDir();
    const { db, side } = await primaryAndReplacement(root);
    const replica = path.join(root, 'replica');
    const child = spawn(process.execPath, [BIN, 'replicate', '--from', db, '--to', replica, '--follow'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const reached10 = new Promise<void>((resolve) =>
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
        if (/up to t 10\n/.test(stderr)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await reached10;
    swapInto(side, db);
    const code = await Promise.race([exited, new Promise<'still running'>((r) => setTimeout(() => r('still running'), 10_000))]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/\[feed\/diverged\]\n$/);
  });
});
