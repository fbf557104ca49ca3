import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open, q, type Connection, Keyword } from '../src/index.js';
import { pull, pullMany, registerXform } from '../src/pull/index.js';
import fc from 'fast-check';
import { errorCode } from './helpers/errors.js';
import { freshConn, tempDir } from './helpers/tmp.js';
import type { DbView } from '../src/db/api.js';
import { PERSON } from './helpers/schemas.js';

const SCHEMA = `[
 ${PERSON.uniqueName}
 ${PERSON.age}
 ${PERSON.friend}
 {:db/ident :person/mentor :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :person/nick :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 ${PERSON.address}
 ${PERSON.color}
 ${PERSON.city}
 {:db/ident :color/green}]`;

let dir: string;
let conn: Connection;
let ids: Record<string, number>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'factlog-pull-'));
  conn = await open({ path: join(dir, 'db') });
  await conn.transact(SCHEMA);
  const nicks = Array.from({ length: 1200 }, (_, i) => `"n${i}"`).join(' ');
  const r = await conn.transact(`[
    {:db/id "a" :person/name "ann" :person/age 30 :person/friend ["b" "c"] :person/mentor "c"
     :person/address {:address/city "Oslo"} :person/color :color/green :person/nick [${nicks}]}
    {:db/id "b" :person/name "bob" :person/friend ["a"] :person/mentor "a"}
    {:db/id "c" :person/name "cid" :person/mentor "b"}]`);
  ids = r.tempids;
});

afterAll(async () => {
  await conn?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pull', () => {
  it('pulls attributes keyed without colon, refs as db/id', () => {
    const r = pull(conn.db(), '[:person/name :person/age :person/mentor :person/color]', ids.a!);
    expect(r).toEqual({ 'person/name': 'ann', 'person/age': 30, 'person/mentor': { 'db/id': ids.c }, 'person/color': { 'db/id': conn.db().entid(Keyword.of('color/green')) } });
  });
  it('wildcard includes db/id and pulls components recursively', () => {
    const r = pull(conn.db(), '[*]', ids.a!)!;
    expect(r['db/id']).toBe(ids.a);
    expect(r['person/address']).toEqual({ 'db/id': expect.any(Number), 'address/city': 'Oslo' });
    expect((r['person/friend'] as unknown[]).length).toBe(2);
    expect((r['person/nick'] as unknown[]).length).toBe(1000); // as Datomic: the default limit holds under * too
    expect((pull(conn.db(), '[* (limit :person/nick nil)]', ids.a!)!['person/nick'] as unknown[]).length).toBe(1200);
    expect((pull(conn.db(), '[* [:person/nick :limit 3]]', ids.a!)!['person/nick'] as unknown[]).length).toBe(3);
  });
  it('cardinality many: default limit 1000, (limit ...), nil limit', () => {
    const db = conn.db();
    expect((pull(db, '[:person/nick]', ids.a!)!['person/nick'] as unknown[]).length).toBe(1000);
    expect((pull(db, '[(limit :person/nick 5)]', ids.a!)!['person/nick'] as unknown[]).length).toBe(5);
    expect((pull(db, '[(limit :person/nick nil)]', ids.a!)!['person/nick'] as unknown[]).length).toBe(1200);
  });
  it('nested patterns, reverse refs, :db/id, defaults and :as', () => {
    const db = conn.db();
    const r = pull(db, '[:db/id {:person/friend [:person/name]} :person/_friend (default :person/age 0) [:person/name :as "n"]]', ids.b!);
    expect(r).toEqual({ 'db/id': ids.b, 'person/friend': [{ 'person/name': 'ann' }], 'person/_friend': [{ 'db/id': ids.a }], 'person/age': 0, n: 'bob' });
    const rev = pull(
      db,
      '[{:person/_address [:person/name]}]',
      pull(db, '[*]', ids.a!)!['person/address'] ? (pull(db, '[*]', ids.a!)!['person/address'] as { 'db/id': number })['db/id'] : 0,
    );
    expect(rev).toEqual({ 'person/_address': { 'person/name': 'ann' } }); // reverse of a component: single value
  });
  it('patterns as plain JS data: attribute strings with or without colon, objects for maps, options', () => {
    const db = conn.db();
    const js = pull(db, [':db/id', { ':person/friend': ['person/name'] }, ':person/_friend', [':person/age', ':default', 0], ['person/name', 'as', 'n']], ids.b!);
    const edn = pull(db, '[:db/id {:person/friend [:person/name]} :person/_friend [:person/age :default 0] [:person/name :as "n"]]', ids.b!);
    expect(js).toEqual(edn);
    expect(js).toEqual({ 'db/id': ids.b, 'person/friend': [{ 'person/name': 'ann' }], 'person/_friend': [{ 'db/id': ids.a }], 'person/age': 0, n: 'bob' });
    expect(pull(db, ['person/name', { 'person/mentor': '...' }], ids.c!)).toEqual(pull(db, '[:person/name {:person/mentor ...}]', ids.c!));
    expect(pull(db, ['*'], ids.c!)).toEqual(pull(db, '[*]', ids.c!));
    expect(pullMany(db, [[':person/name', ':as', 'who']], [ids.a!, ids.c!])).toEqual([{ who: 'ann' }, { who: 'cid' }]);
  });
  it('recursion with ... and depth, with cycle protection', () => {
    const db = conn.db();
    const r = pull(db, '[:person/name {:person/mentor ...}]', ids.a!);
    // a -> c -> b -> a (cycle): a comes back as a bare id
    expect(r).toEqual({ 'person/name': 'ann', 'person/mentor': { 'person/name': 'cid', 'person/mentor': { 'person/name': 'bob', 'person/mentor': { 'db/id': ids.a } } } });
    // below its depth a recursive attribute is left out (DataScript's pull-api tests)
    const d1 = pull(db, '[:person/name {:person/mentor 1}]', ids.a!);
    expect(d1).toEqual({ 'person/name': 'ann', 'person/mentor': { 'person/name': 'cid' } });
  });
  it('each recursive spec counts its own depth along the path', async () => {
    const chain = await open({ path: join(dir, 'chain') });
    await chain.transact(`[{:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
      {:db/ident :enemy :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`);
    const { tempids: e } = await chain.transact(`[{:db/id "1" :friend "2"} {:db/id "2" :enemy "3"} {:db/id "3" :friend "4"}
      {:db/id "4" :enemy "5"} {:db/id "5" :friend "6"} {:db/id "6" :enemy "7"} {:db/id "7" :db/doc "end"}]`);
    const db = chain.db();
    const at = (p: string) => pull(db, p, e['1']!);
    expect(at('[:db/id {:friend ...}]')).toEqual({ 'db/id': e['1'], friend: { 'db/id': e['2'] } });
    expect(at('[:db/id {:friend 1 :enemy 1}]')).toEqual({ 'db/id': e['1'], friend: { 'db/id': e['2'], enemy: { 'db/id': e['3'] } } });
    expect(at('[:db/id {:friend 2 :enemy 1}]')).toEqual({ 'db/id': e['1'], friend: { 'db/id': e['2'], enemy: { 'db/id': e['3'], friend: { 'db/id': e['4'] } } } });
    expect(at('[:db/id {:friend 2 :enemy 2}]')).toEqual({
      'db/id': e['1'],
      friend: { 'db/id': e['2'], enemy: { 'db/id': e['3'], friend: { 'db/id': e['4'], enemy: { 'db/id': e['5'] } } } },
    });
    await chain.close();
  });
  it('recursion of any depth: a chain of 12,000 entities through pull and (pull ...) in :find', async () => {
    const deep = await open({ path: join(dir, 'deep') });
    await deep.transact(`[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`);
    const n = 12_000;
    const forms = Array.from({ length: n }, (_, i) => `{:db/id "p${i}" :name "p${i}"${i + 1 < n ? ` :friend "p${i + 1}"` : ''}}`);
    await deep.transact(`[${forms.join(' ')}]`);
    const db = deep.db();
    const depthOf = (r: unknown) => {
      let d = 0;
      for (let x = r as Record<string, unknown> | undefined; x; x = x.friend as Record<string, unknown> | undefined) d++;
      return d;
    };
    const r = pull(db, '[:name {:friend ...}]', '[:name "p0"]');
    expect(depthOf(r)).toBe(n);
    let last = r as Record<string, unknown>;
    while (last.friend) last = last.friend as Record<string, unknown>;
    expect(last).toEqual({ name: `p${n - 1}` });
    const viaQuery = q('[:find (pull ?e [:name {:friend ...}]) . :where [?e :name "p0"]]', db);
    expect(depthOf(viaQuery)).toBe(n);
    expect(depthOf(pull(db, '[:name {:friend 11000}]', '[:name "p0"]'))).toBe(11_001);
    await deep.close();
  });

  it('a component attribute named without a pattern is pulled whole, recursively, as in Datomic', async () => {
    const parts = await open({ path: join(dir, 'parts') });
    await parts.transact(`[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :part :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}
      {:db/ident :owner :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`);
    const { tempids: t } = await parts.transact(`[{:db/id "car" :name "car" :part [{:db/id "wheel" :name "wheel" :part [{:db/id "bolt" :name "bolt"}]}]}
      {:db/id "ann" :name "ann" :owner "car"}]`);
    const db = parts.db();
    expect(pull(db, '[:name :part]', t.car!)).toEqual({
      name: 'car',
      part: [{ 'db/id': t.wheel, name: 'wheel', part: [{ 'db/id': t.bolt, name: 'bolt' }] }],
    });
    // a ref that is not a component stays an id; a nested pattern still decides what is pulled
    expect(pull(db, '[:name :owner]', t.ann!)).toEqual({ name: 'ann', owner: { 'db/id': t.car } });
    expect(pull(db, '[{:part [:name]}]', t.car!)).toEqual({ part: [{ name: 'wheel' }] });
    await parts.close();
  });

  it(':xform passes the value (the whole array for cardinality many) through a registered function', () => {
    const db = conn.db();
    registerXform('test/upper', (v) => String(v).toUpperCase());
    registerXform('test/count', (v) => (v as unknown[]).length);
    registerXform('test/id-of', (v) => (v as { 'db/id': number })['db/id']);
    registerXform('test/boom', () => {
      throw new Error('no');
    });
    expect(pull(db, '[[:person/name :xform test/upper] [:person/nick :xform test/count :limit 5] [:person/mentor :xform test/id-of]]', ids.a!)).toEqual({
      'person/name': 'ANN',
      'person/nick': 5,
      'person/mentor': ids.c,
    });
    expect(pull(db, [['person/name', ':xform', 'test/upper', ':as', 'n']], ids.b!)).toEqual({ n: 'BOB' });
    expect(pull(db, '[[:person/age :xform test/upper :default "none"]]', ids.b!)).toEqual({ 'person/age': 'none' });
    const name = q('[:find (pull ?e [[:person/name :xform test/upper]]) . :where [?e :person/name "cid"]]', db);
    expect(name).toEqual({ 'person/name': 'CID' });
    expect(errorCode(() => pull(db, '[[:person/name :xform no/such]]', ids.a!))).toBe('pull/unknown-xform');
    expect(errorCode(() => pull(db, '[[:person/name :xform test/boom]]', ids.a!))).toBe('pull/xform-failed');
  });

  it('a history value is refused: it holds retracted values beside current ones', async () => {
    const history = conn.db().history();
    for (const call of [() => pull(history, '[*]', ids.a!), () => pullMany(history, '[:person/name]', [ids.a!])]) {
      expect(call).toThrow(expect.objectContaining({ code: 'pull/history-db' }));
    }
  });
  it('missing entity gives null; pullMany; lookup refs', () => {
    const db = conn.db();
    expect(pull(db, '[*]', 999999)).toBe(null);
    expect(pull(db, '[:person/name]', BigInt(ids.a!))).toEqual({ 'person/name': 'ann' }); // an id as a bigint, as longs past 2^53 come back
    expect(pull(db, '[:person/name]', [Keyword.of('person/name'), 'nobody'])).toBe(null);
    expect(pullMany(db, '[:person/name]', [ids.a!, [Keyword.of('person/name'), 'cid']])).toEqual([{ 'person/name': 'ann' }, { 'person/name': 'cid' }]);
  });
  it('pulls from past values', async () => {
    const t = conn.db().basisT;
    await conn.transact('[[:db/add [:person/name "ann"] :person/age 31]]');
    expect(pull(conn.db().asOf(t), '[:person/age]', ids.a!)).toEqual({ 'person/age': 30 });
    expect(pull(conn.db(), '[:person/age]', ids.a!)).toEqual({ 'person/age': 31 });
  });
});

describe('pull with wildcard and explicit specs', () => {
  it('explicit nested spec overrides the wildcard regardless of order', () => {
    const db = conn.db();
    for (const pat of ['[{:person/mentor [:person/name]} *]', '[* {:person/mentor [:person/name]}]']) {
      const r = pull(db, pat, ids.b!)!;
      expect(r['person/mentor']).toEqual({ 'person/name': 'ann' });
      expect(r['person/name']).toBe('bob');
    }
  });
});

describe('result keys named like Object.prototype members', () => {
  // :__proto__ would read as a reverse attribute (its name starts with _): "__proto__" comes only from :as
  const NAMES = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];

  it('pull :as "__proto__" and attributes named :constructor, :toString ... are own keys, in JSON too', async () => {
    await conn.transact(
      NAMES.map((n) => `{:db/ident :${n} :db/valueType :db.type/string :db/cardinality :db.cardinality/one}`)
        .join(' ')
        .replace(/^/, '[')
        .replace(/$/, ']'),
    );
    const r = await conn.transact([{ ':db/id': 'p', ':person/name': 'proto', ...Object.fromEntries(NAMES.map((n) => [`:${n}`, `v-${n}`])) }]);
    const e = r.tempids.p!;
    const db = conn.db();
    const expectOwn = (o: Record<string, unknown>, key: string, value: unknown) => {
      expect(Object.hasOwn(o, key), key).toBe(true);
      expect(o[key], key).toBe(value);
      expect(JSON.parse(JSON.stringify(o))[key], key).toBe(value);
    };
    const aliased = pull(db, '[[:person/name :as "__proto__"] [:person/age :as "constructor" :default 0]]', e)!;
    expectOwn(aliased, '__proto__', 'proto');
    expectOwn(aliased, 'constructor', 0);
    expect(Object.getPrototypeOf(aliased)).toBe(Object.prototype);
    for (const pattern of ['[*]', `[${NAMES.map((n) => `:${n}`).join(' ')}]`]) {
      const all = pull(db, pattern, e)!;
      for (const n of NAMES) expectOwn(all, n, `v-${n}`);
    }
    const json = db.entity(e)!.toJSON();
    for (const n of NAMES) expectOwn(json, n, `v-${n}`);
  });
});

/** The same value with its datomReads hidden: pull then reads every entity through datomArray (the general path). */
function generalPath(db: DbView): DbView {
  return new Proxy(db, {
    get(target, key) {
      if (key === 'datomReads') return undefined;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('pull through datomReads (one read per entity, the basis checked once)', () => {
  const FAST_SCHEMA = `[
    {:db/ident :n/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :n/tags :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
    {:db/ident :n/score :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
    {:db/ident :n/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
    {:db/ident :n/refs :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
    {:db/ident :n/part :db/valueType :db.type/ref :db/cardinality :db.cardinality/one :db/isComponent true}
    {:db/ident :n/parts :db/valueType :db.type/ref :db/cardinality :db.cardinality/many :db/isComponent true}]`;
  const ENTITIES = 6;
  const patterns = [
    '[*]',
    '[:n/name :n/tags :n/score]',
    '[* {:n/ref [*]}]',
    '[:n/name {:n/refs [:n/name]} :n/_ref]',
    '[(limit :n/tags 1) (default :n/score -1) :db/id (limit :n/refs nil)]',
    '[:n/name {:n/ref ...}]',
    '[:n/name {:n/refs 2}]',
    '[{:n/_part [:n/name]} {:n/_parts [*]} (limit :n/_refs 1)]',
    '[:n/part :n/parts]',
    '[* (limit :n/refs 1) {:n/_ref [*]}]',
    '[[:n/name :as "nm"] [:n/missing :default 0] (default :n/_ref "none")]',
  ];
  type Op = { add: boolean; e: number; attr: string; v: number | string };
  const op: fc.Arbitrary<Op> = fc.record({
    add: fc.boolean(),
    e: fc.nat(ENTITIES - 1),
    attr: fc.constantFrom(':n/name', ':n/tags', ':n/score', ':n/ref', ':n/refs', ':n/part', ':n/parts'),
    v: fc.nat(ENTITIES - 1),
  });
  const valueOf = (o: Op, ids: number[]): string => {
    if (o.attr === ':n/name' || o.attr === ':n/tags') return `"s${o.v}"`;
    if (o.attr === ':n/score') return String(o.v);
    return String(ids[o.v as number]);
  };
  const txOf = (o: Op, ids: number[]) => `[[${o.add ? ':db/add' : ':db/retract'} ${ids[o.e]} ${o.attr} ${valueOf(o, ids)}]]`;

  it('gives what reading each entity through datomArray gives, on any db and view (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), fc.nat(12), fc.nat(12), op, async (ops, asOfPick, sincePick, speculative) => {
        const c = await freshConn();
        await c.transact(FAST_SCHEMA);
        const made = await c.transact(`[${Array.from({ length: ENTITIES }, (_, i) => `{:db/id "e${i}" :n/name "e${i}"}`).join(' ')}]`);
        const ids = Array.from({ length: ENTITIES }, (_, i) => made.tempids[`e${i}`]!);
        const ts = [made.dbAfter.basisT];
        let middle = c.db();
        for (const [i, o] of ops.entries()) {
          ts.push((await c.transact(txOf(o, ids))).dbAfter.basisT);
          if (i === Math.floor(ops.length / 2)) middle = c.db(); // a value with commits after it
        }
        const db = c.db();
        const views: [string, DbView][] = [
          ['now', db],
          ['before later commits', middle],
          ['asOf', db.asOf(ts[asOfPick % ts.length]!)],
          ['since', db.since(ts[sincePick % ts.length]!)],
          ['filtered', db.filter((_, d) => d.e !== ids[1])],
          ['with', db.with(txOf(speculative, ids)).dbAfter],
        ];
        const eids = [...ids, ids[ENTITIES - 1]! + 1000];
        for (const [name, view] of views) {
          for (const p of patterns) {
            const general = pullMany(generalPath(view), p, eids);
            expect({ name, p, got: pullMany(view, p, eids) }).toEqual({ name, p, got: general });
            expect({ name, p, got: eids.map((e) => pull(view, p, e)) }).toEqual({ name, p, got: general });
          }
        }
        expect(errorCode(() => pull(db.history(), '[*]', ids[0]!))).toBe(errorCode(() => pull(generalPath(db.history()), '[*]', ids[0]!)));
        await c.close();
      }),
      { numRuns: 25 },
    );
  }, 240_000);

  type Step = { tx: Op } | { pull: number } | { take: true } | { asOf: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    op.map((tx) => ({ tx })),
    op.map((tx) => ({ tx })),
    fc.nat(patterns.length - 1).map((pull) => ({ pull })),
    fc.constant({ take: true as const }),
    fc.nat(20).map((asOf) => ({ asOf })),
  );

  it('pulls through the entity key cache give what a connection without it gives, for values taken earlier and asOf (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.constantFrom<number | undefined>(undefined, 4096, 1 << 20), async (steps, budget) => {
        const path = join(tempDir('factlog-pull-cache-'), 'db');
        const c = await open({ path, entityCacheBytes: budget });
        await c.transact(FAST_SCHEMA);
        const made = await c.transact(`[${Array.from({ length: ENTITIES }, (_, i) => `{:db/id "e${i}" :n/name "e${i}"}`).join(' ')}]`);
        const ids = Array.from({ length: ENTITIES }, (_, i) => made.tempids[`e${i}`]!);
        const eids = [...ids, ids[ENTITIES - 1]! + 1000];
        // read-only, no cache: what the indexes say at each t
        const uncached = await open({ path, readOnly: true, entityCacheBytes: 0 });
        const taken = [c.db()];
        const ts = [made.dbAfter.basisT];
        const check = (view: DbView, p: string) => {
          const truth = uncached.db().asOf(view.basisT);
          expect({ t: view.basisT, p, got: pullMany(view, p, eids) }).toEqual({ t: view.basisT, p, got: pullMany(truth, p, eids) });
        };
        try {
          for (const s of steps) {
            if ('tx' in s) ts.push((await c.transact(txOf(s.tx, ids)).catch(() => c.transact('[]'))).dbAfter.basisT);
            else if ('take' in s) taken.push(c.db());
            else if ('asOf' in s) for (const p of patterns) check(c.db().asOf(ts[s.asOf % ts.length]!), p);
            else {
              check(c.db(), patterns[s.pull]!);
              // every value taken earlier keeps its answer, whatever was committed and cached since
              for (const view of taken) check(view, patterns[s.pull]!);
            }
          }
          for (const view of [c.db(), ...taken]) for (const p of patterns) check(view, p);
          if (budget) expect(c.store.keyCache.size().bytes).toBeLessThanOrEqual(budget);
        } finally {
          await uncached.close();
          await c.close();
        }
      }),
      { numRuns: 30 },
    );
  }, 240_000);
});

describe('the entity key cache', () => {
  const SCHEMA_KC = `[
    {:db/ident :k/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :k/secret :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :k/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}]`;

  async function withAnn(options: Parameters<typeof freshConn>[0] = {}) {
    const c = await freshConn(options);
    await c.transact(SCHEMA_KC);
    const r = await c.transact(`[{:db/id "a" :k/name "Ann" :k/secret "s3cret"} {:db/id "b" :k/name "Bob" :k/ref "a"}]`);
    return { c, ann: r.tempids.a!, bob: r.tempids.b! };
  }

  it('serves the latest value from memory, and never a Db value taken before a commit', async () => {
    const { c, ann } = await withAnn();
    const before = c.db();
    expect(pull(before, '[:k/name]', ann)).toEqual({ 'k/name': 'Ann' });
    expect(c.store.keyCache.size().entries).toBeGreaterThan(0);
    await c.transact(`[[:db/add ${ann} :k/name "Anne"]]`);
    expect(pull(c.db(), '[:k/name]', ann)).toEqual({ 'k/name': 'Anne' });
    expect(pull(before, '[:k/name]', ann)).toEqual({ 'k/name': 'Ann' });
    expect(pull(c.db().asOf(before.basisT), '[:k/name {:k/_ref [:k/name]}]', ann)).toEqual({ 'k/name': 'Ann', 'k/_ref': [{ 'k/name': 'Bob' }] });
  });

  it('keeps nothing read inside a write transaction, whose writes may be rolled back', async () => {
    const { c, ann } = await withAnn();
    let inside: unknown;
    const batch = c.transactBatch([
      `[[:db/add ${ann} :k/name "Rolled back"]]`,
      (db) => {
        inside = pull(db, '[:k/name]', ann);
        throw new Error('this batch fails');
      },
    ]);
    await expect(batch).rejects.toThrow();
    expect(inside).toEqual({ 'k/name': 'Rolled back' });
    // the same t again, with other content
    await c.transact(`[[:db/add ${ann} :k/name "Committed"]]`);
    expect(pull(c.db(), '[:k/name]', ann)).toEqual({ 'k/name': 'Committed' });
  });

  it('a rebuild of the indexes changes their state: keys cached before it are not served after', async () => {
    const { c, ann } = await withAnn();
    // damage the current EAVT beside the log (no new t), as a torn index would be
    const key = c.store.dumpIndex('eavt', 'current').find((k) => k[0] === ann && k[1] === c.db().attr(':k/name')!.id)!;
    await c.store.writeTransaction(() => (c.store as unknown as { current: { eavt: { remove(k: unknown): boolean } } }).current.eavt.remove(key));
    expect(pull(c.db(), '[:k/name]', ann)).toEqual({});
    await c.rebuildIndexes();
    expect(pull(c.db(), '[:k/name]', ann)).toEqual({ 'k/name': 'Ann' });
  });

  it('an excised value is never served from the cache: it leaves memory with the files', async () => {
    const { c, ann } = await withAnn();
    const before = c.db();
    const oldStore = c.store;
    expect(pull(before, '[*]', ann)).toMatchObject({ 'k/secret': 's3cret' });
    await c.transact(`[[:db/excise ${ann} :attrs [:k/secret]]]`);
    expect(oldStore.keyCache.size()).toEqual({ bytes: 0, entries: 0 });
    expect(pull(c.db(), '[*]', ann)).toEqual({ 'db/id': ann, 'k/name': 'Ann' });
    expect(errorCode(() => pull(before, '[*]', ann))).toBe('storage/excised');
  });

  it('a reverse ref with a limit reads no further than it (and keeps nothing it did not read whole)', async () => {
    const { c, ann } = await withAnn();
    await c.transact(`[${Array.from({ length: 300 }, (_, i) => `{:k/name "fan ${i}" :k/ref ${ann}}`).join(' ')}]`);
    const fans = pull(c.db(), '[(limit :k/_ref 3)]', ann)!['k/_ref'] as { 'db/id': number }[];
    expect(fans).toHaveLength(3);
    expect(fans).toEqual(pull(generalPath(c.db()), '[(limit :k/_ref 3)]', ann)!['k/_ref']);
    // the entity's own keys are held, its 301 referrers (read 4 of) are not
    expect(c.store.keyCache.size().entries).toBe(1);
    expect((pull(c.db(), '[:k/_ref]', ann)!['k/_ref'] as unknown[]).length).toBe(301);
    expect(c.store.keyCache.size().entries).toBe(2);
    expect(pull(c.db(), '[(limit :k/_ref 3)]', ann)!['k/_ref']).toEqual(fans);
  });

  it('stays within its byte budget, and refuses a budget that is not a whole number of bytes', async () => {
    const budget = 20_000;
    const c = await freshConn({ entityCacheBytes: budget });
    await c.transact(SCHEMA_KC);
    const r = await c.transact(`[${Array.from({ length: 500 }, (_, i) => `{:db/id "p${i}" :k/name "person ${i}"}`).join(' ')}]`);
    const ids = Object.values(r.tempids);
    expect(pullMany(c.db(), '[*]', ids).every((p) => p !== null)).toBe(true);
    const held = c.store.keyCache.size();
    expect(held.bytes).toBeLessThanOrEqual(budget);
    expect(held.entries).toBeGreaterThan(10);
    expect(pullMany(c.db(), '[:k/name]', ids)).toEqual(ids.map((_, i) => ({ 'k/name': `person ${i}` })));
    for (const bad of [-1, 1.5, '1MB']) await expect(open({ path: join(tempDir(), 'db'), entityCacheBytes: bad as number })).rejects.toMatchObject({ code: 'storage/invalid-option' });
    const none = await freshConn({ entityCacheBytes: 0 });
    await none.transact(SCHEMA_KC);
    pull(none.db(), '[*]', 1);
    expect(none.store.keyCache.size().entries).toBe(0);
  });
});
