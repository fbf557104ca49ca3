// The data-file check before LMDB maps factlog.mdb: healthy files pass, however LMDB left them;
// truncated ones, and files that are not LMDB's, are named for what they are.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { dataFileProblem } from '../src/storage/file-check.js';
import { tempDir } from './helpers/tmp.js';

const PAGE = 4096;

/** The size LMDB's newest meta page says the file has: (last page + 1) x page size. */
function sizeInHeader(file: string): number {
  const head = fs.readFileSync(file).subarray(0, 2 * PAGE);
  const [first, second] = [0, PAGE].map((at) => ({ lastPage: head.readBigUInt64LE(at + 144), txnid: head.readBigUInt64LE(at + 152) }));
  const newest = second!.txnid > first!.txnid ? second! : first!;
  return (Number(newest.lastPage) + 1) * head.readUInt32LE(48);
}

/**
 * Commits that allocate pages and free them again (keys put then removed, a large value put then
 * removed): LMDB does not write such pages, so the file can end before its last page.
 */
async function* churn(file: string, commits: number): AsyncGenerator<number> {
  const env = openLmdb({ path: file, maxDbs: 2, noSync: true });
  const db = env.openDB<Buffer | string, string>('t', {});
  try {
    for (let round = 0; round < commits; round++) {
      env.transactionSync(() => {
        for (let i = 0; i < 300; i++) db.putSync(`k${round}-${i}`, 'v'.repeat(50 + ((round * 7) % 300)));
        for (let i = 0; i < 300; i++) if (i % 3) db.removeSync(`k${round}-${i}`);
        db.putSync(`big${round}`, Buffer.alloc(10_000 * (round % 3), 1));
        if (round % 2) db.removeSync(`big${round}`);
      });
      yield round;
    }
  } finally {
    await env.close();
  }
}

describe('dataFileProblem', () => {
  it('passes a healthy file that ends before its last page (pages freed where they were allocated), refuses it truncated', async () => {
    const file = path.join(tempDir(), 'x.mdb');
    let shortOnes = 0;
    for await (const _ of churn(file, 40)) {
      const size = fs.statSync(file).size;
      if (size < sizeInHeader(file)) shortOnes++;
      expect(dataFileProblem(file, true, ['t'])).toBeUndefined();
      const copy = `${file}.cut`;
      fs.copyFileSync(file, copy);
      fs.truncateSync(copy, size - PAGE);
      expect(dataFileProblem(copy, true, ['t'])?.code).toBe('storage/damaged-file');
    }
    // measured with lmdb-js 3.5.6: 13 of the 40 commits leave the file short, by up to 5 pages
    expect(shortOnes).toBeGreaterThan(0);
  });

  it("names what a file is: not LMDB, another program's LMDB, LMDB cut inside its header, a missing second meta page", () => {
    const dir = tempDir();
    const file = path.join(dir, 'x.mdb');
    const env = openLmdb({ path: file });
    env.putSync('a', 'b');
    void env.close();
    const whole = fs.readFileSync(file);
    const problem = (bytes: Buffer, names = ['a']) => {
      fs.writeFileSync(`${file}.t`, bytes);
      return dataFileProblem(`${file}.t`, false, names);
    };
    expect(problem(whole)).toBeUndefined();
    expect(problem(whole, ['meta', 'log'])).toMatchObject({ code: 'storage/not-a-database', message: expect.stringMatching(/another program \(it holds "a"\)/) });
    expect(problem(Buffer.from('not lmdb at all'))?.code).toBe('storage/not-a-database');
    expect(problem(whole.subarray(0, 100))).toMatchObject({ code: 'storage/damaged-file', message: expect.stringMatching(/ends inside its header/) });
    expect(problem(whole.subarray(0, PAGE + 10))).toMatchObject({ code: 'storage/damaged-file', message: expect.stringMatching(/second meta page/) });
    const otherVersion = Buffer.from(whole);
    otherVersion.writeUInt32LE(1, 28);
    expect(problem(otherVersion)?.code).toBe('storage/not-a-database');
  });
});
