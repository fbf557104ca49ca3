// Promise 2, atomicity under bad input: a failed transaction leaves the database exactly as it was
// (every index, current and history, the log, meta, basisT and the connection's in-memory schema),
// and fails with a stable FactlogError code. A fast-check property mixes valid and invalid txs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FactlogError, Keyword, open, type Connection, type Db } from '../src/index.js';
import { freshConn, tempDir } from './helpers/tmp.js';

const SCHEMA = `[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/ssn :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
 {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db.attr/preds p/non-negative?}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :p/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :p/balance :db/valueType :db.type/bigdec :db/cardinality :db.cardinality/one}
 {:db/ident :p/key :db/valueType :db.type/bytes :db/cardinality :db.cardinality/one}
 {:db/ident :p/named :db.entity/attrs [:p/name :p/email]}
 {:db/ident :p/checked-by-nobody :db.entity/preds p/unregistered?}]`;

/** Transaction functions and predicates the histories call. */
const FUNCTIONS = {
  txFns: {
    'p/birthday': (db: Db, e: number) => [[':db/add', e, ':p/age', ((db.entity(e)?.get(':p/age') as number | undefined) ?? 0) + 1]],
    'p/fail': () => {
      throw new Error('refused');
    },
    'p/loop': () => [['p/loop']],
    'p/async': async () => [],
    'p/forget': (_db: Db, e: number) => [{ ':db/excise': e }],
  },
  predicates: { 'p/non-negative?': (v: number) => v >= 0 },
};

/** Every code a transaction may fail with (tx/errors.ts, edn reader, storage, connection). */
const KNOWN_CODES = new Set([
  'tx/invalid-data',
  'tx/unknown-operation',
  'tx/unknown-attribute',
  'tx/invalid-value',
  'tx/invalid-entity',
  'tx/unknown-ident',
  'tx/lookup-ref-not-found',
  'tx/dangling-tempid',
  'tx/unique-conflict',
  'tx/cardinality-conflict',
  'tx/datom-conflict',
  'tx/cas-failed',
  'tx/instant-backwards',
  'tx/invalid-schema',
  'tx/attribute-in-same-tx',
  'tx/read-only',
  'tx/system-entity',
  'tx/instant-in-future',
  'tx/fn-failed',
  'tx/fn-too-deep',
  'tx/fn-async',
  'tx/attr-pred-failed',
  'tx/entity-spec-failed',
  'tx/unknown-predicate',
  'tx/type-needs-format',
  'tx/excise-not-alone',
  'tx/excise-system-entity',
  'tx/excise-not-attribute',
  'tx/excise-invalid',
  'edn/syntax',
  'edn/too-deep',
  'storage/write-failed',
  'storage/read-only',
  'conn/closed',
]);

const jsonish = (x: unknown) => {
  try {
    return JSON.stringify(x, (_, v) => (typeof v === 'bigint' ? `${v}n` : v));
  } catch {
    return String(typeof x); // tx data that throws when read
  }
};

/** Everything a failed transaction must not change, as text. */
function snapshot(conn: Connection): string {
  const parts = [`basisT ${conn.basisT}`, `meta ${jsonish(conn.store.readMeta())}`];
  const db = conn.db();
  parts.push(`dbBasisT ${db.basisT}`);
  parts.push(
    `attrs ${db
      .attrs()
      .map((a) => `${a.id}=${a.ident}`)
      .join(',')}`,
  );
  parts.push(...[...db.history().datoms('eavt')].map((d) => `${d.e} ${d.a} ${jsonish(d.v)} ${d.tx} ${d.added}`));
  for (const index of ['eavt', 'aevt', 'avet', 'vaet'] as const) {
    for (const which of ['current', 'history'] as const) parts.push(`${index}.${which} ${jsonish(conn.store.dumpIndex(index, which))}`);
  }
  for (const e of conn.txRange(0)) parts.push(`log ${e.t} ${e.data.length}`);
  return parts.join('\n');
}

type Kind =
  | 'create'
  | 'age'
  | 'tag'
  | 'friend'
  | 'cas-ok'
  | 'upsert'
  | 'retract-entity'
  | 'bad-type'
  | 'unique-value'
  | 'unique-identity-two'
  | 'cas-fail'
  | 'unknown-attr'
  | 'dangling'
  | 'bad-edn'
  | 'lookup-nothing'
  | 'card-conflict'
  | 'datom-conflict'
  | 'unknown-op'
  | 'not-a-vector'
  | 'valid-then-bad'
  | 'system-entity'
  | 'future-instant'
  | 'throwing-data'
  | 'tx-fn'
  | 'ensure-ok'
  | 'fn-failed'
  | 'fn-too-deep'
  | 'fn-async'
  | 'attr-pred'
  | 'entity-spec'
  | 'unknown-pred'
  | 'decimal'
  | 'bad-decimal'
  | 'unique-bytes'
  | 'excise-not-alone'
  | 'excise-system'
  | 'excise-not-attr'
  | 'excise-invalid';
const VALID: Kind[] = ['create', 'age', 'tag', 'friend', 'cas-ok', 'upsert', 'retract-entity', 'tx-fn', 'ensure-ok', 'decimal'];
const INVALID: Record<Exclude<Kind, (typeof VALID)[number]>, string> = {
  'bad-type': 'tx/invalid-value',
  'unique-value': 'tx/unique-conflict',
  'unique-identity-two': 'tx/unique-conflict',
  'cas-fail': 'tx/cas-failed',
  'unknown-attr': 'tx/unknown-attribute',
  dangling: 'tx/dangling-tempid',
  'bad-edn': 'edn/syntax',
  'lookup-nothing': 'tx/lookup-ref-not-found',
  'card-conflict': 'tx/cardinality-conflict',
  'datom-conflict': 'tx/datom-conflict',
  'unknown-op': 'tx/unknown-operation',
  'not-a-vector': 'tx/invalid-data',
  'valid-then-bad': 'tx/invalid-value',
  'system-entity': 'tx/system-entity',
  'future-instant': 'tx/instant-in-future',
  'throwing-data': 'tx/invalid-data',
  'fn-failed': 'tx/fn-failed',
  'fn-too-deep': 'tx/fn-too-deep',
  'fn-async': 'tx/fn-async',
  'attr-pred': 'tx/attr-pred-failed',
  'entity-spec': 'tx/entity-spec-failed',
  'unknown-pred': 'tx/unknown-predicate',
  'bad-decimal': 'tx/invalid-value',
  'unique-bytes': 'tx/invalid-schema',
  'excise-not-alone': 'tx/excise-not-alone',
  'excise-system': 'tx/excise-system-entity',
  'excise-not-attr': 'tx/excise-not-attribute',
  'excise-invalid': 'tx/excise-invalid',
};
const kindArb = fc.constantFrom<Kind>(...VALID, ...(Object.keys(INVALID) as Kind[]));
const stepArb = fc.record({ kind: kindArb, pick: fc.nat(1000), n: fc.integer({ min: 0, max: 99 }) });

/** People in the db (email, ssn, age), read back from the db so the generated tx is sound. */
function people(conn: Connection): { e: number; email: string; ssn: string; age: number }[] {
  const db = conn.db();
  const out = [];
  for (const d of db.datoms('aevt', ':p/email')) {
    const ssn = [...db.datoms('eavt', d.e, ':p/ssn')][0]?.v as string;
    const age = [...db.datoms('eavt', d.e, ':p/age')][0]?.v as number;
    out.push({ e: d.e, email: d.v as string, ssn, age });
  }
  return out;
}

let serial = 0;
/** The tx for a step (EDN text or JS data) and the kind it really is (some need a person first). */
function txFor(conn: Connection, kind: Kind, pick: number, n: number): { kind: Kind; tx: unknown } {
  const ps = people(conn);
  const needsPerson = ![
    'bad-edn',
    'not-a-vector',
    'lookup-nothing',
    'unknown-attr',
    'bad-type',
    'dangling',
    'unknown-op',
    'valid-then-bad',
    'system-entity',
    'future-instant',
    'throwing-data',
    'ensure-ok',
    'fn-failed',
    'fn-too-deep',
    'fn-async',
    'attr-pred',
    'entity-spec',
    'unknown-pred',
    'excise-system',
    'excise-invalid',
  ].includes(kind);
  if (ps.length === 0 && needsPerson) kind = 'create';
  return { kind, tx: txText(ps, kind, pick, n) };
}

/** Invalid kinds must fail whatever the db holds. */
function txText(ps: ReturnType<typeof people>, kind: Kind, pick: number, n: number): unknown {
  const k = ++serial;
  const create = `{:db/id "new" :p/email "e${k}" :p/ssn "s${k}" :p/name "n${k}" :p/age ${n}}`;
  const p = ps[pick % Math.max(ps.length, 1)];
  const q = ps[(pick >> 3) % Math.max(ps.length, 1)];
  switch (kind) {
    case 'create':
      return `[${create}]`;
    case 'age':
      return [[':db/add', [Keyword.of('p/email'), p.email], ':p/age', n]];
    case 'tag':
      return `[[:db/add ${p.e} :p/tags :t${n % 5}]]`;
    case 'friend':
      return `[[:db/add ${p.e} :p/friend ${q.e}] ${create} [:db/add "new" :p/friend ${p.e}]]`;
    case 'cas-ok':
      return p.age === undefined ? `[[:db/add ${p.e} :p/age ${n}]]` : `[[:db/cas ${p.e} :p/age ${p.age} ${n}]]`;
    case 'upsert':
      return `[{:db/id "u" :p/email "${p.email}" :p/name "up${k}"}]`;
    case 'retract-entity':
      return `[[:db/retractEntity ${p.e}]]`;
    case 'bad-type':
      return `[${create} [:db/add "new" :p/age "old"]]`;
    case 'unique-value':
      return `[{:db/id "x" :p/email "e${k}" :p/ssn "${p.ssn}"}]`;
    case 'unique-identity-two':
      return ps.length < 2 || p.e === q.e ? `[{:db/id "a" :p/ssn "dup${k}"} {:db/id "b" :p/ssn "dup${k}"}]` : `[[:db/add ${p.e} :p/email "${q.email}"]]`;
    case 'cas-fail':
      return `[${create} [:db/cas ${p.e} :p/age ${(p.age ?? 0) + 1000} 1]]`;
    case 'unknown-attr':
      return `[${create} [:db/add "new" :p/unknown${k} 1]]`;
    case 'dangling':
      return `[${create} [:db/add "new" :p/friend "nobody${k}"]]`;
    case 'bad-edn':
      return `[${create} [:db/add "new" :p/name "unterminated]`.slice(0, 20 + (n % 40)) + (n % 2 ? ' #{1 1}' : '');
    case 'lookup-nothing':
      return `[${create} [:db/add [:p/email "nobody-${k}"] :p/name "x"]]`;
    case 'card-conflict':
      return `[${create} [:db/add "new" :p/name "a"] [:db/add "new" :p/name "b"]]`;
    case 'datom-conflict':
      return `[${create} [:db/add ${p.e} :p/email "${p.email}"] [:db/retract ${p.e} :p/email "${p.email}"]]`;
    case 'unknown-op':
      return `[${create} [:db/frobnicate ${p?.e ?? 1} :p/name "x"]]`;
    case 'not-a-vector':
      return n % 2 ? `{:db/id "x" :p/name "y"}` : 42;
    case 'valid-then-bad':
      return [
        [':db/add', 'v', ':p/name', `v${k}`],
        [':db/add', 'v', ':p/email', `ve${k}`],
        [':db/add', 'v', ':p/age', 1.5],
      ];
    case 'system-entity':
      return `[${create} ${SYSTEM_CHANGES[n % SYSTEM_CHANGES.length]}]`;
    case 'future-instant':
      return `[${create} {:db/id "datomic.tx" :db/txInstant #inst "${2100 + n}-01-01"}]`;
    case 'tx-fn':
      return `[[:p/birthday ${p.e}] ${create}]`;
    case 'decimal':
      return `[${create} [:db/add "new" :p/balance ${n}.${'0'.repeat(n % 3)}5M] [:db/add "new" :p/key #bytes "AQI="]]`;
    case 'bad-decimal':
      return `[${create} [:db/add "new" :p/balance "${n}.50"]]`;
    case 'unique-bytes':
      return `[${create} [:db/add "new" :p/key #bytes "AQI="] {:db/ident :p/key :db/unique :db.unique/value}]`;
    case 'ensure-ok':
      return `[{:db/id "new" :p/email "e${k}" :p/ssn "s${k}" :p/name "n${k}" :db/ensure :p/named}]`;
    case 'fn-failed':
      return `[${create} [:p/fail ${n}]]`;
    case 'fn-too-deep':
      return `[${create} [:p/loop]]`;
    case 'fn-async':
      return `[${create} [:p/async]]`;
    case 'attr-pred':
      return `[${create} {:p/email "neg${k}" :p/age ${-1 - n}}]`;
    case 'entity-spec':
      return `[${create} {:db/id "x" :p/name "only${k}" :db/ensure :p/named}]`;
    case 'unknown-pred':
      return `[${create} [:db/add "new" :db/ensure :p/checked-by-nobody]]`;
    case 'excise-not-alone':
      return `[${create} [:p/forget ${p.e}]]`;
    case 'excise-system':
      return `[${create} [:db/excise ${n % 2 ? ':db/ident' : 2 ** 40}]]`;
    case 'excise-not-attr':
      return `[[:db/excise ${p.e} :attrs [${q.e}]]]`;
    case 'excise-invalid':
      return n % 2 ? `[${create} [:db/excise "new" :after 3]]` : `[${create} {:db/id "r" :db.excise/beforeT 3}]`;
    case 'throwing-data': {
      const trap = () => {
        throw new Error('trap');
      };
      return [
        [':db/add', 'v', ':p/name', `v${k}`],
        n % 2
          ? new Proxy([], { get: trap })
          : {
              get ':p/age'() {
                return trap();
              },
            },
      ];
    }
  }
}

/** Changes to the bootstrap schema, each refused. */
const SYSTEM_CHANGES = [
  '[:db/retract :db/ident :db/valueType :db.type/keyword]',
  '{:db/id :db/ident :db/ident :db/name}',
  '[:db/add :db/ident :db/cardinality :db.cardinality/many]',
  '{:db/id :db/txInstant :db/unique :db.unique/identity}',
  '[:db/retractEntity :db.type/string]',
  '{:db/ident :db/doc :db/doc "doc"}',
];

async function runSteps(conn: Connection, steps: { kind: Kind; pick: number; n: number }[], stats: { ok: number; failed: number }) {
  for (const step of steps) {
    const { kind, tx } = txFor(conn, step.kind, step.pick, step.n);
    const before = snapshot(conn);
    const t = conn.basisT;
    const result = await conn.transact(tx).then(
      (r) => r,
      (e: unknown) => e as Error,
    );
    const expectedCode = (INVALID as Record<string, string>)[kind];
    if (!(result instanceof Error)) {
      expect(expectedCode, `invalid tx (${kind}) succeeded: ${jsonish(tx)}`).toBeUndefined();
      expect(result.t).toBe(t + 1);
      stats.ok++;
      continue;
    }
    stats.failed++;
    expect(result, String(result)).toBeInstanceOf(FactlogError);
    const code = (result as FactlogError).code;
    expect(KNOWN_CODES.has(code), `unknown code ${code}`).toBe(true);
    // a "valid" kind may legitimately fail only on a conflict the generator cannot rule out
    expect(code, `${kind}: ${jsonish(tx)} -> ${result.message}`).toBe(expectedCode ?? code);
    if (!expectedCode) expect(code).toMatch(/^tx\/(unique-conflict|cas-failed)$/);
    expect(snapshot(conn), `failed ${kind} changed the db: ${jsonish(tx)}`).toBe(before);
  }
}

describe('a failed transaction changes nothing', () => {
  it('mixed valid and invalid transactions (fast-check): failures leave every index, the log and basisT identical', async () => {
    const stats = { ok: 0, failed: 0 };
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 5, maxLength: 25 }), fc.boolean(), async (steps, strict) => {
        runs++;
        const conn = await freshConn({ strictSchema: strict, noSync: true, ...FUNCTIONS });
        await conn.transact(SCHEMA);
        if (!strict) steps = steps.map((s) => (s.kind === 'unknown-attr' ? { ...s, kind: 'bad-type' as Kind } : s));
        await runSteps(conn, steps, stats);
        // the connection's state equals what is on disk: reopen and compare
        const before = snapshot(conn);
        await conn.close();
        const again = await open({ path: conn.path });
        try {
          expect(snapshot(again)).toBe(before);
        } finally {
          await again.close();
        }
      }),
      { numRuns: 100 },
    );
    expect(stats.failed).toBeGreaterThan(100);
    expect(stats.ok).toBeGreaterThan(100);
    console.log(`atomicity: ${runs} histories, ${stats.ok} txs committed, ${stats.failed} rejected with the db unchanged`);
  });

  it('a schemaless attribute created by a failed tx does not exist afterwards', async () => {
    const conn = await freshConn({ noSync: true, ...FUNCTIONS });
    await conn.transact(SCHEMA);
    const before = snapshot(conn);
    const err = await conn.transact(`[[:db/add "x" :fresh/attr 1] [:db/add "x" :p/age "no"]]`).catch((e) => e);
    expect(err.code).toBe('tx/invalid-value');
    expect(conn.db().attr(':fresh/attr')).toBeUndefined();
    expect(snapshot(conn)).toBe(before);
    const r = await conn.transact(`[[:db/add "x" :fresh/attr 2]]`);
    expect(r.t).toBe(2);
    expect([...conn.db().datoms('aevt', ':fresh/attr')].map((d) => d.v)).toEqual([2]);
  });

  it('concurrent transact calls that share a commit: the failing ones change nothing, the others all commit', async () => {
    const conn = await freshConn({ noSync: true, ...FUNCTIONS });
    await conn.transact(SCHEMA);
    const txs = Array.from({ length: 40 }, (_, i) => (i % 3 === 1 ? `[{:db/id "x" :p/email "c${i}" :p/age "bad"}]` : `[{:db/id "x" :p/email "c${i}" :p/age ${i}}]`));
    const results = await Promise.all(
      txs.map((tx) =>
        conn.transact(tx).then(
          (r) => r,
          (e) => e as FactlogError,
        ),
      ),
    );
    const ok = results.filter((r) => !(r instanceof Error));
    const failed = results.filter((r) => r instanceof Error) as FactlogError[];
    expect(failed.map((e) => e.code)).toEqual(Array(failed.length).fill('tx/invalid-value'));
    expect(ok.map((r) => (r as { t: number }).t).sort((a, b) => a - b)).toEqual(Array.from({ length: ok.length }, (_, i) => 2 + i));
    const emails = [...conn.db().datoms('aevt', ':p/email')].map((d) => d.v).sort();
    expect(emails).toEqual(txs.flatMap((_, i) => (i % 3 === 1 ? [] : [`c${i}`])).sort());
    const before = snapshot(conn);
    await conn.close();
    const again = await open({ path: conn.path });
    expect(snapshot(again)).toBe(before);
    await again.close();
  });

  // lmdb-js's async env.transaction(cb) commits whatever cb put before throwing; the store runs
  // each transaction in a child transaction so a failure midway rolls all of it back.
  it('a storage failure in the middle of the commit rolls the whole LMDB transaction back', async () => {
    const dir = tempDir();
    const conn = await open({ path: `${dir}/db`, noSync: true, ...FUNCTIONS });
    await conn.transact(SCHEMA);
    const before = snapshot(conn);
    const store = conn.store as unknown as { putTransaction: (...a: unknown[]) => void };
    const original = store.putTransaction;
    store.putTransaction = function (this: unknown, ...args: unknown[]) {
      original.apply(this, args); // log entry, index entries and meta all written ...
      throw new Error('disk on fire'); // ... then the commit fails
    };
    const err = await conn.transact(`[{:db/id "x" :p/email "fire" :new/attr 1}]`).catch((e) => e);
    store.putTransaction = original;
    expect(err).toBeInstanceOf(FactlogError);
    expect(err.code).toBe('storage/write-failed');
    expect(snapshot(conn)).toBe(before);
    expect(conn.db().attr(':new/attr')).toBeUndefined();
    const r = await conn.transact(`[{:db/id "x" :p/email "after"}]`);
    expect(r.t).toBe(2);
    const now = snapshot(conn);
    await conn.close();
    const again = await open({ path: `${dir}/db` });
    expect(snapshot(again)).toBe(now);
    await again.close();
  });

  // A value longer than an LMDB key can hold is stored out of line (the key holds a marker); a
  // failure in the same transaction must still leave nothing behind, long value included.
  it('a transaction with a long value that fails changes nothing; one that succeeds stores it whole', async () => {
    const conn = await freshConn({ noSync: true, ...FUNCTIONS });
    await conn.transact(`[[:db/add "a" :k/n 0] [:db/add "a" :k/s "short"] {:db/ident :k/one :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    const before = snapshot(conn);
    const long = 'x'.repeat(3000);
    const err = await conn
      .transact([
        [':db/add', 'b', ':k/s', long],
        [':db/add', 'b', ':k/one', 'not a long'],
      ])
      .catch((e) => e);
    expect(err).toBeInstanceOf(FactlogError);
    expect(err.code).toBe('tx/invalid-value');
    expect(snapshot(conn)).toBe(before);
    const r = await conn.transact([
      [':db/add', 'b', ':k/n', 1],
      [':db/add', 'b', ':k/s', long],
    ]);
    expect([...conn.db().datoms('eavt', r.tempids.b, ':k/s')].map((d) => d.v)).toEqual([long]);
  });
});
