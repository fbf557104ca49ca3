// Promise 6, resource safety: opening what is not a factlog database, a newer format, a read-only
// or closed connection, and a small map size each give a clear FactlogError code (or, for the map,
// documented lmdb-js behaviour), and nothing already stored is damaged. Extends test/storage.test.ts.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { FactlogError, open, q, type OpenOptions } from '../src/index.js';
import { DATA_FILE, FORMAT_VERSION } from '../src/storage/store.js';
import { tempDir } from './helpers/tmp.js';
import { factlog } from './helpers/cli.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

async function openError(options: OpenOptions): Promise<any> {
  return open(options).then(
    async (c) => {
      await c.close();
      return null;
    },
    (e) => e,
  );
}

/** Open `dir` in a child process (see test/fixtures/open-probe.mjs). */
function probe(dir: string, readOnly: boolean): { signal: NodeJS.Signals | null; result: any } {
  const r = spawnSync(process.execPath, [path.join(FIXTURES, 'open-probe.mjs'), dir, ...(readOnly ? ['ro'] : [])], { encoding: 'utf8' });
  return { signal: r.signal, result: r.stdout ? JSON.parse(r.stdout) : null };
}

const digest = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('what is not a factlog database is refused, untouched', () => {
  // Handed to the lmdb binding unchecked, a factlog.mdb that is not an LMDB file (random bytes,
  // zeros, text; a zero-byte file when read-only) crashes the process with SIGSEGV. Store.open
  // checks LMDB's meta-page magic first. Probed in a child process so a crash cannot take the
  // test worker down.
  for (const [name, content, ro] of [
    ['random bytes', crypto.randomBytes(64 * 1024), false],
    ['zeros', Buffer.alloc(64 * 1024), false],
    ['text', Buffer.from('hello world\n'.repeat(1000)), false],
    ['a zero-byte file, read-only', Buffer.alloc(0), true],
  ] as const) {
    it(`a data file of ${name} gives a FactlogError, not a crash, and stays untouched`, () => {
      const dir = tempDir();
      const file = path.join(dir, DATA_FILE);
      fs.writeFileSync(file, content);
      const before = digest(file);
      const r = probe(dir, ro);
      expect(r.signal, 'the process crashed').toBeNull();
      expect(r.result.opened).toBe(false);
      expect(r.result.name).toBe('StorageError');
      expect(['storage/open-failed', 'storage/not-a-database']).toContain(r.result.code);
      expect(digest(file)).toBe(before);
    });
  }

  // before: opened read-write, it had factlog's named databases created in it, then was refused
  for (const readOnly of [false, true]) {
    it(`another program's LMDB file opened ${readOnly ? 'read-only' : 'read-write'}: storage/not-a-database, the file untouched`, async () => {
      const dir = tempDir();
      const file = path.join(dir, DATA_FILE);
      const env = openLmdb({ path: file, maxDbs: 2 });
      await env.openDB('theirs', {}).put('key', 'value');
      await env.close();
      const before = digest(file);
      const err = await openError({ path: dir, readOnly });
      expect(err).toMatchObject({ code: 'storage/not-a-database', message: expect.stringMatching(/another program \(it holds "theirs"\)/) });
      expect(digest(file)).toBe(before);
    });
  }

  it('a zero-byte data file (a crash while creating it) opens read-write as a new database', async () => {
    const dir = tempDir();
    const file = path.join(dir, DATA_FILE);
    fs.writeFileSync(file, '');
    const conn = await open({ path: dir });
    expect(conn.basisT).toBe(0);
    expect((await conn.transact('[[:db/add "a" :k/v 1]]')).t).toBe(1);
    await conn.close();
  });

  it('a data "file" that is a directory', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, DATA_FILE));
    const err = await openError({ path: dir });
    expect(err).toBeInstanceOf(FactlogError);
    expect(['storage/open-failed', 'storage/not-a-database']).toContain(err.code);
  });

  it('a newer format is refused read-only too, and stays readable by the newer version', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir });
    await conn.transact('[[:db/add "a" :k/v 1]]');
    await conn.close();
    const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
    await env.openDB('meta', {}).put('formatVersion', FORMAT_VERSION + 1);
    await env.close();
    const before = digest(path.join(dir, DATA_FILE));
    expect((await openError({ path: dir, readOnly: true }))?.code).toBe('storage/newer-format');
    expect((await openError({ path: dir, create: false }))?.code).toBe('storage/newer-format');
    expect(digest(path.join(dir, DATA_FILE))).toBe(before);
  });

  it('readOnly on a missing directory does not create it', async () => {
    const dir = path.join(tempDir(), 'missing');
    expect((await openError({ path: dir, readOnly: true }))?.code).toBe('storage/no-database');
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('a truncated data file is refused before LMDB maps it', () => {
  // LMDB maps factlog.mdb and reads pages where its meta page says they are: past the end of a
  // truncated file that is SIGBUS (SIGSEGV below a page), killing the process. Store.open compares
  // the file's size with the newest meta page first. Run through the real CLI in a child process.
  let source: string;
  const cuts: [string, (size: number) => number][] = [
    ['100 bytes', () => 100],
    ['8 KB', () => 8192],
    ...[25, 50, 75, 90].map((pct): [string, (size: number) => number] => [`${pct}%`, (size) => Math.floor((size * pct) / 100)]),
  ];

  async function sourceDatabase(): Promise<string> {
    if (source) return source;
    source = path.join(tempDir(), 'db');
    const conn = await open({ path: source });
    for (let i = 0; i < 20; i++) await conn.transact(Array.from({ length: 50 }, (_, j) => ({ ':item/n': i * 50 + j, ':item/name': `item ${i}-${j}` })));
    await conn.close();
    return source;
  }

  for (const [name, cutAt] of cuts) {
    it(`cut to ${name}: \`query\` exits 1 with storage/damaged-file, no signal, the file untouched`, async () => {
      const dir = path.join(tempDir(), 'cut');
      fs.cpSync(await sourceDatabase(), dir, { recursive: true });
      const file = path.join(dir, DATA_FILE);
      const size = fs.statSync(file).size;
      expect(size, 'the database is too small for this cut').toBeGreaterThan(4 * 8192);
      fs.truncateSync(file, cutAt(size));
      const before = digest(file);
      const r = await factlog(['query', '--db', dir, '[:find (count ?e) . :where [?e :item/n]]']);
      expect(r.code, `signal death or success: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^error: .*factlog\.mdb is damaged: .* \[storage\/damaged-file\]$/m);
      expect(digest(file)).toBe(before);
    });
  }
});

describe('connections that cannot write', () => {
  it('a read-only connection refuses transact with storage/read-only and writes nothing', async () => {
    const dir = path.join(tempDir(), 'db');
    const rw = await open({ path: dir });
    await rw.transact('[[:db/add "a" :k/v 1]]');
    await rw.close();
    const ro = await open({ path: dir, readOnly: true });
    try {
      const err = await ro.transact('[[:db/add "b" :k/v 2]]').catch((e) => e);
      expect(err).toBeInstanceOf(FactlogError);
      expect(err.code).toBe('storage/read-only');
      expect(ro.basisT).toBe(1);
      expect([...ro.db().datoms('aevt', ':k/v')].map((d) => d.v)).toEqual([1]);
    } finally {
      await ro.close();
    }
  });

  it('a closed connection refuses transact and db() with conn/closed', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    await conn.close();
    expect((await conn.transact('[[:db/add "a" :k/v 1]]').catch((e) => e))?.code).toBe('conn/closed');
    expect(() => conn.db()).toThrow(expect.objectContaining({ code: 'conn/closed' }));
    expect(() => conn.log()).toThrow(expect.objectContaining({ code: 'conn/closed' }));
  });

  it('a db value read after its connection closed says storage/closed, not an lmdb-js error', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    await conn.transact('[[:db/add "a" :k/v 1]]');
    const db = conn.db();
    const log = conn.log();
    await conn.close();
    const closed = expect.objectContaining({ code: 'storage/closed' });
    expect(() => q('[:find ?v :where [_ :k/v ?v]]', db)).toThrow(closed);
    expect(() => [...db.history().datoms('eavt')]).toThrow(closed);
    expect(() => db.asOf(new Date()).basisT).toThrow(closed);
    expect(() => [...log.txRange()]).toThrow(closed);
  });
});

describe('a small map size', () => {
  // What is true with lmdb-js 3.5.6: mapSize is NOT a hard limit. On MDB_MAP_FULL lmdb-js grows the
  // map and retries, so a database opened with mapSize 1 MB keeps accepting transactions and its
  // file grows past 1 MB (measured: 20,000 txs, 76 MB, no error). StoreOptions.mapSize is
  // documented as "the largest the file may grow", which is not what happens (reported).
  it('lmdb-js grows a 1 MB map instead of failing; every acknowledged tx is intact after reopen', async () => {
    const dir = path.join(tempDir(), 'db');
    const MB = 1024 * 1024;
    const conn = await open({ path: dir, mapSize: MB, noSync: true });
    const big = 'x'.repeat(1500); // index keys are limited to ~1978 bytes
    const acked: number[] = [];
    for (let i = 0; i < 500; i++) {
      const r = await conn.transact([{ ':db/id': 'e', ':k/a': `${i}-a-${big}`, ':k/b': `${i}-b-${big}`, ':k/n': i }]);
      acked.push(r.tempids.e);
    }
    await conn.close();
    expect(fs.statSync(path.join(dir, DATA_FILE)).size).toBeGreaterThan(2 * MB);
    // reopen with the same small map size: lmdb uses the file's size
    const again = await open({ path: dir, mapSize: MB });
    try {
      const db = again.db();
      expect(db.basisT).toBe(500);
      acked.forEach((e, i) => {
        expect([...db.datoms('eavt', e, ':k/n')].map((d) => d.v)).toEqual([i]);
        expect([...db.datoms('eavt', e, ':k/a')].map((d) => d.v)).toEqual([`${i}-a-${big}`]);
      });
      const r = await again.transact([{ ':db/id': 'e', ':k/n': 500 }]);
      expect(r.t).toBe(501);
    } finally {
      await again.close();
    }
  });
});

describe('a full disk', () => {
  // A file-size limit (ulimit -f, with SIGXFSZ ignored) makes LMDB's writes fail with EFBIG/EIO
  // exactly as a full disk would, without needing a small filesystem.
  it('a commit that cannot be written fails with storage/write-failed; every acknowledged tx survives', async () => {
    const dir = path.join(tempDir(), 'db');
    const r = spawnSync('bash', ['-c', `trap '' XFSZ; ulimit -f 4096; exec "${process.execPath}" "${path.join(FIXTURES, 'fill-disk.mjs')}" "${dir}"`], {
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const acks = lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
    expect(acks.length).toBeGreaterThan(3);
    expect(lines[lines.length - 1]).toMatch(/^error storage\/write-failed /);
    // reopened without the limit: exactly the acknowledged transactions, whole, indexes = log
    const conn = await open({ path: dir });
    try {
      const db = conn.db();
      expect(db.basisT).toBe(acks[acks.length - 1]);
      expect([...db.datoms('aevt', ':fill/i')]).toHaveLength(acks.length * 200);
      const before = conn.store.dumpIndex('eavt', 'current');
      await conn.rebuildIndexes();
      expect(conn.store.dumpIndex('eavt', 'current')).toEqual(before);
      expect((await conn.transact([{ 'fill/i': -1 }])).t).toBe(db.basisT + 1);
    } finally {
      await conn.close();
    }
  });
});
