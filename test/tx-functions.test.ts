import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyword, open, q, replicate, type Connection, type Db, type TxFn } from '../src/index.js';
import { MAX_TX_FN_DEPTH } from '../src/tx/tx-functions.js';
import { freshConn, tempDir } from './helpers/tmp.js';

const SCHEMA = `[
 {:db/ident :acct/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :acct/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :acct/note :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`;

function balance(db: Db, id: string): number {
  return db.entity([Keyword.of('acct/id'), id])?.get(':acct/balance') as number;
}

const transfer: TxFn = (db, from, to, amount: number) => [
  [':db/add', from, ':acct/balance', (db.entity(from)!.get(':acct/balance') as number) - amount],
  [':db/add', to, ':acct/balance', (db.entity(to)!.get(':acct/balance') as number) + amount],
];

const TX_FNS: Record<string, TxFn> = {
  'bank/transfer': transfer,
  'acct/inc': (db, e, amount: number) => [[':db/add', e, ':acct/balance', (db.entity(e)!.get(':acct/balance') as number) + amount]],
  'acct/open': (_db, id: string, amount: number) => [{ 'acct/id': id, 'acct/balance': amount }],
  'acct/open-two': (_db, a: string, b: string) => [
    ['acct/open', a, 1],
    [':acct/open', b, 2],
  ],
  'acct/edn': () => `[{:db/id "x" :acct/id "edn" :acct/balance 7}]`,
  'acct/nothing': () => undefined,
  'acct/fail': () => {
    throw new Error('insufficient funds');
  },
  'acct/async': async () => [],
  'acct/bad-return': () => 42,
  'acct/loop': () => [['acct/loop']],
  'acct/ping': () => [['acct/pong']],
  'acct/pong': () => [['acct/ping']],
  'acct/balance-seen': (db, e) => [[':db/add', e, ':acct/note', `saw ${db.entity(e)!.get(':acct/balance')}`]],
};

async function bank(options = {}): Promise<Connection> {
  const conn = await freshConn({ txFns: TX_FNS, ...options });
  await conn.transact(SCHEMA);
  await conn.transact(`[{:acct/id "a" :acct/balance 100} {:acct/id "b" :acct/balance 50}]`);
  return conn;
}

/** Every datom of the db and its basis t, to prove a failed tx changed nothing. */
function snapshot(conn: Connection): string[] {
  const db = conn.db().history();
  return [String(conn.basisT), ...[...db.datoms('eavt')].map((d) => `${d.e} ${d.a} ${String(d.v)} ${d.tx} ${d.added}`)];
}

async function failure(conn: Connection, txData: unknown): Promise<{ code: string; message: string; cause?: unknown }> {
  const before = snapshot(conn);
  const err = await conn.transact(txData).then(
    () => ({ code: 'no error', message: '' }),
    (e: { code: string; message: string; cause?: unknown }) => e,
  );
  expect(snapshot(conn)).toEqual(before);
  return err;
}

describe('transaction functions', () => {
  it('are called from EDN and JS tx data, and their tx data is transacted', async () => {
    const conn = await bank();
    const report = await conn.transact(`[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 10]]`);
    expect([balance(report.dbAfter, 'a'), balance(report.dbAfter, 'b')]).toEqual([90, 60]);
    await conn.transact([['bank/transfer', [':acct/id', 'b'], [':acct/id', 'a'], 25]]);
    await conn.transact(`[(:bank/transfer [:acct/id "b"] [:acct/id "a"] 1)]`);
    expect([balance(conn.db(), 'a'), balance(conn.db(), 'b')]).toEqual([116, 34]);
  });

  it('get the db before the transaction: earlier forms of the same tx are not visible (Datomic)', async () => {
    const conn = await bank();
    const a = conn.db().entid([Keyword.of('acct/id'), 'a'])!;
    await conn.transact([
      [':db/add', a, ':acct/balance', 1],
      ['acct/balance-seen', a],
    ]);
    expect(conn.db().entity(a)!.get(':acct/note')).toBe('saw 100');
    expect(conn.db().entity(a)!.get(':acct/balance')).toBe(1);
  });

  it('see every transaction committed before theirs, also in one group commit', async () => {
    const conn = await bank();
    const a = conn.db().entid([Keyword.of('acct/id'), 'a'])!;
    await Promise.all(Array.from({ length: 40 }, () => conn.transact([['acct/inc', a, 1]])));
    expect(conn.db().entity(a)!.get(':acct/balance')).toBe(140);
  });

  it('may return calls of other functions, EDN text or nothing; tempids of their tx data are reported', async () => {
    const conn = await bank();
    await conn.transact(`[[:acct/open-two "c" "d"] [:acct/edn] [:acct/nothing]]`);
    expect([balance(conn.db(), 'c'), balance(conn.db(), 'd'), balance(conn.db(), 'edn')]).toEqual([1, 2, 7]);
    const report = await conn.transact(`[[:acct/nothing]]`);
    expect(report.txData.length).toBe(1); // the transaction's instant alone
    const { tempids } = await conn.transact([['acct/open', 'e', 5], { 'db/id': 'note', 'acct/id': 'f', 'acct/balance': 0 }]);
    expect(Object.keys(tempids)).toEqual(['note']);
  });

  it('abort the whole transaction when they throw: tx/fn-failed names the function and carries its message', async () => {
    const conn = await bank();
    const err = await failure(conn, `[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 10] [:acct/fail]]`);
    expect(err.code).toBe('tx/fn-failed');
    expect(err.message).toContain(':acct/fail');
    expect(err.message).toContain('insufficient funds');
    expect((err.cause as Error).message).toBe('insufficient funds');
    // a failure in the tx data a function returned aborts it too
    const cas = await failure(conn, [
      ['bank/transfer', [':acct/id', 'a'], [':acct/id', 'b'], 10],
      [':db/cas', [':acct/id', 'a'], ':acct/balance', 1, 2],
    ]);
    expect(cas.code).toBe('tx/cas-failed');
    const toItself = await failure(conn, `[[:bank/transfer [:acct/id "a"] [:acct/id "a"] 10]]`);
    expect(toItself.code).toBe('tx/cardinality-conflict');
    expect(toItself.message).toContain('(from :bank/transfer)');
  });

  it('reading a missing entity inside a function is the function failing', async () => {
    const conn = await bank();
    const err = await failure(conn, `[[:bank/transfer [:acct/id "nobody"] [:acct/id "b"] 10]]`);
    expect(err.code).toBe('tx/fn-failed');
    expect(err.message).toContain(':bank/transfer');
  });

  it('refuse unknown names, Promises, values that are not tx data, and endless nesting, changing nothing', async () => {
    const conn = await bank();
    const unknown = await failure(conn, `[[:bank/steal [:acct/id "a"]]]`);
    expect(unknown.code).toBe('tx/unknown-operation');
    expect(unknown.message).toContain('no transaction function of that name is registered');
    expect((await failure(conn, `[[:acct/async]]`)).code).toBe('tx/fn-async');
    const bad = await failure(conn, `[[:acct/bad-return]]`);
    expect(bad.code).toBe('tx/invalid-data');
    expect(bad.message).toContain(':acct/bad-return returned 42');
    const loop = await failure(conn, `[[:acct/loop]]`);
    expect(loop.code).toBe('tx/fn-too-deep');
    expect(loop.message).toContain(`${MAX_TX_FN_DEPTH} calls (a cycle?)`);
    const pingPong = await failure(conn, `[[:acct/ping]]`);
    expect(pingPong.message).toContain(':acct/ping -> :acct/pong -> :acct/ping');
  });

  it('nest as deep as the bound allows', async () => {
    const countdown: TxFn = (_db, n: number) => (n === 0 ? [{ 'acct/id': 'deep', 'acct/balance': 1 }] : [['acct/countdown', n - 1]]);
    const conn = await bank({ txFns: { 'acct/countdown': countdown } });
    expect((await failure(conn, `[[:acct/countdown ${MAX_TX_FN_DEPTH}]]`)).code).toBe('tx/fn-too-deep');
    await conn.transact(`[[:acct/countdown ${MAX_TX_FN_DEPTH - 1}]]`);
    expect(balance(conn.db(), 'deep')).toBe(1);
  });

  it('a function that doubles its calls is stopped by the bound on calls', async () => {
    const conn = await bank({
      txFns: {
        'acct/fork': (_db: Db, n: number) =>
          n === 0
            ? []
            : [
                ['acct/fork', n - 1],
                ['acct/fork', n - 1],
              ],
      },
    });
    expect((await failure(conn, `[[:acct/fork 40]]`)).code).toBe('tx/fn-too-deep');
  });

  it('run in db.with too (speculative), and nothing is written', async () => {
    const conn = await bank();
    const { dbAfter } = conn.db().with(`[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 30]]`);
    expect(balance(dbAfter, 'a')).toBe(70);
    expect(balance(conn.db(), 'a')).toBe(100);
  });

  it('are checked on open: names that read as keywords, functions, no built-in operation', async () => {
    const dir = path.join(tempDir(), 'db');
    for (const txFns of [{ 'bank/x': 42 }, { transfer: () => [] }, { 'db/add': () => [] }, { ':db.fn/cas': () => [] }]) {
      await expect(open({ path: dir, txFns: txFns as unknown as Record<string, TxFn> })).rejects.toMatchObject({ code: 'conn/invalid-option' });
    }
    await expect(open({ path: dir, predicates: { 'a/b': 'x' } as never })).rejects.toMatchObject({ code: 'conn/invalid-option' });
  });

  it("Datomic's built-in names work: :db/cas, :db.fn/cas, :db/retractEntity, :db.fn/retractEntity", async () => {
    const conn = await bank();
    await conn.transact(`[[:db/cas [:acct/id "a"] :acct/balance 100 101] [:db.fn/cas [:acct/id "b"] :acct/balance 50 51]]`);
    expect([balance(conn.db(), 'a'), balance(conn.db(), 'b')]).toEqual([101, 51]);
    await conn.transact(`[[:db/retractEntity [:acct/id "a"]] [:db.fn/retractEntity [:acct/id "b"]]]`);
    expect(q(`[:find ?id :where [_ :acct/id ?id]]`, conn.db())).toEqual([]);
  });

  it('leave their datoms in the log, not the call: the database opens, rebuilds and replicates without them', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir, txFns: TX_FNS });
    await conn.transact(SCHEMA);
    await conn.transact(`[{:acct/id "a" :acct/balance 100} {:acct/id "b" :acct/balance 50}]`);
    const { t } = await conn.transact(`[[:bank/transfer [:acct/id "a"] [:acct/id "b"] 10]]`);
    await conn.close();
    const plain = await open({ path: dir });
    const logged = plain
      .log()
      .tx(t)!
      .data.map((d) => [plain.db().ident(d.a)?.toString(), d.v, d.added]);
    expect(logged).toEqual(
      expect.arrayContaining([
        [':acct/balance', 90, true],
        [':acct/balance', 100, false],
        [':acct/balance', 60, true],
      ]),
    );
    await plain.rebuildIndexes();
    expect([balance(plain.db(), 'a'), balance(plain.db(), 'b')]).toEqual([90, 60]);
    await plain.close();
    const replicaDir = path.join(tempDir(), 'replica');
    expect(await replicate({ from: dir, to: replicaDir })).toBe(t);
    const replica = await open({ path: replicaDir, readOnly: true });
    expect([balance(replica.db(), 'a'), balance(replica.db(), 'b')]).toEqual([90, 60]);
    await replica.close();
  });

  it('property: random concurrent transfers through a tx function conserve the total and keep balances >= 0', async () => {
    const ACCOUNTS = ['a', 'b', 'c', 'd'];
    const guarded: TxFn = (db, from: string, to: string, amount: number) => {
      const have = balance(db, from);
      if (have < amount) throw new Error(`${from} has ${have}, cannot send ${amount}`);
      if (from === to) return [];
      return [
        [':db/add', [':acct/id', from], ':acct/balance', have - amount],
        [':db/add', [':acct/id', to], ':acct/balance', balance(db, to) + amount],
      ];
    };
    const conn = await freshConn({ txFns: { 'bank/transfer': guarded } });
    await conn.transact(SCHEMA);
    await conn.transact(ACCOUNTS.map((id) => ({ 'acct/id': id, 'acct/balance': 100 })));
    const transfers = fc.array(fc.tuple(fc.constantFrom(...ACCOUNTS), fc.constantFrom(...ACCOUNTS), fc.integer({ min: 1, max: 150 })), { minLength: 1, maxLength: 30 });
    await fc.assert(
      fc.asyncProperty(transfers, async (batch) => {
        const results = await Promise.allSettled(batch.map(([from, to, amount]) => conn.transact([['bank/transfer', from, to, amount]])));
        for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('tx/fn-failed');
        const balances = ACCOUNTS.map((id) => balance(conn.db(), id));
        expect(balances.reduce((x, y) => x + y, 0)).toBe(400);
        for (const b of balances) expect(b).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 25 },
    );
  });
});
