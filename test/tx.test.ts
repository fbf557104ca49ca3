import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { BigDec, Keyword, Sym, TxError, Uri, Uuid, open, printEdn, pull, q, type Connection, type Db } from '../src/index.js';
import { freshConn, tempDir } from './helpers/tmp.js';
import { PERSON } from './helpers/schemas.js';
import { encodeValue, indexKey } from '../src/storage/encoding.js';

const SCHEMA = `[
 ${PERSON.email}
 ${PERSON.name}
 ${PERSON.age}
 {:db/ident :person/ssn :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
 ${PERSON.friend}
 {:db/ident :person/best :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 ${PERSON.tags}
 ${PERSON.address}
 ${PERSON.city}
 {:db/ident :person/born :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}
 {:db/ident :person/id :db/valueType :db.type/uuid :db/cardinality :db.cardinality/one}
 {:db/ident :person/big :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}
 {:db/ident :person/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
 {:db/ident :person/active :db/valueType :db.type/boolean :db/cardinality :db.cardinality/one}
 {:db/ident :person/loc :db/valueType :db.type/tuple :db/tupleTypes [:db.type/double :db.type/double] :db/cardinality :db.cardinality/one}
 {:db/ident :color/red} {:db/ident :color/blue}
 ${PERSON.color}
]`;

async function withSchema(options = {}): Promise<Connection> {
  const conn = await freshConn(options);
  await conn.transact(SCHEMA);
  return conn;
}

function values(db: Db, e: number, attr: string): unknown[] {
  return [...db.datoms('eavt', e, Keyword.of(attr))].map((d) => d.v);
}

/** Every datom of the db, as comparable text, to prove a failed tx changed nothing. */
function snapshot(conn: Connection): string[] {
  const db = conn.db().history();
  return [...db.datoms('eavt')].map((d) => `${d.e} ${d.a} ${String(d.v)} ${d.tx} ${d.added}`);
}

async function expectTxError(conn: Connection, tx: unknown, code: string): Promise<TxError> {
  const before = snapshot(conn);
  const t = conn.basisT;
  const err = await conn.transact(tx).then(
    () => null,
    (e) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(Error);
  expect(err.code).toBe(code);
  expect(conn.basisT).toBe(t);
  expect(snapshot(conn)).toEqual(before);
  return err;
}

describe('list forms', () => {
  it(':db/add, :db/retract with and without a value', async () => {
    const conn = await withSchema();
    const { tempids } = await conn.transact(`[[:db/add "a" :person/name "Ann"] [:db/add "a" :person/tags :x] [:db/add "a" :person/tags :y]]`);
    const a = tempids.a;
    expect(values(conn.db(), a, 'person/tags')).toEqual([Keyword.of('x'), Keyword.of('y')]);
    await conn.transact([[':db/retract', a, ':person/tags', Keyword.of('x')]]);
    expect(values(conn.db(), a, 'person/tags')).toEqual([Keyword.of('y')]);
    await conn.transact(`[[:db/retract ${a} :person/name]]`);
    expect(values(conn.db(), a, 'person/name')).toEqual([]);
  });

  it('retracting a fact that does not hold is a no-op, as in Datomic', async () => {
    const conn = await withSchema();
    const { tempids } = await conn.transact(`[[:db/add "a" :person/name "Ann"]]`);
    const r = await conn.transact(`[[:db/retract ${tempids.a} :person/name "Bob"]]`);
    expect(r.txData.filter((d) => d.e === tempids.a)).toEqual([]);
    expect(values(conn.db(), tempids.a, 'person/name')).toEqual(['Ann']);
  });

  it(':db/retractEntity removes the entity, refs to it, and its components', async () => {
    const conn = await withSchema();
    const { tempids } = await conn.transact(`[{:db/id "a" :person/name "Ann" :person/address {:address/city "Oslo"}}
                                             {:db/id "b" :person/name "Bob" :person/friend "a" :person/best "a"}]`);
    const db = conn.db();
    const address = values(db, tempids.a, 'person/address')[0] as number;
    expect(values(db, address, 'address/city')).toEqual(['Oslo']);
    await conn.transact(`[[:db/retractEntity ${tempids.a}]]`);
    const after = conn.db();
    expect([...after.datoms('eavt', tempids.a)]).toEqual([]);
    expect([...after.datoms('eavt', address)]).toEqual([]);
    expect(values(after, tempids.b, 'person/friend')).toEqual([]);
    expect(values(after, tempids.b, 'person/name')).toEqual(['Bob']);
    expect(values(db, address, 'address/city')).toEqual(['Oslo']); // the old value is unchanged
  });

  it(':db/cas swaps only when the old value matches', async () => {
    const conn = await withSchema();
    const { tempids } = await conn.transact(`[{:db/id "a" :person/age 30}]`);
    await conn.transact(`[[:db/cas ${tempids.a} :person/age 30 31]]`);
    expect(values(conn.db(), tempids.a, 'person/age')).toEqual([31]);
    const err = await expectTxError(conn, `[[:db/cas ${tempids.a} :person/age 30 32]]`, 'tx/cas-failed');
    expect(err.message).toContain('31');
    await conn.transact(`[[:db.fn/cas ${tempids.a} :person/age 31 40]]`);
    expect(values(conn.db(), tempids.a, 'person/age')).toEqual([40]);
    // nil as old value: the attribute must be absent
    const { tempids: t2 } = await conn.transact(`[{:db/id "b" :person/name "B"}]`);
    await conn.transact(`[[:db/cas ${t2.b} :person/age nil 1]]`);
    expect(values(conn.db(), t2.b, 'person/age')).toEqual([1]);
  });

  it('unknown operations are rejected', async () => {
    const conn = await withSchema();
    await expectTxError(conn, `[[:db/frobnicate 1 :person/name "x"]]`, 'tx/unknown-operation');
  });

  it('a form that is neither a list nor a map is named with its position, even a number or a string', async () => {
    const conn = await withSchema();
    for (const [text, form, column] of [
      ['[42]', '42', 2],
      ['[{:person/name "A"}\n #_ 7  "s"]', '"s"', 8],
      ['[ :kw]', ':kw', 3],
      ['[nil]', 'nil', 2],
    ] as const) {
      const err = await expectTxError(conn, text, 'tx/invalid-data');
      expect(err.form, text).toBe(form);
      expect(err.pos, text).toMatchObject({ line: text.includes('\n') ? 2 : 1, column });
    }
  });
});

describe('map forms', () => {
  it('tempids, negative ids, nested maps, reverse refs and collections', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id -1 :person/name "Ann" :person/tags [:a :b]
                                    :person/friend [{:person/name "Cid"} "b"]}
                                   {:db/id "b" :person/name "Bob" :person/_friend -1}]`);
    const db = conn.db();
    const ann = r.tempids['-1'];
    const bob = r.tempids.b;
    expect(values(db, ann, 'person/tags')).toEqual([Keyword.of('a'), Keyword.of('b')]);
    const friends = values(db, ann, 'person/friend') as number[];
    expect(friends).toContain(bob);
    expect(friends).toHaveLength(2);
    const cid = friends.find((f) => f !== bob)!;
    expect(values(db, cid, 'person/name')).toEqual(['Cid']);
    expect(Object.keys(r.tempids).sort()).toEqual(['-1', 'b']);
  });

  it('an EDN list is taken wherever a vector is: values, lookup refs, tempids, nested maps, tuples', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:db/ident :person/aka :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]`);
    const r = await conn.transact(`[{:db/id "a" :person/email "a@x" :person/aka ("a" "b") :person/tags (:x :y)
                                      :person/friend ("b" {:person/name "Cid"}) :person/loc (1.5 2.5)}
                                     {:db/id "b" :person/email "b@x"}]`);
    const db = conn.db();
    const a = r.tempids.a!;
    expect(values(db, a, 'person/aka')).toEqual(['a', 'b']);
    expect(values(db, a, 'person/tags')).toEqual([Keyword.of('x'), Keyword.of('y')]);
    expect(values(db, a, 'person/loc')).toEqual([[1.5, 2.5]]);
    const friends = values(db, a, 'person/friend') as number[];
    expect(friends).toHaveLength(2);
    expect(friends).toContain(r.tempids.b);
    const r2 = await conn.transact(`[[:db/add (:person/email "b@x") :person/friend (:person/email "a@x")] {:db/id "c" :person/email "c@x" :person/_friend ((:person/email "a@x"))}]`);
    expect(values(conn.db(), r.tempids.b!, 'person/friend')).toEqual([a]);
    expect(values(conn.db(), a, 'person/friend')).toContain(r2.tempids.c);
    const err = await expectTxError(conn, `[{:person/email "d@x" :person/name ("x" "y")}]`, 'tx/invalid-value');
    expect(err.message).toMatch(/expects a value of type :db.type\/string, got a vector/);
  });

  it('accepts plain JS data with and without colons', async () => {
    const conn = await withSchema();
    const r = await conn.transact([{ 'db/id': 'a', ':person/name': 'Ann', 'person/tags': [':x'] }]);
    expect(values(conn.db(), r.tempids.a, 'person/name')).toEqual(['Ann']);
    expect(values(conn.db(), r.tempids.a, 'person/tags')).toEqual([Keyword.of('x')]);
  });

  it('existing ids and lookup refs as :db/id and as ref values', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/email "a@x"} {:db/id "b" :person/email "b@x"}]`);
    await conn.transact(`[{:db/id [:person/email "a@x"] :person/name "Ann" :person/best [:person/email "b@x"]}
                          [:db/add ${r.tempids.b} :person/name "Bob"]]`);
    const db = conn.db();
    expect(values(db, r.tempids.a, 'person/name')).toEqual(['Ann']);
    expect(values(db, r.tempids.a, 'person/best')).toEqual([r.tempids.b]);
    expect(values(db, r.tempids.b, 'person/name')).toEqual(['Bob']);
    await expectTxError(conn, `[{:db/id [:person/email "nobody@x"] :person/name "N"}]`, 'tx/lookup-ref-not-found');
    await expectTxError(conn, `[[:db/add 999999 :person/name "N"]]`, 'tx/invalid-entity');
  });

  it('ident keywords resolve as ref values (enums)', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/color :color/red}]`);
    const red = conn.db().entid(Keyword.of('color/red'));
    expect(values(conn.db(), r.tempids.a, 'person/color')).toEqual([red]);
    await expectTxError(conn, `[{:db/id "a" :person/color :color/green}]`, 'tx/unknown-ident');
  });
});

describe('identity and uniqueness', () => {
  it('upserts a tempid through :db.unique/identity', async () => {
    const conn = await withSchema();
    const r1 = await conn.transact(`[{:person/email "a@x" :person/name "Ann"}]`);
    const ann = r1.txData.find((d) => d.v === 'a@x')!.e;
    const r2 = await conn.transact(`[{:db/id "t" :person/email "a@x" :person/age 33}]`);
    expect(r2.tempids.t).toBe(ann);
    expect(values(conn.db(), ann, 'person/age')).toEqual([33]);
    expect(values(conn.db(), ann, 'person/name')).toEqual(['Ann']);
  });

  it('two tempids with the same identity value become one entity', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "x" :person/email "same@x" :person/name "X"} {:db/id "y" :person/email "same@x" :person/age 3}]`);
    expect(r.tempids.x).toBe(r.tempids.y);
  });

  it(':db.unique/value conflicts are rejected, in the db and inside one tx', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:person/ssn "123" :person/name "A"}]`);
    await expectTxError(conn, `[{:person/ssn "123" :person/name "B"}]`, 'tx/unique-conflict');
    await expectTxError(conn, `[{:person/ssn "9" :person/name "B"} {:person/ssn "9" :person/name "C"}]`, 'tx/unique-conflict');
  });

  it('a unique value can move when the old owner retracts it in the same tx', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/ssn "1"} {:db/id "b" :person/name "B"}]`);
    await conn.transact(`[[:db/retract ${r.tempids.a} :person/ssn "1"] [:db/add ${r.tempids.b} :person/ssn "1"]]`);
    expect(values(conn.db(), r.tempids.b, 'person/ssn')).toEqual(['1']);
  });
});

describe('cardinality and redundancy', () => {
  it('a cardinality-one assertion retracts the old value', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann"}]`);
    const r2 = await conn.transact(`[{:db/id ${r.tempids.a} :person/name "Anna"}]`);
    const own = r2.txData.filter((d) => d.e === r.tempids.a).map((d) => [d.v, d.added]);
    expect(own).toEqual([
      ['Ann', false],
      ['Anna', true],
    ]);
  });

  it('redundant assertions are dropped', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann" :person/tags [:x]}]`);
    const r2 = await conn.transact(`[{:db/id ${r.tempids.a} :person/name "Ann" :person/tags [:x]}]`);
    expect(r2.txData.filter((d) => d.e === r.tempids.a)).toEqual([]);
    const r3 = await conn.transact(`[[:db/add "n" :person/name "N"] [:db/add "n" :person/name "N"]]`);
    expect(r3.txData.filter((d) => d.e === r3.tempids.n)).toHaveLength(1);
  });

  it('two values for a cardinality-one attribute in one tx conflict', async () => {
    const conn = await withSchema();
    await expectTxError(conn, `[[:db/add "a" :person/name "A"] [:db/add "a" :person/name "B"]]`, 'tx/cardinality-conflict');
  });

  it('asserting and retracting the same datom in one tx conflicts, whether or not it is stored', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/tags [:x] :person/name "A"}]`);
    const a = r.tempids.a;
    await expectTxError(conn, `[[:db/retract ${a} :person/tags :x] [:db/add ${a} :person/tags :x]]`, 'tx/datom-conflict');
    // not stored: cardinality one (in either order), cardinality many, a tempid, a map form, the tx entity
    const err = await expectTxError(conn, `[[:db/add ${a} :person/name "B"]\n [:db/retract ${a} :person/name "B"]]`, 'tx/datom-conflict');
    expect(err.form).toBe(`[:db/add ${a} :person/name "B"]`);
    expect(err.pos).toMatchObject({ line: 1, column: 2 });
    await expectTxError(conn, `[[:db/retract ${a} :person/name "B"] [:db/add ${a} :person/name "B"]]`, 'tx/datom-conflict');
    await expectTxError(conn, `[[:db/add ${a} :person/tags :new] [:db/retract ${a} :person/tags :new]]`, 'tx/datom-conflict');
    await expectTxError(conn, `[[:db/add "t" :person/name "T"] [:db/retract "t" :person/name "T"]]`, 'tx/datom-conflict');
    await expectTxError(conn, [{ 'db/id': 't', 'person/tags': [':q'] }, [':db/retract', 't', ':person/tags', ':q']], 'tx/datom-conflict');
    await expectTxError(conn, `[{:db/id "datomic.tx" :tx/source "s"} [:db/retract "datomic.tx" :tx/source "s"]]`, 'tx/datom-conflict');
    // retracting another value that does not hold is still a no-op
    await conn.transact(`[[:db/add ${a} :person/name "B"] [:db/retract ${a} :person/name "C"]]`);
    expect(values(conn.db(), a, 'person/name')).toEqual(['B']);
  });
});

describe('values as EDN can hold them', () => {
  it('a keyword or symbol that would not read back is refused: as a value, in a tuple, as an attribute name', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:db/ident :t/kt :db/valueType :db.type/tuple :db/tupleTypes [:db.type/keyword :db.type/long] :db/cardinality :db.cardinality/one}]`);
    await expectTxError(conn, [{ 't/kt': [':x;y', 2] }], 'tx/invalid-value');
    await expectTxError(conn, [{ 'person/tags': [Keyword.of('a b')] }], 'tx/invalid-value');
    await expectTxError(conn, [{ 'x/a]': 1 }], 'tx/invalid-data');
    await expectTxError(conn, [{ 'x/sym': Sym.of('nil') }], 'tx/invalid-value');
    // what reads back is stored and found again
    const r = await conn.transact([{ 'db/id': 'k', 't/kt': [':x-y?', 2] }]);
    expect(q('[:find ?v . :where [?e :t/kt ?v]]', conn.db())).toEqual([Keyword.of('x-y?'), 2]);
    expect(values(conn.db(), r.tempids.k!, 't/kt')).toHaveLength(1);
  });

  it('a long past 2^53 is one value however it is given: a bigint, an EDN literal or an integral JS number', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:db/ident :p/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/value}]`);
    const r = await conn.transact(`[{:db/id "a" :p/n 1152921504606846976}]`);
    await expectTxError(conn, [{ 'p/n': 2 ** 60 }], 'tx/unique-conflict');
    await expectTxError(conn, [{ 'p/n': 2n ** 60n }], 'tx/unique-conflict');
    expect(q('[:find ?e . :in $ ?v :where [?e :p/n ?v]]', conn.db(), 2 ** 60)).toBe(r.tempids.a);
    expect(values(conn.db(), r.tempids.a!, 'p/n')).toEqual([2n ** 60n]);
  });

  it('two idents under a cardinality-many ref are two values, not a lookup ref', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:db/ident :person/colors :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);
    const r = await conn.transact(`[{:db/id "a" :person/colors [:color/red :color/blue]}]`);
    const s = await conn.transact([{ 'db/id': 'b', 'person/colors': [':color/red', ':color/blue'] }]);
    const red = conn.db().entid(Keyword.of('color/red'));
    const blue = conn.db().entid(Keyword.of('color/blue'));
    expect(new Set(values(conn.db(), r.tempids.a!, 'person/colors'))).toEqual(new Set([red, blue]));
    expect(new Set(values(conn.db(), s.tempids.b!, 'person/colors'))).toEqual(new Set([red, blue]));
    // a pair headed by a unique attribute is still one lookup ref
    const ann = await conn.transact(`[{:db/id "p" :person/email "ann@x"}]`);
    const t = await conn.transact(`[{:db/id "c" :person/friend [:person/email "ann@x"]}]`);
    expect(values(conn.db(), t.tempids.c!, 'person/friend')).toEqual([ann.tempids.p]);
  });

  it('JS tx data that refers to itself is tx/invalid-data, not a crash', async () => {
    const conn = await withSchema();
    const cyclic: Record<string, unknown> = { 'person/name': 'Loop' };
    cyclic['person/best'] = cyclic;
    await expectTxError(conn, [cyclic], 'tx/invalid-data');
  });
});

describe('value types', () => {
  it('stores and reads every value type', async () => {
    const conn = await withSchema();
    const id = new Uuid('1b4e28ba-2fa1-11d2-883f-0016cb7a1d5e');
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann" :person/age 42 :person/born #inst "1990-05-01T00:00:00Z"
      :person/id #uuid "1b4e28ba-2fa1-11d2-883f-0016cb7a1d5e" :person/big 123456789012345678901234567890N
      :person/score 1.5 :person/active false :person/tags [:k] :person/loc [59.9 10.7]}]`);
    const e = conn.db().entity(r.tempids.a)!;
    expect(e.get('person/age')).toBe(42);
    expect(e.get('person/born')).toEqual(new Date('1990-05-01T00:00:00Z'));
    expect((e.get('person/id') as Uuid).equals(id)).toBe(true);
    expect(e.get('person/big')).toBe(123456789012345678901234567890n);
    expect(e.get('person/score')).toBe(1.5);
    expect(e.get('person/active')).toBe(false);
    expect(e.get('person/loc')).toEqual([59.9, 10.7]);
  });

  it('rejects values of the wrong type with the offending form and its position', async () => {
    const conn = await withSchema();
    const err = await expectTxError(conn, `[{:person/name "ok"}\n {:person/age "forty"}]`, 'tx/invalid-value');
    expect(err.message).toContain(':person/age');
    expect(err.pos).toMatchObject({ line: 2, column: 2 });
    await expectTxError(conn, `[[:db/add "a" :person/born "2020-01-01"]]`, 'tx/invalid-value');
    await expectTxError(conn, `[[:db/add "a" :person/loc [1 "x"]]]`, 'tx/invalid-value');
    await expectTxError(conn, `[[:db/add "a" :person/name nil]]`, 'tx/invalid-value');
  });

  it('attributes without schema hold scalars; strict schema rejects them', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :thing/color "red"}]`);
    expect(conn.db().attr(Keyword.of('thing/color'))).toMatchObject({ valueType: null, cardinality: 'one' });
    expect(values(conn.db(), r.tempids.a, 'thing/color')).toEqual(['red']);
    await expectTxError(conn, `[{:db/id "a" :thing/shape {:x 1}}]`, 'tx/invalid-value');
    const strict = await withSchema({ strictSchema: true });
    await expectTxError(strict, `[{:db/id "a" :thing/color "red"}]`, 'tx/unknown-attribute');
  });
});

describe('tuples', () => {
  const TUPLES = `[{:db/ident :t/pair :db/valueType :db.type/tuple :db/tupleTypes [:db.type/string :db.type/ref] :db/cardinality :db.cardinality/one}
    {:db/ident :t/refs :db/valueType :db.type/tuple :db/tupleType :db.type/ref :db/cardinality :db.cardinality/one}
    {:db/ident :t/many :db/valueType :db.type/tuple :db/tupleTypes [:db.type/string :db.type/long] :db/cardinality :db.cardinality/many}]`;

  it('a ref in a tuple is the id of an existing entity: no idents, strings or unknown ids', async () => {
    const conn = await withSchema();
    await conn.transact(TUPLES);
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann"} {:db/id "b" :person/name "Bob"}]`);
    const [ann, bob] = [r.tempids.a!, r.tempids.b!];
    await expectTxError(conn, `[{:db/id ${ann} :t/pair ["s" :person/name]}]`, 'tx/invalid-value');
    await expectTxError(conn, `[{:db/id ${ann} :t/pair ["s" "hello"]}]`, 'tx/invalid-value');
    await expectTxError(conn, [{ 'db/id': ann, 't/pair': ['s', ':color/red'] }], 'tx/invalid-value');
    await expectTxError(conn, `[{:db/id ${ann} :t/pair ["s" -1]}]`, 'tx/invalid-value');
    const err = await expectTxError(conn, `[{:db/id ${ann}\n :t/pair ["s" 123456789]}]`, 'tx/invalid-entity');
    expect(err.message).toContain('123456789');
    expect(err.pos).toMatchObject({ line: 1, column: 2 });
    await expectTxError(conn, `[{:db/id ${ann} :t/refs [${bob} 123456789]}]`, 'tx/invalid-entity');
    await expectTxError(conn, `[{:db/id ${ann} :t/refs [${bob} :color/red]}]`, 'tx/invalid-value');
    await conn.transact(`[{:db/id ${ann} :t/pair ["s" ${bob}] :t/refs [${bob} ${ann}]}]`);
    expect(values(conn.db(), ann, 't/pair')).toEqual([['s', bob]]);
    expect(values(conn.db(), ann, 't/refs')).toEqual([[bob, ann]]);
  });

  it('in map form, a collection of tuples is several values of a cardinality-many tuple attribute; one tuple is one', async () => {
    const conn = await withSchema();
    await conn.transact(TUPLES);
    const r = await conn.transact(`[{:db/id "a" :t/many [["a" 1] ["b" 2]]} {:db/id "c" :t/many ["c" 3]} {:db/id "d" :t/many #{["d" 4]}}]`);
    expect(values(conn.db(), r.tempids.a!, 't/many')).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(values(conn.db(), r.tempids.c!, 't/many')).toEqual([['c', 3]]);
    expect(values(conn.db(), r.tempids.d!, 't/many')).toEqual([['d', 4]]);
    const s = await conn.transact([
      {
        'db/id': 'b',
        't/many': [
          ['a', 1],
          ['b', 2],
        ],
      },
    ]);
    expect(values(conn.db(), s.tempids.b!, 't/many')).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    await expectTxError(conn, `[{:t/many [["a" 1] "b"]}]`, 'tx/invalid-value');
    // a cardinality-one tuple stays one value
    const t = await conn.transact(`[{:db/id "p" :person/loc [1.5 2.5]}]`);
    expect(values(conn.db(), t.tempids.p!, 'person/loc')).toEqual([[1.5, 2.5]]);
  });
});

describe('tempids and the tx entity', () => {
  it('a tempid used only as a value is an error', async () => {
    const conn = await withSchema();
    await expectTxError(conn, `[{:db/id "a" :person/best "nobody"}]`, 'tx/dangling-tempid');
  });

  it('in plain JS data, a ref value ":ns/name" is an ident and "datomic.tx" the transaction, not tempids', async () => {
    const conn = await withSchema();
    const red = conn.db().entid(Keyword.of('color/red'));
    const r = await conn.transact([[':db/add', 'a', ':person/color', ':color/red'], { ':db/id': 'b', ':person/color': ':color/red' }]);
    expect(values(conn.db(), r.tempids.a, 'person/color')).toEqual([red]);
    expect(values(conn.db(), r.tempids.b, 'person/color')).toEqual([red]);
    const s = await conn.transact([[':db/add', 'c', ':person/best', 'datomic.tx']]);
    expect(values(conn.db(), s.tempids.c, 'person/best')).toEqual([s.tx]);
    await expectTxError(conn, [[':db/add', 'd', ':person/color', ':color/green']], 'tx/unknown-ident');
    await expectTxError(conn, [[':db/add', 'd', ':person/best', 'nobody']], 'tx/dangling-tempid');
  });

  it('"datomic.tx" annotates the transaction', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "datomic.tx" :tx/source "import"} {:person/name "A"}]`);
    expect(values(conn.db(), r.tx, 'tx/source')).toEqual(['import']);
    expect(conn.db().entity(r.tx)!.get('db/txInstant')).toBeInstanceOf(Date);
  });

  it('an explicit :db/txInstant imports history and may not go backwards', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA.replace(/\]$/, ' {:db/id "datomic.tx" :db/txInstant #inst "2023-06-01"}]'));
    const r = await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "2024-01-01"} {:person/name "A"}]`);
    expect(conn.db().entity(r.tx)!.get('db/txInstant')).toEqual(new Date('2024-01-01'));
    await expectTxError(conn, `[{:db/id "datomic.tx" :db/txInstant #inst "2023-01-01"} {:person/name "B"}]`, 'tx/instant-backwards');
    const late = await expectTxError(conn, `[{:person/email "a@x"}\n {:db/id "datomic.tx" :db/txInstant #inst "2020-01-01"}]`, 'tx/instant-backwards');
    expect(late.form).toContain(':db/txInstant');
    expect(late.pos).toMatchObject({ line: 2, column: 2 });
    // without an explicit instant, time does not go backwards either
    const r2 = await conn.transact(`[{:person/name "C"}]`);
    expect((conn.db().entity(r2.tx)!.get('db/txInstant') as Date).getTime()).toBeGreaterThanOrEqual(new Date('2024-01-01').getTime());
  });
});

describe(':db/txInstant', () => {
  it('is asserted only by a transaction on itself, and never retracted', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann"}]`);
    const [ann, earlier] = [r.tempids.a!, r.tx];
    const instant = conn.db().entity(earlier)!.get('db/txInstant') as Date;
    const err = await expectTxError(conn, `[[:db/add ${earlier} :db/txInstant #inst "2035-01-01"]]`, 'tx/invalid-data');
    expect(err.form).toBe(`[:db/add ${earlier} :db/txInstant #inst "2035-01-01T00:00:00.000Z"]`);
    expect(err.pos).toMatchObject({ line: 1, column: 2 });
    await expectTxError(conn, [[':db/retract', earlier, ':db/txInstant', instant]], 'tx/invalid-data');
    await expectTxError(conn, `[[:db/retract ${earlier} :db/txInstant]]`, 'tx/invalid-data');
    await expectTxError(conn, `[[:db/retractEntity ${earlier}]]`, 'tx/invalid-data');
    await expectTxError(conn, `[[:db/add ${ann} :db/txInstant #inst "2035-01-01"]]`, 'tx/invalid-data');
    await expectTxError(conn, `[{:person/name "X" :db/txInstant #inst "2035-01-01"}]`, 'tx/invalid-data');
    await expectTxError(conn, `[[:db/retract "datomic.tx" :db/txInstant #inst "2035-01-01"]]`, 'tx/invalid-data');
    // its own instant, through "datomic.tx" in either form (not later than the clock)
    const now = new Date(Math.max(Date.now(), instant.getTime()));
    const s = await conn.transact(`[[:db/add "datomic.tx" :db/txInstant #inst "${now.toISOString()}"] {:person/name "Y"}]`);
    expect(conn.db().entity(s.tx)!.get('db/txInstant')).toEqual(now);
    expect(conn.db().entity(earlier)!.get('db/txInstant')).toEqual(instant);
  });
});

describe(':db/txInstant and the clock', () => {
  it('an explicit instant later than the clock (plus a few seconds) is refused, and later transactions keep the real time', async () => {
    const conn = await withSchema();
    const err = await expectTxError(conn, `[{:db/id "datomic.tx" :db/txInstant #inst "2999-01-01"} {:person/name "A"}]`, 'tx/instant-in-future');
    expect(err.message).toContain('2999-01-01T00:00:00.000Z');
    expect(err.form).toContain(':db/txInstant');
    await expectTxError(conn, [{ ':db/id': 'datomic.tx', ':db/txInstant': new Date(Date.now() + 60_000) }], 'tx/instant-in-future');
    const before = Date.now();
    const r = await conn.transact(`[{:person/name "B"}]`);
    const stamped = (conn.db().entity(r.tx)!.get('db/txInstant') as Date).getTime();
    expect(stamped).toBeGreaterThanOrEqual(before);
    expect(stamped).toBeLessThan(Date.now() + 1000);
    // a little ahead of the clock (another machine's export) is within the tolerance
    const ahead = new Date(Date.now() + 2000);
    const s = await conn.transact([{ ':db/id': 'datomic.tx', ':db/txInstant': ahead }, { ':person/name': 'C' }]);
    expect(conn.db().entity(s.tx)!.get('db/txInstant')).toEqual(ahead);
  });

  it('a database that already holds a future instant: transactions without an instant still commit, stamped with it', async () => {
    const conn = await withSchema();
    const future = new Date('2999-01-01');
    // as a database written before this check, or by a host whose clock was wrong, holds one
    const clock = vi.spyOn(Date, 'now').mockReturnValue(future.getTime());
    try {
      await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "2999-01-01"} {:person/name "A"}]`);
    } finally {
      clock.mockRestore();
    }
    const r = await conn.transact(`[{:person/name "B"}]`);
    expect(conn.db().entity(r.tx)!.get('db/txInstant')).toEqual(future);
    const err = await expectTxError(conn, [{ ':db/id': 'datomic.tx', ':db/txInstant': new Date() }, { ':person/name': 'C' }], 'tx/instant-backwards');
    expect(err.message).toContain('leave :db/txInstant out');
  });
});

describe('system entities', () => {
  const SYSTEM_IDENTS = [
    'db/ident',
    'db/valueType',
    'db/cardinality',
    'db/unique',
    'db/isComponent',
    'db/index',
    'db/doc',
    'db/noHistory',
    'db/txInstant',
    'db/tupleType',
    'db/tupleTypes',
    'db/tupleAttrs',
    'db.type/string',
    'db.type/long',
    'db.type/ref',
    'db.type/tuple',
    'db.cardinality/one',
    'db.cardinality/many',
    'db.unique/identity',
    'db.unique/value',
  ];

  it('the bootstrap schema cannot be changed: each refused with tx/system-entity, and schema still works after', async () => {
    const conn = await withSchema();
    const refused = [
      `[[:db/retract :db/ident :db/valueType :db.type/keyword]]`,
      `[[:db/retract :db/ident :db/valueType]]`,
      `[{:db/id :db/ident :db/ident :db/name}]`,
      `[[:db/add :db/ident :db/cardinality :db.cardinality/many]]`,
      `[{:db/id :db/txInstant :db/unique :db.unique/identity}]`,
      `[{:db/id :db/txInstant :db/index false}]`,
      `[{:db/ident :db/doc :db/doc "documentation"}]`,
      `[[:db/add :db.type/string :db/doc "text"]]`,
      `[[:db/retractEntity :db/cardinality]]`,
      `[[:db/retractEntity :db.cardinality/one]]`,
      `[[:db/retractEntity 2]]`,
      `[[:db/add 1 :person/name "ident"]]`,
      `[[:db/add [:db/ident :db/unique] :person/age 3]]`,
      `[[:db/cas :db/valueType :db/cardinality :db.cardinality/one :db.cardinality/many]]`,
      `[[:db/retract :db.unique/value :db/ident :db.unique/value]]`,
    ];
    for (const tx of refused) {
      const err = await expectTxError(conn, tx, 'tx/system-entity');
      expect(err.message, tx).toMatch(/:db(\.[a-z]+)?\/[A-Za-z]+ is a system entity/);
    }
    await conn.transact(`[{:db/ident :late/attr :db/valueType :db.type/string :db/cardinality :db.cardinality/many :db/doc "ok"}]`);
    expect(conn.db().attr(':late/attr')).toMatchObject({ valueType: 'string', cardinality: 'many', doc: 'ok' });
    expect(conn.db().attr(':db/ident')).toMatchObject({ cardinality: 'one', unique: 'identity', valueType: 'keyword' });
    // refs to system entities (enum-like values) stay allowed
    const r = await conn.transact(`[{:db/id "x" :person/best :db.type/string}]`);
    expect(values(conn.db(), r.tempids.x!, 'person/best')).toEqual([conn.db().entid(':db.type/string')]);
  });

  it('random transactions on random system entities are all refused and change nothing (fast-check)', async () => {
    const conn = await withSchema();
    const entityArb = fc.constantFrom(...SYSTEM_IDENTS).chain((ident) => fc.constantFrom<unknown>(Keyword.of(ident), [':db/ident', `:${ident}`], conn.db().entid(`:${ident}`)));
    const attrArb = fc.constantFrom(...SYSTEM_IDENTS.slice(0, 12), 'person/name', 'person/age', 'free/note').map((a) => `:${a}`);
    // strings start with ':' so that under a ref attribute they name idents, not tempids that would dangle
    const valueArb = fc.oneof(
      fc.constantFrom<unknown>(':db.type/long', ':db.cardinality/many', ':db.unique/value', ':other/name', true, false, 7, new Date(0)),
      fc.string({ maxLength: 5 }).map((s) => `:${s}`),
    );
    const opArb = fc.oneof(
      fc.tuple(fc.constantFrom(':db/add', ':db/retract'), entityArb, attrArb, valueArb),
      fc.tuple(fc.constant(':db/retract'), entityArb, attrArb),
      fc.tuple(fc.constant(':db/retractEntity'), entityArb),
      fc.tuple(fc.constant(':db/cas'), entityArb, attrArb, valueArb, valueArb),
      fc.record({ ':db/id': entityArb, [':db/doc']: fc.string({ maxLength: 5 }) }),
    );
    const txArb = fc.tuple(opArb, fc.array(fc.record({ ':person/name': fc.string({ maxLength: 5 }) }), { maxLength: 2 })).map(([op, rest]) => [...rest, op]);
    await fc.assert(
      fc.asyncProperty(txArb, async (tx) => {
        await expectTxError(conn, tx, 'tx/system-entity');
      }),
      { numRuns: 150 },
    );
  });
});

describe('the tx report', () => {
  it("its datoms (made on first read) are the tx's retractions then assertions, the same array on every read, in JSON too", async () => {
    const conn = await withSchema();
    const r1 = await conn.transact(`[{:db/id "a" :person/name "Ann"}]`);
    const r2 = await conn.transact([[':db/add', r1.tempids.a, ':person/name', 'Anna'], { ':person/name': 'Bo' }]);
    await conn.transact(`[{:person/name "Cy"}]`);
    const datoms = r2.txData;
    expect(r2.txData).toBe(datoms);
    expect(datoms.map((d) => [d.v instanceof Date ? 'instant' : d.v, d.added, d.tx])).toEqual([
      ['Ann', false, r2.tx],
      ['Anna', true, r2.tx],
      ['Bo', true, r2.tx],
      ['instant', true, r2.tx],
    ]);
    expect(JSON.parse(JSON.stringify(r2)).txData).toHaveLength(4);
    const speculative = conn.db().with(`[{:person/name "Di"}]`);
    expect(speculative.txData.map((d) => d.v).filter((v) => typeof v === 'string')).toEqual(['Di']);
  });
});

describe('schema', () => {
  it('schema is data: attributes are queryable entities', async () => {
    const conn = await withSchema();
    const email = conn.db().attr('person/email')!;
    expect(email).toMatchObject({ valueType: 'string', cardinality: 'one', unique: 'identity' });
    expect(conn.db().entity(Keyword.of('person/email'))!.get('db/unique')).toBeTruthy();
    expect(conn.db().attr('person/address')).toMatchObject({ isComponent: true });
  });

  it('rejects invalid schema values and type changes', async () => {
    const conn = await withSchema();
    await expectTxError(conn, `[{:db/ident :x/y :db/valueType :db.cardinality/one :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/ident :person/age :db/valueType :db.type/string}]`, 'tx/invalid-schema');
  });

  it('tuple schema: types never change, a new tuple attribute says its types, composite parts stay cardinality one', async () => {
    const conn = await withSchema();
    await expectTxError(conn, `[{:db/id :person/loc :db/tupleTypes [:db.type/long :db.type/long]}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/id :person/loc :db/tupleType :db.type/long}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/ident :x/t :db/valueType :db.type/tuple :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
    await conn.transact(`[{:db/ident :x/a :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
      {:db/ident :x/b :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    await conn.transact(`[{:db/ident :x/ab :db/valueType :db.type/tuple :db/tupleAttrs [:x/a :x/b] :db/cardinality :db.cardinality/one}]`);
    const err = await expectTxError(conn, `[{:db/id :x/a :db/cardinality :db.cardinality/many}]`, 'tx/invalid-schema');
    expect(err.message).toContain('composite');
    expect(conn.db().attr('person/loc')).toMatchObject({ tupleTypes: ['double', 'double'] });
    expect(conn.db().attr('x/a')).toMatchObject({ cardinality: 'one' });
  });

  it('schema errors name the offending form and its position', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:person/name "A" :person/age 30} {:person/name "B" :person/age 30}]`);
    const cases: [string, string, string][] = [
      [`[{:person/name "C"}\n {:db/ident :person/age :db/valueType :db.type/string}]`, 'tx/invalid-schema', ':db.type/string'],
      [`[{:person/name "C"}\n {:db/id :person/name :db/isComponent true}]`, 'tx/invalid-schema', ':db/isComponent'],
      [`[{:person/name "C"}\n {:db/id :person/age :db/unique :db.unique/value}]`, 'tx/unique-conflict', ':db/unique'],
      [`[{:person/name "C"}\n [:db/retract :person/age :db/cardinality :db.cardinality/one]]`, 'tx/invalid-schema', ':db/retract'],
      [`[{:person/name "C"}\n {:db/ident :x/y :db/valueType :db.type/string}]`, 'tx/invalid-schema', ':x/y'],
    ];
    for (const [tx, code, inForm] of cases) {
      const err = await expectTxError(conn, tx, code);
      expect(err.form, tx).toContain(inForm);
      expect(err.pos, tx).toMatchObject({ line: 2, column: 2 });
    }
  });

  it('a new attribute needs a :db/cardinality; an ident alone (an enum) is no attribute', async () => {
    const conn = await withSchema();
    const noCard = await expectTxError(conn, `[{:db/ident :x/y :db/valueType :db.type/string}]`, 'tx/invalid-schema');
    expect(noCard.message).toContain(':db/cardinality');
    await expectTxError(conn, `[[:db/add "n" :db/ident :x/w] [:db/add "n" :db/valueType :db.type/long]]`, 'tx/invalid-schema');
    // an enum made into an attribute is a new attribute too
    await expectTxError(conn, `[{:db/id :color/red :db/valueType :db.type/string}]`, 'tx/invalid-schema');
    await conn.transact(`[{:db/ident :x/enum} {:db/ident :x/documented :db/doc "an enum"}]`);
    expect(conn.db().entid(Keyword.of('x/enum'))).toBeTypeOf('number');
    expect(conn.db().attr('x/enum')).toBeUndefined();
    // without a valueType it is an attribute without schema, as first use makes them (and import replays them)
    await conn.transact(`[{:db/ident :x/z :db/cardinality :db.cardinality/many}]`);
    expect(conn.db().attr('x/z')).toMatchObject({ valueType: null, cardinality: 'many' });
    // changes to existing attributes need not repeat them; attributes used without schema are still made
    await conn.transact(`[{:db/id :person/age :db/doc "years"} {:db/id :person/tags :db/noHistory true}]`);
    const r = await conn.transact(`[{:db/id "a" :thing/size 3}]`);
    expect(values(conn.db(), r.tempids.a!, 'thing/size')).toEqual([3]);
  });

  it('cardinality many -> one needs at most one value per entity once the tx applies', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/tags [:x :y]} {:db/id "b" :person/tags [:z]}]`);
    const [a, b] = [r.tempids.a!, r.tempids.b!];
    const toOne = `{:db/id :person/tags :db/cardinality :db.cardinality/one}`;
    const err = await expectTxError(conn, `[${toOne}]`, 'tx/cardinality-conflict');
    expect(err.message).toContain(String(a));
    expect(err.form).toContain(':db.cardinality/one');
    expect(err.pos).toMatchObject({ line: 1, column: 2 });
    // the tx's own data counts: it was asserted under cardinality many
    await expectTxError(conn, `[[:db/retract ${a} :person/tags :y] [:db/add ${b} :person/tags :w] ${toOne}]`, 'tx/cardinality-conflict');
    await expectTxError(conn, `[[:db/retract ${a} :person/tags :y] {:person/tags [:p :q]} ${toOne}]`, 'tx/cardinality-conflict');
    expect(conn.db().attr('person/tags')!.cardinality).toBe('many');
    // once the data fits (here in the same tx), the change is made
    await conn.transact(`[[:db/retract ${a} :person/tags :y] [:db/add ${b} :person/tags :z] ${toOne}]`);
    expect(conn.db().attr('person/tags')!.cardinality).toBe('one');
    expect(values(conn.db(), a, 'person/tags')).toEqual([Keyword.of('x')]);
    await conn.transact(`[[:db/add ${a} :person/tags :k]]`);
    expect(values(conn.db(), a, 'person/tags')).toEqual([Keyword.of('k')]);
  });

  it('making an attribute unique counts the values the same tx asserts', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:person/name "A" :person/age 30}]`);
    await expectTxError(conn, `[{:db/id :person/age :db/unique :db.unique/value} {:person/age 30}]`, 'tx/unique-conflict');
    await expectTxError(conn, `[{:db/id :person/age :db/unique :db.unique/value} {:person/age 50} {:person/age 50}]`, 'tx/unique-conflict');
    expect(conn.db().attr('person/age')!.unique).toBe(null);
    await conn.transact(`[{:db/id :person/age :db/unique :db.unique/value} {:person/age 50}]`);
    expect(conn.db().attr('person/age')!.unique).toBe('value');
  });

  it('a renamed attribute answers to its old ident too, until another attribute takes it (as in Datomic)', async () => {
    const conn = await withSchema();
    const r = await conn.transact(`[{:db/id "a" :person/name "Ann" :person/age 30}]`);
    const id = conn.db().entid(Keyword.of('person/age'));
    await conn.transact(`[{:db/id :person/age :db/ident :person/years}]`);
    const db = conn.db();
    expect(db.entid(Keyword.of('person/years'))).toBe(id);
    expect(db.entid(Keyword.of('person/age'))).toBe(id);
    expect(String(db.ident(id!))).toBe(':person/years');
    expect(q('[:find ?v . :where [_ :person/age ?v]]', db)).toBe(30);
    await conn.transact(`[[:db/add ${r.tempids.a} :person/age 31]]`);
    expect(values(conn.db(), r.tempids.a!, 'person/years')).toEqual([31]);
    expect(Object.keys(conn.db().entity(r.tempids.a!)!.toJSON())).toContain('person/years');
    // a value from before the rename still has the old name as its own
    expect(String(conn.db().asOf(r.t).ident(id!))).toBe(':person/age');
    // the old name given to a new attribute names that one alone
    await conn.transact(`[{:db/ident :person/age :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
    expect(conn.db().entid(Keyword.of('person/age'))).not.toBe(id);
    expect(conn.db().entid(Keyword.of('person/years'))).toBe(id);
  });

  it('refuses the schema alterations Datomic refuses, and allows the ones it allows', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:person/name "A" :person/age 30} {:person/name "B" :person/age 30} {:person/name "C" :person/age 40}]`);
    // unique over values that are not: refused; once they are, allowed
    await expectTxError(conn, `[{:db/id :person/age :db/unique :db.unique/value}]`, 'tx/unique-conflict');
    await conn.transact(`[{:db/id :person/name :db/unique :db.unique/value}]`);
    expect(conn.db().attr(Keyword.of('person/name'))!.unique).toBe('value');
    // valueType and cardinality can be changed (cardinality) but not retracted
    await expectTxError(conn, `[[:db/retract :person/age :db/cardinality :db.cardinality/one]]`, 'tx/invalid-schema');
    await expectTxError(conn, `[[:db/retract :person/age :db/valueType :db.type/long]]`, 'tx/invalid-schema');
    await conn.transact(`[{:db/id :person/age :db/cardinality :db.cardinality/many}]`);
    expect(conn.db().attr(Keyword.of('person/age'))!.cardinality).toBe('many');
    // components are refs
    await expectTxError(conn, `[{:db/ident :x/part :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/isComponent true}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/id :person/name :db/isComponent true}]`, 'tx/invalid-schema');
    // :db/tupleAttrs can never change
    await conn.transact(`[{:db/ident :person/name+ssn :db/valueType :db.type/tuple :db/tupleAttrs [:person/name :person/ssn] :db/cardinality :db.cardinality/one}]`);
    await expectTxError(conn, `[{:db/id :person/name+ssn :db/tupleAttrs [:person/name :person/email]}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/id :person/email :db/tupleAttrs [:person/name :person/ssn]}]`, 'tx/invalid-schema');
    // the :db namespaces are not made on first use
    await expectTxError(conn, `[{:db/frobnicate 1}]`, 'tx/unknown-attribute'); // :db/excise is known now (excision)
    await expectTxError(conn, `[{:person/name "D" :db.x/y 1}]`, 'tx/unknown-attribute');
  });

  it('using an attribute in the transaction that defines it is an error', async () => {
    const conn = await freshConn();
    await expectTxError(conn, `[{:db/ident :a/b :db/valueType :db.type/string :db/cardinality :db.cardinality/one} {:a/b "x"}]`, 'tx/attribute-in-same-tx');
  });

  it('asOf views use the schema of their time', async () => {
    const conn = await freshConn();
    const r = await conn.transact(`[{:db/ident :a/b :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`);
    await conn.transact(`[{:db/ident :a/b :db/cardinality :db.cardinality/many}]`);
    expect(conn.db().attr('a/b')!.cardinality).toBe('many');
    expect(conn.db().asOf(r.t).attr('a/b')!.cardinality).toBe('one');
    expect(
      conn
        .db()
        .asOf(r.t - 1)
        .attr('a/b'),
    ).toBeUndefined();
  });
});

describe('composite tuples', () => {
  const COMPOSITE = `[{:db/ident :reg/course :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :reg/student :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
    {:db/ident :reg/grade :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :reg/course+student :db/valueType :db.type/tuple :db/tupleAttrs [:reg/course :reg/student]
     :db/cardinality :db.cardinality/one :db/unique :db.unique/value}]`;
  const tupleOf = (db: Db, e: number) => values(db, e, 'reg/course+student');

  it('follow their parts: nil for a missing part, retracted with the last part, never asserted directly', async () => {
    const conn = await withSchema();
    await conn.transact(COMPOSITE);
    const r = await conn.transact(`[{:db/id "ann" :person/name "Ann"} {:db/id "r" :reg/course "bio" :reg/student "ann" :reg/grade "A"} {:db/id "s" :reg/course "chem"}]`);
    const [ann, reg, other] = [r.tempids.ann!, r.tempids.r!, r.tempids.s!];
    expect(tupleOf(conn.db(), reg)).toEqual([['bio', ann]]);
    expect(tupleOf(conn.db(), other)).toEqual([['chem', null]]);
    await conn.transact([[':db/add', reg, ':reg/course', 'bio2']]);
    expect(tupleOf(conn.db(), reg)).toEqual([['bio2', ann]]);
    // a lookup ref by the composite value, and a query by it
    expect(conn.db().entid([Keyword.of('reg/course+student'), ['bio2', ann]])).toBe(reg);
    expect(q('[:find ?e . :in $ ?t :where [?e :reg/course+student ?t]]', conn.db(), ['chem', null])).toBe(other);
    // the composite is unique: a second registration of the same pair fails, nothing written
    await expectTxError(conn, `[{:reg/course "bio2" :reg/student ${ann}}]`, 'tx/unique-conflict');
    await expectTxError(conn, [[':db/add', reg, ':reg/course+student', ['x', ann]]], 'tx/invalid-data');
    await conn.transact([[':db/retract', reg, ':reg/course', 'bio2']]);
    expect(tupleOf(conn.db(), reg)).toEqual([[null, ann]]);
    await conn.transact([[':db/retract', reg, ':reg/student', ann]]);
    expect(tupleOf(conn.db(), reg)).toEqual([]);
    expect(values(conn.db(), reg, 'reg/grade')).toEqual(['A']);
    // the history has each version, and asOf sees the tuple of its time
    const history = q<unknown[][]>('[:find ?t ?added :in $ ?e :where [?e :reg/course+student ?t _ ?added]]', conn.db().history(), reg);
    expect(history).toHaveLength(6);
    expect(tupleOf(conn.db().asOf(r.t), reg)).toEqual([['bio', ann]]);
    // retracting the entity retracts its tuple
    await conn.transact([[':db/retractEntity', other]]);
    expect(q('[:find (count ?e) . :where [?e :reg/course+student]]', conn.db())).toBe(null);
  });

  it('are made of existing cardinality-one attributes', async () => {
    const conn = await withSchema();
    await conn.transact(COMPOSITE);
    await expectTxError(conn, `[{:db/ident :x/bad :db/valueType :db.type/tuple :db/tupleAttrs [:reg/course :person/friend] :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/ident :x/bad :db/valueType :db.type/tuple :db/tupleAttrs [:reg/course :reg/nothing] :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
    await expectTxError(conn, `[{:db/ident :x/bad :db/valueType :db.type/tuple :db/tupleAttrs [:reg/course :reg/course+student] :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
  });
});

describe('bad input', () => {
  it('malformed EDN names the position and leaves the db unchanged', async () => {
    const conn = await withSchema();
    const err = await expectTxError(conn, `[{:person/name "A"}\n  {:person/name }]`, 'edn/syntax');
    expect(err.pos?.line).toBe(2);
  });

  it('a non-vector tx is rejected', async () => {
    const conn = await withSchema();
    // names of Object.prototype members are no operations
    for (const op of ['constructor', 'toString', '__proto__', 'valueOf']) {
      const err = await expectTxError(conn, `[[:${op} "a" :person/name "A"]]`, 'tx/unknown-operation');
      expect(err.message).toContain(`unknown operation :${op}`);
    }
    await expectTxError(conn, `{:person/name "A"}`, 'tx/invalid-data');
    await expectTxError(conn, `[42]`, 'tx/invalid-data');
  });

  it('a lookup ref whose attribute is not a keyword is a tx error, in every position (found by the fuzz test)', async () => {
    const conn = await withSchema();
    await conn.transact(`[{:person/email "b@x"}]`);
    const err = await expectTxError(conn, `[[:db/retractEntity [p:erson/email "b@x"]]]`, 'tx/invalid-entity');
    expect(err.message).toContain('p:erson/email');
    await expectTxError(conn, `[[:db/add [person/email "b@x"] :person/name "B"]]`, 'tx/invalid-entity');
    // as JS data, a string attribute is the keyword's name
    const r = await conn.transact([[':db/add', [':person/email', 'b@x'], ':person/name', 'B']]);
    expect(r.txData.length).toBe(2);
  });

  it('JS tx data that throws when read (Proxies, getters) is tx/invalid-data naming the problem, not a storage error', async () => {
    const conn = await withSchema();
    const trap = (what: string) => () => {
      throw new Error(`${what} trap`);
    };
    const proxies: [string, unknown][] = [
      ['get trap', new Proxy([], { get: trap('get') })],
      ['ownKeys trap', [new Proxy({}, { ownKeys: trap('ownKeys') })]],
      ['getPrototypeOf trap', [new Proxy({}, { getPrototypeOf: trap('getPrototypeOf') })]],
      ['value trap', [[':db/add', 'a', ':person/born', new Proxy(new Date(), { get: trap('value') })]]],
      ['tuple trap', [[':db/add', 'a', ':person/loc', new Proxy([1, 2], { get: trap('tuple') })]]],
      [
        'getter',
        [
          {
            get ':person/name'(): string {
              throw new Error('getter trap');
            },
          },
        ],
      ],
      [
        'a thrown Proxy',
        [
          new Proxy([], {
            get: () => {
              throw new Proxy({}, { get: trap('thrown') });
            },
          }),
        ],
      ],
    ];
    for (const [what, tx] of proxies) {
      const err = await expectTxError(conn, tx, 'tx/invalid-data').catch((e) => {
        throw new Error(`${what}: ${e.message}`);
      });
      expect(err.message, what).toContain(what === 'a thrown Proxy' ? 'a value that cannot be printed' : what);
    }
    // a JS symbol where an entity belongs cannot even be printed in a template string
    await expectTxError(conn, [[':db/add', Symbol('s'), ':person/name', 'B']], 'tx/invalid-entity');
  });

  it('a 50,000-deep tuple, map or vector in JS tx data gets a tx error, not a stack overflow as storage/write-failed', async () => {
    const conn = await withSchema();
    let deep: unknown = [1, 2];
    for (let i = 0; i < 50_000; i++) deep = [deep, 1];
    let deepMap: unknown = { ':person/name': 'x' };
    for (let i = 0; i < 50_000; i++) deepMap = { ':person/best': deepMap };
    // a value refused as a vector (a tuple's element, a schemaless attribute's) whose form is too deep to print
    for (const tx of [[[':db/add', 'a', ':person/loc', deep]], [[':db/add', 'a', ':free/tuple', deep]]]) {
      const err = await expectTxError(conn, tx, 'tx/invalid-value');
      expect(err.message).toContain('got a vector');
    }
    for (const tx of [
      deep,
      [
        [':db/add', 'a', ':person/name', 'x'],
        [deep, 1],
      ],
    ]) {
      const err = await expectTxError(conn, tx, 'tx/unknown-operation');
      expect(err.message).toContain('unknown operation');
    }
    const err = await expectTxError(conn, [deepMap], 'tx/invalid-data');
    expect(err.message).toContain('nested too deep');
  });

  it('tempids named like Object.prototype members ("__proto__", "constructor", "toString") are own keys of report.tempids', async () => {
    const conn = await withSchema();
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
    const r = await conn.transact(names.map((n, i) => ({ ':db/id': n, ':person/email': `${i}@x` })));
    for (const n of names) {
      expect(Object.hasOwn(r.tempids, n), n).toBe(true);
      expect(typeof r.tempids[n], n).toBe('number');
    }
    expect(Object.keys(r.tempids).sort()).toEqual([...names].sort());
    expect(Object.keys(JSON.parse(JSON.stringify(r.tempids))).sort()).toEqual([...names].sort());
    expect(Object.getPrototypeOf(r.tempids)).toBe(Object.prototype);
  });
});

describe('serialization', () => {
  it('concurrent transacts are serialized and all committed', async () => {
    const conn = await withSchema();
    const reports = await Promise.all(Array.from({ length: 50 }, (_, i) => conn.transact([{ 'person/email': `p${i}@x`, 'person/age': i }])));
    const ts = reports.map((r) => r.t).sort((a, b) => a - b);
    expect(new Set(ts).size).toBe(50);
    expect(ts[49] - ts[0]).toBe(49);
    expect([...conn.db().datoms('aevt', Keyword.of('person/email'))]).toHaveLength(50);
  });

  it('a failing tx among concurrent ones does not affect the others', async () => {
    const conn = await withSchema();
    const results = await Promise.allSettled([conn.transact(`[{:person/email "ok1@x"}]`), conn.transact(`[{:person/age "bad"}]`), conn.transact(`[{:person/email "ok2@x"}]`)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect([...conn.db().datoms('aevt', Keyword.of('person/email'))]).toHaveLength(2);
  });
});

describe('values stored exactly (issue 25: lone surrogates, -0.0, huge bigints)', () => {
  const schema = `[{:db/ident :v/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
    {:db/ident :v/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
    {:db/ident :v/d :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
    {:db/ident :v/key :db/valueType :db.type/double :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
    {:db/ident :v/big :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}]`;

  it('stores strings with lone surrogates exactly: distinct identities stay distinct, a re-assertion is redundant', async () => {
    const conn = await freshConn();
    await conn.transact(schema);
    const long = 'L'.repeat(1500) + '\uDC00';
    const strings = ['x\uD800', 'x\uDBFF\uDBFF', '\uDFFFy', 'x\uD83D\uDE00', long, long.slice(0, -1) + '\uDC01'];
    await conn.transact([{ 'v/id': 'a\uD800', 'v/s': strings }]);
    await conn.transact([{ 'v/id': 'a\uD801', 'v/s': 'x' }]);
    const db = conn.db();
    expect(q('[:find (count ?e) . :where [?e :v/id]]', db)).toBe(2);
    const e = db.entid([':v/id', 'a\uD800'])!;
    expect(new Set(values(db, e, 'v/s'))).toEqual(new Set(strings));
    expect(q('[:find ?id . :in $ ?e :where [?e :v/id ?id]]', db, e)).toBe('a\uD800');
    const again = await conn.transact([{ 'v/id': 'a\uD800', 'v/s': strings }]);
    expect(again.txData.filter((d) => d.e === e)).toEqual([]);
    for (const s of strings) expect(q('[:find ?e . :in $ ?s :where [?e :v/s ?s]]', conn.db(), s)).toBe(e);
  });

  it('keeps -0.0 as -0.0; -0.0 and 0.0 are one value (query, uniqueness, redundancy), as Clojure = has it', async () => {
    const conn = await freshConn();
    await conn.transact(schema);
    const r = await conn.transact('[{:db/id "n" :v/d -0.0 :v/key -0.0}]');
    const e = r.tempids['n']!;
    const db = conn.db();
    expect(Object.is(values(db, e, 'v/d')[0], -0)).toBe(true);
    expect(Object.is(q('[:find ?v . :where [_ :v/d ?v]]', db), -0)).toBe(true);
    expect(Object.is([...db.datoms('avet', Keyword.of('v/key'))][0]!.v, -0)).toBe(true);
    expect(q('[:find ?e . :where [?e :v/d 0.0]]', db)).toBe(e);
    expect(q('[:find ?e . :where [?e :v/d ?v] [(<= ?v 0)] [(>= ?v 0)]]', db)).toBe(e);
    // the same value: an upsert by 0.0 finds the -0.0 entity, asserting 0.0 again is redundant
    const up = await conn.transact('[{:v/key 0.0 :v/d 0.0}]');
    expect(up.txData.filter((d) => d.e === e)).toEqual([]);
    expect(Object.is(values(conn.db(), e, 'v/d')[0], -0)).toBe(true);
    // retracting 0.0 retracts the stored -0.0
    await conn.transact(`[[:db/retract ${e} :v/d 0.0]]`);
    expect(values(conn.db(), e, 'v/d')).toEqual([]);
    expect([...conn.db().datoms('avet', Keyword.of('v/d'))]).toEqual([]);
  });

  it('refuses a bigint too large for an index key with tx/invalid-value, changing nothing', async () => {
    const conn = await freshConn();
    await conn.transact(schema);
    const before = snapshot(conn);
    const huge = BigInt('9'.repeat(5000));
    await expect(conn.transact([{ 'v/big': huge }])).rejects.toMatchObject({ code: 'tx/invalid-value' });
    await expect(conn.transact([{ 'v/free': -huge }])).rejects.toMatchObject({ code: 'tx/invalid-value' });
    expect(snapshot(conn)).toEqual(before);
    // a key holds a bigint's length in one byte: 255 bytes of magnitude at most (2,040 bits)
    await expect(conn.transact([{ 'v/big': 2n ** 2040n }])).rejects.toMatchObject({ code: 'tx/invalid-value' });
    expect(snapshot(conn)).toEqual(before);
    const ok = -(2n ** 2040n - 1n);
    await conn.transact([{ 'v/big': ok }]);
    expect(q('[:find ?v . :where [_ :v/big ?v]]', conn.db())).toBe(ok);
  });
});

describe('value types: bigdec, float, uri, bytes (issue 21)', () => {
  const TYPES = `[
   {:db/ident :acct/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
   {:db/ident :acct/balance :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}
   {:db/ident :acct/amounts :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/many}
   {:db/ident :acct/rate :db/valueType :db.type/float :db/cardinality :db.cardinality/one}
   {:db/ident :acct/home :db/valueType :db.type/uri :db/cardinality :db.cardinality/one}
   {:db/ident :acct/key :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one}]`;

  async function accounts(options: { path?: string } = {}): Promise<Connection> {
    const conn = await freshConn(options);
    await conn.transact(TYPES);
    return conn;
  }
  const texts = (vs: unknown[]) => vs.map((v) => (v instanceof BigDec ? `${v.text}M` : v));

  it('a bigdec keeps its scale through transact, every index, entity, pull and a reopen; AVET sorts by value, then scale', async () => {
    const path = `${tempDir()}/db`;
    const conn = await open({ path });
    await conn.transact(TYPES);
    const r = await conn.transact(`[{:db/id "a" :acct/id "a" :acct/balance 1.50M
                                     :acct/amounts [2M 1.5M -3.25M 10M 0.001M 1.50M 1.5E+2M -0.5M]}]`);
    const a = r.tempids.a!;
    const db = conn.db();
    expect(texts(values(db, a, 'acct/balance'))).toEqual(['1.50M']);
    expect(texts([...db.datoms('avet', Keyword.of('acct/amounts'))].map((d) => d.v))).toEqual(['-3.25M', '-0.5M', '0.001M', '1.5M', '1.50M', '2M', '10M', '1.5E+2M']);
    expect(texts([...db.datoms('aevt', Keyword.of('acct/balance'))].map((d) => d.v))).toEqual(['1.50M']);
    expect((db.entity(a)!.get('acct/balance') as BigDec).text).toBe('1.50');
    expect(printEdn(pull(db, '[:acct/balance]', a) as never)).toBe('{:acct/balance 1.50M}');
    await conn.transact(`[{:acct/id "a" :acct/balance 2.00M}]`);
    expect(texts(values(conn.db().asOf(r.tx), a, 'acct/balance'))).toEqual(['1.50M']);
    expect(texts([...conn.db().history().datoms('eavt', a, Keyword.of('acct/balance'))].map((d) => `${String(d.v)} ${d.added}`))).toEqual(['1.50 true', '1.50 false', '2.00 true']);
    await conn.close();
    const again = await open({ path });
    expect(texts(values(again.db(), a, 'acct/balance'))).toEqual(['2.00M']);
    await again.close();
  });

  it('1.5M and 1.50M are two values (Java equals) to datoms and joins; =, == and < compare them by value (Clojure)', async () => {
    const conn = await accounts();
    await conn.transact(`[{:acct/id "a" :acct/balance 1.5M} {:acct/id "b" :acct/balance 1.50M} {:acct/id "c" :acct/balance 2M}]`);
    const db = conn.db();
    expect(q('[:find [?id ...] :where [?e :acct/balance 1.5M] [?e :acct/id ?id]]', db)).toEqual(['a']);
    expect(q('[:find [?id ...] :where [?e :acct/balance 1.50M] [?e :acct/id ?id]]', db)).toEqual(['b']);
    expect(new Set(q('[:find [?id ...] :where [?e :acct/balance ?b] [(= ?b 1.5M)] [?e :acct/id ?id]]', db) as string[])).toEqual(new Set(['a', 'b']));
    expect(new Set(q('[:find [?id ...] :where [?e :acct/balance ?b] [(<= 1.5 ?b 1.5M)] [?e :acct/id ?id]]', db) as string[])).toEqual(new Set(['a', 'b']));
    expect(q('[:find [?id ...] :where [?e :acct/balance ?b] [(> ?b 1.5M)] [?e :acct/id ?id]]', db)).toEqual(['c']);
    expect(q('[:find ?x . :where [(== 1 1.0 1M 1.00M) ?x]]', db)).toBe(true);
    expect(q('[:find ?x . :where [(= 1 1M) ?x]]', db)).toBe(false);
  });

  it('arithmetic on bigdecs is exact, with Java scales; a double makes a double; a quotient that does not end is an error', async () => {
    const conn = await accounts();
    const db = conn.db();
    const calc = (expr: string) => q(`[:find ?x . :where [${expr} ?x]]`, db);
    expect(texts([calc('(+ 0.1M 0.2M)'), calc('(- 1.50M 2)'), calc('(* 1.50M 3)'), calc('(/ 1.00M 8)'), calc('(/ 10M 4M)'), calc('(- 2.5M)')])).toEqual([
      '0.3M',
      '-0.50M',
      '4.50M',
      '0.125M',
      '2.5M',
      '-2.5M',
    ]);
    expect(calc('(+ 0.5M 0.25)')).toBe(0.75);
    expect(() => calc('(/ 1M 3)')).toThrow(expect.objectContaining({ code: 'query/arithmetic-error' }));
    expect(() => calc('(/ 1M 0)')).toThrow(expect.objectContaining({ code: 'query/arithmetic-error' }));
    await conn.transact(`[{:acct/id "a" :acct/balance 0.10M} {:acct/id "b" :acct/balance 0.20M}]`);
    expect(texts([q('[:find (sum ?b) . :with ?e :where [?e :acct/balance ?b]]', conn.db())])).toEqual(['0.30M']);
  });

  it('a bigdec range reads only the keys in it (AVET, by value)', async () => {
    const conn = await accounts();
    await conn.transact(`[{:acct/id "a" :acct/amounts [1M 1.0M 1.5M 2.25M 3M -1M 100M]}]`);
    const db = conn.db();
    const range = (lo: unknown, hi: unknown) => texts([...db.indexRange(Keyword.of('acct/amounts'), lo as never, hi as never)].map((d) => d.v));
    expect(range(new BigDec('1.00'), new BigDec('3'))).toEqual(['1M', '1.0M', '1.5M', '2.25M']);
    expect(range(1, 3)).toEqual(['1M', '1.0M', '1.5M', '2.25M']);
    expect(range(new BigDec('-5'), new BigDec('1.4999'))).toEqual(['-1M', '1M', '1.0M']);
  });

  it('float rounds to 32 bits; uri and bytes round-trip and are found by value (bytes by content)', async () => {
    const conn = await accounts();
    const r = await conn.transact(`[{:db/id "a" :acct/id "a" :acct/rate 0.1 :acct/home #uri "https://example.com/a?b=c#d" :acct/key #bytes "AAEC/w=="}]`);
    const a = r.tempids.a!;
    const db = conn.db();
    expect(values(db, a, 'acct/rate')).toEqual([Math.fround(0.1)]);
    expect(values(db, a, 'acct/home')).toEqual([new Uri('https://example.com/a?b=c#d')]);
    expect(values(db, a, 'acct/key')).toEqual([new Uint8Array([0, 1, 2, 255])]);
    expect(q('[:find ?e . :in $ ?k :where [?e :acct/key ?k]]', db, new Uint8Array([0, 1, 2, 255]))).toBe(a);
    expect(q('[:find ?e . :where [?e :acct/home #uri "https://example.com/a?b=c#d"]]', db)).toBe(a);
    expect(q('[:find ?e . :where [?e :acct/rate 0.1]]', db)).toBe(a);
    expect(printEdn(pull(db, '[:acct/home :acct/key]', a) as never)).toBe('{:acct/home #uri "https://example.com/a?b=c#d", :acct/key #bytes "AAEC/w=="}');
  });

  it('bad input gets a coded error and changes nothing', async () => {
    const conn = await accounts();
    await conn.transact(`[{:acct/id "a" :acct/balance 1M}]`);
    const before = snapshot(conn);
    const refused = async (tx: string, code: string) => {
      await expect(conn.transact(tx)).rejects.toMatchObject({ code });
      expect(snapshot(conn)).toEqual(before);
    };
    await refused(`[{:acct/id "a" :acct/balance "1.50"}]`, 'tx/invalid-value');
    await refused(`[{:acct/id "a" :acct/balance 1.5}]`, 'tx/invalid-value');
    await refused(`[{:acct/id "a" :acct/home "https://example.com"}]`, 'tx/invalid-value');
    await refused(`[{:acct/id "a" :acct/key "AAEC"}]`, 'tx/invalid-value');
    await refused(`[{:acct/id "a" :acct/rate ##NaN}]`, 'tx/invalid-value');
    await refused(`[{:db/ident :x/key :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`, 'tx/invalid-schema');
    await refused(`[{:db/ident :acct/key :db/unique :db.unique/value}]`, 'tx/invalid-schema');
    await refused(`[{:db/ident :x/pair :db/valueType :db.type/tuple :db/tupleTypes [:db.type/bigdec :db.type/long] :db/cardinality :db.cardinality/one}]`, 'tx/invalid-schema');
    await refused(`[{:acct/id "a" :acct/balance 1${'0'.repeat(1000)}M}]`, 'tx/invalid-value');
    await expect(conn.transact(`[{:acct/id "a" :acct/home #uri "not a uri"}]`)).rejects.toMatchObject({ code: 'edn/syntax' });
  });

  it('bytes values are not written to AVET (as in Datomic): found by value through AEVT; AVET reads and ranges of them are a coded error', async () => {
    const conn = await accounts();
    const keyAttr = conn.db().attr(':acct/key')!.id;
    const bytesOf = (i: number) => new Uint8Array([i, 255 - i, 7]);
    await conn.transact(Array.from({ length: 3 }, (_, i) => ({ ':acct/id': `s${i}`, ':acct/key': bytesOf(i) })));
    // a big transaction's keys go in packed runs: the other path into the indexes
    await conn.transact(Array.from({ length: 80 }, (_, i) => ({ ':acct/id': `b${i}`, ':acct/key': bytesOf(i + 3) })));
    await conn.transact([[':db/retract', [Keyword.of('acct/id'), 's0'], ':acct/key', bytesOf(0)]]);
    const avetKeys = (which: 'current' | 'history') => [...conn.store.keys(which, 'avet', [keyAttr])];
    expect(avetKeys('current')).toEqual([]);
    expect(avetKeys('history')).toEqual([]);
    expect([...conn.store.keys('current', 'aevt', [keyAttr])]).toHaveLength(82);
    const db = conn.db();
    expect(q('[:find ?id . :in $ ?k :where [?e :acct/key ?k] [?e :acct/id ?id]]', db, bytesOf(50))).toBe('b47');
    expect(q('[:find ?a . :in $ ?k :where [_ ?a ?k]]', db, bytesOf(1))).toBe(keyAttr);
    expect(q('[:find ?e . :in $ ?k :where [?e :acct/key ?k]]', db, bytesOf(0))).toBeNull();
    expect(() => [...db.datoms('avet', ':acct/key')]).toThrow(expect.objectContaining({ code: 'db/bytes-not-indexed' }));
    expect(() => [...db.indexRange(':acct/key', bytesOf(1), bytesOf(9))]).toThrow(expect.objectContaining({ code: 'db/bytes-not-indexed' }));
    expect((await conn.verify()).ok).toBe(true);
    await conn.rebuildIndexes();
    expect(avetKeys('current')).toEqual([]);
    expect((await conn.verify()).ok).toBe(true);
  });

  it(':db/index true on a bytes attribute is refused (tx/invalid-schema), as :db/unique is', async () => {
    const conn = await accounts();
    const before = snapshot(conn);
    await expect(conn.transact(`[{:db/ident :x/blob :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one :db/index true}]`)).rejects.toMatchObject({ code: 'tx/invalid-schema' });
    await expect(conn.transact(`[{:db/ident :acct/key :db/index true}]`)).rejects.toMatchObject({ code: 'tx/invalid-schema' });
    expect(snapshot(conn)).toEqual(before);
  });

  it('a database written while bytes went to AVET: verify notes those keys (not damage), a retraction drops its own, rebuild drops all', async () => {
    const conn = await accounts();
    const keyAttr = conn.db().attr(':acct/key')!.id;
    const { tempids } = await conn.transact(`[{:db/id "a" :acct/id "a" :acct/key #bytes "AQI="} {:db/id "b" :acct/id "b" :acct/key #bytes "AwQ="}]`);
    // the keys an earlier factlog wrote for these datoms, put back as it put them
    const tables = conn.store as unknown as { current: Record<string, { put(key: unknown[]): void }> };
    await conn.store.writeTransaction(() => {
      for (const d of conn.db().datoms('aevt', ':acct/key')) {
        const [tag, payload] = encodeValue(d.v, 'bytes');
        tables.current.avet!.put(indexKey('avet', { e: d.e, a: d.a, tag, payload, tx: d.tx }));
      }
    });
    const stale = () => [...conn.store.keys('current', 'avet', [keyAttr])].length;
    expect(stale()).toBe(2);
    const report = await conn.verify();
    expect(report.ok).toBe(true);
    expect(report.notes.join('\n')).toMatch(/avet holds 2 key\(s\) of :db.type\/bytes values/);
    await conn.transact([[':db/retract', tempids.a, ':acct/key', new Uint8Array([1, 2])]]);
    expect(stale()).toBe(1);
    await conn.rebuildIndexes();
    expect(stale()).toBe(0);
    const after = await conn.verify();
    expect(after.ok).toBe(true);
    expect(after.notes.join('\n')).not.toMatch(/bytes/);
    expect(q('[:find ?e . :where [?e :acct/key #bytes "AwQ="]]', conn.db())).toBe(tempids.b);
  });

  it('a database of format 5 or older refuses a :db.type/bigdec attribute (no key for it there); float, uri and bytes work', async () => {
    const conn = await freshConn({ createFormat: 5 });
    const before = snapshot(conn);
    await expect(conn.transact(`[{:db/ident :acct/balance :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}]`)).rejects.toMatchObject({ code: 'tx/type-needs-format' });
    expect(snapshot(conn)).toEqual(before);
    await conn.transact(TYPES.replace(/\{:db\/ident :acct\/(balance|amounts)[^}]*\}/g, ''));
    const r = await conn.transact(`[{:db/id "a" :acct/id "a" :acct/home #uri "urn:x" :acct/key #bytes "AQ==" :acct/rate 1.5}]`);
    expect(printEdn(pull(conn.db(), '[:acct/home :acct/key :acct/rate]', r.tempids.a!) as never)).toBe('{:acct/home #uri "urn:x", :acct/key #bytes "AQ==", :acct/rate 1.5}');
  });
});
