// The log as an integration point: tx report feed, log API, tailing from another process,
// replicas, materialized views and backups.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { backup, excise, follow, Keyword, MaterializedView, open, q, replicate, restore, type Connection, type Db, type TxReport } from '../src/index.js';
import { runFixture } from './helpers/proc.js';
import { freshConn, tempDir } from './helpers/tmp.js';

/** Every datom visible in db, as sorted text, through the EAVT index. */
function dump(db: Db): string[] {
  return [...db.datoms('eavt')].map((d) => `${d.e} ${String(db.ident(d.a))} ${String(d.v)} ${d.tx}`).sort();
}

describe('tx report feed', () => {
  it('listen() and reports() deliver every report in order to every subscriber', async () => {
    const conn = await freshConn();
    const seenA: number[] = [];
    const seenB: number[] = [];
    conn.listen((r) => seenA.push(r.t));
    const unlisten = conn.listen((r) => seenB.push(r.t));
    const iter = conn.reports();
    const fromIterator: TxReport[] = [];
    const consumer = (async () => {
      for await (const r of iter) {
        fromIterator.push(r);
        if (fromIterator.length === 20) break;
      }
    })();
    const ts = (await Promise.all(Array.from({ length: 20 }, (_, i) => conn.transact([{ 'f/n': i }])))).map((r) => r.t);
    await consumer;
    await new Promise((r) => setImmediate(r));
    expect(seenA).toEqual(ts);
    expect(seenB).toEqual(ts);
    expect(fromIterator.map((r) => r.t)).toEqual(ts);
    expect(fromIterator[3].dbBefore.basisT).toBe(ts[3] - 1);
    expect(fromIterator[3].txData.some((d) => d.v === 3)).toBe(true);
    unlisten();
    await conn.transact([{ 'f/n': 99 }]);
    await new Promise((r) => setImmediate(r));
    expect(seenB).toHaveLength(20);
    expect(seenA).toHaveLength(21);
  });

  it('a slow or throwing subscriber does not hold the writer', async () => {
    const conn = await freshConn();
    conn.listen(() => {
      throw new Error('subscriber bug');
    });
    const r = await conn.transact([{ 'f/n': 1 }]);
    expect(r.t).toBe(1);
    await new Promise((res) => setImmediate(res));
    expect((await conn.transact([{ 'f/n': 2 }])).t).toBe(2);
  });
});

describe('failing tx listeners', () => {
  const settle = () => new Promise((r) => setTimeout(r, 20));

  it("a listener's throw or rejection goes to its onError; other listeners and later reports go on", async () => {
    const conn = await freshConn();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failures: string[] = [];
      const onError = (err: unknown, report: TxReport) => failures.push(`${report.t} ${(err as Error).message}`);
      conn.listen(async () => Promise.reject(new Error('async bug')), { onError });
      conn.listen(
        () => {
          throw new Error('sync bug');
        },
        { onError },
      );
      const seen: number[] = [];
      conn.listen((r) => void seen.push(r.t));
      for (let i = 0; i < 3; i++) await conn.transact([{ 'f/n': i }]);
      await settle();
      expect(seen).toEqual([1, 2, 3]);
      expect(failures.sort()).toEqual(['1 async bug', '1 sync bug', '2 async bug', '2 sync bug', '3 async bug', '3 sync bug']);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('without onError (or when onError throws) the failure is printed with conn/listener-failed', async () => {
    const conn = await freshConn();
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      conn.listen(async () => {
        throw new Error('async bug');
      });
      conn.listen(
        () => {
          throw new Error('sync bug');
        },
        {
          onError: () => {
            throw new Error('handler bug');
          },
        },
      );
      const { t } = await conn.transact([{ 'f/n': 1 }]);
      await settle();
      const lines = printed.mock.calls.map((args) => args.map(String).join(' '));
      expect(lines).toHaveLength(2);
      expect(lines.every((l) => l.includes('[conn/listener-failed]') && l.includes(`t=${t}`))).toBe(true);
      expect(lines.some((l) => l.includes('async bug'))).toBe(true);
      expect(lines.some((l) => l.includes('handler bug'))).toBe(true);
    } finally {
      printed.mockRestore();
    }
  });

  it('an async listener that rejects does not end the process: it commits on and exits 0', async () => {
    const dir = path.join(tempDir(), 'db');
    const child = runFixture('listener-rejects.mjs', [dir, '5']);
    const { lines, code, stderr } = await child.done;
    expect(code, stderr).toBe(0);
    expect(lines).toEqual(['1', '2', '3', '4', '5', 'done']);
    expect(stderr.match(/\[conn\/listener-failed\]/g)).toHaveLength(10);
  });
});

describe('log API', () => {
  it('txRange over t, tx id and Date, open-ended on either side', async () => {
    const conn = await freshConn();
    const dates = ['2026-01-01', '2026-02-01', '2026-03-01', '2026-04-01'];
    for (const [i, d] of dates.entries()) {
      await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "${d}T00:00:00Z"} {:f/n ${i}}]`);
    }
    const log = conn.log();
    expect([...log.txRange(2)].map((x) => x.t)).toEqual([2, 3, 4]);
    expect([...log.txRange(undefined, 2)].map((x) => x.t)).toEqual([0, 1]);
    expect([...log.txRange(conn.db().tToTx(3))].map((x) => x.t)).toEqual([3, 4]);
    // a Date end is exclusive like any other (Datomic's endT): the tx at exactly 2026-03-01 is not in
    expect([...log.txRange(new Date('2026-01-15'), new Date('2026-03-01T00:00:00Z'))].map((x) => x.t)).toEqual([2]);
    expect([...log.txRange(new Date('2026-01-15'), new Date('2026-03-01T00:00:00.001Z'))].map((x) => x.t)).toEqual([2, 3]);
    expect([...log.txRange(new Date('2026-02-01T00:00:00Z'))].map((x) => x.t)).toEqual([2, 3, 4]);
    // null leaves an end open, as nil does in Datomic
    expect([...log.txRange(2, null)].map((x) => x.t)).toEqual([2, 3, 4]);
    expect([...conn.txRange(null, null)].map((x) => x.t)).toEqual([0, 1, 2, 3, 4]);
    const third = [...log.txRange(3, 4)][0];
    expect(third.instant).toEqual(new Date('2026-03-01T00:00:00Z'));
    expect(third.data.some((d) => d.v === 2)).toBe(true);
  });

  it('a Date start takes every transaction at that instant, however many share it', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"} {:f/n 1}]`);
    for (let i = 2; i <= 4; i++) await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T00:00:00Z"} {:f/n ${i}}]`);
    await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "2025-02-01T00:00:00Z"} {:f/n 5}]`);
    const at = new Date('2025-01-01T00:00:00Z');
    expect([...conn.log().txRange(at)].map((x) => x.t)).toEqual([1, 2, 3, 4, 5]);
    expect([...conn.log().txRange(undefined, at)].map((x) => x.t)).toEqual([0]);
    expect([...conn.log().txRange(at, at)]).toEqual([]);
    expect(q('[:find [?tx ...] :in ?log ?from :where [(tx-ids ?log ?from nil) [?tx ...]]]', conn.log(), at)).toHaveLength(5);
  });

  it('Date bounds see transactions another connection committed since this one last looked', async () => {
    const conn = await freshConn();
    const reader = await open({ path: conn.path, readOnly: true });
    try {
      await conn.transact([{ 'f/n': 1 }]);
      await conn.transact([{ 'f/n': 2 }]);
      const tomorrow = new Date(Date.now() + 86_400_000);
      expect([...reader.log().txRange(undefined, tomorrow)].map((x) => x.t)).toEqual([0, 1, 2]);
      expect([...reader.log().txRange(tomorrow)]).toEqual([]);
    } finally {
      await reader.close();
    }
  });
});

describe('following the log from another process', () => {
  it('yields every transaction after fromT, in order, without gaps or duplicates', async () => {
    const conn = await freshConn();
    for (let i = 0; i < 5; i++) await conn.transact([{ 'f/name': `before-${i}` }]);
    const fromT = conn.basisT;
    const total = 60;
    const follower = runFixture('feed-follower.mjs', [conn.path, String(fromT), String(total + 1)]);
    // a first transaction tells us the follower is up; latency is measured from then on
    await conn.transact([{ 'f/name': 'warm-up' }]);
    await follower.waitForLine((l) => l.includes('warm-up'));
    const committedAt = new Map<number, number>();
    for (let i = 0; i < total; i++) {
      const { t } = await conn.transact([{ 'f/name': `after-${i}` }]);
      committedAt.set(t, Date.now());
      await new Promise((r) => setTimeout(r, 5));
    }
    const { lines, code, stderr } = await follower.done;
    expect(code, stderr).toBe(0);
    const got = lines.map((l) => JSON.parse(l) as { t: number; at: number; names: string[] });
    expect(got.map((g) => g.t)).toEqual(Array.from({ length: total + 1 }, (_, i) => fromT + 1 + i));
    expect(got.map((g) => g.names[0])).toEqual(['warm-up', ...Array.from({ length: total }, (_, i) => `after-${i}`)]);
    const latencies = got
      .slice(1)
      .map((g) => g.at - committedAt.get(g.t)!)
      .sort((a, b) => a - b);
    console.log(`follow latency over ${total} txs: median ${latencies[total >> 1]} ms, max ${latencies[total - 1]} ms`);
  });
});

describe('replicas', () => {
  async function primaryWithHistory(): Promise<Connection> {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :acct/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                          {:db/ident :acct/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
                          {:db/ident :acct/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
                          {:db/ident :acct/seen :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}]`);
    for (let i = 0; i < 30; i++) {
      await conn.transact([{ 'acct/name': `a${i % 4}`, 'acct/balance': i * 10, 'acct/tags': [Keyword.of(`t${i % 3}`)], 'acct/seen': i }]);
    }
    await conn.transact(`[[:db/retractEntity [:acct/name "a1"]]]`);
    return conn;
  }

  const balances = `[:find ?n ?b :where [?e :acct/name ?n] [?e :acct/balance ?b]]`;

  it(':db/noHistory changed in the tx of a retraction: the writer, a replica and a rebuild keep the same history', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :c/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/noHistory true}]`);
    const { tempids } = await conn.transact(`[{:db/id "a" :c/n 1} {:db/id "b" :c/n 1}]`);
    await conn.transact(`[{:db/id :c/n :db/noHistory false} {:db/id ${tempids.a} :c/n 2}]`);
    await conn.transact(`[{:db/id :c/n :db/noHistory true} {:db/id ${tempids.b} :c/n 2}]`);
    const written = dump(conn.db().history());
    const to = path.join(tempDir(), 'replica');
    await replicate({ from: conn.path, to });
    const replica = await open({ path: to });
    try {
      expect(dump(replica.db().history())).toEqual(written);
    } finally {
      await replica.close();
    }
    await conn.rebuildIndexes();
    expect(dump(conn.db().history())).toEqual(written);
  });

  it('replays the log into an identical database at every t, resumes, and refuses writes', async () => {
    const primary = await primaryWithHistory();
    const to = path.join(tempDir(), 'replica');
    const lastT = await replicate({ from: primary.path, to });
    expect(lastT).toBe(primary.basisT);
    const replica = await open({ path: to });
    try {
      const a = primary.db();
      const b = replica.db();
      for (let t = 0; t <= a.basisT; t++) {
        expect(dump(b.asOf(t)), `t=${t}`).toEqual(dump(a.asOf(t)));
        expect(q(balances, b.asOf(t))).toEqual(q(balances, a.asOf(t)));
      }
      expect(dump(b.history())).toEqual(dump(a.history()));
      const err = await replica.transact([{ 'acct/name': 'x' }]).catch((e) => e);
      expect(err.code).toBe('conn/replica-read-only');
    } finally {
      await replica.close();
    }
    // stopped replica catches up from where it left off
    for (let i = 0; i < 10; i++) await primary.transact([{ 'acct/name': `late${i}`, 'acct/balance': i }]);
    let progress: number[] = [];
    expect(await replicate({ from: primary.path, to, onProgress: (t) => progress.push(t) })).toBe(primary.basisT);
    expect(progress[progress.length - 1]).toBe(primary.basisT);
    const again = await open({ path: to });
    try {
      expect(dump(again.db().history())).toEqual(dump(primary.db().history()));
    } finally {
      await again.close();
    }
    progress = [];
    await replicate({ from: primary.path, to, onProgress: (t) => progress.push(t) });
    expect(progress).toEqual([]);
  });

  it('follows a primary written by another process', async () => {
    const dir = path.join(tempDir(), 'primary');
    await (await open({ path: dir })).close();
    const to = path.join(tempDir(), 'replica');
    const writer = runFixture('feed-writer.mjs', [dir, '40', '5']);
    const controller = new AbortController();
    const replicating = replicate({
      from: dir,
      to,
      follow: true,
      signal: controller.signal,
      onProgress: (t) => t >= 40 && controller.abort(),
    });
    const { code, stderr } = await writer.done;
    expect(code, stderr).toBe(0);
    expect(await replicating).toBe(40);
    const [p, r] = [await open({ path: dir }), await open({ path: to })];
    try {
      expect(dump(r.db().history())).toEqual(dump(p.db().history()));
    } finally {
      await p.close();
      await r.close();
    }
  });

  it('refuses to replicate into a database of its own', async () => {
    const primary = await primaryWithHistory();
    const other = await freshConn();
    const err = await replicate({ from: primary.path, to: other.path }).catch((e) => e);
    expect(err.code).toBe('storage/not-a-replica');
  });
});

describe('replicas of a primary whose history was replaced', () => {
  /**
   * A primary at t 10 and a backup of it taken at t 5; `replaced(n)` makes, in a side directory,
   * that backup restored and written with n transactions of a different history (its t: 5 + n).
   */
  async function primaryAndOlderBackup(): Promise<{ dir: string; replaced: (n: number) => Promise<string> }> {
    const dir = path.join(tempDir(), 'primary');
    const conn = await open({ path: dir });
    for (let i = 0; i < 5; i++) await conn.transact([{ 'acct/name': `kept${i}` }]);
    const older = path.join(tempDir(), 'backup');
    await backup(dir, older);
    for (let i = 0; i < 5; i++) await conn.transact([{ 'acct/name': `lost${i}` }]);
    await conn.close();
    const replaced = async (n: number) => {
      const side = path.join(tempDir(), 'restored');
      await restore(older, side);
      const restored = await open({ path: side });
      for (let i = 0; i < n; i++) await restored.transact([{ 'acct/name': `other${i}` }]);
      await restored.close();
      return side;
    };
    return { dir, replaced };
  }

  /** Put the database at `side` in place of the one at `dir`, as an operator restoring a primary would. */
  function swapInto(side: string, dir: string): void {
    fs.renameSync(dir, path.join(tempDir(), 'old-primary'));
    fs.renameSync(side, dir);
  }

  async function replicaState(dir: string): Promise<{ t: number; datoms: string[] }> {
    const conn = await open({ path: dir, readOnly: true });
    try {
      return { t: conn.basisT, datoms: dump(conn.db().history()) };
    } finally {
      await conn.close();
    }
  }

  /** `promise`, or 'still running' once `ms` have passed. */
  const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms).unref())]);

  it('refuses to catch up (feed/diverged) when the primary is behind, at, or past the replica on another history', async () => {
    const { dir, replaced } = await primaryAndOlderBackup();
    const to = path.join(tempDir(), 'replica');
    expect(await replicate({ from: dir, to })).toBe(10);
    const before = await replicaState(to);
    for (const [n, what] of [
      [0, 'behind'],
      [5, 'at'],
      [8, 'past'],
    ] as const) {
      const side = await replaced(n);
      swapInto(side, dir);
      const err = await replicate({ from: dir, to }).catch((e) => e);
      expect(err?.code, `primary ${what} the replica: ${String(err)}`).toBe('feed/diverged');
      expect(err.message).toMatch(/t=?\s?\d+/);
      expect(await replicaState(to)).toEqual(before);
    }
  });

  it('a replaced history that ends in the very record the replica ends in is caught by the records before it', async () => {
    const at = (t: number) => `#inst "2020-01-01T00:00:${String(t).padStart(2, '0')}Z"`;
    const write = async (conn: Connection, t: number, name: string) => conn.transact(`[{:db/id "datomic.tx" :db/txInstant ${at(t)}} {:acct/name "${name}"}]`);
    const dir = path.join(tempDir(), 'primary');
    const conn = await open({ path: dir });
    for (let t = 1; t <= 5; t++) await write(conn, t, `kept${t}`);
    const older = path.join(tempDir(), 'backup');
    await backup(dir, older);
    for (let t = 6; t <= 10; t++) await write(conn, t, t === 10 ? 'same' : `lost${t}`);
    await conn.close();
    const to = path.join(tempDir(), 'replica');
    expect(await replicate({ from: dir, to })).toBe(10);
    const side = path.join(tempDir(), 'restored');
    await restore(older, side);
    const other = await open({ path: side });
    for (let t = 6; t <= 12; t++) await write(other, t, t === 10 ? 'same' : `other${t}`);
    const replicaLast = (await replicaStateRecord(to, 10))!;
    expect(other.store.logEntry(10)).toEqual(replicaLast);
    await other.close();
    swapInto(side, dir);
    const err = await replicate({ from: dir, to }).catch((e) => e);
    expect(err?.code, String(err)).toBe('feed/diverged');
    expect((await replicaState(to)).t).toBe(10);
  });

  async function replicaStateRecord(dir: string, t: number) {
    const conn = await open({ path: dir, readOnly: true });
    try {
      return conn.store.logEntry(t);
    } finally {
      await conn.close();
    }
  }

  it('a replica of the same history still resumes after its primary is restored from a newer backup', async () => {
    const { dir } = await primaryAndOlderBackup();
    const to = path.join(tempDir(), 'replica');
    const conn = await open({ path: dir });
    await conn.transact([{ 'acct/name': 'x' }]);
    await conn.close();
    expect(await replicate({ from: dir, to })).toBe(11);
    const newer = path.join(tempDir(), 'newer');
    await backup(dir, newer);
    const side = path.join(tempDir(), 'restored');
    await restore(newer, side);
    swapInto(side, dir);
    const again = await open({ path: dir });
    await again.transact([{ 'acct/name': 'y' }]);
    await again.close();
    expect(await replicate({ from: dir, to })).toBe(12);
  });

  it('replicate({ follow: true }) stops with feed/diverged when the primary is replaced under it', async () => {
    const { dir, replaced } = await primaryAndOlderBackup();
    const to = path.join(tempDir(), 'replica');
    const side = await replaced(8);
    const controller = new AbortController();
    let reached10: () => void = () => {};
    const at10 = new Promise<void>((r) => (reached10 = r));
    const replicating = replicate({ from: dir, to, follow: true, signal: controller.signal, onProgress: (t) => t >= 10 && reached10() });
    replicating.catch(() => undefined);
    await at10;
    swapInto(side, dir);
    const outcome = await within(
      replicating.catch((e) => e),
      5000,
    );
    controller.abort();
    expect((outcome as { code?: string }).code, String(outcome)).toBe('feed/diverged');
    expect((await replicaState(to)).t).toBe(10);
  });

  /** Follows `dir` up to t 10, puts `side` in its place, and expects feed/diverged after exactly t 0..10. */
  async function expectFollowDivergesAfterSwap(dir: string, side: string): Promise<void> {
    const seen: number[] = [];
    let reached10: () => void = () => {};
    const at10 = new Promise<void>((r) => (reached10 = r));
    const controller = new AbortController();
    const following = (async () => {
      for await (const tx of follow(dir, { pollMs: 20, signal: controller.signal })) {
        seen.push(tx.t);
        if (tx.t === 10) reached10();
      }
      return 'ended';
    })();
    following.catch(() => undefined);
    await at10;
    swapInto(side, dir);
    const outcome = await within(
      following.catch((e) => e),
      5000,
    );
    controller.abort();
    expect((outcome as { code?: string }).code, String(outcome)).toBe('feed/diverged');
    expect(seen).toEqual(Array.from({ length: 11 }, (_, t) => t));
  }

  it('follow() stops with feed/diverged when the followed database is replaced by another history', async () => {
    const { dir, replaced } = await primaryAndOlderBackup();
    const side = await replaced(8);
    await expectFollowDivergesAfterSwap(dir, side);
  });

  /** The instant of t in the fixed histories below: the same in every database that writes them. */
  const instantOf = (t: number) => new Date(Date.UTC(2020, 0, 1) + t * 1000).toISOString();

  /**
   * A closed database at `dir` whose t 1..names.length each name one account, with fixed
   * instants: two such databases hold the same records exactly where their names agree.
   */
  async function fixedHistory(dir: string, names: string[]): Promise<string> {
    const conn = await open({ path: dir, noSync: true });
    for (const [i, name] of names.entries()) {
      await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "${instantOf(i + 1)}"} {:acct/name "${name}"}]`);
    }
    await conn.close();
    return dir;
  }

  const namesUpTo = (n: number) => Array.from({ length: n }, (_, i) => `n${i + 1}`);

  it('a history that differs only at a t a sample of records would skip (last - 3 of 20) is refused, naming that t', async () => {
    const dir = await fixedHistory(path.join(tempDir(), 'primary'), namesUpTo(20));
    const to = path.join(tempDir(), 'replica');
    expect(await replicate({ from: dir, to })).toBe(20);
    const before = await replicaState(to);
    const other = namesUpTo(22);
    other[16] = 'changed'; // t 17
    swapInto(await fixedHistory(path.join(tempDir(), 'other'), other), dir);
    const err = await replicate({ from: dir, to }).catch((e) => e);
    expect(err?.code, String(err)).toBe('feed/diverged');
    expect(err.message).toMatch(/t=17\b/);
    expect(await replicaState(to)).toEqual(before);
  });

  it('follow() stops with feed/diverged when the database put in its place differs only before the last record read', async () => {
    const dir = await fixedHistory(path.join(tempDir(), 'primary'), namesUpTo(10));
    const other = namesUpTo(14);
    other[6] = 'changed'; // t 7
    const side = await fixedHistory(path.join(tempDir(), 'other'), other);
    await expectFollowDivergesAfterSwap(dir, side);
  });

  it('property: a replica refuses a primary with any one record changed at or before its t, and never one with the same history', async () => {
    const historyArb = fc
      .record({ names: fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 3, maxLength: 14 }), more: fc.nat({ max: 3 }), change: fc.option(fc.nat(), { nil: undefined }) })
      .map(({ names, more, change }) => ({ names, more, changedT: change === undefined ? undefined : 1 + (change % names.length) }));
    await fc.assert(
      fc.asyncProperty(historyArb, async ({ names, more, changedT }) => {
        const dir = await fixedHistory(path.join(tempDir(), 'primary'), names);
        const to = path.join(tempDir(), 'replica');
        expect(await replicate({ from: dir, to })).toBe(names.length);
        const other = [...names, ...Array.from({ length: more }, (_, i) => `more${i}`)];
        if (changedT !== undefined) other[changedT - 1] += '!';
        swapInto(await fixedHistory(path.join(tempDir(), 'other'), other), dir);
        const outcome = await replicate({ from: dir, to }).catch((e) => e);
        if (changedT === undefined) expect(outcome).toBe(other.length);
        else {
          expect(outcome?.code, `t ${changedT} of ${names.length} changed: ${String(outcome)}`).toBe('feed/diverged');
          expect(outcome.message).toContain(`t=${changedT}`);
          expect((await replicaState(to)).t).toBe(names.length);
        }
      }),
      { numRuns: 20 },
    );
  });

  it('follow() given the record at fromT refuses a database whose record there differs', async () => {
    const { dir, replaced } = await primaryAndOlderBackup();
    const conn = await open({ path: dir, readOnly: true });
    const mine = conn.store.logEntry(10)!;
    await conn.close();
    swapInto(await replaced(8), dir);
    const err = await (async () => {
      for await (const tx of follow(dir, { fromT: 10, fromEntry: mine })) return tx;
    })().catch((e) => e);
    expect(err.code).toBe('feed/diverged');
  });
});

describe('materialized views', () => {
  const balanceView = {
    name: 'balances',
    initial: () => ({ history: {} as Record<string, [number, number][]> }),
    apply(state: { history: Record<string, [number, number][]> }, tx: { t: number; data: { a: number; v: unknown; added: boolean; e: number }[] }, conn: Connection) {
      const amount = conn.db().attr('tr/amount')?.id;
      const from = conn.db().attr('tr/from')?.id;
      const to = conn.db().attr('tr/to')?.id;
      const byE = new Map<number, Record<number, unknown>>();
      for (const d of tx.data) if (d.added) byE.set(d.e, { ...(byE.get(d.e) ?? {}), [d.a]: d.v });
      for (const t of byE.values()) {
        if (amount === undefined || t[amount] === undefined) continue;
        const bump = (acct: string, delta: number) => {
          const h = (state.history[acct] ??= []);
          const last = h.length ? h[h.length - 1][1] : 0;
          h.push([tx.t, last + delta]);
        };
        bump(t[from!] as string, -(t[amount] as number));
        bump(t[to!] as string, t[amount] as number);
      }
      return state;
    },
  };
  const balanceAt = (state: { history: Record<string, [number, number][]> }, acct: string, t: number) => [...(state.history[acct] ?? [])].reverse().find(([at]) => at <= t)?.[1] ?? 0;
  const queryBalance = (db: Db, acct: string) =>
    (q(`[:find (sum ?x) . :in $ ?acct :with ?tr :where [?tr :tr/to ?acct] [?tr :tr/amount ?x]]`, db, acct) ?? 0) -
    (q(`[:find (sum ?x) . :in $ ?acct :with ?tr :where [?tr :tr/from ?acct] [?tr :tr/amount ?x]]`, db, acct) ?? 0);

  it('keeps balances from the feed; any past balance equals a query as of that t; resumes after restart', async () => {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :tr/from :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                          {:db/ident :tr/to :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                          {:db/ident :tr/amount :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    const viewDir = tempDir();
    let view = MaterializedView.open(conn, balanceView, { dir: viewDir });
    const accts = ['ann', 'bob', 'cid'];
    for (let i = 0; i < 25; i++) {
      await conn.transact([{ 'tr/from': accts[i % 3], 'tr/to': accts[(i + 1) % 3], 'tr/amount': 10 + i }]);
    }
    await view.waitFor(conn.basisT);
    view.close();
    // more transactions while the view is down
    for (let i = 0; i < 5; i++) await conn.transact([{ 'tr/from': 'bob', 'tr/to': 'ann', 'tr/amount': 100 }]);
    let applied = 0;
    view = MaterializedView.open(conn, { ...balanceView, apply: (s, tx, c) => (applied++, balanceView.apply(s, tx, c)) }, { dir: viewDir });
    expect(applied).toBe(5);
    const db = conn.db();
    for (let t = 0; t <= db.basisT; t++) {
      for (const acct of accts) expect(balanceAt(view.state, acct, t), `${acct} at ${t}`).toBe(queryBalance(db.asOf(t), acct));
    }
    view.close();
  });
});

describe('materialized views whose apply throws', () => {
  /** Sums every :n/x; mutates its state, then throws on the transaction holding 10 while `failing`. */
  function summingView(control: { failing: boolean; calls: number }) {
    return {
      name: 'sum',
      initial: () => ({ sum: 0 }),
      apply(state: { sum: number }, tx: { data: { a: number; v: unknown; added: boolean }[] }, conn: Connection) {
        control.calls++;
        const x = conn.db().attr('n/x')?.id;
        for (const d of tx.data) if (d.a === x && d.added) state.sum += d.v as number;
        if (control.failing && tx.data.some((d) => d.v === 10)) throw new Error('apply bug');
        return state;
      },
    };
  }

  async function summedDb(): Promise<Connection> {
    const conn = await freshConn();
    await conn.transact(`[{:db/ident :n/x :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    return conn;
  }

  const logSum = (conn: Connection, upToT: number) => (q(`[:find (sum ?x) . :with ?e :where [?e :n/x ?x]]`, conn.db().asOf(upToT)) as number | null) ?? 0;

  it('while following: the state stays the fold up to t - 1, the error surfaces coded, the view stops, a reopen resumes', async () => {
    const conn = await summedDb();
    const dir = tempDir();
    const control = { failing: true, calls: 0 };
    const errors: (Error & { code?: string; t?: number; cause?: unknown })[] = [];
    const view = MaterializedView.open(conn, summingView(control), { dir, onError: (e) => errors.push(e) });
    await conn.transact([{ 'n/x': 1 }]);
    const { t: t2 } = await conn.transact([{ 'n/x': 5 }]);
    await view.waitFor(t2);
    const { t: t3 } = await conn.transact([{ 'n/x': 10 }]);
    const waited = await view.waitFor(t3).catch((e) => e);
    expect(waited.code).toBe('view/apply-failed');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe(waited);
    expect(errors[0].t).toBe(t3);
    expect((errors[0].cause as Error).message).toBe('apply bug');
    expect(view.t).toBe(t2);
    expect(view.state.sum).toBe(logSum(conn, t2));
    // stopped: later transactions are not folded, and nothing folds the failed one twice
    await conn.transact([{ 'n/x': 100 }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(view.state).toEqual({ sum: 6 });
    expect(errors).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'sum.view.json'), 'utf8'))).toMatchObject({ t: t2, state: { sum: 6 } });
    view.close();
    control.failing = false;
    const reopened = MaterializedView.open(conn, summingView(control), { dir });
    expect(reopened.t).toBe(conn.basisT);
    expect(reopened.state.sum).toBe(logSum(conn, conn.basisT));
    expect(reopened.state.sum).toBe(116);
    reopened.close();
  });

  it('while catching up at open: open throws the coded error, keeps the fold up to t - 1, and a reopen resumes', async () => {
    const conn = await summedDb();
    const dir = tempDir();
    for (const x of [1, 5, 10, 0]) await conn.transact([{ 'n/x': x }]);
    const control = { failing: true, calls: 0 };
    const err = (() => {
      try {
        MaterializedView.open(conn, summingView(control), { dir });
      } catch (e) {
        return e as Error & { code?: string; t?: number };
      }
    })();
    expect(err?.code).toBe('view/apply-failed');
    const failedT = err!.t!;
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'sum.view.json'), 'utf8'))).toMatchObject({ t: failedT - 1, state: { sum: logSum(conn, failedT - 1) } });
    control.failing = false;
    const view = MaterializedView.open(conn, summingView(control), { dir });
    expect(view.state.sum).toBe(16);
    expect(view.state.sum).toBe(logSum(conn, conn.basisT));
    view.close();
  });

  it('a damaged or foreign view file, or a state that cannot be copied, gives a coded error', async () => {
    const conn = await summedDb();
    await conn.transact([{ 'n/x': 1 }]);
    const dir = tempDir();
    const control = { failing: false, calls: 0 };
    for (const text of ['{"name":"sum","t":3,"sta', 'null', '{"name":"other","t":1,"state":{}}']) {
      fs.writeFileSync(path.join(dir, 'sum.view.json'), text);
      expect(() => MaterializedView.open(conn, summingView(control), { dir })).toThrow(expect.objectContaining({ code: 'view/corrupt' }));
    }
    fs.rmSync(path.join(dir, 'sum.view.json'));
    const unclonable = { ...summingView(control), initial: () => ({ sum: 0, f: () => 1 }) };
    expect(() => MaterializedView.open(conn, unclonable, { dir })).toThrow(expect.objectContaining({ code: 'view/state-not-serialisable' }));
  });

  it('closing the connection with a view following it reports no failure', async () => {
    const conn = await open({ path: path.join(tempDir(), 'db') });
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      MaterializedView.open(conn, { name: 'n', initial: () => ({ n: 0 }), apply: (s) => (s.n++, s) }, { dir: tempDir() });
      await conn.transact([{ 'n/x': 1 }]);
      await conn.close(); // before the report is delivered: the view's catch-up finds the connection closed
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });

  it("without onError, a failure goes where a failing listener's does, and the view still stops", async () => {
    const conn = await summedDb();
    const control = { failing: true, calls: 0 };
    const view = MaterializedView.open(conn, summingView(control), { dir: tempDir() });
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { t } = await conn.transact([{ 'n/x': 10 }]);
      expect((await view.waitFor(t).catch((e) => e)).code).toBe('view/apply-failed');
      expect(view.state.sum).toBe(0);
      await conn.transact([{ 'n/x': 1 }]);
      await new Promise((r) => setTimeout(r, 20));
      expect(view.state.sum).toBe(0);
      expect(printed.mock.calls.map((args) => String(args[0]))).toEqual([expect.stringMatching(/\[conn\/listener-failed\].*\[view\/apply-failed\]/)]);
    } finally {
      printed.mockRestore();
    }
    view.close();
  });
});

describe('backup and restore', () => {
  it('takes a consistent copy while another process writes, and restores it', async () => {
    const dir = path.join(tempDir(), 'db');
    await (await open({ path: dir })).close();
    const writer = runFixture('feed-writer.mjs', [dir, '300']);
    await writer.waitForLine((l) => Number(l) >= 50);
    const target = path.join(tempDir(), 'backup');
    await backup(dir, target);
    await writer.done;
    const copy = await open({ path: target });
    try {
      const db = copy.db();
      expect(db.basisT).toBeGreaterThanOrEqual(50);
      expect(db.basisT).toBeLessThanOrEqual(300);
      // every tx in the copy is whole: one name and one seq per tx entity, indexes agree with the log
      const seqs = q(`[:find [?s ...] :where [?e :acct/seq ?s]]`, db) as number[];
      expect(new Set(seqs).size).toBeLessThanOrEqual(db.basisT);
      const before = copy.store.dumpIndex('eavt', 'current');
      await copy.rebuildIndexes();
      expect(copy.store.dumpIndex('eavt', 'current')).toEqual(before);
    } finally {
      await copy.close();
    }
    const restored = path.join(tempDir(), 'restored');
    await restore(target, restored);
    const conn = await open({ path: restored });
    try {
      const r = await conn.transact([{ 'acct/name': 'after-restore' }]);
      expect(r.t).toBeGreaterThan(50);
    } finally {
      await conn.close();
    }
    expect(fs.existsSync(path.join(target, 'factlog.mdb'))).toBe(true);
    expect((await backup(dir, target).catch((e) => e)).code).toBe('storage/target-not-empty');
  });

  describe('onto a full disk', () => {
    const mounts: string[] = [];
    afterEach(() => {
      for (const dir of mounts.splice(0)) spawnSync('umount', [dir]);
    });

    /** A 64 KB tmpfs at a new directory, or undefined when this sandbox may not mount one. */
    function smallDisk(): string | undefined {
      const dir = tempDir('factlog-small-disk-');
      const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { encoding: 'utf8' });
      if (r.status !== 0) return undefined;
      mounts.push(dir);
      return dir;
    }

    // The disk fills up inside lmdb-js's copy: before, an uncoded "No space left on device" and a
    // 64 KB partial factlog.mdb at the target that restore then took for a backup.
    it('fails with storage/backup-failed and leaves no factlog.mdb at the target, new or empty', async (ctx) => {
      const disk = smallDisk();
      if (!disk) return ctx.skip('cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN); the CLI test of a full disk uses ulimit -f');
      const conn = await freshConn();
      for (let i = 0; i < 10; i++) await conn.transact(Array.from({ length: 60 }, (_, j) => ({ 'item/name': `item ${i}-${j}` })));
      const source = conn.store.dir;
      await conn.close();
      expect(fs.statSync(path.join(source, 'factlog.mdb')).size).toBeGreaterThan(64 * 1024);
      const newTarget = path.join(disk, 'new', 'backup');
      const err = await backup(source, newTarget).catch((e) => e);
      expect(err?.code).toBe('storage/backup-failed');
      expect(err.message).toMatch(/no space left on device/i);
      expect(fs.readdirSync(disk)).toEqual([]);
      const failedAgain = await backup(source, disk).catch((e) => e);
      expect(failedAgain?.code).toBe('storage/backup-failed');
      expect(fs.readdirSync(disk)).toEqual([]);
      expect((await restore(disk, path.join(tempDir(), 'restored')).catch((e) => e))?.code).toBe('storage/no-database');
    });
  });
});

describe('replicas and followers of a primary that excised', () => {
  const SECRET = 'ZQX-replicated-secret-ZQX';

  /** A primary at t 8 holding the secret at t 2, and a replica of it at t 5 (behind the excision to come). */
  async function primaryAndReplica(): Promise<{ dir: string; to: string }> {
    const dir = path.join(tempDir(), 'primary');
    const to = path.join(tempDir(), 'replica');
    const conn = await open({ path: dir });
    await conn.transact('[{:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]');
    await conn.transact(`[{:p/email "ann@x" :acct/name "${SECRET}"}]`);
    for (let i = 0; i < 3; i++) await conn.transact([{ 'acct/name': `kept${i}` }]);
    await conn.close();
    expect(await replicate({ from: dir, to })).toBe(5);
    const more = await open({ path: dir });
    for (let i = 0; i < 3; i++) await more.transact([{ 'acct/name': `later${i}` }]);
    await more.close();
    return { dir, to };
  }

  const holdsSecret = (dir: string) => fs.readdirSync(dir).some((f) => fs.readFileSync(path.join(dir, f)).includes(Buffer.from(SECRET)));

  async function chainAndHistory(dir: string, t: number): Promise<[string, string[]]> {
    const conn = await open({ path: dir, readOnly: true });
    try {
      return [Buffer.from(conn.store.chainHash(t)!).toString('hex'), dump(conn.db().history())];
    } finally {
      await conn.close();
    }
  }

  it('a replica behind the excision applies it, and then holds the same chain and facts, with no byte of the value', async () => {
    const { dir, to } = await primaryAndReplica();
    const { t } = await excise(dir, '[[:db/excise [:p/email "ann@x"]]]');
    expect(holdsSecret(to)).toBe(true);
    expect(await replicate({ from: dir, to })).toBe(t);
    expect(holdsSecret(to)).toBe(false);
    expect(await chainAndHistory(to, t)).toEqual(await chainAndHistory(dir, t));
    expect(fs.readdirSync(path.dirname(to))).toEqual(['replica']);
  });

  it('a replica whose primary truly diverged is still refused (feed/diverged), excision or not', async () => {
    const { dir, to } = await primaryAndReplica();
    const other = path.join(tempDir(), 'other');
    const conn = await open({ path: other });
    await conn.transact('[{:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]');
    await conn.transact(`[{:p/email "ann@x" :acct/name "${SECRET}"}]`);
    for (let i = 0; i < 6; i++) await conn.transact([{ 'acct/name': `different${i}` }]);
    await conn.close();
    await excise(other, '[[:db/excise [:p/email "ann@x"]]]');
    fs.renameSync(dir, path.join(tempDir(), 'old-primary'));
    fs.renameSync(other, dir);
    const before = await chainAndHistory(to, 5);
    expect((await replicate({ from: dir, to }).catch((e) => e))?.code).toBe('feed/diverged');
    expect(await chainAndHistory(to, 5)).toEqual(before);
  });

  it('follow() from a chain read before the excision stops with feed/excised, not feed/diverged', async () => {
    const { dir, to } = await primaryAndReplica();
    const [fromChain] = await chainAndHistory(to, 5);
    await excise(dir, '[[:db/excise [:p/email "ann@x"]]]');
    const err = await (async () => {
      for await (const _ of follow(dir, { fromT: 5, fromChain: Buffer.from(fromChain, 'hex') })) return 'yielded';
    })().catch((e) => e);
    expect(err?.code, String(err)).toBe('feed/excised');
  });
});
