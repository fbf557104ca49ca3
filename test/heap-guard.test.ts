// The heap guard: pulls, entity reads and datom reads that fill the heap past the connection's
// heapShare stop with a coded too-large error named after the read the caller made.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, q, type Connection } from '../src/index.js';
import { indexPull, pull, pullMany } from '../src/pull/index.js';
import { collectGuarded, heapFull } from '../src/db/heap-guard.js';
import { cleanupTempDirs } from './helpers/cli.js';
import { freshConn } from './helpers/tmp.js';
import { thrown } from './helpers/errors.js';

afterAll(cleanupTempDirs);

const ORDERS = 1500;
let conn: Connection;
/** The same database, opened with a share of the heap any process is past. */
let tight: Connection;
let hub: number;
let orders: number[];

beforeAll(async () => {
  conn = await freshConn();
  await conn.transact(`[{:db/ident :order/customer :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
    {:db/ident :order/total :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}
    {:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
  const { tempids } = await conn.transact([{ 'db/id': 'hub', 'person/name': 'Hub' }]);
  hub = tempids.hub!;
  const r = await conn.transact(Array.from({ length: ORDERS }, (_, i) => ({ 'db/id': `o${i}`, 'order/customer': hub, 'order/total': i })));
  orders = Array.from({ length: ORDERS }, (_, i) => r.tempids[`o${i}`]!);
  tight = await open({ path: conn.path, readOnly: true, heapShare: 0.001 });
});

afterAll(async () => {
  await tight?.close();
});

describe('heapFull', () => {
  it('is null below the share, the heap in use past it, and null with no guard', () => {
    expect(heapFull(1)).toBeNull();
    expect(heapFull(Infinity)).toBeNull();
    const full = heapFull(0.001);
    expect(full).not.toBeNull();
    expect(full!.used).toBeGreaterThan(full!.limit * 0.001);
  });
});

describe('collectGuarded', () => {
  it('collects every item under the share and stops with <area>/too-large past it', () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    expect(collectGuarded(items, conn.db(), 'db', 'a test read')).toEqual(items);
    const e = thrown(() => collectGuarded(items, tight.db(), 'db', 'a test read'));
    expect(e.code).toBe('db/too-large');
    expect(e.message).toMatch(/a test read filled the heap/);
  });
});

describe('reads past the heap share', () => {
  it('pull-many of every order stops with pull/too-large, and the same pull answers on a roomy heap', () => {
    expect(thrown(() => pullMany(tight.db(), '[* {:order/customer [*]}]', orders)).code).toBe('pull/too-large');
    const all = pullMany(conn.db(), '[* {:order/customer [*]}]', orders);
    expect(all).toHaveLength(ORDERS);
    expect(all[0]).toMatchObject({ 'order/customer': { 'person/name': 'Hub' } });
  });

  it('a wide pull through a reverse ref stops with pull/too-large', () => {
    const wide = '[:person/name {(limit :order/_customer nil) [*]}]';
    expect(thrown(() => pull(tight.db(), wide, hub)).code).toBe('pull/too-large');
    expect((pull(conn.db(), wide, hub)!['order/_customer'] as unknown[]).length).toBe(ORDERS);
  });

  it('a pull inside a query is the query: query/too-large', () => {
    const text = '[:find (pull ?o [*]) :where [?o :order/total]]';
    expect(thrown(() => q(text, tight.db())).code).toBe('query/too-large');
    expect(q(text, conn.db())).toHaveLength(ORDERS);
  });

  it('a reverse index-pull from the end gathers under the guard', () => {
    const walk = () => [...indexPull(tight.db(), { index: 'avet', selector: '[:order/total]', start: [':order/total'], reverse: true, limit: 1 })];
    expect(thrown(walk).code).toBe('pull/too-large');
    expect([...indexPull(conn.db(), { index: 'avet', selector: '[:order/total]', start: [':order/total'], reverse: true, limit: 1 })]).toEqual([{ 'order/total': ORDERS - 1 }]);
  });

  it('datomArray and an entity touch stop with db/too-large', () => {
    expect(thrown(() => tight.db().datomArray('vaet', hub)).code).toBe('db/too-large');
    expect(thrown(() => tight.db().datomArray('aevt', ':order/total')).code).toBe('db/too-large');
    expect(thrown(() => tight.db().entity(hub)!.get(':order/_customer')).code).toBe('db/too-large');
    expect(conn.db().datomArray('vaet', hub)).toHaveLength(ORDERS);
  });

  it('a connection with heapShare 0 has no guard', async () => {
    const unguarded = await open({ path: conn.path, readOnly: true, heapShare: 0 });
    try {
      expect(pullMany(unguarded.db(), '[*]', orders)).toHaveLength(ORDERS);
      expect(unguarded.db().datomArray('vaet', hub)).toHaveLength(ORDERS);
    } finally {
      await unguarded.close();
    }
  });
});
