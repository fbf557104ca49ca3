// The log as an integration point: tx report feed, log API, tailing from another process,
// replicas, materialized views and backups.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { backup, Keyword, MaterializedView, open, q, replicate, restore, type Connection, type Db, type TxReport } from '../src/index.js';
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
    const latencies = got.slice(1).map((g) => g.at - committedAt.get(g.t)!).sort((a, b) => a - b);
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
  const balanceAt = (state: { history: Record<string, [number, number][]> }, acct: string, t: number) =>
    [...(state.history[acct] ?? [])].reverse().find(([at]) => at <= t)?.[1] ?? 0;
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
