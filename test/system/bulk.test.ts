// Bulk writes: Connection.transactBatch (several transactions, one LMDB commit) and the CLI
// import streaming a big export through it with a small heap.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { q } from '../../src/query/index.js';
import { BIN, cleanupTempDirs, factlog, tempDir } from '../helpers/cli.js';

afterAll(cleanupTempDirs);

const SCHEMA = `[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`;

describe('Connection.transactBatch', () => {
  it('gives each transaction its own t and report, later ones see earlier ones', async () => {
    const conn = await open({ path: path.join(tempDir('factlog-bulk-'), 'db') });
    try {
      const seen: number[] = [];
      conn.listen((r) => seen.push(r.t));
      const reports = await conn.transactBatch([
        SCHEMA,
        [{ 'db/id': 'a', name: 'Ann', age: 30 }],
        (db: any) => [{ 'db/id': 'b', name: 'Bob', friend: db.entid([':name', 'Ann']) ?? ['name', 'Ann'] }],
        [[':db/add', ['name', 'Ann'], 'age', 31]],
      ]);
      expect(reports.map((r) => r.t)).toEqual([1, 2, 3, 4]);
      expect(conn.basisT).toBe(4);
      expect(reports[1].tempids.a).toBeGreaterThan(0);
      expect(reports[3].txData.filter((d) => !d.added).map((d) => d.v)).toEqual([30]);
      expect(q('[:find ?n ?a :where [?e :name ?n] [?e :age ?a]]', conn.db())).toEqual([['Ann', 31]]);
      expect(q('[:find ?n . :where [?b :name "Bob"] [?b :friend ?f] [?f :name ?n]]', conn.db())).toBe('Ann');
      expect(q('[:find ?a . :where [?e :name "Ann"] [?e :age ?a]]', conn.db().asOf(2))).toBe(30);
      await new Promise((r) => setImmediate(r));
      expect(seen).toEqual([1, 2, 3, 4]);
    } finally {
      await conn.close();
    }
  });

  it('is all-or-nothing and says which transaction failed', async () => {
    const dir = path.join(tempDir('factlog-bulk-'), 'db');
    const conn = await open({ path: dir });
    try {
      await conn.transact(SCHEMA);
      const err = await conn.transactBatch([[{ name: 'Cy', age: 1 }], [{ name: 'Di', age: 2 }], [[':db/add', 'x', 'age', 'not a number']], [{ name: 'Ed' }]]).catch((e) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err.batchIndex).toBe(2);
      expect(conn.basisT).toBe(1);
      expect(q('[:find (count ?e) . :where [?e :name]]', conn.db())).toBe(null);
      // the connection still works, from the committed state
      const [r] = await conn.transactBatch([[{ name: 'Fay' }]]);
      expect(r.t).toBe(2);
      await conn.close();
      const again = await open({ path: dir, create: false });
      expect(again.basisT).toBe(2);
      expect(q('[:find ?n :where [_ :name ?n]]', again.db())).toEqual([['Fay']]);
      await again.close();
    } finally {
      await conn.close();
    }
  });

  it('a batch that fails leaves nothing behind for the writes committed with it', async () => {
    const conn = await open({ path: path.join(tempDir('factlog-bulk-'), 'db'), strictSchema: true });
    try {
      await conn.transact(SCHEMA);
      // queued in one turn, so they share one commit: the batch's first tx defines an attribute
      // and its second fails, and the transact behind it must see neither
      const failing = conn.transactBatch([
        `[{:db/ident :nick :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`,
        () => {
          throw new Error('second item fails');
        },
      ]);
      const usesIt = conn.transact(`[{:name "Gus" :nick "g"}]`);
      const plain = conn.transact(`[{:name "Hal"}]`);
      await expect(failing).rejects.toMatchObject({ batchIndex: 1 });
      await expect(usesIt).rejects.toMatchObject({ code: 'tx/unknown-attribute' });
      expect((await plain).t).toBe(2);
      expect(conn.db().attr('nick')).toBeUndefined();
      expect([...conn.log().txRange()].map((tx) => tx.t)).toEqual([0, 1, 2]);
    } finally {
      await conn.close();
    }
  });
});

/** An export file of `lines` transactions after the schema, `perTx` people each. */
function writeExport(file: string, lines: number, perTx: number): number {
  const fd = fs.openSync(file, 'w');
  const TX = 2 ** 40;
  const inst = (t: number) => new Date(Date.UTC(2024, 0, 1) + t * 1000).toISOString();
  // the schema line comes from a real export (see below); this writes the people
  let datoms = 0;
  let e = 1010;
  for (let t = 2; t < lines + 2; t++) {
    const ds: unknown[] = [];
    for (let i = 0; i < perTx; i++, e++) {
      ds.push([e, ':name', `person-${e}-${'x'.repeat(40)}`, true], [e, ':age', e % 90, true], [e, ':sex', { '#kw': e % 2 ? 'male' : 'female' }, true]);
      if (e > 1010) ds.push([e, ':friend', { '#ref': e - 1 }, true]);
    }
    datoms += ds.length;
    fs.writeSync(fd, JSON.stringify({ t, tx: TX + t, txInstant: inst(t), datoms: ds }) + '\n');
  }
  fs.closeSync(fd);
  return datoms;
}

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/**
 * An export file: the schema transaction from a real export (so its idents and ids are the real
 * ones), then `txs` transactions of `perTx` datoms. Returns the file and how many datoms it adds.
 */
async function exportWithSchema(dir: string, txs: number, perTx: number): Promise<{ file: string; datoms: number }> {
  const src = path.join(dir, 'src');
  const conn = await open({ path: src });
  await conn.transact(SCHEMA);
  await conn.close();
  const head = await factlog(['export', '--db', src]);
  expect(head.code).toBe(0);
  const file = path.join(dir, 'big.jsonl');
  const body = path.join(dir, 'body.jsonl');
  const datoms = writeExport(body, txs, perTx);
  fs.writeFileSync(file, head.stdout);
  fs.appendFileSync(file, fs.readFileSync(body));
  return { file, datoms };
}

describe('factlog import (bulk)', () => {
  it('streams a big export with a small heap and reproduces it', async () => {
    const dir = tempDir('factlog-bulk-');
    const lines = 2200;
    const perTx = 100;
    const { file, datoms } = await exportWithSchema(dir, lines, perTx);
    expect(fs.statSync(file).size).toBeGreaterThan(30 * 1024 * 1024);
    const dst = path.join(dir, 'dst');
    expect((await factlog(['init', '--db', dst])).code).toBe(0);
    const started = Date.now();
    const res = await run(['--max-old-space-size=48', BIN, 'import', '--db', dst, file]);
    const ms = Date.now() - started;
    expect(res.stderr).toMatch(new RegExp(`imported ${lines + 1} transactions`));
    expect(res.code).toBe(0);
    console.log(`imported ${datoms} datoms in ${ms} ms (${Math.round((datoms / ms) * 1000)} datoms/s)`);
    const db = await open({ path: dst, create: false });
    try {
      const now = db.db();
      expect(now.basisT).toBe(lines + 1);
      const people = lines * perTx;
      expect(q('[:find (count ?e) . :where [?e :name]]', now)).toBe(people);
      expect(q('[:find (count ?e) . :where [?e :friend]]', now)).toBe(people - 1);
      const last = 1010 + people - 1;
      expect(
        q(`[:find ?a ?s ?fn :where [?e :name "person-${last}-${'x'.repeat(40)}"] [?e :age ?a] [?e :sex ?s] [?e :friend ?f] [?f :name ?fn]]`, now).map((r: any[]) => [
          r[0],
          String(r[1]),
          r[2],
        ]),
      ).toEqual([[last % 90, ':' + (last % 2 ? 'male' : 'female'), `person-${last - 1}-${'x'.repeat(40)}`]]);
    } finally {
      await db.close();
    }
  }, 60_000);

  it('names the failing line and commits nothing of its batch', async () => {
    const dir = tempDir('factlog-bulk-');
    const src = path.join(dir, 'src');
    const conn = await open({ path: src });
    await conn.transact(SCHEMA);
    await conn.transact([{ name: 'Ann' }]);
    await conn.close();
    const exported = await factlog(['export', '--db', src]);
    const good = exported.stdout.trim().split('\n');
    const bad = JSON.stringify({ t: 4, datoms: [[1005, ':age', 'old', true]] });
    const file = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(file, [...good, JSON.stringify({ t: 3, datoms: [[1001, ':age', 3, true]] }).replace('1001', '1002'), bad].join('\n') + '\n');
    const dst = path.join(dir, 'dst');
    expect((await factlog(['init', '--db', dst])).code).toBe(0);
    const res = await factlog(['import', '--db', dst, file]);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/line 4 \(t 4\)/);
    const db = await open({ path: dst, create: false });
    expect(db.basisT).toBe(0);
    await db.close();
  });
});

describe('an interrupted import is all or nothing', () => {
  const TXS = 6000;
  const PEOPLE = 2 * (TXS - 1);

  /** An export of TXS transactions (the schema, then people two a transaction). */
  async function bigExport(dir: string): Promise<string> {
    return (await exportWithSchema(dir, TXS - 1, 2)).file;
  }

  /** `factlog import` in a child process, sent `signal` after `delayMs`: its exit code and signal. */
  function importKilledAfter(db: string, file: string, signal: NodeJS.Signals, delayMs: number) {
    return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'import', '--db', db, file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill(signal), delayMs);
      child.on('error', reject);
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve({ code, signal: sig, stderr });
      });
    });
  }

  async function stateOf(db: string): Promise<{ t: number; people: number }> {
    const conn = await open({ path: db, create: false });
    try {
      return { t: conn.basisT, people: q('[:find (count ?e) . :where [?e :name]]', conn.db()) ?? 0 };
    } finally {
      await conn.close();
    }
  }

  const sideDirs = (db: string) => fs.readdirSync(path.dirname(db)).filter((name) => name.startsWith(`${path.basename(db)}.import-`));

  it('SIGKILL, SIGTERM and SIGINT at several points leave the database empty or complete; a rerun completes it', async () => {
    const dir = tempDir('factlog-bulk-');
    const file = await bigExport(dir);
    const full = path.join(dir, 'full');
    expect((await factlog(['init', '--db', full])).code).toBe(0);
    const started = Date.now();
    const whole = await run([BIN, 'import', '--db', full, file]);
    const ms = Date.now() - started;
    expect(whole.stderr).toMatch(new RegExp(`imported ${TXS} transactions`));
    expect(await stateOf(full)).toEqual({ t: TXS, people: PEOPLE });

    const kills: [NodeJS.Signals, number][] = [
      ['SIGKILL', 0.3],
      ['SIGKILL', 0.6],
      ['SIGKILL', 0.9],
      ['SIGTERM', 0.4],
      ['SIGINT', 0.5],
      ['SIGINT', 0.8],
    ];
    // the killed imports run side by side (then the reruns), so the points are rough: early to late
    const dbs = kills.map(([signal, at]) => path.join(dir, `${signal}-${at}`));
    for (const db of dbs) expect((await factlog(['init', '--db', db])).code).toBe(0);
    const killed = await Promise.all(kills.map(([signal, at], i) => importKilledAfter(dbs[i]!, file, signal, Math.round(at * ms))));
    const outcomes: string[] = [];
    const reruns: Promise<void>[] = [];
    for (const [i, [signal, at]] of kills.entries()) {
      const db = dbs[i]!;
      const state = await stateOf(db);
      outcomes.push(`${signal} at ${Math.round(at * ms)} ms: t ${state.t} (${killed[i]!.signal ?? `exit ${killed[i]!.code}`}) ${killed[i]!.stderr.trim()}`);
      expect([0, TXS], outcomes.join('\n')).toContain(state.t);
      expect(state.people).toBe(state.t === TXS ? PEOPLE : 0);
      // a handled signal cleans up after itself; a SIGKILL's side directory is the next import's to remove
      if (signal !== 'SIGKILL') expect(sideDirs(db)).toEqual([]);
      if (state.t === 0) {
        reruns.push(
          run([BIN, 'import', '--db', db, file]).then(async (rerun) => {
            expect(rerun.stderr).toMatch(new RegExp(`imported ${TXS} transactions`));
            expect(rerun.code).toBe(0);
            expect(await stateOf(db)).toEqual({ t: TXS, people: PEOPLE });
            expect(sideDirs(db)).toEqual([]);
          }),
        );
      }
    }
    await Promise.all(reruns);
    console.log(`full import ${ms} ms; ${outcomes.join('; ')}`);
    expect(outcomes.filter((o) => /: t 0 /.test(o)).length).toBeGreaterThan(0);
  }, 300_000);

  it('refuses while another process has the database open, and imports nothing', async () => {
    const dir = tempDir('factlog-bulk-');
    const src = path.join(dir, 'src');
    const conn = await open({ path: src });
    await conn.transact(SCHEMA);
    await conn.transact([{ name: 'Ann', age: 3 }]);
    await conn.close();
    const file = path.join(dir, 'small.jsonl');
    fs.writeFileSync(file, (await factlog(['export', '--db', src])).stdout);
    const db = path.join(dir, 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const holder = await open({ path: db, create: false });
    let refused;
    try {
      refused = await factlog(['import', '--db', db, file]);
      expect(holder.basisT).toBe(0);
    } finally {
      await holder.close();
    }
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`^error: process ${process.pid} has the database at .* open; nothing imported .*\\[cli/import-busy\\]\\n$`));
    expect(sideDirs(db)).toEqual([]);
    expect((await stateOf(db)).t).toBe(0);
    const retried = await factlog(['import', '--db', db, file]);
    expect(retried.code).toBe(0);
    expect(await stateOf(db)).toEqual({ t: 2, people: 1 });
  }, 60_000);
});
