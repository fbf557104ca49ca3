// Planner strategies on a few hundred people: entity batches, scan vs probe, ranges, clause order.
import { describe, it, expect, beforeAll } from 'vitest';
import { freshConn } from './helpers/tmp.js';
import { type Connection, Keyword } from '../src/index.js';
import { q, explain } from '../src/query/index.js';

const NAMES = ['Ivan', 'Petr', 'Oleg', 'Yuri'];
const sorted = (rows: unknown[][]) => [...rows].map((r) => JSON.stringify(r)).sort();
let conn: Connection;
const people = Array.from({ length: 400 }, (_, i) => ({ name: NAMES[i % 4]!, last: `L${i % 7}`, sex: i % 5 === 0 ? 'male' : 'female', age: (i * 37) % 100, salary: (i * 7919) % 100000 }));

beforeAll(async () => {
  // LMDB strategies (entity batches, probes, scans); columns are tested in test/columns.test.ts
  conn = await freshConn({ noSync: true, columnDatoms: 0 });
  await conn.transact(`[{:db/ident :name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :last-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
    {:db/ident :sex :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
    {:db/ident :age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
    {:db/ident :salary :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
  await conn.transact(people.map((p) => ({ ':name': p.name, ':last-name': p.last, ':sex': Keyword.of(p.sex), ':age': p.age, ':salary': p.salary })));
});

describe('planner', () => {
  it('does not estimate the last clause left: a point lookup reads the index once (issue 26)', () => {
    const db = conn.db();
    let estimates = 0;
    const counted = new Proxy(db, {
      get(target, key) {
        const x = Reflect.get(target, key, target);
        if (key === 'estimateCount' || key === 'estimateRange') return (...args: unknown[]) => (estimates++, (x as (...a: unknown[]) => number).apply(target, args));
        return typeof x === 'function' ? x.bind(target) : x;
      },
    });
    const text = '[:find ?e . :in $ ?s :where [?e :salary ?s]]';
    expect(q(text, counted, people[3]!.salary)).toBe(q(text, db, people[3]!.salary));
    expect(estimates).toBe(0);
    // explain still estimates it, and reports the estimate
    expect(explain(text, db, people[3]!.salary).steps[0]!.estimatedRows).toBe(1);
  });
  it('reads several attributes of a bound entity in one EAVT lookup per entity', () => {
    const text = '[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex :male]]';
    const e = explain(text, conn.db());
    const batch = e.steps.find((s) => s.strategy === 'entity-batch');
    expect(batch).toBeDefined();
    expect(batch!.clause).toMatch(/^\(and /);
    const expected = people.flatMap((p) => (p.name === 'Ivan' && p.sex === 'male' ? [[p.last, p.age]] : []));
    expect(sorted((e.result as unknown[][]).map((r) => r.slice(1)))).toEqual(sorted(expected));
  });
  it('evaluates a group of clauses unconnected to the rows so far apart, then joins it, instead of crossing clause by clause', () => {
    // two groups of people joined only by a function: (+ ?a 1) = ?b
    // the ?f group is the more selective, so it is planned first; the ?e group then shares nothing with its rows
    const text = '[:find ?e ?f :where [?e :name "Ivan"] [?e :sex :male] [?e :age ?a] [(+ ?a 1) ?b] [?f :age ?b] [?f :name "Petr"] [?f :last-name "L2"]]';
    const e = explain(text, conn.db());
    const apart = e.steps.find((st) => st.index === 'apart');
    expect(apart).toBeDefined();
    const expected = people.flatMap((p, i) =>
      p.name === 'Ivan' && p.sex === 'male' ? people.flatMap((o, j) => (o.name === 'Petr' && o.last === 'L2' && o.age === p.age + 1 ? [[i, j]] : [])) : [],
    );
    expect((e.result as unknown[][]).length).toBe(expected.length);
    expect(expected.length).toBeGreaterThan(0);
    // no step holds the cross product: the 14 Petrs of L2 were never crossed with the 80 males
    const petrs = people.filter((p) => p.name === 'Petr' && p.last === 'L2').length;
    const males = people.filter((p) => p.sex === 'male').length;
    const biggest = Math.max(...e.steps.flatMap((st) => [st.actualRows, ...(st.children ?? []).map((c) => c.actualRows)]));
    expect(biggest).toBeLessThan(petrs * males);
    expect(biggest).toBeLessThanOrEqual(males);
  });
  it('gives the same plan and answer whatever the clause order', () => {
    const a = explain('[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]', conn.db());
    const b = explain('[:find ?e ?a :where [?e :age ?a] [?e :name "Ivan"]]', conn.db());
    expect(a.steps.map((s) => [s.clause, s.index, s.strategy])).toEqual(b.steps.map((s) => [s.clause, s.index, s.strategy]));
    expect(sorted(a.result as unknown[][])).toEqual(sorted(b.result as unknown[][]));
    expect((a.result as unknown[]).length).toBe(100);
  });
  it('pushes <= and > into one exact range scan, inputs included', () => {
    const e = explain('[:find ?e ?s :in $ ?lo :where [?e :salary ?s] [(> ?s ?lo)] [(<= ?s 60000)]]', conn.db(), 20000);
    const scan = e.steps[0]!;
    expect(scan.index).toBe('avet-range');
    expect(scan.range).toBe('(20000, 60000]');
    expect(scan.estimatedRows).toBe(scan.actualRows); // estimateRange is exact
    expect(e.steps.filter((s) => s.index === 'in-range').length).toBe(2);
    const expected = people.filter((p) => p.salary > 20000 && p.salary <= 60000).length;
    expect(e.resultCount).toBe(expected);
  });
  it('filters by a constant-valued attribute before reading the others', () => {
    const e = explain('[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex :male]]', conn.db());
    const at = (c: string) => e.steps.findIndex((s) => s.clause.includes(c));
    expect(at('[?e :sex :male]')).toBeLessThan(at('[?e :age ?a]'));
    expect(at('[?e :name "Ivan"]')).toBeLessThan(at('[?e :age ?a]'));
    expect(e.resultCount).toBe(people.filter((p) => p.name === 'Ivan' && p.sex === 'male').length);
  });
  it('answers the same on an asOf view (fallback scan path)', () => {
    const db = conn.db();
    const text = '[:find ?e ?l ?a :where [?e :name "Petr"] [?e :last-name ?l] [?e :age ?a]]';
    expect(sorted(q(text, db.asOf(db.basisT)))).toEqual(sorted(q(text, db)));
    expect(sorted(q(text, db.history()))).toEqual(sorted(q(text, db)));
  });
});
