// dir-claims.ts: a writer whose commits LMDB does not flush (durability 'process', noSync) is
// the only process with its directory open, even when processes open it at the same instant;
// presence marks and claims follow each connection's open and close, and dead processes' marks
// are ignored.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { open } from '../src/index.js';
// @ts-expect-error plain .mjs fixture
import { assertDistBuilt } from './fixtures/dist-check.mjs';
import { runFixture } from './helpers/proc.js';
import { closedDatabase, tempDir } from './helpers/tmp.js';

beforeAll(() => assertDistBuilt());

const CLAIM = 'factlog.unsynced-writer';
const presence = (dir: string, pid = process.pid) => path.join(dir, `factlog.open.${pid}`);

/** A pid that belongs to no running process: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = runFixture('dir-holder.mjs', ['/nonexistent', 'ro', '0', '0']);
  await child.done;
  return child.child.pid!;
}

interface Outcome {
  as: string;
  opened: boolean;
  openedAt?: number;
  closedAt?: number;
  code?: string;
}

describe('presence marks and claims within one process', () => {
  it('a connection marks the directory while open; the mark stays until the last connection closes', async () => {
    const dir = await closedDatabase('factlog-claims-');
    const a = await open({ path: dir });
    const b = await open({ path: dir, readOnly: true });
    expect(fs.existsSync(presence(dir))).toBe(true);
    await a.close();
    expect(fs.existsSync(presence(dir))).toBe(true);
    await b.close();
    expect(fs.existsSync(presence(dir))).toBe(false);
  });

  it("two 'process' connections in one process keep the claim until the second closes", async () => {
    const dir = await closedDatabase('factlog-claims-');
    const a = await open({ path: dir, durability: 'process' });
    const b = await open({ path: dir, durability: 'process' });
    expect(fs.readFileSync(path.join(dir, CLAIM), 'utf8')).toBe(String(process.pid));
    await a.close();
    expect(fs.existsSync(path.join(dir, CLAIM))).toBe(true);
    const refused = runFixture('dir-holder.mjs', [dir, 'ro', '0', '0']);
    const [line] = (await refused.done).lines;
    expect(JSON.parse(line!)).toMatchObject({ opened: false, code: 'storage/unsynced-writer' });
    await b.close();
    expect(fs.existsSync(path.join(dir, CLAIM))).toBe(false);
  });

  it('a new database directory holding only marks is still empty enough to create a database in', async () => {
    const dir = path.join(tempDir('factlog-claims-'), 'db');
    fs.mkdirSync(dir);
    fs.writeFileSync(presence(dir, await deadPid()), '');
    const conn = await open({ path: dir });
    expect(conn.basisT).toBe(0);
    await conn.close();
  });
});

describe('across processes', () => {
  it("a 'process' writer is refused while another process has the directory open, and opens once it has closed", async () => {
    const dir = await closedDatabase('factlog-claims-');
    const holder = runFixture('dir-holder.mjs', [dir, 'ro', '0', '1500']);
    for (let waited = 0; !fs.readdirSync(dir).some((n) => n.startsWith('factlog.open.')) && waited < 10_000; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await expect(open({ path: dir, durability: 'process' })).rejects.toMatchObject({ code: 'storage/unsynced-writer' });
    expect(fs.existsSync(path.join(dir, CLAIM))).toBe(false);
    expect(JSON.parse((await holder.done).lines[0]!)).toMatchObject({ opened: true });
    const writer = await open({ path: dir, durability: 'process' });
    await writer.transact(`[{:db/id "b" :person/name "Bo"}]`);
    await writer.close();
  }, 30_000);

  it("marks and claims of processes that died are ignored (and removed)", async () => {
    const dir = await closedDatabase('factlog-claims-');
    const dead = await deadPid();
    fs.writeFileSync(presence(dir, dead), '');
    const writer = await open({ path: dir, durability: 'process' });
    expect(fs.existsSync(presence(dir, dead))).toBe(false);
    await writer.close();
    // a reader's open clears dead marks too, so that crashed processes' marks do not pile up
    fs.writeFileSync(presence(dir, dead), '');
    const first = await open({ path: dir, readOnly: true });
    expect(fs.existsSync(presence(dir, dead))).toBe(false);
    await first.close();
    fs.writeFileSync(path.join(dir, CLAIM), String(dead));
    const reader = await open({ path: dir, readOnly: true });
    await reader.close();
    const again = await open({ path: dir, durability: 'process' });
    expect(fs.readFileSync(path.join(dir, CLAIM), 'utf8')).toBe(String(process.pid));
    await again.close();
  });

  it("processes opening at the same instant: a 'process' writer never has the directory open together with another process", async () => {
    const dir = await closedDatabase('factlog-claims-');
    const dead = await deadPid();
    const rounds = 8;
    const opened: Record<string, number> = {};
    for (let round = 0; round < rounds; round++) {
      // odd rounds: two writers, racing to take over a dead process's claim
      if (round % 2) fs.writeFileSync(path.join(dir, CLAIM), String(dead));
      const roles = round % 2 ? ['process', 'process', 'ro', 'os'] : ['process', 'ro', 'ro', 'os'];
      const startAt = Date.now() + 600;
      const children = roles.map((as) => runFixture('dir-holder.mjs', [dir, as, String(startAt), '150']));
      const outcomes: Outcome[] = [];
      for (const c of children) {
        const { lines, stderr } = await c.done;
        expect(lines, stderr).toHaveLength(1);
        outcomes.push(JSON.parse(lines[0]!));
      }
      for (const o of outcomes.filter((x) => !x.opened)) expect(o.code).toBe('storage/unsynced-writer');
      const open = outcomes.filter((o) => o.opened);
      for (const w of open.filter((o) => o.as === 'process')) {
        for (const o of open) {
          if (o !== w) expect(o.closedAt! < w.openedAt! || o.openedAt! > w.closedAt!).toBe(true);
        }
      }
      for (const o of open) opened[o.as] = (opened[o.as] ?? 0) + 1;
      // every mark and claim is gone once everyone has closed
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('factlog.open.') || n.startsWith(CLAIM))).toEqual([]);
      if (process.env.SHOW_ROUNDS) console.log(outcomes.map((o) => `${o.as}:${o.opened ? 'open' : 'refused'}`).join(' '));
    }
    // the rounds exercised both sides (who wins a round is up to timing)
    expect(Object.values(opened).reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
  }, 120_000);
});
