// Recovery from the log file (src/db/log-replay.ts with the store's log file and marks): a crash
// between the log file and LMDB, an OS crash that may have torn LMDB's file, a database that had
// no log file, and a commit that fails after its records were appended.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { open, q, type Connection } from '../../src/index.js';
import { LOG_FILE, LOG_FILE_START, LogFile } from '../../src/storage/log-file.js';
import { DATA_FILE, INDEXES } from '../../src/storage/store.js';
import { encodeLogRecord } from '../../src/storage/log.js';
import { Tag } from '../../src/storage/encoding.js';
import { tempDir } from '../helpers/tmp.js';
import { FIXTURES, openAtOnce } from '../helpers/proc.js';
import { SEEN_FRIENDS_SCHEMA } from '../helpers/schemas.js';

const json = (x: unknown) => JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));

/** Every index (current and history) and LMDB's log, as one string. */
function dumpAll(conn: Connection): string {
  const parts = INDEXES.flatMap((i) => [conn.store.dumpIndex(i, 'current'), conn.store.dumpIndex(i, 'history')]);
  return json([parts, [...conn.txRange(0)], conn.store.readMeta()]);
}

/** A database with history, a :db/noHistory attribute, retractions and a long value. */
async function populated(dir: string): Promise<string> {
  const conn = await open({ path: dir });
  await conn.transact(SEEN_FRIENDS_SCHEMA);
  await conn.transact(`[{:db/id "a" :p/name "Ann" :p/seen 1} {:db/id "b" :p/name "Bob" :p/seen 1 :p/friend "a"}]`);
  await conn.transact(`[{:p/name "Ann" :p/seen 2} [:db/retract [:p/name "Bob"] :p/friend [:p/name "Ann"]]]`);
  await conn.transact([{ 'p/name': 'Long', 'p/seen': 3 }, [':db/add', [':p/name', 'Ann'], ':p/friend', [':p/name', 'Bob']]]);
  await conn.transact(`[[:db/add "c" :p/name "${'x'.repeat(3000)}"]]`);
  const dump = dumpAll(conn);
  await conn.close();
  return dump;
}

/** Where the records of a log file end (read through its own reader). */
function logEnd(file: string): number {
  const log = LogFile.open(file);
  try {
    return log.validEnd();
  } finally {
    log.close();
  }
}

function markFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith('factlog.unsynced.'));
}

describe('recovery from the log file', () => {
  it('a transaction whose records reached the log file when the process died is indexed on the next open', async () => {
    const dir = path.join(tempDir(), 'db');
    const r = spawnSync(process.execPath, [path.join(FIXTURES, 'crash-after-log-append.mjs'), dir]);
    expect(r.signal).toBe('SIGKILL');
    const conn = await open({ path: dir });
    try {
      expect(conn.basisT).toBe(3);
      const vs = q('[:find ?v :where [_ :k/v ?v]]', conn.db()) as number[][];
      expect(new Set(vs.map(([v]) => v))).toEqual(new Set([1, 2]));
      expect([...conn.store.unindexedLogRecords()]).toEqual([]);
      expect([...conn.store.readLogFile()].map((x) => x.entry.t)).toEqual([0, 1, 2, 3]);
      expect((await conn.transact('[[:db/add "c" :k/v 3]]')).t).toBe(4);
    } finally {
      await conn.close();
    }
  });

  it('a mark from an earlier boot: LMDB is set aside and the indexes are rebuilt from the log file, noHistory included', async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    fs.writeFileSync(path.join(dir, 'factlog.unsynced.4242'), 'a boot before this one');
    const torn = fs.readFileSync(path.join(dir, DATA_FILE));
    const conn = await open({ path: dir });
    try {
      expect(dumpAll(conn)).toBe(before);
      expect(fs.readFileSync(path.join(dir, `${DATA_FILE}.torn`)).equals(torn)).toBe(true);
      expect(markFiles(dir)).not.toContain('factlog.unsynced.4242');
      const noHistory = q('[:find ?v :where [?e :p/name "Ann"] [?e :p/seen ?v _ false]]', conn.db().history());
      expect(noHistory).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('refuses to open read-only what needs rebuilding, and changes nothing', async () => {
    const dir = path.join(tempDir(), 'db');
    await populated(dir);
    fs.writeFileSync(path.join(dir, 'factlog.unsynced.4242'), 'a boot before this one');
    const files = fs.readdirSync(dir).sort();
    await expect(open({ path: dir, readOnly: true })).rejects.toMatchObject({ code: 'storage/needs-recovery' });
    expect(fs.readdirSync(dir).sort()).toEqual(files);
  });

  it("without LMDB's file the database is rebuilt from the log file alone", async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    fs.rmSync(path.join(dir, DATA_FILE));
    fs.rmSync(path.join(dir, `${DATA_FILE}-lock`), { force: true });
    const conn = await open({ path: dir });
    try {
      expect(dumpAll(conn)).toBe(before);
    } finally {
      await conn.close();
    }
  });

  it("a database without a log file (older, or restored from an LMDB backup) gets one written from LMDB's log", async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    fs.rmSync(path.join(dir, LOG_FILE));
    let conn = await open({ path: dir });
    expect(dumpAll(conn)).toBe(before);
    await conn.close();
    // the rewritten file alone rebuilds the same database
    fs.rmSync(path.join(dir, DATA_FILE));
    conn = await open({ path: dir });
    try {
      expect(dumpAll(conn)).toBe(before);
    } finally {
      await conn.close();
    }
  });

  it('processes opening at once a database without a log file: one writes it, all open', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = path.join(tempDir(), 'db');
      const before = await populated(dir);
      fs.rmSync(path.join(dir, LOG_FILE));
      const outcomes = await openAtOnce(dir, 4);
      expect(outcomes.map((o) => o.code ?? 'opened')).toEqual(['opened', 'opened', 'opened', 'opened']);
      const conn = await open({ path: dir });
      try {
        expect(dumpAll(conn)).toBe(before);
        expect([...conn.store.readLogFile()].map((r) => r.entry.t)).toEqual(Array.from({ length: conn.basisT + 1 }, (_, t) => t));
      } finally {
        await conn.close();
      }
    }
  });

  it('processes opening at once after a reboot: LMDB is set aside once, and all see the whole rebuilt database', async () => {
    for (let round = 0; round < 2; round++) {
      const dir = path.join(tempDir(), 'db');
      await populated(dir);
      const conn0 = await open({ path: dir });
      // more records than one replay transaction indexes (REPLAY_BATCH), so the rebuild takes several
      await Promise.all(Array.from({ length: 2500 }, (_, i) => conn0.transact([[':db/add', `n${i}`, ':p/seen', i]])));
      const before = dumpAll(conn0);
      const lastT = conn0.basisT;
      await conn0.close();
      fs.writeFileSync(path.join(dir, 'factlog.unsynced.4242'), 'a boot before this one');
      const outcomes = await openAtOnce(dir, 4);
      expect(outcomes.map((o) => o.code ?? o.basisT)).toEqual([lastT, lastT, lastT, lastT]);
      expect(fs.existsSync(path.join(dir, `${DATA_FILE}.torn`))).toBe(true);
      const conn = await open({ path: dir });
      try {
        expect(dumpAll(conn)).toBe(before);
        expect([...conn.store.readLogFile()].map((r) => r.entry.t)).toEqual(Array.from({ length: lastT + 1 }, (_, t) => t));
        expect(markFiles(dir)).toEqual([]);
      } finally {
        await conn.close();
      }
    }
  }, 60_000);

  it('a whole record after the last one whose t does not follow on is cut off, not replayed', async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    const file = path.join(dir, LOG_FILE);
    const end = logEnd(file);
    const log = LogFile.open(file);
    const stray = { t: 40, tx: 40, instant: 40, datoms: [{ e: 5000, a: 10, tag: Tag.Boolean, payload: true, added: true }] };
    log.append([{ t: stray.t, bytes: encodeLogRecord(stray) }], true, end);
    log.close();
    const conn = await open({ path: dir });
    try {
      expect(dumpAll(conn)).toBe(before);
      const reread = LogFile.open(file);
      expect(reread.endsAt(end)).toBe(true); // cut off, not only skipped
      reread.close();
      const { t } = await conn.transact('[[:db/add "d" :p/name "Dan"]]');
      expect([...conn.store.readLogFile()].at(-1)!.entry.t).toBe(t);
    } finally {
      await conn.close();
    }
  });

  it('a torn record at the end of the log file is cut off, and appends go on after the last whole one', async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    const file = path.join(dir, LOG_FILE);
    const end = logEnd(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 5, 6]), 0, 10, end); // a frame promising 200 bytes
    fs.closeSync(fd);
    const conn = await open({ path: dir });
    try {
      expect(fs.statSync(file).size).toBe(end);
      expect(dumpAll(conn)).toBe(before);
      const { t } = await conn.transact('[[:db/add "d" :p/name "Dan"]]');
      expect([...conn.store.readLogFile()].at(-1)!.entry.t).toBe(t);
    } finally {
      await conn.close();
    }
  });

  /** A database of t 0-19 (t 0 the bootstrap), closed; the offsets of its log file's records. */
  async function twentyTransactions(dir: string): Promise<{ starts: number[]; ends: number[] }> {
    const conn = await open({ path: dir });
    for (let i = 1; i < 20; i++) await conn.transact([[':db/add', `n${i}`, ':k/v', i]]);
    await conn.close();
    const log = LogFile.open(path.join(dir, LOG_FILE));
    try {
      const records = [...log.read()];
      return { starts: [LOG_FILE_START, ...records.slice(0, -1).map((r) => r.end)], ends: records.map((r) => r.end) };
    } finally {
      log.close();
    }
  }

  for (const damage of ['one byte flipped', 'zeroed'] as const) {
    for (const replay of ['after an earlier boot', 'without factlog.mdb'] as const) {
      it(`a record ${damage} in the middle of the log file, replayed ${replay}: refused (storage/log-damaged), nothing overwritten`, async () => {
        const dir = path.join(tempDir(), 'db');
        const { starts, ends } = await twentyTransactions(dir);
        const file = path.join(dir, LOG_FILE);
        const bytes = fs.readFileSync(file);
        if (damage === 'zeroed') bytes.fill(0, starts[6], ends[6]);
        else bytes[starts[6] + 20] ^= 0x01;
        fs.writeFileSync(file, bytes);
        if (replay === 'after an earlier boot') fs.writeFileSync(path.join(dir, 'factlog.unsynced.4242'), 'a boot before this one');
        else {
          fs.rmSync(path.join(dir, DATA_FILE));
          fs.rmSync(path.join(dir, `${DATA_FILE}-lock`), { force: true });
        }
        const files = fs.readdirSync(dir).sort();
        for (let attempt = 0; attempt < 2; attempt++) {
          const err = await open({ path: dir }).catch((e) => e);
          expect(err.code).toBe('storage/log-damaged');
          expect(err.message).toContain(`${file} is damaged at byte ${starts[6]}`);
          expect(err.message).toContain('t=6');
          expect(fs.readFileSync(file).equals(bytes)).toBe(true);
          expect(fs.readdirSync(dir).sort()).toEqual(files);
        }
      });
    }
  }

  it("a log file that does not end with LMDB's last transaction (another database's) is refused when opening for writing, and left alone", async () => {
    const dir = path.join(tempDir(), 'db');
    await populated(dir);
    const other = path.join(tempDir(), 'other');
    const conn = await open({ path: other });
    for (let i = 0; i < 8; i++) await conn.transact([[':db/add', `n${i}`, ':db/doc', `another database's transaction ${i}`]]);
    await conn.close();
    fs.copyFileSync(path.join(other, LOG_FILE), path.join(dir, LOG_FILE));
    const bytes = fs.readFileSync(path.join(dir, LOG_FILE));
    const err = await open({ path: dir }).catch((e) => e);
    expect(err.code).toBe('storage/log-file-mismatch');
    expect(err.message).toContain(`t=5`);
    expect(fs.readFileSync(path.join(dir, LOG_FILE)).equals(bytes)).toBe(true);
  });

  it('a commit that fails after its records were appended takes them out of the log file again', async () => {
    const dir = path.join(tempDir(), 'db');
    const before = await populated(dir);
    const file = path.join(dir, LOG_FILE);
    const conn = await open({ path: dir });
    const end = logEnd(file);
    const bytes = fs.readFileSync(file);
    const meta = (conn.store as unknown as { meta: { putSync: (k: string, v: unknown) => void } }).meta;
    const putSync = meta.putSync;
    meta.putSync = function (key, value) {
      if (key === 'logFileEnd') throw new Error('disk on fire');
      return putSync.call(this, key, value);
    };
    const err = await conn.transact('[[:db/add "d" :p/name "Dan"]]').catch((e) => e);
    meta.putSync = putSync;
    expect(err.code).toBe('storage/write-failed');
    expect(logEnd(file)).toBe(end);
    // the record was written, then zeroed: the file is as it was
    expect(fs.readFileSync(file).equals(bytes)).toBe(true);
    expect(dumpAll(conn)).toBe(before);
    await conn.close();
    const again = await open({ path: dir });
    try {
      expect(dumpAll(again)).toBe(before);
    } finally {
      await again.close();
    }
  });

  it("this process's mark is on disk while LMDB holds unflushed commits, and gone once close flushed them", async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir });
    await conn.transact('[[:db/add "a" :k/v 1]]');
    expect(markFiles(dir)).toEqual([`factlog.unsynced.${process.pid}`]);
    await conn.close();
    expect(markFiles(dir)).toEqual([]);
  });

  it('closing a store again waits for the same flush and close', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir });
    await conn.transact('[[:db/add "a" :k/v 1]]');
    const first = conn.store.close();
    const second = conn.store.close();
    expect(second).toBe(first);
    await second;
    expect(markFiles(dir)).toEqual([]); // flushed by the time the second close resolved
  });

  it("a killed writer's mark (this boot) is not a reason to rebuild: the next writer flushes LMDB and drops it", async () => {
    const dir = path.join(tempDir(), 'db');
    const r = spawnSync(process.execPath, [path.join(FIXTURES, 'crash-after-log-append.mjs'), dir]);
    expect(r.signal).toBe('SIGKILL');
    expect(markFiles(dir)).toHaveLength(1);
    const conn = await open({ path: dir });
    expect(fs.existsSync(path.join(dir, `${DATA_FILE}.torn`))).toBe(false);
    expect(conn.basisT).toBe(3);
    await conn.close();
    expect(markFiles(dir)).toEqual([]);
  });
});
