// Right-linear rules (src/query/linear-rules.ts): which rule sets take the one-search path, and
// that it answers exactly as the general evaluator and as a breadth-first search in JavaScript.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseRules } from '../query-lang/index.js';
import { rightLinearPlan } from '../src/query/linear-rules.js';
import { explain, q } from '../src/query/index.js';
import { freshConn } from './helpers/tmp.js';

const REACH = '[[(reach ?a ?b) [?a :g/to ?b]] [(reach ?a ?b) [?a :g/to ?c] (reach ?c ?b)]]';
// the same relation, with the recursive call not last: the general evaluator runs it
const REACH_GENERAL = '[[(reach ?a ?b) [?a :g/to ?b]] [(reach ?a ?b) [?a :g/to ?c] (reach ?c ?b) [(!= ?c -1)]]]';

// odd-length paths, through a two-pattern step (run through the planner, not as one index lookup)
const ODD = '[[(odd ?a ?b) [?a :g/to ?b]] [(odd ?a ?b) [?a :g/to ?x] [?x :g/to ?c] (odd ?c ?b)]]';
const ODD_GENERAL = '[[(odd ?a ?b) [?a :g/to ?b]] [(odd ?a ?b) [?a :g/to ?x] [?x :g/to ?c] (odd ?c ?b) [(!= ?c -1)]]]';

const plan = (rules: string, bound: boolean[]) => rightLinearPlan(parseRules(rules), bound);

describe('rightLinearPlan', () => {
  it('takes a transitive closure called with its first argument bound', () => {
    const p = plan(REACH, [true, false]);
    expect(p?.recursive.length).toBe(1);
    expect(p?.base.length).toBe(1);
    expect(plan(ODD, [true, false])?.recursive[0]!.step.length).toBe(2);
  });
  it('declines every other shape', () => {
    expect(plan(REACH, [false, true])).toBeNull(); // the bound argument does not pass through
    expect(plan(REACH, [true, true])).toBeNull();
    expect(plan(REACH, [false, false])).toBeNull();
    expect(plan(REACH_GENERAL, [true, false])).toBeNull(); // the call is not last
    expect(plan('[[(r ?a ?b) [?a :g/to ?c] (r ?c ?b)]]', [true, false])).toBeNull(); // no base branch
    expect(plan('[[(r ?a ?b) [?a :g/to ?b]] [(r ?a ?b) [?a :g/to ?c] [?b :g/to ?c] (r ?c ?b)]]', [true, false])).toBeNull(); // ?b used by the step
    expect(plan('[[(r ?a ?b) [?a :g/to ?b]] [(r ?a ?b) [?a :g/to ?c] (s ?c ?b)] [(s ?a ?b) (r ?a ?b)]]', [true, false])).toBeNull(); // through another rule
  });
});

/** Everything reachable from `start` in one or more steps. */
function bfs(edges: [number, number][], start: number): number[] {
  const seen = new Set<number>();
  const stack = [start];
  while (stack.length) {
    const x = stack.pop()!;
    for (const [a, b] of edges)
      if (a === x && !seen.has(b)) {
        seen.add(b);
        stack.push(b);
      }
  }
  return [...seen].sort((x, y) => x - y);
}

describe('right-linear evaluation', () => {
  it('equals the general evaluator and a breadth-first search, on random graphs with cycles', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact('[{:db/ident :g/to :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]');
    const nodes = (await conn.transact(Array.from({ length: 30 }, (_, i) => ({ ':db/id': `n${i}`, ':db/doc': `node ${i}` })))).tempids;
    const id = (i: number) => nodes[`n${i}`]!;
    let graphs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat(29), fc.nat(29)), { maxLength: 60 }), fc.uniqueArray(fc.nat(29), { minLength: 1, maxLength: 3 }), async (pairs, starts) => {
        // replace the graph: retract every edge, add these
        const old = q<[number, number][]>('[:find ?a ?b :where [?a :g/to ?b]]', conn.db());
        await conn.transact(old.map(([a, b]) => [':db/retract', a, ':g/to', b]));
        await conn.transact(pairs.map(([a, b]) => [':db/add', id(a), ':g/to', id(b)]));
        const db = conn.db();
        const edges = pairs.map(([a, b]) => [id(a), id(b)] as [number, number]);
        const query = '[:find ?s ?x :in $ % [?s ...] :where (reach ?s ?x)]';
        const sort = (rows: [number, number][]) => rows.map((r) => r.join(' ')).sort();
        const fast = q<[number, number][]>(query, db, REACH, starts.map(id));
        const general = q<[number, number][]>(query, db, REACH_GENERAL, starts.map(id));
        const model = starts.flatMap((s) => bfs(edges, id(s)).map((x) => [id(s), x] as [number, number]));
        expect(sort(fast)).toEqual(sort(model));
        expect(sort(general)).toEqual(sort(model));
        const oddQuery = '[:find ?s ?x :in $ % [?s ...] :where (odd ?s ?x)]';
        expect(sort(q<[number, number][]>(oddQuery, db, ODD, starts.map(id)))).toEqual(sort(q<[number, number][]>(oddQuery, db, ODD_GENERAL, starts.map(id))));
        // and as of the graph before this one (a past view through the same paths)
        const past = db.asOf(db.basisT - 1);
        expect(sort(q<[number, number][]>(query, past, REACH, starts.map(id)))).toEqual(sort(q<[number, number][]>(query, past, REACH_GENERAL, starts.map(id))));
        graphs++;
      }),
      { numRuns: 60 },
    );
    expect(graphs).toBe(60);
  });

  it('shows in explain, and binds constants and lookup refs like any rule call', async () => {
    const conn = await freshConn({ noSync: true });
    await conn.transact(
      '[{:db/ident :g/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity} {:db/ident :g/to :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]',
    );
    await conn.transact('[{:g/name "a" :g/to [{:g/name "b" :g/to [{:g/name "c" :g/to [{:g/name "a"}]}]}]}]');
    const db = conn.db();
    const names = (rows: unknown) => (rows as string[]).sort();
    expect(names(q('[:find [?n ...] :in $ % :where (reach [:g/name "a"] ?x) [?x :g/name ?n]]', db, REACH))).toEqual(['a', 'b', 'c']);
    const e = explain('[:find ?x :in $ % ?s :where (reach ?s ?x)]', db, REACH, [':g/name', 'b']);
    expect(JSON.stringify(e.steps)).toContain('rule-linear');
    expect(e.resultCount).toBe(3);
  });
});
