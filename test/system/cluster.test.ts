// Cluster nodes over a real 3-server JetStream cluster on loopback, and real node processes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { backup, open, pull, q, type Connection, type Db } from '../../src/index.js';
import { pushDatabase } from '../../src/cluster/index.js';
import { ClusterNode } from '../../src/cluster/node.js';
import { NatsCluster, natsAvailable } from '../helpers/nats.js';
import { runFixture, type Running } from '../helpers/proc.js';
import { factlog } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { serveProcess } from '../helpers/server.js';

const available = natsAvailable();

let nats: NatsCluster;
let nameCount = 0;
const opened: Connection[] = [];

beforeAll(async () => {
  if (available) nats = await NatsCluster.start();
});
afterAll(async () => {
  for (const c of opened) await c.close().catch(() => undefined);
  await nats?.shutdown();
});

function freshName(): string {
  return `db${process.pid}_${++nameCount}`;
}

async function node(name: string, dir = path.join(tempDir('factlog-node-'), 'db'), timeoutMs = 10_000): Promise<Connection> {
  const conn = await open({ path: dir, cluster: { servers: nats.urls, name, timeoutMs } });
  opened.push(conn);
  return conn;
}

/** Every record of a node's log, t by t, as bytes. */
function logBytes(conn: Connection): string[] {
  const out: string[] = [];
  for (let t = 0; t <= conn.store.lastT(); t++) out.push(Buffer.from(conn.store.logRecordAt(t)!).toString('hex'));
  return out;
}

const SCHEMA = `[{:db/ident :account/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :account/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`;

describe.skipIf(!available)('cluster nodes', () => {
  it('write from any node; every node indexes every record in the same order, byte for byte', async () => {
    const name = freshName();
    const [a, b, c] = [await node(name), await node(name), await node(name)];
    await a.transact(SCHEMA);
    const writes = [];
    for (let i = 0; i < 10; i++) for (const [k, n] of [a, b, c].entries()) writes.push(n.transact([{ 'account/id': k * 100 + i, 'account/balance': 10 }]));
    const reports = await Promise.all(writes);
    expect(new Set(reports.map((r) => r.t)).size).toBe(30);
    for (const r of reports) expect(r.dbAfter.basisT).toBe(r.t);
    for (const n of [a, b, c]) await n.sync();
    const total = (n: Connection) => q('[:find (sum ?b) . :with ?e :where [?e :account/balance ?b]]', n.db());
    for (const n of [a, b, c]) expect(total(n)).toBe(300);
    expect(logBytes(b)).toEqual(logBytes(a));
    expect(logBytes(c)).toEqual(logBytes(a));
  });

  it('re-runs a cas against the db right before it in the log, and an empty directory catches up from the start', async () => {
    const name = freshName();
    const [a, b] = [await node(name), await node(name)];
    await a.transact(SCHEMA);
    await a.transact([{ 'account/id': 1, 'account/balance': 0 }]);
    await b.sync();
    const increments = [];
    for (let i = 0; i < 10; i++)
      for (const n of [a, b])
        increments.push(
          (async () => {
            for (;;) {
              const balance = (pull(n.db(), '[:account/balance]', [':account/id', 1]) as Record<string, number>)['account/balance']!;
              try {
                return await n.transact([[':db/cas', [':account/id', 1], ':account/balance', balance, balance + 1]]);
              } catch (err) {
                if ((err as { code?: string }).code !== 'tx/cas-failed') throw err;
              }
            }
          })(),
        );
    await Promise.all(increments);
    const fresh = await node(name);
    await fresh.sync();
    expect(pull(fresh.db(), '[:account/balance]', [':account/id', 1])).toEqual({ 'account/balance': 20 });
    expect(logBytes(fresh)).toEqual(logBytes(a));
  });

  it('group commit: concurrent transacts share stream messages, each with its own report; a failing one fails alone', async () => {
    const name = freshName();
    const dirB = path.join(tempDir('factlog-node-'), 'db');
    const [a, b, c] = [await node(name), await node(name, dirB), await node(name)];
    await a.transact(SCHEMA);
    await b.sync();
    await b.close();
    const calls = Array.from({ length: 40 }, (_, i) =>
      i === 17
        ? a.transact([{ 'account/id': 999, 'account/balance': 1 }, [':db/add', [':account/id', 12345], ':account/balance', 1]])
        : a.transact([{ ':db/id': 'acct', 'account/id': i, 'account/balance': i }]),
    );
    const outcomes = await Promise.allSettled(calls);
    const failed = outcomes[17]!;
    expect(failed.status).toBe('rejected');
    expect((failed as PromiseRejectedResult).reason.code).toMatch(/^tx\//);
    const reports = outcomes.flatMap((o, i) => (i === 17 ? [] : [(o as PromiseFulfilledResult<Awaited<(typeof calls)[0]>>).value]));
    expect(reports).toHaveLength(39);
    expect(new Set(reports.map((r) => r.t)).size).toBe(39);
    for (const [k, r] of reports.entries()) {
      const i = k < 17 ? k : k + 1;
      expect(pull(r.dbAfter, '[:account/id]', r.tempids['acct']!)).toEqual({ 'account/id': i });
      expect(r.dbAfter.basisT).toBe(r.t);
    }
    const nc = await connect({ servers: nats.urls });
    const { state } = await (await jetstreamManager(nc)).streams.info(`factlog_${name}`);
    await nc.close();
    expect(state.messages).toBeLessThan(a.basisT + 1);
    // a node reopened past batch messages, and one made from nothing, catch up to the same log
    const [reopened, fresh] = [await node(name, dirB), await node(name)];
    for (const n of [a, c, reopened, fresh]) await n.sync(a.basisT);
    expect(a.basisT).toBe(1 + 39);
    for (const n of [c, reopened, fresh]) expect(logBytes(n)).toEqual(logBytes(a));
    for (const n of [a, c, reopened, fresh]) expect(pull(n.db(), '[:account/balance]', [':account/id', 999])).toBeNull();
    await reopened.close();
    const again = await node(name, dirB);
    const lastT = a.basisT;
    expect((await again.transact([{ 'account/id': 1000, 'account/balance': 0 }])).t).toBe(lastT + 1);
  });

  it('transactBatch on a node: consecutive t in one stream message, each seeing the ones before it; a failing one fails them all', async () => {
    const name = freshName();
    const [a, b] = [await node(name), await node(name)];
    await a.transact(SCHEMA);
    const balanceOf = (db: Db, id: number) => (pull(db, '[:account/balance]', [':account/id', id]) as { 'account/balance': number } | null)?.['account/balance'];
    const seen: number[] = [];
    const [before, reports, after] = await Promise.all([
      a.transact([{ 'account/id': 1, 'account/balance': 1 }]),
      a.transactBatch(
        [
          [{ 'account/id': 50, 'account/balance': 5 }],
          (db: Db) => [[':db/add', [':account/id', 50], ':account/balance', balanceOf(db, 50)! + 1]],
          [[':db/cas', [':account/id', 50], ':account/balance', 6, 7]],
        ],
        (report, index) => seen.push(index),
      ),
      a.transact([{ 'account/id': 2, 'account/balance': 2 }]),
    ]);
    expect(reports.map((r) => r.t)).toEqual([reports[0]!.t, reports[0]!.t + 1, reports[0]!.t + 2]);
    expect(seen).toEqual([0, 1, 2]);
    expect(balanceOf(reports[2]!.dbAfter, 50)).toBe(7);
    for (const r of [before, after]) expect(r.t < reports[0]!.t || r.t > reports[2]!.t).toBe(true);
    // the batch's records are one message of the stream
    const nc = await connect({ servers: nats.urls });
    const jsm = await jetstreamManager(nc);
    const { state } = await jsm.streams.info(`factlog_${name}`);
    const messages = [];
    for (let seq = 1; seq <= state.last_seq; seq++) messages.push((await jsm.streams.getMessage(`factlog_${name}`, { seq }))!);
    await nc.close();
    const holding = messages.find(
      (m) => Number(m.header.get('Factlog-T')) <= reports[0]!.t && m.header.get('Factlog-Tx-Id').split(',').length + Number(m.header.get('Factlog-T')) > reports[2]!.t,
    );
    expect(holding).toBeDefined();
    // a failure fails the batch: nothing of it is written, and the error says which one
    const t = a.basisT;
    const err = await a.transactBatch([[{ 'account/id': 60, 'account/balance': 1 }], [[':db/cas', [':account/id', 50], ':account/balance', 1, 2]]]).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('tx/cas-failed');
    expect((err as { batchIndex?: number }).batchIndex).toBe(1);
    await b.sync();
    expect(b.basisT).toBe(t);
    expect(pull(b.db(), '[:account/balance]', [':account/id', 60])).toBeNull();
    expect(logBytes(b)).toEqual(logBytes(a));
  });

  it("a backup of a node, or of a pushed embedded database, opens as a node and catches up from the stream's tail", async () => {
    const name = freshName();
    const a = await node(name);
    await a.transact(SCHEMA);
    await a.transact([{ 'account/id': 1, 'account/balance': 1 }]);
    const fromNode = path.join(tempDir('factlog-backup-'), 'db');
    await backup(a.path, fromNode);
    for (let i = 2; i < 5; i++) await a.transact([{ 'account/id': i, 'account/balance': i }]);
    const restored = await node(name, fromNode);
    const lastT = a.basisT;
    await restored.sync(lastT);
    expect(logBytes(restored)).toEqual(logBytes(a));
    expect((await restored.transact([{ 'account/id': 9, 'account/balance': 9 }])).t).toBe(lastT + 1);

    const pushedName = freshName();
    const embedded = await open({ path: path.join(tempDir('factlog-embedded-'), 'db') });
    await embedded.transact(SCHEMA);
    await embedded.transact([{ 'account/id': 1, 'account/balance': 10 }]);
    await embedded.close();
    await pushDatabase(embedded.path, { servers: nats.urls, name: pushedName });
    const fromEmbedded = path.join(tempDir('factlog-backup-'), 'db');
    await backup(embedded.path, fromEmbedded);
    const b = await node(pushedName);
    await b.transact([{ 'account/id': 2, 'account/balance': 20 }]);
    const [restoredEmbedded, pushedItself] = [await node(pushedName, fromEmbedded), await node(pushedName, embedded.path)];
    for (const n of [restoredEmbedded, pushedItself]) {
      await n.sync(b.basisT);
      expect(logBytes(n)).toEqual(logBytes(b));
    }
  });

  it('a stream whose limits removed old messages: a backup past them catches up, an older node gets cluster/stream-truncated', async () => {
    const name = freshName();
    const nc = await connect({ servers: nats.urls });
    await (await jetstreamManager(nc)).streams.add({ name: `factlog_${name}`, subjects: [`factlog.${name}.log`], num_replicas: 3, allow_direct: true, max_msgs: 4 });
    await nc.close();
    const a = await node(name);
    await a.transact(SCHEMA);
    const old = path.join(tempDir('factlog-backup-'), 'db');
    await backup(a.path, old);
    for (let i = 0; i < 3; i++) await a.transact([{ 'account/id': i, 'account/balance': i }]);
    const recent = path.join(tempDir('factlog-backup-'), 'db');
    await backup(a.path, recent);
    // each transaction its own message: the one holding the recent backup's last t is gone, the next one is there
    for (let i = 3; i < 7; i++) await a.transact([{ 'account/id': i, 'account/balance': i }]);
    const restored = await node(name, recent);
    await restored.sync(a.basisT);
    expect(logBytes(restored)).toEqual(logBytes(a));
    for (const dir of [old, path.join(tempDir('factlog-node-'), 'db')]) {
      const err = await open({ path: dir, cluster: { servers: nats.urls, name } }).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('cluster/stream-truncated');
    }
  });

  it('three nodes writing at once take turns: every acknowledged tx exactly once, few lost races, several txs per message', async () => {
    const name = freshName();
    const nodes = [await node(name), await node(name), await node(name)];
    await nodes[0]!.transact(SCHEMA);
    for (const n of nodes) await n.sync();
    const writers = 8;
    const perWriter = 25;
    const statsOf = () => nodes.map((n) => ({ ...(n.writer as ClusterNode).stats }));
    const before = statsOf();
    const reports = await Promise.all(
      nodes.flatMap((n, k) =>
        Array.from({ length: writers }, async (_, w) => {
          const done = [];
          for (let i = 0; i < perWriter; i++) {
            const id = (k * writers + w) * 1000 + i + 2;
            done.push({ id, t: (await n.transact([{ 'account/id': id, 'account/balance': 1 }])).t });
          }
          return done;
        }),
      ),
    );
    const acked = reports.flat();
    expect(acked).toHaveLength(3 * writers * perWriter);
    const lastT = Math.max(...acked.map((r) => r.t));
    for (const n of nodes) await n.sync(lastT);
    // each acknowledged tx once in the log, at the t it was acknowledged with, on every node
    const idAttr = q<number>('[:find ?a . :where [?a :db/ident :account/id]]', nodes[0]!.db());
    const tOf = new Map<number, number[]>();
    for (const tx of nodes[0]!.log().txRange(2)) for (const d of tx.data) if (d.a === idAttr) tOf.set(d.v as number, [...(tOf.get(d.v as number) ?? []), tx.t]);
    expect(tOf.size).toBe(acked.length);
    for (const { id, t } of acked) expect(tOf.get(id)).toEqual([t]);
    expect(logBytes(nodes[1]!)).toEqual(logBytes(nodes[0]!));
    expect(logBytes(nodes[2]!)).toEqual(logBytes(nodes[0]!));
    // counted, not timed: the nodes group their callers' txs, and taking turns keeps lost races (each a message prepared in vain) rare
    const total = (key: 'messages' | 'txs' | 'conflicts') => statsOf().reduce((sum, s, i) => sum + s[key] - before[i]![key], 0);
    const [messages, conflicts] = [total('messages'), total('conflicts')];
    expect(total('txs')).toBe(acked.length);
    expect(messages).toBeLessThan(acked.length / 2);
    expect(conflicts).toBeLessThan(messages / 4);
  });

  it("taking turns, a node prepares on another's message before committing it: a shared counter by cas counts every acknowledged increment once", async () => {
    const name = freshName();
    const nodes = [await node(name), await node(name), await node(name)];
    await nodes[0]!.transact(SCHEMA);
    await nodes[0]!.transact([{ 'account/id': 1, 'account/balance': 0 }]);
    for (const n of nodes) await n.sync();
    const balanceOf = (db: Db) => (pull(db, '[:account/balance]', [':account/id', 1]) as { 'account/balance': number })['account/balance'];
    const statsOf = () => nodes.map((n) => ({ ...(n.writer as ClusterNode).stats }));
    const before = statsOf();
    // each increment reads the counter from the db it is prepared on: a predecessor missing from it would make the cas fail, or count twice
    const increment = (n: Connection, id: number) =>
      n.transactBatch([(db: Db) => [[':db/cas', [':account/id', 1], ':account/balance', balanceOf(db), balanceOf(db) + 1], { 'account/id': id, 'account/balance': -1 }]]);
    const acked = (
      await Promise.all(
        nodes.flatMap((n, k) =>
          Array.from({ length: 8 }, async (_, w) => {
            const done = [];
            for (let i = 0; i < 20; i++) {
              const id = (k * 8 + w) * 1000 + i + 2;
              done.push({ id, t: (await increment(n, id))[0]!.t });
            }
            return done;
          }),
        ),
      )
    ).flat();
    const lastT = Math.max(...acked.map((r) => r.t));
    for (const n of nodes) await n.sync(lastT);
    for (const n of nodes) expect(balanceOf(n.db())).toBe(acked.length);
    const idAttr = q<number>('[:find ?a . :where [?a :db/ident :account/id]]', nodes[0]!.db());
    const tOf = new Map<number, number[]>();
    for (const tx of nodes[0]!.log().txRange(3)) for (const d of tx.data) if (d.a === idAttr && d.v !== 1) tOf.set(d.v as number, [...(tOf.get(d.v as number) ?? []), tx.t]);
    expect(tOf.size).toBe(acked.length);
    for (const { id, t } of acked) expect(tOf.get(id)).toEqual([t]);
    expect(logBytes(nodes[1]!)).toEqual(logBytes(nodes[0]!));
    expect(logBytes(nodes[2]!)).toEqual(logBytes(nodes[0]!));
    const total = (key: 'preparedOnDelivered' | 'landedOnDelivered') => statsOf().reduce((sum, s, i) => sum + s[key] - before[i]![key], 0);
    expect(total('landedOnDelivered')).toBeGreaterThan(0);
    expect(total('preparedOnDelivered')).toBeGreaterThanOrEqual(total('landedOnDelivered'));
  });

  it('a writing node that closes drops out of the turns at once: the others no longer wait for its turns', async () => {
    const name = freshName();
    const [a, b] = [await node(name), await node(name, path.join(tempDir('factlog-node-'), 'db'))];
    await a.transact(SCHEMA);
    await b.sync();
    const write = (n: Connection, from: number) =>
      Promise.all(
        Array.from({ length: 4 }, (_, w) =>
          (async () => {
            for (let i = 0; i < 10; i++) await n.transact([{ 'account/id': from + w * 100 + i, 'account/balance': 1 }]);
          })(),
        ),
      );
    await Promise.all([write(a, 10_000), write(b, 20_000)]);
    const stats = (a.writer as ClusterNode).stats;
    expect(stats.turnsWaited).toBeGreaterThan(0);
    await b.close();
    await sleep(50);
    const waited = stats.turnsWaited;
    for (let i = 0; i < 10; i++) await a.transact([{ 'account/id': 30_000 + i, 'account/balance': 1 }]);
    expect(stats.turnsWaited).toBe(waited);
  });

  it("a failure of tx data counts only against the stream's latest db: a node behind catches up and tries again", async () => {
    const name = freshName();
    const dir = path.join(tempDir('factlog-node-'), 'db');
    const a = await node(name);
    await a.transact(SCHEMA);
    await (await node(name, dir)).close();
    await a.transact([{ 'account/id': 1, 'account/balance': 10 }]);
    // reopened, the node is behind the stream until its follower has caught up: the lookup ref must still resolve
    const behind = await node(name, dir);
    const report = await behind.transact([[':db/add', [':account/id', 1], ':account/balance', 11]]);
    expect(pull(report.dbAfter, '[:account/balance]', [':account/id', 1])).toEqual({ 'account/balance': 11 });
  });
});

const BANK_SCHEMA = `[{:db/ident :account/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :account/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :transfer/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`;
const ACCOUNTS = 5;

interface Op {
  id: string;
  start: number;
  end?: number;
  ok?: boolean;
  t?: number;
  code?: string;
}

function bankNode(dir: string, name: string, durationMs: number): Running {
  return runFixture('cluster-bank.mjs', [dir, nats.urls.join(','), name, String(ACCOUNTS), String(durationMs), '8000']);
}

/** Every transfer a node process started, with its end when it printed one. */
function opsOf(lines: string[]): Op[] {
  const ops = new Map<string, Op>();
  for (const line of lines) {
    const o = JSON.parse(line) as Op & { ready?: boolean; done?: boolean };
    if (!o.id) continue;
    ops.set(o.id, { ...ops.get(o.id), ...o });
  }
  return [...ops.values()];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every index of a node, current and history, as text. */
function indexDump(conn: Connection): string {
  return JSON.stringify(
    (['eavt', 'aevt', 'avet', 'vaet'] as const).flatMap((i) => [conn.store.dumpIndex(i, 'current'), conn.store.dumpIndex(i, 'history')]),
    (_, v) => (typeof v === 'bigint' ? `${v}n` : v),
  );
}

describe.skipIf(!available)('cluster failures', () => {
  it('quorum lost: transact fails with cluster/unavailable within its bound, nothing half-written; reads go on', async () => {
    const name = freshName();
    const a = await node(name, undefined, 3000);
    await a.transact(SCHEMA);
    await a.transact([{ 'account/id': 1, 'account/balance': 5 }]);
    const before = a.basisT;
    await nats.kill(1);
    await nats.kill(2);
    try {
      const started = Date.now();
      const err = await a.transact([{ 'account/id': 2, 'account/balance': 7 }]).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('cluster/unavailable');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(a.db().basisT).toBe(before);
      expect(pull(a.db(), '[:account/balance]', [':account/id', 1])).toEqual({ 'account/balance': 5 });
      expect(pull(a.db(), '[:account/balance]', [':account/id', 2])).toBeNull();
    } finally {
      nats.startServer(1);
      nats.startServer(2);
      await Promise.all([nats.waitHealthy(1), nats.waitHealthy(2)]);
    }
    // the record either reached the stream (and then every node has it) or not: never half
    const b = await node(name);
    await b.sync();
    const streamT = b.basisT;
    await a.sync(streamT);
    expect(logBytes(a)).toEqual(logBytes(b));
    expect((await a.transact([{ 'account/id': 3, 'account/balance': 1 }])).t).toBe(streamT + 1);
  });

  it('a node whose local log disagrees with the stream refuses to start', async () => {
    const name = freshName();
    const dir = path.join(tempDir('factlog-node-'), 'db');
    const a = await node(name, dir);
    await a.transact(SCHEMA);
    await a.close();
    const nc = await connect({ servers: nats.urls });
    await (await jetstreamManager(nc)).streams.delete(`factlog_${name}`);
    await nc.close();
    const other = await node(name);
    await other.transact(BANK_SCHEMA);
    const err = await open({ path: dir, cluster: { servers: nats.urls, name } }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('cluster/diverged');
    const wrong = await open({ path: dir, cluster: { servers: nats.urls, name: `${name}_other` } }).catch((e: unknown) => e);
    expect((wrong as { code?: string }).code).toBe('cluster/wrong-database');
    const embedded = await open({ path: path.join(tempDir('factlog-embedded-'), 'db') });
    await embedded.transact(SCHEMA);
    await embedded.close();
    const own = await open({ path: embedded.path, cluster: { servers: nats.urls, name } }).catch((e: unknown) => e);
    expect((own as { code?: string }).code).toBe('cluster/not-a-node');
  });

  it('bank: 3 node processes transfer while NATS servers and a node are killed and restarted', async () => {
    const name = freshName();
    const setup = await node(name);
    await setup.transact(BANK_SCHEMA);
    await setup.transact(Array.from({ length: ACCOUNTS }, (_, i) => ({ 'account/id': i, 'account/balance': 100 })));
    const dirs = [0, 1, 2].map(() => path.join(tempDir('factlog-node-'), 'db'));
    const procs = dirs.map((dir) => bankNode(dir, name, 6000));
    await Promise.all(procs.map((p) => p.waitForLine((l) => l.includes('"ready"'))));
    await sleep(500);
    // two of the three, one at a time: each restart takes seconds before the server is healthy again
    for (const server of [0, 2]) {
      await nats.kill(server);
      await sleep(300);
      nats.startServer(server);
      await nats.waitHealthy(server);
    }
    procs[1]!.child.kill('SIGKILL');
    const killed = await procs[1]!.done;
    const again = bankNode(dirs[1]!, name, 2000);
    const outputs = [await procs[0]!.done, killed, await procs[2]!.done, await again.done];
    for (const o of outputs.filter((o) => o !== killed)) expect(o.code, o.stderr).toBe(0);
    const ops = outputs.flatMap((o) => opsOf(o.lines));
    const acked = ops.filter((o) => o.ok);
    expect(acked.length).toBeGreaterThan(20);

    // the checks below open nodes: after the restarts, JetStream may still be electing its leaders
    await nats.waitReady();
    const nodes = [setup, ...(await Promise.all(dirs.map((dir) => node(name, dir))))];
    const lastT = Math.max(...(await Promise.all(nodes.map(async (n) => (await n.sync()).basisT))));
    for (const n of nodes) await n.sync(lastT);
    // every acknowledged transfer exactly once, at the t it was acknowledged with; the others at most once
    const seen = new Map<string, number[]>();
    const balanceAttr = q<number>('[:find ?a . :where [?a :db/ident :account/balance]]', setup.db());
    const transferAttr = q<number>('[:find ?a . :where [?a :db/ident :transfer/id]]', setup.db());
    for (const tx of setup.log().txRange(3)) {
      let change = 0;
      for (const d of tx.data) {
        if (d.a === balanceAttr) change += (d.added ? 1 : -1) * (d.v as number);
        if (d.a === transferAttr) seen.set(d.v as string, [...(seen.get(d.v as string) ?? []), tx.t]);
      }
      expect(change, `t=${tx.t} changes the total`).toBe(0);
    }
    for (const op of acked) expect(seen.get(op.id)).toEqual([op.t]);
    for (const op of ops) expect((seen.get(op.id) ?? []).length).toBeLessThanOrEqual(1);
    for (const op of ops.filter((o) => o.code?.startsWith('tx/'))) expect(seen.get(op.id)).toBeUndefined();
    // the log's order agrees with real time
    const byEnd = [...acked].sort((x, y) => x.end! - y.end!);
    for (const later of acked) for (const earlier of byEnd) if (earlier.end! < later.start) expect(earlier.t!).toBeLessThan(later.t!);
    // every node: the same log, byte for byte, and the same indexes rebuilt from it
    const reference = logBytes(setup);
    for (const n of nodes) expect(logBytes(n)).toEqual(reference);
    const indexes = [];
    for (const n of nodes) {
      expect((await n.verify()).ok).toBe(true);
      await n.rebuildIndexes();
      indexes.push(indexDump(n));
    }
    for (const dump of indexes) expect(dump).toBe(indexes[0]);
    // NATS restarts and leader elections set its length: 22-62 s in full runs on 2 cores
  }, 180_000);
});

describe.skipIf(!available)('the CLI on a cluster', () => {
  it('cluster push keeps t, ids and instants; --cluster --name makes --db a node for any command', async () => {
    const name = freshName();
    const embedded = await open({ path: path.join(tempDir('factlog-embedded-'), 'db') });
    await embedded.transact(SCHEMA);
    await embedded.transact([{ 'account/id': 7, 'account/balance': 70 }]);
    const pushedLog = logBytes(embedded);
    await embedded.close();
    const pushed = await factlog(['cluster', 'push', '--db', embedded.path, '--servers', nats.urls.join(','), '--name', name]);
    expect(pushed.stderr).toBe('');
    expect(pushed.stdout).toContain(`t 0 to ${pushedLog.length - 1}`);
    const [one, two] = [path.join(tempDir('factlog-node-'), 'db'), path.join(tempDir('factlog-node-'), 'db')];
    const cluster = ['--cluster', nats.urls.join(','), '--name', name];
    const written = await factlog(['transact', '--db', one, ...cluster, '[{:account/id 8 :account/balance 80}]']);
    expect(written.stderr).toBe('');
    const read = await factlog(['query', '--db', two, ...cluster, '--format', 'edn', '[:find ?id ?b :where [?e :account/id ?id] [?e :account/balance ?b]]']);
    expect(read.stderr).toBe('');
    expect(read.stdout).toContain('[7 70]');
    expect(read.stdout).toContain('[8 80]');
    const node2 = await node(name, two);
    expect(logBytes(node2).slice(0, pushedLog.length)).toEqual(pushedLog);
    const noName = await factlog(['query', '--db', two, '--cluster', nats.urls[0]!, '[:find ?e :where [?e :db/ident]]']);
    expect(noName.stderr).toContain('cli/cluster-name');
  });
});

describe.skipIf(!available)('factlog serve on a cluster node', () => {
  it('serves a node: its transact goes to the stream, its query workers see what other nodes write', async () => {
    const name = freshName();
    const other = await node(name);
    await other.transact(SCHEMA);
    const schemaT = other.db().basisT;
    const dir = path.join(tempDir('factlog-node-'), 'db');
    const server = await serveProcess(['--db', dir, '--cluster', nats.urls.join(','), '--name', name, '--query-workers', '2']);
    try {
      const post = async (url: string, body: unknown) =>
        (await fetch(server.url + url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
      const written = await post('/api/transact', { txData: '[{:account/id 1 :account/balance 10}]' });
      expect(written.t).toBe(schemaT + 1);
      await other.sync(written.t);
      expect(q('[:find ?b . :where [?e :account/id 1] [?e :account/balance ?b]]', other.db())).toBe(10);
      const report = await other.transact([{ 'account/id': 2, 'account/balance': 20 }]);
      const balances = '[:find ?id ?b :where [?e :account/id ?id] [?e :account/balance ?b]]';
      let answer: any;
      for (let tries = 0; tries < 200; tries++) {
        answer = await post('/api/query', { query: balances });
        if (answer.basisT >= report.t || answer.result?.length === 2) break;
        await sleep(25);
      }
      expect(answer.result.sort()).toEqual([
        [1, 10],
        [2, 20],
      ]);
    } finally {
      await server.stop();
    }
    expect(server.output()).toContain('query workers');
  });
});
