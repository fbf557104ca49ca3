// Promise 1, durability: a writer process killed with SIGKILL at random moments loses no
// acknowledged transaction, never leaves one half-applied, and leaves indexes that agree with the
// log. The writer (test/fixtures/durability-writer.mjs) prints "ack t n e" only after
// `await conn.transact` resolved; each tx creates one entity with exactly 3 datoms.
// The long version: `node scripts/soak-durability.mjs 1000`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
// @ts-expect-error plain .mjs fixture shared with scripts/soak-durability.mjs
import { runKillCycles } from '../fixtures/durability-runner.mjs';
// @ts-expect-error plain .mjs fixture
import { assertDistBuilt } from '../fixtures/dist-check.mjs';
import { tempDir } from '../helpers/tmp.js';

interface CycleStats {
  cycles: number;
  acked: number;
  lastT: number;
  problems: string[];
  perCycleAcks: number[];
}

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
/** Kill cycles in the suite: two chains on two databases run side by side to use both cores. */
const CHAINS = 2;
const CYCLES_PER_CHAIN = 26;

beforeAll(() => assertDistBuilt());

describe('durability under SIGKILL', () => {
  it(`every acknowledged tx survives ${CHAINS * CYCLES_PER_CHAIN} random kills, none is partial, indexes = log`, async () => {
    const started = Date.now();
    const results: CycleStats[] = await Promise.all(
      Array.from({ length: CHAINS }, () => runKillCycles({ open, dir: path.join(tempDir('factlog-durability-'), 'db'), cycles: CYCLES_PER_CHAIN, minMs: 20, maxMs: 200 })),
    );
    const problems = results.flatMap((r) => r.problems);
    expect(problems).toEqual([]);
    const cycles = results.reduce((s, r) => s + r.cycles, 0);
    const acked = results.reduce((s, r) => s + r.acked, 0);
    expect(cycles).toBe(CHAINS * CYCLES_PER_CHAIN);
    // the kills must land while transactions are being acknowledged, or the test proves nothing
    expect(acked).toBeGreaterThan(cycles);
    const midWrite = results.flatMap((r) => r.perCycleAcks).filter((n) => n > 0).length;
    expect(midWrite).toBeGreaterThan(cycles / 2);
    console.log(`durability: ${cycles} kill cycles, ${acked} acknowledged txs, ${midWrite} kills mid-write, ${Date.now() - started} ms`);
  }, 120_000);

  // durability: 'process' skips the fsync; its promise is narrower (a crash of the process, not of
  // the machine), and that promise is what this checks
  it("with durability 'process' every acknowledged tx survives random kills too", async () => {
    const stats: CycleStats = await runKillCycles({
      open,
      dir: path.join(tempDir('factlog-durability-'), 'db'),
      cycles: 12,
      minMs: 20,
      maxMs: 200,
      durability: 'process',
    });
    expect(stats.problems).toEqual([]);
    expect(stats.acked).toBeGreaterThan(stats.cycles);
  }, 120_000);

  // Store.open creates the LMDB file, then bootstrap commits t = 0 with the format version in one
  // LMDB transaction. A crash in between leaves an empty file, which the next open must take as
  // not yet created (and bootstrap), not refuse.
  it('a crash while creating the database leaves a directory that opens (creation resumes)', async () => {
    const dir = path.join(tempDir('factlog-durability-'), 'db');
    const r = spawnSync(process.execPath, [path.join(FIXTURES, 'crash-before-bootstrap.mjs'), dir]);
    expect(r.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(dir, 'factlog.mdb'))).toBe(true);
    const conn = await open({ path: dir });
    try {
      expect(conn.basisT).toBe(0);
      const r2 = await conn.transact('[[:db/add "x" :k/v 1]]');
      expect(r2.t).toBe(1);
    } finally {
      await conn.close();
    }
  });
});
