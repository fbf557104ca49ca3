import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Keyword, open, q, Sym, type Connection, type Db, type Predicate } from '../src/index.js';
import { Attr, bootstrapFacts, FIRST_USER_EID, Schema } from '../src/db/schema.js';
import { encodeValue, tToTx, type RawDatom } from '../src/storage/encoding.js';
import { Store } from '../src/storage/store.js';
import { freshConn, tempDir } from './helpers/tmp.js';

const PREDICATES: Record<string, Predicate> = {
  'bank/non-negative?': (v: number) => v >= 0,
  'bank/small?': (v: number) => v < 1000,
  'bank/throws?': () => {
    throw new Error('predicate broke');
  },
  'bank/async?': async () => true,
  // an entity predicate: the db after the tx and the entity
  'bank/has-owner-or-zero?': (db: Db, e: number) => {
    const acct = db.entity(e)!;
    return acct.get(':acct/owner') !== undefined || acct.get(':acct/balance') === 0;
  },
};

const SCHEMA = `[
 {:db/ident :acct/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :acct/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one
  :db.attr/preds [bank/non-negative? bank/small?]}
 {:db/ident :acct/owner :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :acct/limit :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db.attr/preds bank/unregistered?}
 {:db/ident :acct/odd :db/valueType :db.type/long :db/cardinality :db.cardinality/many :db.attr/preds bank/throws?}
 {:db/ident :acct/guard :db.entity/attrs [:acct/id :acct/balance] :db.entity/preds bank/has-owner-or-zero?}
 {:db/ident :acct/needs-id :db.entity/attrs [:acct/id]}
 {:db/ident :acct/needs-missing :db.entity/preds bank/unregistered?}]`;

async function bank(): Promise<Connection> {
  const conn = await freshConn({ predicates: PREDICATES });
  await conn.transact(SCHEMA);
  await conn.transact(`[{:acct/id "a" :acct/balance 100 :acct/owner "Ann"}]`);
  return conn;
}

function snapshot(conn: Connection): string[] {
  const db = conn.db().history();
  return [String(conn.basisT), ...[...db.datoms('eavt')].map((d) => `${d.e} ${d.a} ${String(d.v)} ${d.tx} ${d.added}`)];
}

async function failure(conn: Connection, txData: unknown): Promise<{ code: string; message: string }> {
  const before = snapshot(conn);
  const err = await conn.transact(txData).then(
    () => ({ code: 'no error', message: '' }),
    (e: { code: string; message: string }) => e,
  );
  expect(snapshot(conn)).toEqual(before);
  return err;
}

describe('attribute predicates (:db.attr/preds)', () => {
  it('check every asserted value; a failure names the attribute, the value and the predicate', async () => {
    const conn = await bank();
    await conn.transact(`[[:db/add [:acct/id "a"] :acct/balance 0]]`);
    const negative = await failure(conn, `[[:db/add [:acct/id "a"] :acct/balance -5]]`);
    expect(negative.code).toBe('tx/attr-pred-failed');
    expect(negative.message).toContain(':acct/balance value -5 fails predicate bank/non-negative?');
    const big = await failure(conn, `[{:acct/id "b" :acct/balance 5000}]`);
    expect(big.message).toContain('fails predicate bank/small?');
    // cas asserts a value too
    expect((await failure(conn, `[[:db/cas [:acct/id "a"] :acct/balance 0 -1]]`)).code).toBe('tx/attr-pred-failed');
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :acct/odd 1]]`)).message).toContain('fails predicate bank/throws?: threw Error: predicate broke');
  });

  it('are not called on retractions', async () => {
    const conn = await bank();
    await conn.transact(`[[:db/retract [:acct/id "a"] :acct/balance 100]]`);
    expect(
      conn
        .db()
        .entity([Keyword.of('acct/id'), 'a'])!
        .get(':acct/balance'),
    ).toBeUndefined();
  });

  it('an unregistered predicate refuses the value at transact time (tx/unknown-predicate); a Promise is tx/fn-async', async () => {
    const conn = await bank();
    const err = await failure(conn, `[[:db/add [:acct/id "a"] :acct/limit 5]]`);
    expect(err.code).toBe('tx/unknown-predicate');
    expect(err.message).toContain('bank/unregistered?');
    await conn.transact(`[{:db/ident :acct/lazy :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db.attr/preds bank/async?}]`);
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :acct/lazy 1]]`)).code).toBe('tx/fn-async');
  });

  it('are named by strings in JS data, and are data: queried like any attribute', async () => {
    const conn = await freshConn({ predicates: PREDICATES });
    await conn.transact([{ 'db/ident': ':x/n', 'db/valueType': ':db.type/long', 'db/cardinality': ':db.cardinality/one', 'db.attr/preds': 'bank/non-negative?' }]);
    expect(q(`[:find ?p . :where [?a :db/ident :x/n] [?a :db.attr/preds ?p]]`, conn.db())).toBe(Sym.of('bank/non-negative?'));
    expect((await failure(conn, [{ 'x/n': -1 }])).code).toBe('tx/attr-pred-failed');
  });

  it('a connection opened with checkAttrPreds: false (an import) takes values without the predicates', async () => {
    const dir = path.join(tempDir(), 'db');
    const conn = await open({ path: dir, checkAttrPreds: false });
    await conn.transact(SCHEMA);
    await conn.transact(`[{:acct/id "a" :acct/balance -3 :acct/limit 1}]`);
    expect(
      conn
        .db()
        .entity([Keyword.of('acct/id'), 'a'])!
        .get(':acct/balance'),
    ).toBe(-3);
    await conn.close();
  });
});

describe('entity specs (:db/ensure)', () => {
  it('check required attributes in the db after the tx, naming the spec and what is missing', async () => {
    const conn = await bank();
    await conn.transact(`[{:db/id "n" :acct/id "n" :acct/balance 0 :db/ensure :acct/guard}]`);
    const err = await failure(conn, `[{:db/id "m" :acct/owner "Max" :db/ensure :acct/guard}]`);
    expect(err.code).toBe('tx/entity-spec-failed');
    expect(err.message).toMatch(/fails entity spec :acct\/guard: missing :acct\/balance, :acct\/id/);
    // the attribute may come from before the tx
    await conn.transact(`[[:db/add [:acct/id "a"] :db/ensure :acct/needs-id]]`);
  });

  it('call entity predicates with the db after the tx and the entity id', async () => {
    const conn = await bank();
    const err = await failure(conn, `[{:acct/id "z" :acct/balance 5 :db/ensure :acct/guard}]`);
    expect(err.code).toBe('tx/entity-spec-failed');
    expect(err.message).toContain('predicate bank/has-owner-or-zero? returned false');
    // after the tx the owner is there, asserted by a later form of the same tx
    await conn.transact(`[{:db/id "z" :acct/id "z" :acct/balance 5 :db/ensure :acct/guard} [:db/add "z" :acct/owner "Zed"]]`);
    // retracting the owner of an ensured entity is checked against the db after
    expect((await failure(conn, `[[:db/retract [:acct/id "z"] :acct/owner "Zed"] [:db/add [:acct/id "z"] :db/ensure :acct/guard]]`)).code).toBe('tx/entity-spec-failed');
  });

  it(':db/ensure is virtual: nothing stored, never retracted; it names an entity spec', async () => {
    const conn = await bank();
    const report = await conn.transact(`[[:db/add [:acct/id "a"] :db/ensure :acct/guard]]`);
    expect(report.txData.filter((d) => d.a === Attr.ensure)).toEqual([]);
    expect(q(`[:find ?e :where [?e :db/ensure]]`, conn.db())).toEqual([]);
    expect((await failure(conn, `[[:db/retract [:acct/id "a"] :db/ensure :acct/guard]]`)).code).toBe('tx/invalid-data');
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :db/ensure :acct/owner]]`)).message).toContain('no entity spec');
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :db/ensure :acct/nothing]]`)).code).toBe('tx/unknown-ident');
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :db/ensure :acct/needs-missing]]`)).code).toBe('tx/unknown-predicate');
  });

  it('a spec checks in db.with as in transact', async () => {
    const conn = await bank();
    expect(() => conn.db().with(`[{:acct/id "w" :acct/balance 3 :db/ensure :acct/guard}]`)).toThrow(expect.objectContaining({ code: 'tx/entity-spec-failed' }));
    expect(
      conn
        .db()
        .with(`[{:acct/id "w" :acct/balance 0 :db/ensure :acct/guard}]`)
        .dbAfter.entid([Keyword.of('acct/id'), 'w']),
    ).toBeGreaterThan(0);
  });
});

describe('the new system attributes in a database bootstrapped before them', () => {
  /** A format-5 database as factlog wrote it before :db.attr/preds, :db.entity/*, :db/ensure joined the bootstrap. */
  async function oldDatabase(): Promise<string> {
    const dir = path.join(tempDir(), 'old');
    const { store } = Store.open({ path: dir, createFormat: 5 });
    const isNew = (e: number) => e >= Attr.attrPreds && e <= Attr.ensure;
    const facts = bootstrapFacts().filter(([e]) => !isNew(e));
    const schema = new Schema().apply(facts.map(([e, a, v]) => ({ e, a, v, added: true })));
    const tx = tToTx(0);
    const asserted: RawDatom[] = facts.map(([e, a, v]) => {
      const [tag, payload] = encodeValue(v, schema.attr(a)!.valueType);
      return { e, a, tag, payload, tx };
    });
    const [tag, payload] = encodeValue(new Date(0), 'instant');
    asserted.push({ e: tx, a: Attr.txInstant, tag, payload, tx });
    await store.writeTransaction(() => store.putTransaction({ t: 0, tx, instant: 0 }, asserted, [], { lastT: 0, nextEid: FIRST_USER_EID, lastInstant: 0 }));
    expect(store.format).toBe(5);
    await store.close();
    return dir;
  }

  it('knows them as built-ins, without datoms and without a write, and uses them', async () => {
    const dir = await oldDatabase();
    const reader = await open({ path: dir, readOnly: true });
    expect(reader.db().attr(':db.attr/preds')?.valueType).toBe('symbol');
    expect(reader.db().attr(':db/ensure')?.cardinality).toBe('many');
    expect(q(`[:find ?e :where [?e :db/ident :db.attr/preds]]`, reader.db())).toEqual([]); // no datom was written
    await reader.close();
    const conn = await open({ path: dir, predicates: PREDICATES });
    await conn.transact(SCHEMA);
    await conn.transact(`[{:acct/id "a" :acct/balance 1 :acct/owner "Ann" :db/ensure :acct/guard}]`);
    expect((await failure(conn, `[[:db/add [:acct/id "a"] :acct/balance -1]]`)).code).toBe('tx/attr-pred-failed');
    expect((await failure(conn, `[[:db/add :db.attr/preds :db/doc "mine"]]`)).code).toBe('tx/system-entity');
    await conn.rebuildIndexes();
    expect((await conn.verify()).problems).toEqual([]);
    await conn.close();
  });

  it('a new database holds them as bootstrap datoms, protected like the rest', async () => {
    const conn = await freshConn();
    expect(q(`[:find ?e . :where [?e :db/ident :db/ensure]]`, conn.db())).toBe(Attr.ensure);
    expect((await failure(conn, `[[:db/retract :db.entity/attrs :db/ident :db.entity/attrs]]`)).code).toBe('tx/system-entity');
  });
});

describe('attribute predicates kept in the schema', () => {
  it('a predicate added, retracted or added in db.with takes effect in the next transaction, and after reopening', async () => {
    const dir = tempDir();
    const conn = await open({ path: path.join(dir, 'db'), predicates: PREDICATES });
    await conn.transact(`[{:db/ident :acct/score :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    await conn.transact(`[[:db/add :acct/score :db.attr/preds bank/small?]]`);
    expect((await failure(conn, `[{:acct/score 5000}]`)).code).toBe('tx/attr-pred-failed');
    const withGuard = conn.db().with(`[[:db/add :acct/score :db.attr/preds bank/non-negative?]]`).dbAfter;
    expect(() => withGuard.with(`[{:acct/score -1}]`)).toThrow(/bank\/non-negative\?/);
    await conn.close();
    const reopened = await open({ path: path.join(dir, 'db'), predicates: PREDICATES });
    expect((await failure(reopened, `[{:acct/score 5000}]`)).message).toMatch(/fails predicate bank\/small\?/);
    await reopened.transact(`[[:db/retract :acct/score :db.attr/preds bank/small?]]`);
    await reopened.transact(`[{:acct/score 5000}]`);
    await reopened.close();
  });
});
