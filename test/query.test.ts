import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FactlogError, open, type Connection, Keyword } from '../src/index.js';
import fc from 'fast-check';
import { q, explain, compareValues, valueKey } from '../src/query/index.js';
import { freshConn } from './helpers/tmp.js';

const kw = Keyword.of;
const sorted = (rows: unknown[][]) => [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));

const SCHEMA = `[
 {:db/ident :emp/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :emp/salary :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :emp/dept :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :emp/boss :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :emp/color :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :emp/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :dept/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :node/next :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :node/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :color/red} {:db/ident :color/blue}]`;

const DATA = `[
 {:db/id "d1" :dept/name "eng"} {:db/id "d2" :dept/name "ops"}
 {:db/id "e1" :emp/name "ann" :emp/salary 90000 :emp/dept "d1" :emp/color :color/red :emp/tags [:a :b]}
 {:db/id "e2" :emp/name "bob" :emp/salary 40000 :emp/dept "d1" :emp/boss "e1" :emp/color :color/blue :emp/tags [:a]}
 {:db/id "e3" :emp/name "cid" :emp/salary 60000 :emp/dept "d2" :emp/boss "e1" :emp/color :color/red}
 {:db/id "e4" :emp/name "dan" :emp/salary 60000 :emp/dept "d2" :emp/boss "e3"}
 {:db/id "e5" :emp/name "eve" :emp/salary 30000 :emp/boss "e4"}]`;

let dir: string;
let conn: Connection;
let tBefore: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'factlog-q-'));
  // no attribute columns: the planner tests below check which LMDB index each step reads
  // (columns are tested in test/columns.test.ts)
  conn = await open({ path: join(dir, 'db'), columnDatoms: 0 });
  await conn.transact(SCHEMA);
  await conn.transact(DATA);
  tBefore = conn.db().basisT;
  await conn.transact('[[:db/add [:emp/name "bob"] :emp/salary 45000] [:db/retract [:emp/name "eve"] :emp/boss [:emp/name "dan"]]]');
  // a chain 0 -> 1 -> ... -> 60 for recursive rules
  const nodes = Array.from({ length: 61 }, (_, i) => `{:db/id "n${i}" :node/id ${i}${i < 60 ? ` :node/next "n${i + 1}"` : ''}}`);
  await conn.transact('[' + nodes.join(' ') + ']');
});

afterAll(async () => {
  await conn?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('patterns and constants', () => {
  it('a constant no datom of an attribute can hold matches nothing there (bigint attributes), with or without columns', async () => {
    for (const columnDatoms of [0, undefined]) {
      const c = await freshConn({ columnDatoms });
      await c.transact(
        '[{:db/ident :p/big :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one :db/unique :db.unique/identity} {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]',
      );
      await c.transact('[{:p/name "a" :p/big 5N} {:p/name "b" :p/big 6N} {:p/name "c" :p/big 7}]');
      const db = c.db();
      const nameAttr = db.entid(Keyword.of('p/name'));
      // every attribute is tried for "a", the bigint one included
      expect(q('[:find ?a :where [?e ?a "a"]]', db)).toEqual([[nameAttr]]);
      expect(q('[:find ?e :where [?e :p/big 1.5]]', db)).toEqual([]);
      expect(q('[:find ?e :where [?e :p/big "x"]]', db)).toEqual([]);
      expect(q('[:find ?n :where [[:p/big 7.5] :p/name ?n]]', db)).toEqual([]);
      expect(q('[:find ?n :where [[:p/big 7] :p/name ?n]]', db)).toEqual([['c']]);
      // a fraction still bounds a range over bigints
      expect(q<string[][]>('[:find ?n :where [?e :p/big ?b] [(> ?b 5.5)] [?e :p/name ?n]]', db).sort()).toEqual([['b'], ['c']]);
      expect([...db.indexRange(Keyword.of('p/big'), 5.5, 7)].map((d) => d.v)).toEqual([6n]);
    }
  });
  it('resolves keyword constants in ref value position to the ident entity', () => {
    const names = q<string[]>('[:find [?n ...] :where [?e :emp/color :color/red] [?e :emp/name ?n]]', conn.db());
    expect(names.sort()).toEqual(['ann', 'cid']);
  });
  it('keeps keyword values on keyword attributes', () => {
    const names = q<string[]>('[:find [?n ...] :where [?e :emp/tags :a] [?e :emp/name ?n]]', conn.db());
    expect(names.sort()).toEqual(['ann', 'bob']);
    const tags = q<Keyword[]>('[:find [?t ...] :where [?e :emp/name "ann"] [?e :emp/tags ?t]]', conn.db());
    expect(new Set(tags)).toEqual(new Set([kw('a'), kw('b')]));
  });
  it('resolves lookup refs in entity and ref-value positions', () => {
    expect(q('[:find ?s . :where [[:emp/name "cid"] :emp/salary ?s]]', conn.db())).toBe(60000);
    const subs = q<string[]>('[:find [?n ...] :where [?e :emp/boss [:emp/name "ann"]] [?e :emp/name ?n]]', conn.db());
    expect(subs.sort()).toEqual(['bob', 'cid']);
  });
  it('resolves keyword and lookup-ref inputs used in entity position', () => {
    expect(q('[:find ?s . :in $ ?e :where [?e :emp/salary ?s]]', conn.db(), [kw('emp/name'), 'dan'])).toBe(60000);
  });
  it('binds attribute variables to attribute ids', () => {
    const db = conn.db();
    const attrs = q<number[]>('[:find [?a ...] :where [?e :emp/name "eve"] [?e ?a _]]', db);
    expect(attrs.map((a) => db.ident(a)!.fqn).sort()).toEqual(['emp/name', 'emp/salary']);
    const idents = q<Keyword[]>('[:find [?i ...] :where [?e :emp/name "eve"] [?e ?a _] [?a :db/ident ?i]]', db);
    expect(idents.map((k) => k.fqn).sort()).toEqual(['emp/name', 'emp/salary']);
  });
  it('matches schema: [?a :db/valueType :db.type/ref]', () => {
    const idents = q<Keyword[]>('[:find [?i ...] :where [?a :db/valueType :db.type/ref] [?a :db/ident ?i] [(namespace ?i) ?ns] [(= ?ns "emp")]]', conn.db());
    expect(idents.map((k) => k.fqn).sort()).toEqual(['emp/boss', 'emp/color', 'emp/dept']);
  });
  it('returns empty for unknown attributes and entities (as Datomic)', () => {
    expect(q('[:find ?e :where [?e :no/such 1]]', conn.db())).toEqual([]);
    expect(q('[:find ?v :where [[:emp/name "nobody"] :emp/salary ?v]]', conn.db())).toEqual([]);
  });
  it('binds ?tx in the fourth position on a current db', () => {
    const db = conn.db();
    const [tx, s] = q<[number, number]>('[:find [?tx ?s] :where [?e :emp/name "bob"] [?e :emp/salary ?s ?tx]]', db);
    expect(s).toBe(45000);
    expect(db.txToT(tx)).toBe(db.basisT - 1);
  });
});

describe('time', () => {
  it('queries asOf values', () => {
    const db = conn.db();
    expect(q('[:find ?s . :where [?e :emp/name "bob"] [?e :emp/salary ?s]]', db.asOf(tBefore))).toBe(40000);
    expect(q('[:find ?s . :where [?e :emp/name "bob"] [?e :emp/salary ?s]]', db)).toBe(45000);
    expect(q('[:find ?b . :where [?e :emp/name "eve"] [?e :emp/boss ?b]]', db)).toBe(null);
  });
  it('history db binds ?tx and ?added from 5-term patterns', () => {
    const h = conn.db().history();
    const rows = q<[number, boolean][]>('[:find ?s ?added :where [?e :emp/name "bob"] [?e :emp/salary ?s ?tx ?added]]', h);
    expect(sorted(rows)).toEqual(
      sorted([
        [40000, true],
        [40000, false],
        [45000, true],
      ]),
    );
    const retracted = q('[:find ?s . :where [?e :emp/name "bob"] [?e :emp/salary ?s _ false]]', h);
    expect(retracted).toBe(40000);
  });
  it('joins a current db with its past as two sources', () => {
    const db = conn.db();
    const rows = q('[:find ?n ?old ?new :in $now $then :where [$now ?e :emp/salary ?new] [$then ?e :emp/salary ?old] [(!= ?old ?new)] [$now ?e :emp/name ?n]]', db, db.asOf(tBefore));
    expect(rows).toEqual([['bob', 40000, 45000]]);
  });
});

describe('clauses', () => {
  it('not / not-join / or / or-join / and', () => {
    const db = conn.db();
    expect(q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (not [?e :emp/boss _])]', db).sort()).toEqual(['ann', 'eve']);
    expect(q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (not-join [?e] [?x :emp/boss ?e])]', db).sort()).toEqual(['bob', 'dan', 'eve']);
    expect(q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (or [?e :emp/color :color/blue] [?e :emp/salary 30000])]', db).sort()).toEqual(['bob', 'eve']);
    expect(q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (or-join [?e] (and [?e :emp/dept ?d] [?d :dept/name "ops"]) [?e :emp/tags :b])]', db).sort()).toEqual(['ann', 'cid', 'dan']);
    expect(q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (or (and [?e :emp/salary 60000] [?e :emp/dept ?d]) (and [?e :emp/tags :b] [?e :emp/dept ?d]))]', db).sort()).toEqual([
      'ann',
      'cid',
      'dan',
    ]);
  });
  it('or-join with required vars', () => {
    const rows = q<string[]>('[:find [?n ...] :where [?e :emp/name ?n] (or-join [[?e]] [?e :emp/salary 90000] [?e :emp/salary 30000])]', conn.db());
    expect(rows.sort()).toEqual(['ann', 'eve']);
  });
  it('or-join: a branch need not mention a required variable (it is bound on entry)', () => {
    const db = conn.db();
    const paid = q<string[]>('[:find [?n ...] :in $ ?s :where [?e :emp/salary ?s] [?e :emp/name ?n]]', db, 90000);
    expect(paid.length).toBeGreaterThan(0);
    const query = '[:find [?n ...] :in $ ?s :where [?e :emp/name ?n] (or-join [[?s] ?e] [?e :emp/salary ?s] [?e :emp/name "dan"])]';
    expect(q<string[]>(query, db, 90000).sort()).toEqual([...new Set([...paid, 'dan'])].sort());
    expect(q<string[]>(query, db, 1).sort()).toEqual(['dan']);
  });
  it('functions bind tuple, coll and rel shapes', () => {
    const db = conn.db();
    expect(q('[:find ?a ?b :where [(ground [1 2]) [?a ?b]]]', db)).toEqual([[1, 2]]);
    expect(q<number[]>('[:find [?x ...] :where [(ground [3 1 2]) [?x ...]]]', db).sort()).toEqual([1, 2, 3]);
    expect(sorted(q('[:find ?a ?b :where [(ground [[1 :x] [2 :y]]) [[?a ?b]]]]', db))).toEqual([
      [1, kw('x')],
      [2, kw('y')],
    ]);
    expect(q('[:find ?a ?c :where [(tuple 1 2 3) ?t] [(untuple ?t) [?a _ ?c]]]', db)).toEqual([[1, 3]]);
  });
  it('user functions and predicates passed as inputs', () => {
    const double = (x: number) => x * 2;
    const isRich = (x: number) => x > 50000;
    const rows = q<number[]>('[:find [?d ...] :in $ ?f ?p :where [_ :emp/salary ?s] [(?p ?s)] [(?f ?s) ?d]]', conn.db(), double, isRich);
    expect(rows.sort()).toEqual([120000, 180000]);
  });
  it('nested q', () => {
    const n = q('[:find ?c . :in $ :where [(q "[:find (count ?e) . :where [?e :emp/name]]" $) ?c]]', conn.db());
    expect(n).toBe(5);
  });
  it('get-some returns [attr-id value]', () => {
    const db = conn.db();
    const [a, v] = q<[number, unknown]>('[:find [?a ?v] :where [?e :emp/name "eve"] [(get-some $ ?e :emp/dept :emp/salary) [?a ?v]]]', db);
    expect(db.ident(a)!.fqn).toBe('emp/salary');
    expect(v).toBe(30000);
  });
});

describe('rules', () => {
  const rules = `[[(reports ?e ?b) [?e :emp/boss ?b]]
                 [(reports ?e ?b) [?e :emp/boss ?x] (reports ?x ?b)]
                 [(reach ?a ?b) [?a :node/next ?b]]
                 [(reach ?a ?b) (reach ?a ?x) (reach ?x ?b)]
                 [(even ?a ?b) [?a :node/next ?x] (odd ?x ?b)]
                 [(odd ?a ?b) [?a :node/next ?b]]
                 [(odd ?a ?b) [?a :node/next ?x] (even ?x ?b)]
                 [(top [?e]) (not [?e :emp/boss _])]]`;
  it('recursive rule with bound and unbound arguments', () => {
    const db = conn.db();
    const under = q<string[]>('[:find [?n ...] :in $ % :where [?a :emp/name "ann"] (reports ?e ?a) [?e :emp/name ?n]]', db, rules);
    expect(under.sort()).toEqual(['bob', 'cid', 'dan']);
    const all = q<unknown[][]>('[:find ?e ?b :in $ % :where (reports ?e ?b)]', db, rules);
    expect(all.length).toBe(4); // bob->ann, cid->ann, dan->cid, dan->ann (eve's boss was retracted)
  });
  it('queries and rules as plain JS data answer as their EDN text does', () => {
    const db = conn.db();
    const jsRules = [
      [
        ['reports', '?e', '?b'],
        ['?e', ':emp/boss', '?b'],
      ],
      [
        ['reports', '?e', '?b'],
        ['?e', ':emp/boss', '?x'],
        ['reports', '?x', '?b'],
      ],
    ];
    const jsQuery = {
      find: [['?n', '...']],
      in: ['$', '%', '?boss'],
      where: [
        ['?a', ':emp/name', '?boss'],
        ['reports', '?e', '?a'],
        ['?e', ':emp/name', '?n'],
      ],
    };
    const fromJs = q<string[]>(jsQuery, db, jsRules, 'ann');
    expect(fromJs.sort()).toEqual(['bob', 'cid', 'dan']);
    expect(fromJs).toEqual(q<string[]>('[:find [?n ...] :in $ % ?boss :where [?a :emp/name ?boss] (reports ?e ?a) [?e :emp/name ?n]]', db, rules, 'ann').sort());
    const rich = q(
      [':find', '?n', ['count', '?t'], ':where', ['?e', ':emp/tags', '?t'], ['?e', ':emp/color', ':color/red'], ['?e', ':emp/salary', '?s'], [['>', '?s', 50000]], ['?e', ':emp/name', '?n']],
      db,
    );
    expect(rich).toEqual([['ann', 2]]);
  });
  it('non-linear recursion over a long chain (semi-naive fixpoint)', () => {
    const db = conn.db();
    const n = q('[:find (count ?b) . :in $ % :with ?a :where (reach ?a ?b)]', db, rules);
    expect(n).toBe((60 * 61) / 2);
    const from = q<number[]>('[:find [?i ...] :in $ % :where [?s :node/id 55] (reach ?s ?b) [?b :node/id ?i]]', db, rules);
    expect(from.sort((a, b) => a - b)).toEqual([56, 57, 58, 59, 60]);
  });
  it('mutual recursion', () => {
    const ids = q<number[]>('[:find [?i ...] :in $ % :where [?s :node/id 50] (even ?s ?b) [?b :node/id ?i]]', conn.db(), rules);
    expect(ids.sort((a, b) => a - b)).toEqual([52, 54, 56, 58, 60]);
  });
  it('required-bound rule vars and negation inside rules', () => {
    const db = conn.db();
    expect(q<string[]>('[:find [?n ...] :in $ % :where [?e :emp/name ?n] (top ?e)]', db, rules).sort()).toEqual(['ann', 'eve']);
    expect(() => q('[:find ?e :in $ % :where (top ?e)]', db, rules)).toThrowError(expect.objectContaining({ code: 'query/insufficient-binding' }));
  });
});

describe('find specs and aggregates', () => {
  it(':with keeps duplicates distinguished by the with vars', () => {
    const db = conn.db();
    expect(q('[:find (sum ?s) . :where [_ :emp/salary ?s]]', db)).toBe(90000 + 45000 + 60000 + 30000);
    expect(q('[:find (sum ?s) . :with ?e :where [?e :emp/salary ?s]]', db)).toBe(90000 + 45000 + 60000 + 60000 + 30000);
    expect(q('[:find (count ?s) . :with ?e :where [?e :emp/salary ?s]]', db)).toBe(5);
  });
  it('grouped aggregates, custom aggregates and :keys', () => {
    const db = conn.db();
    const rows = q('[:find ?d (count ?e) (max ?s) :keys dept n top :where [?e :emp/dept ?x] [?x :dept/name ?d] [?e :emp/salary ?s]]', db);
    expect(sorted(rows as never)).toEqual(
      sorted([
        { dept: 'eng', n: 2, top: 90000 },
        { dept: 'ops', n: 2, top: 60000 },
      ] as never),
    );
    const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
    expect(q('[:find (?agg ?s) . :in $ ?agg :with ?e :where [?e :emp/salary ?s]]', db, spread)).toBe(60000);
    expect(q<number[]>('[:find (min 2 ?s) . :where [_ :emp/salary ?s]]', db)).toEqual([30000, 45000]);
    expect(q<number[]>('[:find (max 2 ?s) . :where [_ :emp/salary ?s]]', db)).toEqual([90000, 60000]);
    expect(q<number[]>('[:find (sample 2 ?s) . :where [_ :emp/salary ?s]]', db).length).toBe(2);
    expect(q<number[]>('[:find (rand 3 ?s) . :where [_ :emp/salary ?s]]', db).length).toBe(3);
  });
  it('a custom aggregate that throws is query/function-error, the original error as its cause', () => {
    const boom = new TypeError('aggregate boom');
    const thrower = () => {
      throw boom;
    };
    const run = () => q('[:find (?agg ?s) . :in $ ?agg :where [_ :emp/salary ?s]]', conn.db(), thrower);
    expect(run).toThrowError(expect.objectContaining({ code: 'query/function-error' }));
    expect(() => run()).toThrow(expect.objectContaining({ cause: boom }));
    expect(run).toThrowError(/\?agg threw TypeError: aggregate boom in \(\?agg \?s\)/);
    // a factlog error keeps its code
    const coded = () =>
      q('[:find (?agg ?s) . :in $ ?agg :where [_ :emp/salary ?s]]', conn.db(), () => {
        throw new FactlogError('app/refused', 'refused');
      });
    expect(coded).toThrowError(expect.objectContaining({ code: 'app/refused', message: expect.stringMatching(/^refused in \(\?agg \?s\)/) }));
  });
  it(':keys, :strs and :syms named like Object.prototype members are own keys of each result map', () => {
    const db = conn.db();
    const names = ['__proto__', 'constructor', 'toString'];
    for (const kind of ['keys', 'strs', 'syms']) {
      const rows = q<Record<string, unknown>[]>(`[:find ?n ?s ?e :${kind} ${names.join(' ')} :where [?e :emp/name ?n] [?e :emp/salary ?s] [(= ?n "ann")]]`, db);
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(Object.keys(row), kind).toEqual(names);
      expect(Object.hasOwn(row, '__proto__')).toBe(true);
      expect(row['__proto__']).toBe('ann');
      expect(row['constructor']).toBe(90000);
      expect(JSON.parse(JSON.stringify(row))).toEqual(JSON.parse(`{"__proto__":"ann","constructor":90000,"toString":${row['toString']}}`));
      const tuple = q<Record<string, unknown>>(`[:find [?n ?s ?e] :${kind} ${names.join(' ')} :where [?e :emp/name ?n] [?e :emp/salary ?s] [(= ?n "ann")]]`, db);
      expect(Object.keys(tuple)).toEqual(names);
    }
  });
  it('pull in find', () => {
    const rows = q('[:find (pull ?e [:emp/name {:emp/dept [:dept/name]}]) . :where [?e :emp/name "ann"]]', conn.db());
    expect(rows).toEqual({ 'emp/name': 'ann', 'emp/dept': { 'dept/name': 'eng' } });
  });
  it('scalar and tuple of nothing are null', () => {
    expect(q('[:find ?e . :where [?e :emp/name "zed"]]', conn.db())).toBe(null);
    expect(q('[:find [?e ?n] :where [?e :emp/name "zed"] [?e :emp/name ?n]]', conn.db())).toBe(null);
  });
});

describe('planner and explain', () => {
  const q1 = '[:find ?n :where [?e :emp/name ?n] [?e :emp/dept ?d] [?d :dept/name "ops"] [?e :emp/salary ?s] [(> ?s 50000)]]';
  const q2 = '[:find ?n :where [(> ?s 50000)] [?e :emp/salary ?s] [?d :dept/name "ops"] [?e :emp/dept ?d] [?e :emp/name ?n]]';
  it('plans independently of clause order', () => {
    const db = conn.db();
    const a = explain(q1, db);
    const b = explain(q2, db);
    expect(a.steps.map((s) => [s.clause, s.index, s.estimatedRows, s.actualRows])).toEqual(b.steps.map((s) => [s.clause, s.index, s.estimatedRows, s.actualRows]));
    expect(sorted(q(q1, db))).toEqual([['cid'], ['dan']]);
    expect(sorted(q(q2, db))).toEqual([['cid'], ['dan']]);
  });
  it('reports estimated and actual rows and is printable', () => {
    const e = explain(q1, conn.db());
    expect(e.steps.length).toBe(5);
    for (const s of e.steps) {
      expect(typeof s.estimatedRows).toBe('number');
      expect(typeof s.actualRows).toBe('number');
    }
    expect(e.steps[0]!.clause).toBe('[?d :dept/name "ops"]');
    expect(e.steps[0]!.index).toBe('avet');
    expect(e.totalMs).toBeGreaterThanOrEqual(0);
    expect(String(e)).toContain('est=');
  });
  it('turns range predicates into one index range scan', () => {
    const e = explain('[:find ?e :where [?e :emp/salary ?s] [(> ?s 50000)]]', conn.db());
    const scan = e.steps.find((s) => s.clause === '[?e :emp/salary ?s]')!;
    expect(scan.index).toBe('avet-range');
    expect(scan.range).toBe('(50000, +inf)');
    expect(scan.actualRows).toBe(3);
    const e2 = explain('[:find ?e :in $ ?lo :where [?e :emp/salary ?s] [(<= ?s 60000)] [(>= ?s ?lo)]]', conn.db(), 45000);
    const scan2 = e2.steps.find((s) => s.clause === '[?e :emp/salary ?s]')!;
    expect(scan2.range).toBe('[45000, 60000]');
    expect(scan2.actualRows).toBe(3);
    expect(e2.resultCount).toBe(3);
  });
  it('probes the index per bound value', () => {
    // two keys against an index of 61 node ids: one lookup per key beats a scan
    const e = explain('[:find ?x :in $ [?i ...] :where [?e :node/id ?i] [?e :node/next ?x]]', conn.db(), [1, 2]);
    expect(e.steps[0]!.strategy).toBe('probe');
    expect(e.steps[0]!.index).toBe('avet');
    expect(e.steps[1]!.index).toBe('eavt');
    expect(e.resultCount).toBe(2);
  });
  it('scans once and hash-joins when the bound values are many', () => {
    const ids = Array.from({ length: 50 }, (_, i) => i);
    const e = explain('[:find ?x :in $ [?i ...] :where [?e :node/id ?i] [?e :node/next ?x]]', conn.db(), ids);
    expect(e.steps[0]!.strategy).toBe('scan');
    expect(e.steps[1]!.strategy).toBe('scan');
    expect(e.steps[1]!.index).toBe('aevt');
    expect(e.resultCount).toBe(50);
  });
});

describe('engine gaps', () => {
  it('normalises ident / lookup-ref inputs in entity positions, whatever the strategy', () => {
    const db = conn.db();
    // a collection of lookup refs: large enough that the planner may scan and hash-join
    const refs = ['ann', 'bob', 'cid', 'dan', 'eve'].map((n) => [kw('emp/name'), n]);
    const rows = q<number[]>('[:find [?s ...] :in $ [?e ...] :where [?e :emp/salary ?s]]', db, refs);
    expect(rows.sort((a, b) => a - b)).toEqual([30000, 45000, 60000, 90000]);
    const n = q('[:find (count ?e) . :in $ [?e ...] :where [?e :emp/salary _] [?e :emp/name _]]', db, refs);
    expect(n).toBe(5);
    // ref-valued v position: an ident input
    const reds = q<string[]>('[:find [?n ...] :in $ ?c :where [?e :emp/color ?c] [?e :emp/name ?n]]', db, kw('color/red'));
    expect(reds.sort()).toEqual(['ann', 'cid']);
  });
  it('rejects rules that depend on themselves through negation', () => {
    const rules = `[[(p ?x) [?x :node/id _] (not (q ?x))]
                    [(q ?x) [?x :node/id _] (not (p ?x))]
                    [(ok ?x) [?x :node/id 1]]]`;
    try {
      q('[:find ?x :in $ % :where (p ?x)]', conn.db(), rules);
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; message: string };
      expect(err.code).toBe('query/unstratified');
      expect(err.message).toMatch(/Rule (p|q) depends on itself through negation/);
    }
    // an unrelated rule of the same set still runs
    expect(q('[:find ?i . :in $ % :where (ok ?x) [?x :node/id ?i]]', conn.db(), rules)).toBe(1);
    const self = '[[(lonely ?x) [?x :node/id _] (not-join [?x] (lonely ?x))]]';
    expect(() => q('[:find ?x :in $ % :where (lonely ?x)]', conn.db(), self)).toThrowError(expect.objectContaining({ code: 'query/unstratified' }));
  });
  it('accepts the query-map form {:query ... :args [...]}', () => {
    const db = conn.db();
    expect(q({ query: '[:find ?s . :in $ ?n :where [?e :emp/name ?n] [?e :emp/salary ?s]]', args: [db, 'cid'] })).toBe(60000);
    const m = new Map<unknown, unknown>([
      [kw('query'), '[:find ?s . :in $ ?n :where [?e :emp/name ?n] [?e :emp/salary ?s]]'],
      [kw('args'), [db, 'ann']],
    ]);
    expect(q(m as never)).toBe(90000);
    expect(q('{:query [:find ?x . :in ?x :where [(ground 1) ?y]] :args [42]}')).toBe(42);
    expect(q('{:query [:find ?e . :where [?e :emp/name "dan"]]}', db)).toBe(q('[:find ?e . :where [?e :emp/name "dan"]]', db));
  });
  it('a query map in text is a map: :query need not come first', () => {
    expect(q('{:args [42] :query [:find ?x . :in ?x :where [(ground 1) ?y]]}')).toBe(42);
    expect(q('{:timeout 5000, :query [:find ?e . :where [?e :emp/name "dan"]]}', conn.db())).toBe(q('[:find ?e . :where [?e :emp/name "dan"]]', conn.db()));
    expect(() => q('{:timeout 1 :args []}')).toThrowError(expect.objectContaining({ code: 'query/syntax' }));
  });
  it('explain nests the steps of not, or and rules', () => {
    const db = conn.db();
    const e = explain('[:find ?n :where [?e :emp/name ?n] (not [?e :emp/boss _]) (or [?e :emp/salary 90000] [?e :emp/salary 30000])]', db);
    const not = e.steps.find((s) => s.index === 'not')!;
    expect(not.children?.map((c) => c.clause)).toEqual(['[?e :emp/boss _]']);
    const or = e.steps.find((s) => s.index === 'or')!;
    expect(or.children?.length).toBe(2);
    expect(or.children![0]!.clause).toMatch(/^branch 1: /);
    expect(or.children![0]!.children?.[0]?.clause).toBe('[?e :emp/salary 90000]');
    const text = String(e);
    expect(text).toMatch(/\n {4}1\. \[\?e :emp\/boss _\]/);
    const rules = '[[(reports ?e ?b) [?e :emp/boss ?b]] [(reports ?e ?b) [?e :emp/boss ?x] (reports ?x ?b)]]';
    const r = explain('[:find ?e :in $ % :where [?a :emp/name "ann"] (reports ?e ?a)]', db, rules);
    const call = r.steps.find((s) => s.index === 'rule')!;
    // one step per (rule, bound arguments, branch): (reports ?e ?b!) and the recursive (reports ?e! ?b!)
    expect(call.children!.map((c) => c.clause)).toEqual(['(reports ?e ?b!) branch 1', '(reports ?e ?b!) branch 2', '(reports ?e! ?b!) branch 1', '(reports ?e! ?b!) branch 2']);
    expect(call.children![1]!.evaluations).toBeGreaterThan(0);
    expect(call.children![1]!.children!.length).toBeGreaterThan(0);
    expect(r.resultCount).toBe(3);
  });
});

describe('errors', () => {
  const code = (c: string) => expect.objectContaining({ code: c });
  it('unknown function', () => {
    expect(() => q('[:find ?e :where [?e :emp/name ?n] [(frobnicate ?n)]]', conn.db())).toThrowError(code('query/unknown-function'));
  });
  it('missing and extra inputs', () => {
    expect(() => q('[:find ?e :in $ ?n :where [?e :emp/name ?n]]', conn.db())).toThrowError(code('query/missing-input'));
    expect(() => q('[:find ?e :where [?e :emp/name]]', conn.db(), 1)).toThrowError(code('query/input-arity'));
  });
  it('unbound predicate variables', () => {
    // rejected by the parser's validation before evaluation
    expect(() => q('[:find ?e :where [?e :emp/name ?n] [(> ?x 1)]]', conn.db())).toThrowError(code('query/unbound-variable'));
    // a function variable bound to a non-function is caught at run time
    expect(() => q('[:find ?y :in $ ?f :where [?e :emp/salary ?s] [(?f ?s) ?y]]', conn.db(), 3)).toThrowError(code('query/not-a-function'));
  });
  it('unknown aggregate and rule', () => {
    expect(() => q('[:find (frob ?n) :where [?e :emp/name ?n]]', conn.db())).toThrowError(code('query/unknown-aggregate'));
    // names of Object.prototype members are no aggregates or functions either
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(() => q(`[:find (${name} ?n) :where [?e :emp/name ?n]]`, conn.db()), name).toThrowError(code('query/unknown-aggregate'));
      expect(() => q(`[:find ?x :where [?e :emp/name ?n] [(${name} ?n) ?x]]`, conn.db()), name).toThrowError(code('query/unknown-function'));
      expect(() => q(`[:find ?e :where [?e :emp/name ?n] [(${name} ?n)]]`, conn.db()), name).toThrowError(code('query/unknown-function'));
    }
    expect(() => q('[:find ?e :in $ % :where (nope ?e)]', conn.db(), '[[(yes ?e) [?e :emp/name]]]')).toThrowError();
  });
  it('errors carry the offending form and position', () => {
    try {
      q('[:find ?e\n :where [?e :emp/name ?n]\n [(frobnicate ?n)]]', conn.db());
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; form?: string; pos?: { line: number } };
      expect(err.code).toBe('query/unknown-function');
      expect(err.form).toBe('[(frobnicate ?n)]');
      expect(err.pos?.line).toBe(3);
    }
  });
});

describe("Datomic's documented semantics", () => {
  let db: ReturnType<Connection['db']>;
  beforeAll(async () => {
    const c = await freshConn();
    await c.transact(
      '[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one} {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]',
    );
    await c.transact('[{:p/name "Ann" :p/age 30} {:p/name "Bob" :p/age 40} {:p/name "Cid" :p/age 30}]');
    db = c.db();
  });
  const code = (c: string) => expect.objectContaining({ code: c });

  it('a pull pattern bound by name in :in (pattern-name), as EDN text, EDN data or JS data', () => {
    const query = '[:find (pull ?e pat) . :in $ pat :where [?e :p/name "Ann"]]';
    const ann = { 'p/name': 'Ann', 'p/age': 30 };
    expect(q(query, db, '[:p/name :p/age]')).toEqual(ann);
    expect(q(query, db, [kw('p/name'), kw('p/age')])).toEqual(ann);
    expect(q(query, db, ['p/name', 'p/age'])).toEqual(ann);
    expect(q(query, db, '[:p/age]')).toEqual({ 'p/age': 30 });
    // two names, and the same pattern as a ?variable input, in one query
    const rows = q('[:find (pull ?e names) (pull ?e ?ages) :in $ names ?ages :where [?e :p/name "Bob"]]', db, '[:p/name]', '[:p/age]');
    expect(rows).toEqual([[{ 'p/name': 'Bob' }, { 'p/age': 40 }]]);
    expect(() => q(query, db, null)).toThrowError(code('query/missing-input'));
  });

  it('($src not ...) and ($src or ...) run their clauses against $src, with no $ in :in', () => {
    const old = db.with('[{:p/name "Dan" :p/age 30}]').dbAfter;
    const names = (query: string) => q<string[]>(query, old).sort();
    expect(names('[:find [?n ...] :in $d :where [$d ?e :p/name ?n] ($d not [?e :p/age 30])]')).toEqual(['Bob']);
    expect(names('[:find [?n ...] :in $d :where [$d ?e :p/name ?n] ($d not-join [?e] [?e :p/age 40])]')).toEqual(['Ann', 'Cid', 'Dan']);
    expect(names('[:find [?n ...] :in $d :where [$d ?e :p/name ?n] ($d or [?e :p/age 40] [?e :p/name "Dan"])]')).toEqual(['Bob', 'Dan']);
    expect(names('[:find [?n ...] :in $d :where [$d ?e :p/name ?n] ($d or-join [?e] [?e :p/age 40])]')).toEqual(['Bob']);
    // a pattern outside them still needs its source
    expect(() => q('[:find ?n :in $d :where [?e :p/name ?n] ($d not [?e :p/age 30])]', old)).toThrowError(code('query/unknown-source'));
  });

  it('a constant no datom can hold (a map, a set, a char, a tagged value) matches nothing instead of throwing', () => {
    for (const c of ['{:a 1}', '#{1}', '\\x', '#foo 1', '1.5M']) {
      expect(q(`[:find ?e :where [?e :p/name ${c}]]`, db), c).toEqual([]);
      expect(q(`[:find ?e :where [?e _ ${c}]]`, db), c).toEqual([]);
    }
    expect(q('[:find ?e :where [?e :p/age 30.0M]]', db)).toHaveLength(0); // a long attribute holds no decimal
  });

  it(':with without an aggregate returns a bag: the :with columns projected away, duplicates kept', () => {
    expect(q<number[][]>('[:find ?a :with ?e :where [?e :p/age ?a]]', db).sort()).toEqual([[30], [30], [40]]);
    expect(q<number[]>('[:find [?a ...] :with ?e :where [?e :p/age ?a]]', db).sort()).toEqual([30, 30, 40]);
    // without :with, still a set
    expect(q<number[][]>('[:find ?a :where [?e :p/age ?a]]', db).sort()).toEqual([[30], [40]]);
  });

  it('an aggregate argument may be a variable bound by :in', () => {
    expect(q('[:find (max ?n ?a) . :in $ ?n :where [_ :p/age ?a]]', db, 1)).toEqual([40]);
    expect(q('[:find (min ?n ?a) . :in $ ?n :with ?e :where [?e :p/age ?a]]', db, 2)).toEqual([30, 30]);
  });

  it('(min n ?x) / (max n ?x) take the n least / greatest items of the bag, duplicates kept', () => {
    expect(q('[:find (min 2 ?a) . :with ?e :where [?e :p/age ?a]]', db)).toEqual([30, 30]);
    expect(q('[:find (max 3 ?a) . :with ?e :where [?e :p/age ?a]]', db)).toEqual([40, 30, 30]);
  });

  it('a rule called with the wrong number of arguments is query/rule-arity, naming the call and its position', () => {
    const rules = '[[(r [?a ?b] ?c) [(str ?a ?b) ?c]]]';
    try {
      q('[:find ?n :in $ %\n :where (r ?n ?m)]', db, rules);
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; form?: string; pos?: { line: number; column: number } };
      expect(err.code).toBe('query/rule-arity');
      expect(err.form).toBe('(r ?n ?m)');
      expect(err.pos).toMatchObject({ line: 2, column: 9 });
    }
    expect(() => q('[:find ?n :in $ % :where [?e :p/name ?n] (not (r ?n ?n))]', db, rules)).toThrowError(code('query/rule-arity'));
  });

  it('an error thrown while a function or predicate runs names the clause and its line:column', () => {
    const located = (text: string, inputs: unknown[], c: string, form: string, line: number, column: number) => {
      try {
        q(text, db, ...inputs);
        expect.unreachable();
      } catch (e) {
        const err = e as { code: string; form?: string; pos?: { line: number; column: number }; message: string };
        expect(err.code).toBe(c);
        expect(err.form).toBe(form);
        expect(err.pos).toMatchObject({ line, column });
        expect(err.message).toContain(`(at ${line}:${column})`);
        return err;
      }
    };
    located('[:find ?b :where [?e :p/name ?a]\n [(inc ?a) ?b]]', [], 'query/type-error', '[(inc ?a) ?b]', 2, 2);
    located('[:find ?b :where [?e :p/name ?a] [(subs) ?b]]', [], 'query/type-error', '[(subs) ?b]', 1, 34);
    located('[:find ?b :where [?e :p/name ?a] [(get-else $ ?e :p/age nil) ?b]]', [], 'query/invalid-argument', '[(get-else $ ?e :p/age nil) ?b]', 1, 34);
    located('[:find ?e :where [?e :p/name ?a]\n   [(starts-with? ?a 1)]]', [], 'query/type-error', '[(starts-with? ?a 1)]', 2, 4);
    // anything else a function throws becomes query/function-error, the original kept as the cause
    const boom = new RangeError('boom');
    const err = located(
      '[:find ?b :in $ ?f :where [?e :p/age ?a] [(?f ?a) ?b]]',
      [
        () => {
          throw boom;
        },
      ],
      'query/function-error',
      '[(?f ?a) ?b]',
      1,
      42,
    );
    expect(err!.message).toContain('RangeError: boom');
    expect((err as { cause?: unknown }).cause).toBe(boom);
  });
});

describe('range predicates as index scans agree with the query comparison (issue 25)', () => {
  it('[(< ?v "！")] finds "😀" through the index as without it (UTF-16 order, as Datomic compares strings)', async () => {
    const c = await freshConn({ columnDatoms: 0 });
    await c.transact('[{:db/ident :u/s :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]');
    await c.transact([{ 'u/s': '😀' }, { 'u/s': '\uFF01z' }, { 'u/s': 'a' }]);
    const query = '[:find [?v ...] :where [_ :u/s ?v] [(< ?v "！")]]';
    expect(explain(query, c.db()).steps.map((s) => s.index)).toContain('avet-range');
    expect(new Set(q(query, c.db()) as string[])).toEqual(new Set(['😀', 'a']));
    expect([...c.db().indexRange(kw('u/s'), null, '！')].map((d) => d.v)).toEqual(['a', '😀']);
  });

  it('format 4: [(< ?v "！")] [(>= ?v "p"×200)] keeps "𐀀" (keyed above U+FF01 in code point order, below it in UTF-16)', async () => {
    const c = await freshConn({ columnDatoms: 0, createFormat: 4 });
    await c.transact('[{:db/ident :typed/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]');
    const long = 'p'.repeat(200);
    await c.transact([
      { 'db/id': 'e0', 'typed/s': '\u{10000}' },
      { 'db/id': 'e1', 'typed/s': long },
    ]);
    const query = '[:find [?v ...] :in $ ?b0 ?b1 :where [?e :typed/s ?v] [(< ?v ?b0)] [(>= ?v ?b1)]]';
    expect(explain(query, c.db(), '\uFF01', long).steps.map((s) => s.index)).toContain('avet-range');
    expect(new Set(q(query, c.db(), '\uFF01', long) as string[])).toEqual(new Set(['\u{10000}', long]));
    expect(new Set([...c.db().indexRange(kw('typed/s'), long, '\uFF01')].map((d) => d.v))).toEqual(new Set(['\u{10000}', long]));
  });

  // values of every kind on one attribute without schema, and on typed ones
  const prefix = 'p'.repeat(200);
  const str = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'b', '\u0000', '\u0003', '\u0005', '\u0006', 'é', '\uD800', '\uDC00', '😀', '\uFF01', '\uFFFF'), maxLength: 5 }),
    fc.string({ unit: fc.constantFrom('a', 'b', '\u0001', '😀', '\uFF01'), maxLength: 4 }).map((s) => prefix + s),
    fc.tuple(fc.constantFrom('', 'a', '\u0002', '😀', '\uFF01', 'z'), fc.nat({ max: 3 })).map(([s, n]) => prefix + s + 'x'.repeat(1100 + n)),
  );
  const num = fc.oneof(
    fc.integer({ min: -5, max: 5 }),
    fc.constantFrom(-0, 0.5, -2.5, Infinity, -Infinity, 2 ** 53, 2 ** 60, -(2 ** 60)),
    fc.constantFrom(3n, -3n, 2n ** 53n, 2n ** 60n + 1n, -(2n ** 70n)),
    fc.double({ min: -10, max: 10, noNaN: true }),
  );
  const other = fc.oneof(
    fc.boolean(),
    fc.integer({ min: 0, max: 3 }).map((n) => new Date(1000 * n)),
    fc.constantFrom('a', 'b/c', 'b.d/a', 'z').map((s) => kw(s)),
  );
  const value = fc.oneof(str, num, other);
  const op = fc.constantFrom('<', '<=', '>', '>=');
  let run = 0;

  // format 4 keys strings in code point order and cannot store lone surrogates: the scans widen
  const storable = (format: number) => (v: unknown) => format >= 5 || typeof v !== 'string' || !/[\uD800-\uDFFF]/.test(v.replace(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g, ''));
  // tuples (issue 22): elements of two types, and bounds that may hold nil or be of any length
  const tupleStr = fc.oneof(fc.string({ unit: fc.constantFrom('A', 'a', 'z', 'é', '😀', '\uFF01', '\uD800'), maxLength: 2 }), fc.constantFrom(prefix + 'x'.repeat(1100)));
  const tupleNum = fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(-0, 0, 1, Infinity));
  const tuple = fc.tuple(tupleStr, tupleNum);
  const tupleBound = fc.oneof(tuple, fc.array(fc.oneof(fc.constant(null), tupleStr, tupleNum), { minLength: 1, maxLength: 3 }));
  it('a tuple range bounded by a tuple equal to a stored one holds it, whichever equal values it holds (format 6)', async () => {
    const c = await freshConn({ columnDatoms: 0, createFormat: 6 });
    await c.transact('[{:db/ident :typed/t :db/valueType :db.type/tuple :db/tupleTypes [:db.type/string :db.type/double] :db/cardinality :db.cardinality/many}]');
    const r = await c.transact([{ 'db/id': 'z', 'typed/t': ['', -0] }]);
    const e = r.tempids['z'];
    const db = c.db();
    const found = (op: string, bound: unknown[]) => (q(`[:find ?e :in $ ?b :where [?e :typed/t ?v] [(${op} ?v ?b)]]`, db, bound) as unknown[][]).map(([x]) => x);
    for (const bound of [
      ['', -0],
      ['', 0],
    ]) {
      expect(found('<=', bound)).toEqual([e]);
      expect(found('>=', bound)).toEqual([e]);
      expect(found('<', bound)).toEqual([]);
      expect(found('>', bound)).toEqual([]);
      expect([...db.indexRange(kw('typed/t'), bound, bound, true)].map((d) => d.e)).toEqual([e]);
      expect([...db.indexRange(kw('typed/t'), bound, bound, false)]).toEqual([]);
    }
  });

  it.each([6, 5, 4])('for random values and bounds, q through AVET and db.indexRange give what filtering every datom gives (format %i)', async (format) => {
    const c = await freshConn({ columnDatoms: 0, createFormat: format });
    await c.transact(
      '[{:db/ident :typed/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many} {:db/ident :typed/d :db/valueType :db.type/double :db/cardinality :db.cardinality/many}]',
    );
    await c.transact('[{:db/ident :typed/t :db/valueType :db.type/tuple :db/tupleTypes [:db.type/string :db.type/double] :db/cardinality :db.cardinality/many}]');
    const cases = [
      { attr: null, values: value },
      { attr: 'typed/s', values: str },
      { attr: 'typed/d', values: fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(-0, Infinity, -Infinity)) },
      { attr: 'typed/t', values: tuple as fc.Arbitrary<unknown>, bounds: tupleBound as fc.Arbitrary<unknown> },
    ];
    for (const { attr: typed, values: gen, bounds: boundGen } of cases) {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(gen.filter(storable(format)), { minLength: 1, maxLength: 12, comparator: (x, y) => compareValues(x, y) === 0 }),
          fc.array(fc.tuple(op, fc.oneof(boundGen ?? (typed ? gen : value), fc.constant(NaN))), { minLength: 1, maxLength: 2 }),
          fc.boolean(),
          async (vs, bounds, inclusive) => {
            const attr = typed ?? `r${run++}/v`;
            const ids = vs.map((_, i) => `e${i}`);
            const r = await c.transact(vs.map((v, i) => ({ 'db/id': ids[i], [attr]: v })));
            const mine = new Set<unknown>(ids.map((id) => r.tempids[id]));
            const db = c.db();
            const all = [...db.datoms('aevt', kw(attr))].filter((d) => mine.has(d.e)).map((d) => d.v);
            const keep = (v: unknown) =>
              bounds.every(([o, b]) => {
                const x = compareValues(v, b);
                return o === '<' ? x < 0 : o === '<=' ? x <= 0 : o === '>' ? x > 0 : x >= 0;
              });
            const expected = all
              .filter(keep)
              .map((v) => valueKey(v))
              .sort();
            const preds = bounds.map(([o], i) => `[(${o} ?v ?b${i})]`).join(' ');
            const query = `[:find ?e ?v :in $ ${bounds.map((_, i) => `?b${i}`).join(' ')} :where [?e :${attr} ?v] ${preds}]`;
            const got = (q(query, db, ...bounds.map(([, b]) => b)) as unknown[][])
              .filter(([e]) => mine.has(e))
              .map(([, v]) => valueKey(v))
              .sort();
            expect(got).toEqual(expected);
            const fits = (b: unknown) => (typed === 'typed/s' ? typeof b === 'string' : typed === 'typed/t' ? Array.isArray(b) : typeof b === 'number');
            if (typed && bounds.some(([, b]) => fits(b))) expect(explain(query, db, ...bounds.map(([, b]) => b)).steps.map((s) => s.index)).toContain('avet-range');
            // db.indexRange: start inclusive, end exclusive (or inclusive)
            const [lo, hi] = [bounds[0]![1], bounds[bounds.length - 1]![1]];
            const inRange = (v: unknown) => compareValues(v, lo) >= 0 && (inclusive ? compareValues(v, hi) <= 0 : compareValues(v, hi) < 0);
            const ranged = [...db.indexRange(kw(attr), lo, hi, inclusive)]
              .filter((d) => mine.has(d.e))
              .map((d) => valueKey(d.v))
              .sort();
            expect(ranged).toEqual(
              all
                .filter(inRange)
                .map((v) => valueKey(v))
                .sort(),
            );
            if (format >= 6 && typed === 'typed/t') {
              // in the query's order (a tuple over 1 KB printed comes after the others)
              const inOrder = [...db.indexRange(kw(attr), lo, hi, inclusive)].map((d) => d.v).filter((v) => !(v as string[])[0]!.startsWith(prefix));
              expect(inOrder).toEqual([...inOrder].sort(compareValues));
            }
            if (typed) await c.transact([...mine].map((e) => [':db/retractEntity', e]));
          },
        ),
        { numRuns: 40 },
      );
    }
  });

  // the string bounds alone, where key order and UTF-16 order part: astral characters against
  // U+E000..U+FFFF (format 4 keys by code point), a shared 200-character prefix, values over 1 KB
  const rangeStr = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'p', '\u0003', '\u0005', '\uD7FF', '\uD800', '\uE000', '\uFF01', '\uFFFF', '\u{10000}', '😀'), maxLength: 4 }),
    fc.string({ unit: fc.constantFrom('a', 'p', '\u0001', '\uE000', '\uFF01', '\u{10000}'), maxLength: 3 }).map((s) => prefix.slice(1) + s),
    fc.tuple(fc.constantFrom('', 'q', '\uFF01', '\u{10000}'), fc.nat({ max: 2 })).map(([s, n]) => prefix + s + 'x'.repeat(1100 + n)),
  );
  it.each([5, 4])('for random strings and string bounds, q through AVET and db.indexRange give what filtering gives (format %i)', async (format) => {
    const c = await freshConn({ columnDatoms: 0, createFormat: format });
    await c.transact('[{:db/ident :typed/s :db/valueType :db.type/string :db/cardinality :db.cardinality/many}]');
    const gen = rangeStr.filter(storable(format));
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(gen, { minLength: 1, maxLength: 8 }), fc.array(fc.tuple(op, gen), { minLength: 1, maxLength: 2 }), fc.boolean(), async (vs, bounds, inclusive) => {
        const r = await c.transact(vs.map((v, i) => ({ 'db/id': `e${i}`, 'typed/s': v })));
        const mine = new Set<unknown>(vs.map((_, i) => r.tempids[`e${i}`]));
        const db = c.db();
        const keep = (v: string) =>
          bounds.every(([o, b]) => {
            const x = compareValues(v, b);
            return o === '<' ? x < 0 : o === '<=' ? x <= 0 : o === '>' ? x > 0 : x >= 0;
          });
        const query = `[:find ?e ?v :in $ ${bounds.map((_, i) => `?b${i}`).join(' ')} :where [?e :typed/s ?v] ${bounds.map(([o], i) => `[(${o} ?v ?b${i})]`).join(' ')}]`;
        const got = (q(query, db, ...bounds.map(([, b]) => b)) as [number, string][])
          .filter(([e]) => mine.has(e))
          .map(([, v]) => v)
          .sort();
        expect(got).toEqual(vs.filter(keep).sort());
        const [lo, hi] = [bounds[0]![1], bounds[bounds.length - 1]![1]];
        const inRange = (v: string) => compareValues(v, lo) >= 0 && (inclusive ? compareValues(v, hi) <= 0 : compareValues(v, hi) < 0);
        const ranged = [...db.indexRange(kw('typed/s'), lo, hi, inclusive)]
          .filter((d) => mine.has(d.e))
          .map((d) => d.v as string)
          .sort();
        expect(ranged).toEqual(vs.filter(inRange).sort());
        await c.transact([...mine].map((e) => [':db/retractEntity', e]));
      }),
      { numRuns: 200 },
    );
  });
});
