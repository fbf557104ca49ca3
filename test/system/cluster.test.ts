// Cluster nodes over a real 3-server JetStream cluster on loopback, and real node processes.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, pull, q, type Connection } from '../../src/index.js';
import { NatsCluster, natsAvailable } from '../helpers/nats.js';
import { tempDir } from '../helpers/tmp.js';

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
});
