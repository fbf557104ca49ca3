// verify (src/db/verify.ts): a sound database of any format verifies; damage to LMDB's log, meta,
// an index or the log file is reported with a code; and single-byte flips over a real factlog.mdb
// are each harmless, refused by reads, or reported by verify: never silently different data.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { open, verify } from '../src/index.js';
import { DATA_FILE, FORMAT_VERSION, indexDbOptions } from '../src/storage/store.js';
import { LOG_FILE, LogFile } from '../src/storage/log-file.js';
import { tempDir } from './helpers/tmp.js';
import { runFixture } from './helpers/proc.js';
import { SEEN_FRIENDS_SCHEMA } from './helpers/schemas.js';

/** A closed database with history: retractions, a ref, a :db/noHistory attribute, a long value. */
async function populated(createFormat?: number): Promise<string> {
  const dir = path.join(tempDir(), 'db');
  const conn = await open({ path: dir, createFormat });
  await conn.transact(SEEN_FRIENDS_SCHEMA);
  for (let i = 0; i < 12; i++) {
    await conn.transact([{ ':db/id': `p${i}`, ':p/name': `person ${i}`, ':p/seen': i }]);
    if (i > 0)
      await conn.transact([
        [':db/add', [':p/name', `person ${i}`], ':p/friend', [':p/name', `person ${i - 1}`]],
        [':db/add', [':p/name', `person ${i - 1}`], ':p/seen', 100 + i],
      ]);
  }
  await conn.transact(`[[:db/retract [:p/name "person 3"] :p/friend [:p/name "person 2"]] [:db/add "long" :p/name "${'x'.repeat(3000)}"]]`);
  await conn.transact('[[:db/retractEntity [:p/name "person 5"]]]');
  await conn.close();
  return dir;
}

/** A copy of a database's two files into a new directory. */
function copyOf(dir: string): string {
  const copy = path.join(tempDir(), 'copy');
  fs.mkdirSync(copy);
  for (const name of [DATA_FILE, LOG_FILE]) fs.copyFileSync(path.join(dir, name), path.join(copy, name));
  return copy;
}

/** Change a database's LMDB environment directly, as damage would. */
async function withRawEnv(dir: string, change: (env: ReturnType<typeof openLmdb>) => void): Promise<void> {
  const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
  change(env);
  await env.close();
}

describe('verify', () => {
  for (const format of [1, 3, 4, FORMAT_VERSION]) {
    it(`a sound database of format ${format} verifies, every part counted`, async () => {
      const dir = await populated(format);
      const report = await verify(dir);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.transactions).toBe(27);
      expect(report.logFileRecords).toBe(27);
      expect(report.indexKeys).toBeGreaterThan(100);
    });
  }

  it('a database just created (only the bootstrap, t=0) verifies sound, with no note on the hash chain', async () => {
    // lmdb-js 3.5.6 never yields uint32 key 0 in a reverse scan: the chain table seemed empty
    const dir = path.join(tempDir(), 'fresh');
    await (await open({ path: dir })).close();
    const report = await verify(dir);
    expect(report.problems).toEqual([]);
    expect(report.notes.filter((n) => n.includes('hash chain'))).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('through a connection too', async () => {
    const dir = await populated();
    const conn = await open({ path: dir });
    try {
      const report = await conn.verify();
      expect(report.ok).toBe(true);
    } finally {
      await conn.close();
    }
  });

  it("a damaged record of LMDB's log: reported, and the indexes still compared, with a replay of the log file", async () => {
    const dir = await populated();
    const conn = await open({ path: dir, readOnly: true });
    const record = Buffer.from(conn.store.logRecordAt(9)!);
    await conn.close();
    const file = path.join(dir, DATA_FILE);
    const bytes = fs.readFileSync(file);
    // t 9's instant, in every copy of the record (LMDB's file may hold stale ones in free pages)
    for (let at = bytes.indexOf(record); at !== -1; at = bytes.indexOf(record, at + 1)) bytes[at + 12] ^= 0x01;
    fs.writeFileSync(file, bytes);
    const report = await verify(dir);
    expect(report.problems).toEqual([expect.objectContaining({ code: 'storage/mdb-damaged', message: expect.stringContaining('t=9 fails its checksum') })]);
    expect(report.notes).toEqual([expect.stringContaining('compared with a replay of factlog.log')]);
    expect(report.indexKeys).toBeGreaterThan(100);
  });

  it('an index key missing or added: storage/mdb-damaged naming the index', async () => {
    for (const change of ['remove', 'add'] as const) {
      const dir = await populated();
      await withRawEnv(dir, (env) => {
        const eavt = env.openDB<Buffer, any>('avet', indexDbOptions(FORMAT_VERSION));
        const key = [...eavt.getKeys({})][7] as any[];
        if (change === 'remove') eavt.removeSync(key);
        else eavt.putSync([key[0], key[1], key[2], 'not in the log', key[4]], Buffer.alloc(0));
      });
      const report = await verify(dir);
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([expect.objectContaining({ code: 'storage/mdb-damaged', message: expect.stringContaining('index avet differs') })]);
    }
  });

  it('meta disagreeing with the log (last instant, a count, the last t): storage/mdb-damaged', async () => {
    const cases: [string, unknown, string][] = [
      ['lastInstant', 42, 'last instant'],
      ['count:10', 99, 'meta counts 99 datoms of attribute 10'],
      ['lastT', 5, "meta's last t is 5"],
    ];
    for (const [key, value, says] of cases) {
      const dir = await populated();
      await withRawEnv(dir, (env) => env.openDB('meta', {}).putSync(key, value));
      const report = await verify(dir);
      expect(report.problems.map((p) => p.code)).toContain('storage/mdb-damaged');
      expect(report.problems.map((p) => p.message).join('\n')).toContain(says);
    }
  });

  it("the log's hash chain table: a value changed, missing or past the log is storage/mdb-damaged naming the t; behind the log only a note; a rebuild recomputes it", async () => {
    const chain = (env: ReturnType<typeof openLmdb>) => env.openDB<Buffer, number>('chain', { keyEncoding: 'uint32', encoding: 'binary' });
    const cases: [string, (table: ReturnType<typeof chain>) => void, string][] = [
      ['changed', (table) => table.putSync(9, Buffer.alloc(32, 7)), "chain table differs from the log's chain at t=9"],
      ['missing', (table) => table.removeSync(9), 'holds 26 values for t=0 to t=26'],
      ['past the log', (table) => table.putSync(40, Buffer.alloc(32, 7)), 'holds t=40, past the log'],
    ];
    for (const [what, change, says] of cases) {
      const dir = await populated();
      await withRawEnv(dir, (env) => change(chain(env)));
      const report = await verify(dir);
      expect(report.problems, what).toEqual([expect.objectContaining({ code: 'storage/mdb-damaged', message: expect.stringContaining(says) })]);
      const conn = await open({ path: dir });
      await conn.rebuildIndexes();
      await conn.close();
      expect((await verify(dir)).problems, `${what}, rebuilt`).toEqual([]);
    }
    const dir = await populated();
    await withRawEnv(dir, (env) => {
      const table = chain(env);
      for (let t = 20; t <= 26; t++) table.removeSync(t);
    });
    const report = await verify(dir);
    expect(report.problems).toEqual([]);
    expect(report.notes.join('\n')).toContain('hash chain table ends at t=19, the log at t=26');
  });

  it('the log file disagreeing with LMDB: a record changed, or records missing', async () => {
    const dir = await populated();
    const file = path.join(dir, LOG_FILE);
    const log = LogFile.open(file);
    const records = [...log.read()];
    log.close();
    // the last record cut short: the log file ends before LMDB's log
    fs.truncateSync(file, records.at(-1)!.end - 3);
    const short = await verify(dir);
    expect(short.problems).toEqual([expect.objectContaining({ code: 'storage/log-file-mismatch', message: expect.stringContaining('ends at t=25') })]);
    // a record in the middle damaged: the log file's own error
    const other = copyOf(await populated());
    const bytes = fs.readFileSync(path.join(other, LOG_FILE));
    bytes[records[10].end - 5] ^= 0x10;
    fs.writeFileSync(path.join(other, LOG_FILE), bytes);
    const damaged = await verify(other);
    expect(damaged.problems.map((p) => p.code)).toEqual(['storage/log-damaged']);
    // whole records, but another database's (its instants differ)
    const third = copyOf(await populated());
    fs.copyFileSync(path.join(await populated(), LOG_FILE), path.join(third, LOG_FILE));
    const foreign = await verify(third);
    expect(foreign.problems[0]).toEqual(expect.objectContaining({ code: 'storage/log-file-mismatch', message: expect.stringContaining('differs from LMDB') }));
  });

  it('single-byte flips all over factlog.mdb: each harmless, refused by a read, or reported by verify; never silently different', async () => {
    // compacted, so that its pages are live ones, not free or stale copies where a flip is harmless
    const source = await populated();
    const dir = path.join(tempDir(), 'compact');
    const conn = await open({ path: source });
    await conn.store.backup(dir, true);
    await conn.close();
    fs.copyFileSync(path.join(source, LOG_FILE), path.join(dir, LOG_FILE));
    const size = fs.statSync(path.join(dir, DATA_FILE)).size;
    const PAGE = 4096;
    const pages = Math.ceil(size / PAGE);
    // positions in every page, by a fixed sequence: its header and node pointers (the start), and
    // keys and values (LMDB fills a page's nodes from its end); FACTLOG_FLIPS_PER_PAGE=16 for a
    // longer run
    let seed = 12345;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const perPage = Number(process.env.FACTLOG_FLIPS_PER_PAGE ?? 4);
    const flips: { at: number; mask: number }[] = [];
    for (let p = 0; p < pages; p++) {
      for (const offset of Array.from({ length: perPage }, (_, i) => (i % 2 === 0 ? next(64) : PAGE - 1 - next(768)))) {
        if (p * PAGE + offset < size) flips.push({ at: p * PAGE + offset, mask: 1 << next(8) });
      }
    }
    const dirs = flips.map(({ at, mask }) => {
      const copy = copyOf(dir);
      const file = path.join(copy, DATA_FILE);
      const bytes = fs.readFileSync(file);
      bytes[at] ^= mask;
      fs.writeFileSync(file, bytes);
      return copy;
    });
    const results = await readAndVerify([dir, ...dirs]);
    const clean = results.get(dir)!;
    expect(clean.verify).toEqual([]);
    const tally: Record<string, number> = {};
    const silent: string[] = [];
    flips.forEach(({ at }, i) => {
      const r = results.get(dirs[i]!);
      const outcome = !r
        ? 'crashed'
        : r.readError?.startsWith('uncoded')
          ? 'refused by a read (uncoded)'
          : r.readError
            ? 'refused by a read'
            : (r.verify?.length ?? 0) > 0 || r.verifyError
              ? r.data === clean.data
                ? 'harmless, reported by verify'
                : 'different, reported by verify'
              : r.data === clean.data
                ? 'harmless'
                : 'SILENTLY DIFFERENT';
      tally[outcome] = (tally[outcome] ?? 0) + 1;
      if (outcome === 'SILENTLY DIFFERENT') silent.push(`byte ${at} (page ${Math.floor(at / PAGE)})`);
    });
    const codes: Record<string, number> = {};
    for (const copy of dirs) {
      const r = results.get(copy);
      const code = r ? (r.readError ?? r.verifyError ?? r.verify?.[0] ?? 'none') : 'crashed';
      codes[code] = (codes[code] ?? 0) + 1;
    }
    console.log(`${flips.length} flips over ${pages} pages:`, tally, codes);
    expect(silent).toEqual([]);
    expect(flips.length).toBeGreaterThanOrEqual(70);
  }, 300_000);
});

interface ReadResult {
  dir: string;
  data?: string;
  readError?: string;
  verify?: string[];
  verifyError?: string;
}

/** Run test/fixtures/read-and-verify.mjs over the directories, in child processes; one that crashes is left out and the rest go on. */
async function readAndVerify(dirs: string[]): Promise<Map<string, ReadResult>> {
  const results = new Map<string, ReadResult>();
  let rest = dirs;
  while (rest.length > 0) {
    const { lines } = await runFixture('read-and-verify.mjs', rest).done;
    for (const line of lines) {
      const r = JSON.parse(line) as ReadResult;
      results.set(r.dir, r);
    }
    const done = lines.length;
    rest = rest.slice(done + (done < rest.length ? 1 : 0)); // the one after the last line crashed its process
  }
  return results;
}
