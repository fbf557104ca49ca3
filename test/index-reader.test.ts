// Property: the store's reader (storage/index-reader.ts) gives, for any basis, since, history and
// bounds, what a naive filter of the log's datoms gives, in index order; its visitor and count agree.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Keyword } from '../src/index.js';
import { toDatom, tToTx } from '../src/storage/encoding.js';
import type { ReadAt } from '../src/storage/index-reader.js';
import type { Store } from '../src/storage/store.js';
import type { Datom } from '../src/model.js';
import { freshConn } from './helpers/tmp.js';

const N = Keyword.of('r/n'); // long, many
const S = Keyword.of('r/s'); // string, one
const REF = Keyword.of('r/ref'); // ref, many
const ENTITIES = 5;

type Op = { add: boolean; e: number; attr: 0 | 1 | 2; v: number };
const opArb = fc.record({ add: fc.boolean(), e: fc.nat(ENTITIES - 1), attr: fc.constantFrom(0 as const, 1 as const, 2 as const), v: fc.nat(3) });
const historyArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 10 });

type Bounds = { index: 'eavt' | 'aevt' | 'vaet'; from: number[]; to?: number[]; keeps: (d: Datom) => boolean };

/** One version of a fact: asserted at one tx, retracted at another (or still true). */
interface Version {
  datom: Datom;
  retractedAt: number | null;
}

/** Every version of every fact, from the log alone. */
function versionsOfLog(store: Store): Version[] {
  const open = new Map<string, Version>();
  const all: Version[] = [];
  for (const entry of store.logRange()) {
    for (const d of entry.datoms) {
      const key = `${d.e} ${d.a} ${d.tag} ${String(d.payload)}`;
      if (d.added) {
        const version = { datom: toDatom({ ...d, tx: entry.tx }), retractedAt: null };
        open.set(key, version);
        all.push(version);
      } else {
        open.get(key)!.retractedAt = entry.tx;
        open.delete(key);
      }
    }
  }
  return all;
}

/** What a value at `at` sees of the versions: a naive filter, then sorted in the index's order. */
function expectedDatoms(versions: Version[], at: ReadAt, bounds: Bounds): Datom[] {
  const txMax = tToTx(at.basisT);
  const txMin = at.sinceT === null ? -1 : tToTx(at.sinceT);
  const inWindow = (tx: number) => tx > txMin && tx <= txMax;
  const out: Datom[] = [];
  for (const { datom, retractedAt } of versions) {
    if (!bounds.keeps(datom)) continue;
    if (at.history) {
      if (inWindow(datom.tx)) out.push(datom);
      if (retractedAt !== null && inWindow(retractedAt)) out.push({ ...datom, tx: retractedAt, added: false });
    } else if (inWindow(datom.tx) && (retractedAt === null || retractedAt > txMax)) out.push(datom);
  }
  const parts = (d: Datom): unknown[] => (bounds.index === 'eavt' ? [d.e, d.a, d.v] : bounds.index === 'aevt' ? [d.a, d.e, d.v] : [d.v, d.a, d.e]);
  const compare = (x: Datom, y: Datom): number => {
    const [px, py] = [parts(x), parts(y)];
    for (let i = 0; i < px.length; i++) if (px[i] !== py[i]) return (px[i] as number) < (py[i] as number) ? -1 : 1;
    return x.tx - y.tx || Number(y.added) - Number(x.added);
  };
  return out.sort(compare);
}

function boundsArb(attrIds: number[], es: number[]): fc.Arbitrary<Bounds> {
  const e = fc.constantFrom(...es);
  const a = fc.constantFrom(...attrIds);
  return fc.oneof(
    fc.constant<Bounds>({ index: 'eavt', from: [], keeps: () => true }),
    e.map<Bounds>((e) => ({ index: 'eavt', from: [e], keeps: (d) => d.e === e })),
    fc.tuple(e, e).map<Bounds>(([x, y]) => ({ index: 'eavt', from: [Math.min(x, y)], to: [Math.max(x, y)], keeps: (d) => d.e >= Math.min(x, y) && d.e < Math.max(x, y) })),
    a.map<Bounds>((a) => ({ index: 'aevt', from: [a], keeps: (d) => d.a === a })),
    fc.tuple(a, e).map<Bounds>(([a, e]) => ({ index: 'aevt', from: [a, e], keeps: (d) => d.a === a && d.e === e })),
    e.map<Bounds>((e) => ({ index: 'vaet', from: [e], keeps: (d) => d.a === attrIds[2] && d.v === e })),
  );
}

async function checkHistory(history: Op[][]): Promise<void> {
  const conn = await freshConn({ noSync: true });
  await conn.transact(`[{:db/ident :r/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}
                        {:db/ident :r/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                        {:db/ident :r/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);
  const made = await conn.transact(Array.from({ length: ENTITIES }, (_, i) => ({ ':db/id': `e${i}`, ':r/n': 100 + i })));
  const es = Array.from({ length: ENTITIES }, (_, i) => made.tempids[`e${i}`]!);
  const attrs = [N, S, REF];
  for (const ops of history) {
    const txData = ops.map((o) => [o.add ? ':db/add' : ':db/retract', es[o.e], attrs[o.attr], o.attr === 0 ? o.v : o.attr === 1 ? `s${o.v}` : es[o.v]]);
    await conn.transact(txData).catch(() => undefined); // a conflicting tx is rejected whole
  }
  const store = conn.store;
  const versions = versionsOfLog(store);
  const lastT = store.lastT();
  const attrIds = attrs.map((a) => conn.db().attr(a)!.id);
  const atArb = fc.record({
    basisT: fc.integer({ min: 0, max: lastT }),
    sinceT: fc.option(fc.integer({ min: 0, max: lastT }), { nil: null }),
    history: fc.boolean(),
  });
  fc.assert(
    fc.property(atArb, boundsArb(attrIds, [...es, es[0]! - 1, es[ENTITIES - 1]! + 1]), (at, bounds) => {
      const expected = expectedDatoms(versions, at, bounds);
      expect([...store.reader.datoms(bounds.index, bounds.from, bounds.to, at)]).toEqual(expected);
      const stored = [...store.reader.storedDatoms(bounds.index, bounds.from, bounds.to, at)];
      expect(stored.map((x) => store.reader.datomOf(x))).toEqual(expected);
      const visited: Datom[] = [];
      store.reader.visit(bounds.index, bounds.from, bounds.to, at, (e, a, v, tx, added) => visited.push({ e, a, v: v as Datom['v'], tx, added }));
      const order = (ds: Datom[]) => ds.map((d) => JSON.stringify(d)).sort();
      expect(order(visited)).toEqual(order(expected));
      const now = expectedDatoms(versions, { basisT: lastT, sinceT: null, history: false }, bounds);
      expect(store.reader.count(bounds.index, bounds.from, bounds.to)).toBe(now.length);
    }),
    { numRuns: 40 },
  );
}

describe('the index reader', () => {
  it('gives what a naive filter of the log gives, for any basis, since, history and bounds (fast-check)', async () => {
    await fc.assert(fc.asyncProperty(historyArb, checkHistory), { numRuns: 40 });
  });

  it('reads a lazy cursor from one snapshot: a commit between two steps changes nothing it gives', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact(`[{:db/ident :r/n :db/valueType :db.type/long :db/cardinality :db.cardinality/many}]`);
    const { tempids } = await conn.transact([{ ':db/id': 'x', ':r/n': [1, 2, 3] }]);
    const e = tempids.x!;
    const store = conn.store;
    const at = { basisT: store.lastT(), sinceT: null, history: false };
    const cursor = store.snapshotted((snapshot) => store.reader.datoms('eavt', [e], undefined, at, snapshot));
    const first = cursor.next().value as Datom;
    await conn.transact([
      [':db/retract', e, N, 2],
      [':db/retract', e, N, 3],
    ]);
    expect([first, ...cursor].map((d) => d.v)).toEqual([1, 2, 3]);
    expect([...store.reader.datoms('eavt', [e], undefined, at)].map((d) => d.v)).toEqual([1, 2, 3]);
  });
});
