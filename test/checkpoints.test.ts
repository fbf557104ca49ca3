// Checkpoints (src/storage/checkpoints.ts): when LMDB's file is flushed and this process's unsynced
// mark goes. Flushes run against a real LMDB environment and log file; only the clock is fake.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Checkpoints, type Flushable } from '../src/storage/checkpoints.js';
import { LogFile } from '../src/storage/log-file.js';
import { UnsyncedMark } from '../src/storage/unsynced-marks.js';
import { tempDir } from './helpers/tmp.js';

interface Setup {
  dir: string;
  mark: UnsyncedMark;
  env: RootDatabase;
  logFile: LogFile;
  /** The real flushes, counted; `failSync` makes LMDB's fail. */
  target: Flushable & { flushes: number; failSync: boolean };
}

const opened: Setup[] = [];

function setup(): Setup {
  const dir = tempDir();
  const env = openLmdb({ path: path.join(dir, 'data.mdb'), noSync: true });
  const logFile = LogFile.open(path.join(dir, 'log'));
  const target = {
    flushes: 0,
    failSync: false,
    flushLogFile: () => logFile.flush(),
    syncLmdb(done: (err?: Error) => void) {
      if (target.failSync) return void setImmediate(() => done(new Error('disk gone')));
      (env as unknown as { sync(done: (err?: Error) => void): void }).sync((err) => {
        target.flushes++;
        done(err);
      });
    },
  };
  const s = { dir, mark: new UnsyncedMark(dir), env, logFile, target };
  opened.push(s);
  return s;
}

/** A commit the way the store makes one: the mark first, then LMDB's unflushed commit. */
function commit(s: Setup, checkpoints: Checkpoints, i: number): void {
  s.env.transactionSync(() => {
    checkpoints.beforeCommit();
    s.env.putSync(`k${i}`, i);
  });
  checkpoints.committed();
}

/** Let the flush run on lmdb-js's thread pool (real I/O, whatever the fake clock says). */
async function until(done: () => boolean): Promise<void> {
  const giveUpAt = performance.now() + 10_000; // a flush on a busy disk can take a while
  while (!done() && performance.now() < giveUpAt) await new Promise((r) => setImmediate(r));
  expect(done()).toBe(true);
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});

afterEach(async () => {
  vi.useRealTimers();
  for (const s of opened.splice(0)) {
    s.logFile.close();
    await s.env.close();
  }
});

describe('checkpoints', () => {
  it('the mark is on disk before the first unflushed commit, and goes once commits paused for a second and LMDB was flushed', async () => {
    const s = setup();
    const checkpoints = new Checkpoints(s.mark, [], false, s.target);
    commit(s, checkpoints, 1);
    expect(fs.existsSync(s.mark.file)).toBe(true);
    vi.advanceTimersByTime(900);
    commit(s, checkpoints, 2); // commits still coming: the pause starts again
    vi.advanceTimersByTime(900);
    expect(s.target.flushes).toBe(0);
    expect(fs.existsSync(s.mark.file)).toBe(true);
    vi.advanceTimersByTime(100);
    await until(() => !fs.existsSync(s.mark.file));
    expect(s.target.flushes).toBe(1);
    await checkpoints.close();
    expect(s.target.flushes).toBe(1); // nothing new to flush at close
  });

  it('a commit made while a flush runs keeps the mark, and another checkpoint follows for it', async () => {
    const s = setup();
    const checkpoints = new Checkpoints(s.mark, [], false, s.target);
    commit(s, checkpoints, 1);
    vi.advanceTimersByTime(1000); // the flush starts
    commit(s, checkpoints, 2); // and this commit lands before it ends
    await until(() => s.target.flushes === 1);
    await new Promise((r) => setImmediate(r));
    expect(fs.existsSync(s.mark.file)).toBe(true);
    vi.advanceTimersByTime(1000);
    await until(() => !fs.existsSync(s.mark.file));
    expect(s.target.flushes).toBe(2);
  });

  it('a failed flush keeps the mark and tries again later', async () => {
    const s = setup();
    const checkpoints = new Checkpoints(s.mark, [], false, s.target);
    commit(s, checkpoints, 1);
    s.target.failSync = true;
    vi.advanceTimersByTime(1000);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(fs.existsSync(s.mark.file)).toBe(true);
    s.target.failSync = false;
    vi.advanceTimersByTime(1000);
    await until(() => !fs.existsSync(s.mark.file));
  });

  it("dead processes' marks it adopted go with its first checkpoint", async () => {
    const s = setup();
    const dead = path.join(s.dir, 'factlog.unsynced.4242');
    fs.writeFileSync(dead, 'this boot');
    const checkpoints = new Checkpoints(s.mark, [dead], false, s.target);
    vi.advanceTimersByTime(1000); // scheduled at once, without a commit of its own
    await until(() => !fs.existsSync(dead));
    expect(s.target.flushes).toBe(1);
    await checkpoints.close();
  });

  it('close flushes at once; stop (exit without a flush) leaves the mark for the next open', async () => {
    const s = setup();
    const closing = new Checkpoints(s.mark, [], false, s.target);
    commit(s, closing, 1);
    await closing.close();
    expect(s.target.flushes).toBe(1);
    expect(fs.existsSync(s.mark.file)).toBe(false);

    const s2 = setup();
    const stopping = new Checkpoints(s2.mark, [], false, s2.target);
    commit(s2, stopping, 1);
    stopping.stop();
    vi.advanceTimersByTime(5000);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(s2.target.flushes).toBe(0);
    expect(fs.existsSync(s2.mark.file)).toBe(true);
  });

  it('noSync: never flushes, at close neither', async () => {
    const s = setup();
    const checkpoints = new Checkpoints(s.mark, [], true, s.target);
    commit(s, checkpoints, 1);
    vi.advanceTimersByTime(5000);
    await checkpoints.close();
    expect(s.target.flushes).toBe(0);
    expect(fs.existsSync(s.mark.file)).toBe(true);
  });
});
