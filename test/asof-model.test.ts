// Property: for random transaction histories, db.asOf(t) equals an in-memory model of Datomic's
// semantics at every t, the log replays to the same facts, and rebuildIndexes() reproduces
// every index exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyword, type Connection, type Db } from '../src/index.js';
import { freshConn } from './helpers/tmp.js';

const ONE = Keyword.of('m/one');
const MANY = Keyword.of('m/many');
const REF = Keyword.of('m/ref');
const NAME = Keyword.of('m/name'); // schemaless attribute

type EntityPick = { existing: number } | { fresh: number };
type AbstractOp =
  | { kind: 'one'; e: EntityPick; v: number }
  | { kind: 'many'; e: EntityPick; v: number }
  | { kind: 'name'; e: EntityPick; v: string }
  | { kind: 'ref'; e: EntityPick; target: number }
  | { kind: 'retract-many'; e: number; v: number }
  | { kind: 'retract-attr'; e: number }
  | { kind: 'retract-entity'; e: number };

const pick = fc.oneof(fc.record({ existing: fc.nat(20) }), fc.record({ fresh: fc.nat(2) }));
const opArb: fc.Arbitrary<AbstractOp> = fc.oneof(
  fc.record({ kind: fc.constant('one' as const), e: pick, v: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('many' as const), e: pick, v: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('name' as const), e: pick, v: fc.constantFrom('a', 'b', 'c') }),
  fc.record({ kind: fc.constant('ref' as const), e: pick, target: fc.nat(20) }),
  fc.record({ kind: fc.constant('retract-many' as const), e: fc.nat(20), v: fc.integer({ min: 0, max: 4 }) }),
  fc.record({ kind: fc.constant('retract-attr' as const), e: fc.nat(20) }),
  fc.record({ kind: fc.constant('retract-entity' as const), e: fc.nat(20) }),
);
const historyArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 12 });

/** Facts as "e a v" strings; refs and values are numbers or strings. */
type Facts = Set<string>;
const fact = (e: number, a: Keyword, v: unknown) => `${e} ${a.fqn} ${typeof v === 'string' ? JSON.stringify(v) : v}`;

class Model {
  facts: Facts = new Set();

  /**
   * Apply one tx the way Datomic does: retractions against db-before, then assertions. Null = must
   * fail: a datom asserted and retracted (by :db/retract even when it does not hold, or by a
   * retraction that expands against db-before).
   */
  apply(ops: { op: string; e: number; a?: Keyword; v?: unknown }[]): Facts | null {
    const before = this.facts;
    const add = new Set<string>();
    const retract = new Set<string>();
    const retractedByOp = new Set<string>();
    const cardOne = new Map<string, string>();
    for (const o of ops) {
      if (o.op === 'add') {
        const f = fact(o.e, o.a!, o.v);
        if (o.a !== MANY && o.a !== REF) {
          const slot = `${o.e} ${o.a!.fqn}`;
          if (cardOne.has(slot) && cardOne.get(slot) !== f) return null;
          cardOne.set(slot, f);
          for (const g of before) if (g.startsWith(slot + ' ') && g !== f) retract.add(g);
        }
        add.add(f);
      } else if (o.op === 'retract') {
        const f = fact(o.e, o.a!, o.v);
        retractedByOp.add(f);
        if (before.has(f)) retract.add(f);
      } else if (o.op === 'retract-attr') {
        for (const g of before) if (g.startsWith(`${o.e} ${o.a!.fqn} `)) retract.add(g);
      } else {
        for (const g of before) {
          const [e, a, v] = g.split(' ');
          if (Number(e) === o.e || (a === REF.fqn && Number(v) === o.e)) retract.add(g);
        }
      }
    }
    for (const f of add) if (retract.has(f) || retractedByOp.has(f)) return null;
    const after = new Set([...before].filter((f) => !retract.has(f)));
    for (const f of add) after.add(f);
    return after;
  }
}

function dbFacts(db: Db, index: 'eavt' | 'aevt' | 'avet' | 'vaet' = 'eavt'): Facts {
  const out = new Set<string>();
  for (const a of [ONE, MANY, REF, NAME]) {
    if (!db.attr(a)) continue;
    const ds = index === 'vaet' ? [] : db.datoms(index as 'aevt', ...(index === 'eavt' ? [] : [a]));
    for (const d of ds) if (d.a === db.attr(a)!.id) out.add(fact(d.e, a, d.v));
  }
  if (index === 'vaet' && db.attr(REF)) {
    for (const d of db.datoms('aevt', REF)) for (const r of db.datoms('vaet', d.v)) out.add(fact(r.e, REF, r.v));
  }
  return out;
}

function dumpAll(conn: Connection): string {
  const parts: string[] = [];
  for (const index of ['eavt', 'aevt', 'avet', 'vaet'] as const) {
    for (const which of ['current', 'history'] as const) {
      parts.push(`${index}.${which}:` + JSON.stringify(conn.store.dumpIndex(index, which), (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
    }
  }
  return parts.join('\n');
}

async function runHistory(history: AbstractOp[][]): Promise<void> {
  const conn = await freshConn({ noSync: true });
  await conn.transact(`[{:db/ident :m/one :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
                        {:db/ident :m/many :db/valueType :db.type/long :db/cardinality :db.cardinality/many}
                        {:db/ident :m/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);
  const model = new Model();
  const pool: number[] = [];
  const expectedAt = new Map<number, Facts>();
  expectedAt.set(conn.basisT, new Set());
  for (const ops of history) {
    const resolve = (p: EntityPick) => ('existing' in p && pool.length ? pool[p.existing % pool.length] : `n${'fresh' in p ? p.fresh : 0}`);
    const txData: unknown[] = [];
    for (const o of ops) {
      const existing = (i: number) => (pool.length ? pool[i % pool.length] : null);
      switch (o.kind) {
        case 'one':
          txData.push([':db/add', resolve(o.e), ONE, o.v]);
          break;
        case 'many':
          txData.push([':db/add', resolve(o.e), MANY, o.v]);
          break;
        case 'name':
          txData.push([':db/add', resolve(o.e), NAME, o.v]);
          break;
        case 'ref': {
          const target = existing(o.target);
          if (target !== null) txData.push([':db/add', resolve(o.e), REF, target]);
          break;
        }
        case 'retract-many': {
          const e = existing(o.e);
          if (e !== null) txData.push([':db/retract', e, MANY, o.v]);
          break;
        }
        case 'retract-attr': {
          const e = existing(o.e);
          if (e !== null) txData.push([':db/retract', e, ONE]);
          break;
        }
        case 'retract-entity': {
          const e = existing(o.e);
          if (e !== null) txData.push([':db/retractEntity', e]);
          break;
        }
      }
    }
    if (txData.length === 0) continue;
    const result = await conn.transact(txData).then(
      (r) => r,
      (err) => err as Error,
    );
    // map tempids to ids to feed the model
    // a rejected tx never got ids for its tempids; stand-ins keep them distinct from real ids
    const tempids: Record<string, number> = result instanceof Error ? { n0: -1, n1: -2, n2: -3 } : result.tempids;
    const modelOps = txData.map((f: any) => {
      const id = (x: unknown) => (typeof x === 'string' ? tempids[x] : (x as number));
      const op = f[0] === ':db/add' ? 'add' : f[0] === ':db/retractEntity' ? 'retract-entity' : f.length === 3 ? 'retract-attr' : 'retract';
      return { op, e: id(f[1]), a: f[2], v: f[3] };
    });
    const expected = model.apply(modelOps);
    if (result instanceof Error) {
      // a rejected tx must be one the model also rejects
      expect((result as any).code, String(result)).toMatch(/^tx\/(datom-conflict|cardinality-conflict)$/);
      expect(expected, `factlog rejected a valid tx: ${JSON.stringify(txData)}`).toBeNull();
      continue;
    }
    expect(expected, `model rejects a tx factlog accepted: ${JSON.stringify(txData)}`).not.toBeNull();
    model.facts = expected!;
    expectedAt.set(result.t, expected!);
    for (const id of Object.values(result.tempids)) if (!pool.includes(id)) pool.push(id);
  }

  const db = conn.db();
  // every t: the asOf view equals the model, through every index
  for (let t = 0; t <= db.basisT; t++) {
    const known = [...expectedAt.keys()].filter((k) => k <= t);
    if (!known.length) continue;
    const expected = expectedAt.get(Math.max(...known))!;
    const view = db.asOf(t);
    expect(dbFacts(view, 'eavt')).toEqual(expected);
    expect(dbFacts(view, 'aevt')).toEqual(expected);
    expect(dbFacts(view, 'avet')).toEqual(expected);
    const refs = new Set([...expected].filter((f) => f.split(' ')[1] === REF.fqn));
    expect(dbFacts(view, 'vaet')).toEqual(refs);
  }
  // history views (asOf t, since t0): every assertion and retraction in the window, in index order
  const ts = [...expectedAt.keys()].sort((x, y) => x - y);
  const events: { t: number; f: string; added: boolean }[] = [];
  for (let i = 1; i < ts.length; i++) {
    const before = expectedAt.get(ts[i - 1]!)!;
    const after = expectedAt.get(ts[i]!)!;
    for (const f of after) if (!before.has(f)) events.push({ t: ts[i]!, f, added: true });
    for (const f of before) if (!after.has(f)) events.push({ t: ts[i]!, f, added: false });
  }
  for (const t of ts) {
    for (const since of [null, ts[1], ts[Math.floor(ts.length / 2)]]) {
      let view = db.asOf(t).history();
      if (since !== null && since !== undefined) view = view.since(since);
      const expected = events.filter((x) => x.t <= t && (since === null || since === undefined || x.t > since)).map((x) => `${x.f} ${x.t} ${x.added}`);
      for (const index of ['eavt', 'aevt'] as const) {
        const got = [...view.datoms(index)].filter((d) => [ONE, MANY, REF, NAME].some((a) => db.attr(a)?.id === d.a));
        expect(got.map((d) => `${fact(d.e, db.ident(d.a)!, d.v)} ${db.txToT(d.tx)} ${d.added}`).sort()).toEqual(expected.sort());
        // index order: by (e, a) or (a, e), and by t within one fact
        for (let i = 1; i < got.length; i++) {
          const [p, c] = [got[i - 1]!, got[i]!];
          const key = (d: typeof p) => (index === 'eavt' ? [d.e, d.a] : [d.a, d.e]);
          const [k0, k1] = [key(p), key(c)];
          expect(k0[0]! < k1[0]! || (k0[0] === k1[0] && k0[1]! <= k1[1]!), `${index} order`).toBe(true);
          if (p.e === c.e && p.a === c.a && p.v === c.v) expect(p.tx <= c.tx, `${index} tx order within a fact`).toBe(true);
        }
      }
    }
  }
  // the log alone replays to the same facts
  const replay = new Set<string>();
  for (const entry of conn.txRange(1)) {
    for (const d of entry.data) {
      const a = db.ident(d.a);
      if (!a || ![ONE, MANY, REF, NAME].includes(a)) continue;
      const f = fact(d.e, a, d.v);
      if (d.added) replay.add(f);
      else replay.delete(f);
    }
  }
  expect(replay).toEqual(model.facts);
  // rebuilding the indexes from the log reproduces them exactly
  const beforeRebuild = dumpAll(conn);
  await conn.rebuildIndexes();
  expect(dumpAll(conn)).toEqual(beforeRebuild);
}

describe('asOf(t) equals the model replayed up to t', () => {
  it('holds for random histories (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(historyArb, runHistory), { numRuns: 150 });
  });
});
