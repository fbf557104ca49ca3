import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { open, type Connection, Keyword, Uuid } from '../src/index.js';
import { q, FUNCTIONS, AGGREGATES, compareValues, valueKey } from '../src/query/index.js';

let dir: string;
let conn: Connection;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'factlog-bi-'));
  conn = await open({ path: join(dir, 'db') });
  await conn.transact('[{:db/ident :x/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
  await conn.transact('[{:x/n 1} {:x/n 2} {:x/n 3} {:x/n 4}]');
});

afterAll(async () => {
  await conn?.close();
  rmSync(dir, { recursive: true, force: true });
});

const call = (name: string, ...args: unknown[]) => FUNCTIONS[name]!(args, { q: () => null });
const fn = (expr: string) => q(`[:find ?r . :where [${expr} ?r]]`, conn.db());

describe('functions through queries', () => {
  it('arithmetic', () => {
    expect(fn('(+ 1 2 3)')).toBe(6);
    expect(fn('(- 10 4)')).toBe(6);
    expect(fn('(* 2 3 4)')).toBe(24);
    expect(fn('(/ 9 2)')).toBe(4.5);
    expect(fn('(quot -7 2)')).toBe(-3);
    expect(fn('(rem -7 2)')).toBe(-1);
    expect(fn('(mod -7 2)')).toBe(1);
    expect(fn('(inc 41)')).toBe(42);
    expect(fn('(dec 43)')).toBe(42);
    expect(fn('(max 3 9 2)')).toBe(9);
    expect(fn('(min 3 9 2)')).toBe(2);
  });
  it('strings and regexes', () => {
    expect(fn('(str "a" 1 :k nil)')).toBe('a1:k');
    expect(fn('(subs "hello" 1 3)')).toBe('el');
    expect(q('[:find ?r . :where [(re-pattern "l+") ?p] [(re-find ?p "hello") ?r]]', conn.db())).toBe('ll');
    expect(q('[:find ?r . :where [(re-pattern "(h)(e)") ?p] [(re-matches ?p "he") ?r]]', conn.db())).toEqual(['he', 'h', 'e']);
    expect(fn('(clojure.string/upper-case "abc")')).toBe('ABC');
    expect(fn('(lower-case "ABC")')).toBe('abc');
    expect(q('[:find ?x . :where [(ground "abc") ?x] [(clojure.string/includes? ?x "b")] [(ends-with? ?x "c")] [(starts-with? ?x "a")]]', conn.db())).toBe('abc');
    expect(q('[:find ?x . :where [(ground "  ") ?x] [(clojure.string/blank? ?x)]]', conn.db())).toBe('  ');
  });
  it('predicates', () => {
    const nums = (pred: string) => q<number[]>(`[:find [?n ...] :where [_ :x/n ?n] [(${pred} ?n)]]`, conn.db()).sort();
    expect(nums('even?')).toEqual([2, 4]);
    expect(nums('odd?')).toEqual([1, 3]);
    expect(nums('pos?')).toEqual([1, 2, 3, 4]);
    expect(nums('zero?')).toEqual([]);
    expect(nums('neg?')).toEqual([]);
    expect(nums('some?')).toEqual([1, 2, 3, 4]);
    expect(q<number[]>('[:find [?n ...] :where [_ :x/n ?n] [(not= ?n 2)] [(!= ?n 3)]]', conn.db()).sort()).toEqual([1, 4]);
    expect(q<number[]>('[:find [?n ...] :where [_ :x/n ?n] [(< 1 ?n 4)]]', conn.db()).sort()).toEqual([2, 3]);
  });
  it('count, identity, vector, type, nil?', () => {
    expect(fn('(count "abcd")')).toBe(4);
    expect(fn('(identity 7)')).toBe(7);
    expect(fn('(vector 1 2)')).toEqual([1, 2]);
    expect(fn('(list 1 2)')).toEqual([1, 2]);
    expect(fn('(type "x")')).toBe('string');
    expect(call('nil?', null)).toBe(true);
  });
  it('get-else, missing?', () => {
    const db = conn.db();
    expect(q<number[]>('[:find [?v ...] :where [?e :x/n ?n] [(get-else $ ?e :x/n 0) ?v]]', db).sort()).toEqual([1, 2, 3, 4]);
    expect(q('[:find (count ?e) . :where [?e :x/n] [(missing? $ ?e :db/ident)]]', db)).toBe(4);
  });
});

describe('bigint arithmetic promotes as Clojure does', () => {
  const big = 9007199254740993n; // 2^53 + 1: not a double
  const calc = (expr: string, v: unknown) => q(`[:find ?r . :in ?v :where [${expr} ?r]]`, v);
  it('a bigint with an integral number stays an exact bigint', () => {
    expect(calc('(inc ?v)', big)).toBe(big + 1n);
    expect(calc('(dec ?v)', big)).toBe(big - 1n);
    expect(calc('(+ ?v 1)', big)).toBe(big + 1n);
    expect(calc('(+ 1 ?v 2)', big)).toBe(big + 3n);
    expect(calc('(- ?v 2)', big)).toBe(big - 2n);
    expect(calc('(* ?v 2)', big)).toBe(big * 2n);
    expect(calc('(quot ?v 2)', big)).toBe(big / 2n);
    expect(calc('(rem ?v 2)', big)).toBe(1n);
    expect(calc('(mod ?v -2)', big)).toBe(-1n);
    expect(fn('(inc 1N)')).toBe(2n);
    expect(fn('(dec 1N)')).toBe(0n);
  });
  it('a non-integral number makes the result a double; / stays exact only when it divides', () => {
    expect(calc('(+ ?v 0.5)', 1n)).toBe(1.5);
    expect(calc('(* ?v 1.5)', 2n)).toBe(3);
    expect(typeof calc('(* ?v 1.5)', 2n)).toBe('number');
    expect(calc('(/ ?v 2)', big + 1n)).toBe((big + 1n) / 2n);
    expect(calc('(/ ?v 2)', 3n)).toBe(1.5);
    expect(calc('(/ ?v 0)', 3n)).toBe(Infinity);
    expect(fn('(+ 1 2)')).toBe(3);
  });
  it('sum keeps bigints exact and turns to a double on a double', () => {
    expect(AGGREGATES.sum!([], [big, 1])).toBe(big + 1n);
    expect(AGGREGATES.sum!([], [1, big, 2n])).toBe(big + 3n);
    expect(AGGREGATES.sum!([], [big, 0.5])).toBe(Number(big) + 0.5);
    expect(AGGREGATES.sum!([], [1, 2])).toBe(3);
    expect(AGGREGATES.sum!([], [])).toBe(0);
    expect(q('[:find (sum ?v) . :in [?v ...]]', [big, 1])).toBe(big + 1n);
  });
});

describe('built-ins DataScript has and Datomic resolves from clojure.core', () => {
  const db = () => conn.db();
  it('rand-int, rand and range', () => {
    expect(fn('(rand-int 1)')).toBe(0);
    const r = fn('(rand 2)') as number;
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(2);
    expect(fn('(rand)')).toBeLessThan(1);
    expect(q<number[]>('[:find [?x ...] :where [(range 4) [?x ...]]]', db()).sort()).toEqual([0, 1, 2, 3]);
    expect(fn('(range 1 7 2)')).toEqual([1, 3, 5]);
    expect(fn('(range 5 1 -2)')).toEqual([5, 3]);
    expect(fn('(range 3 3)')).toEqual([]);
    expect(() => fn('(range)')).toThrowError(expect.objectContaining({ code: 'query/invalid-argument' }));
    expect(() => fn('(range 0 5 0)')).toThrowError(/infinite/);
    expect(() => fn('(range 1e12)')).toThrowError(/more than 10000000/);
    expect(() => fn('(rand-int)')).toThrowError(expect.objectContaining({ code: 'query/invalid-argument' }));
  });
  it('empty?, not-empty, get, set, hash-map, identical?', () => {
    expect(fn('(empty? [])')).toBe(true);
    expect(fn('(empty? "a")')).toBe(false);
    expect(call('empty?', null)).toBe(true);
    expect(fn('(not-empty [1])')).toEqual([1]);
    expect(call('not-empty', [])).toBe(null);
    expect(fn('(get {:a 1} :a)')).toBe(1);
    expect(fn('(get {:a 1} :b 9)')).toBe(9);
    expect(call('get', new Map([[Keyword.of('a'), null]]), Keyword.of('a'), 9)).toBe(null);
    expect(fn('(get [5 6] 1)')).toBe(6);
    expect(fn('(get #{1 2} 2)')).toBe(2);
    expect(call('get', new Set([1]), 3)).toBe(null);
    expect(q('[:find ?r . :in ?m :where [(get ?m :p/name) ?r]]', { 'p/name': 'Ann' })).toBe('Ann');
    expect(call('get', { a: 1 }, 'a')).toBe(1);
    expect(fn('(set [1 1 2])')).toEqual(new Set([1, 2]));
    expect(fn('(hash-map :a 1 :b 2)')).toEqual(
      new Map([
        [Keyword.of('a'), 1],
        [Keyword.of('b'), 2],
      ]),
    );
    expect(() => fn('(hash-map :a)')).toThrowError(/pairs/);
    expect(fn('(identical? 1 1)')).toBe(true);
    expect(call('identical?', [1], [1])).toBe(false);
  });
  it('re-seq and the printing functions', () => {
    expect(q('[:find ?r . :where [(re-pattern "[0-9]") ?p] [(re-seq ?p "a1b2") ?r]]', db())).toEqual(['1', '2']);
    expect(q('[:find ?r . :where [(re-pattern "([a-z])([0-9])") ?p] [(re-seq ?p "a1b2") ?r]]', db())).toEqual([
      ['a1', 'a', '1'],
      ['b2', 'b', '2'],
    ]);
    expect(call('re-seq', 'x', 'abc')).toBe(null);
    expect(fn('(print-str "a" nil [1 "b"] :k)')).toBe('a nil [1 b] :k');
    expect(fn('(println-str "a" 1)')).toBe('a 1\n');
    expect(fn('(prn-str "a" 1)')).toBe('"a" 1\n');
  });
  it('-differ?, and, or (function names in [( ... )])', () => {
    expect(fn('(-differ? 1 2 1 2)')).toBe(false);
    expect(fn('(-differ? 1 2 1 3)')).toBe(true);
    expect(fn('(and true 1)')).toBe(1);
    expect(fn('(and 1 false 2)')).toBe(false);
    expect(call('and')).toBe(true);
    expect(fn('(or nil 1)')).toBe(1);
    expect(fn('(or nil false)')).toBe(false);
    expect(call('or')).toBe(null);
    expect(q<number[]>('[:find [?n ...] :where [_ :x/n ?n] [(even? ?n) ?e] [(> ?n 2) ?g] [(and ?e ?g)]]', db())).toEqual([4]);
    expect(q<number[]>('[:find [?n ...] :where [_ :x/n ?n] [(= ?n 1) ?a] [(= ?n 4) ?b] [(or ?a ?b)]]', db()).sort()).toEqual([1, 4]);
  });
});

describe('comparison across types', () => {
  it('orders numbers, strings, dates, keywords naturally', () => {
    expect(call('<', 1, 2n, 3.5)).toBe(true);
    expect(call('<', 'a', 'b')).toBe(true);
    expect(call('<', new Date(1), new Date(2))).toBe(true);
    expect(call('<', Keyword.of('a/b'), Keyword.of('a/c'))).toBe(true);
    expect(call('=', 1, 1n)).toBe(true);
    expect(call('=', new Uuid('AB'), new Uuid('ab'))).toBe(true);
    expect(call('=', new Date(5), new Date(5))).toBe(true);
  });
  it('compareValues is a total order consistent with valueKey equality', () => {
    const arb = fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constantFrom(Keyword.of('a'), Keyword.of('b/c')), fc.date({ noInvalidDate: true }));
    fc.assert(
      fc.property(arb, arb, arb, (a, b, c) => {
        expect(Math.sign(compareValues(a, b))).toBe(-Math.sign(compareValues(b, a)) || 0);
        if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0) expect(compareValues(a, c)).toBeLessThanOrEqual(0);
        expect(compareValues(a, b) === 0).toBe(valueKey(a) === valueKey(b));
      }),
    );
  });
});

describe('aggregates table', () => {
  it('computes each aggregate', () => {
    const vs = [3, 1, 2, 2];
    expect(AGGREGATES.count!([], vs)).toBe(4);
    expect(AGGREGATES['count-distinct']!([], vs)).toBe(3);
    expect(AGGREGATES.sum!([], vs)).toBe(8);
    expect(AGGREGATES.avg!([], vs)).toBe(2);
    expect(AGGREGATES.median!([], vs)).toBe(2);
    expect(AGGREGATES.variance!([], vs)).toBe(0.5);
    expect(AGGREGATES.stddev!([], vs)).toBeCloseTo(Math.sqrt(0.5));
    expect(AGGREGATES.min!([], vs)).toBe(1);
    expect(AGGREGATES.max!([2], vs)).toEqual([3, 2]);
    // the n least / greatest of the bag, duplicates kept
    expect(AGGREGATES.min!([3], vs)).toEqual([1, 2, 2]);
    expect(AGGREGATES.max!([3], [30, 40, 40])).toEqual([40, 40, 30]);
    expect(AGGREGATES.distinct!([], vs)).toEqual(new Set([1, 2, 3]));
    expect(vs).toContain(AGGREGATES.rand!([], vs));
    expect(new Set(AGGREGATES.sample!([5], vs) as number[]).size).toBe(3);
  });
  it('adding a built-in is one table entry', () => {
    FUNCTIONS['twice'] = (a) => (a[0] as number) * 2;
    try {
      expect(fn('(twice 21)')).toBe(42);
    } finally {
      delete FUNCTIONS['twice'];
    }
  });
});

describe('regexes match in linear time (RE2)', () => {
  const timedFind = (n: number) => {
    const t0 = performance.now();
    const r = q('[:find ?m . :in ?s :where [(re-pattern "(a|aa)+$") ?p] [(re-find ?p ?s) ?m]]', 'a'.repeat(n) + 'b');
    return { r, ms: performance.now() - t0 };
  };

  it('a pattern that backtracks exponentially answers at once: (a|aa)+$ on 36 a and a b', () => {
    const { r, ms } = timedFind(36);
    expect(r).toBe(null);
    expect(ms).toBeLessThan(1000);
  });

  it('and on 100,000 a and a b, through re-find, re-matches, re-seq and split', () => {
    const long = 'a'.repeat(100_000) + 'b';
    const t0 = performance.now();
    expect(timedFind(100_000).r).toBe(null);
    expect(q('[:find ?m . :in ?s :where [(re-matches "(a|aa)+" ?s) ?m]]', long)).toBe(null);
    expect(q('[:find ?m . :in ?s :where [(re-seq "(a|aa)+$" ?s) ?m]]', long)).toBe(null);
    expect(q('[:find ?m . :in ?s :where [(clojure.string/split ?s "(a|aa)+$") ?m]]', long)).toEqual([long]);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });

  it("follows Java's syntax where RE2 has it: inline flags, Java's split dropping trailing empty strings", () => {
    expect(fn('(re-find "(?i)ABC" "xabcx")')).toBe('abc');
    expect(q('[:find ?m . :where [(re-pattern "(?i)b+") ?p] [(re-find ?p "aBbc") ?m]]', conn.db())).toBe('Bb');
    expect(fn('(clojure.string/split "a,b,,c,," ",")')).toEqual(['a', 'b', '', 'c']);
    expect(fn('(re-seq "a*" "baaac")')).toEqual(['', 'aaa', '', '']);
    expect(fn('(re-matches "(a)|(b)" "b")')).toEqual(['b', null, 'b']);
    // a JS RegExp given as an input is matched by RE2 too, with its flags
    expect(q('[:find ?m . :in ?p :where [(re-find ?p "xABC") ?m]]', /abc/i)).toBe('ABC');
  });

  it('refuses what RE2 cannot match in linear time, and bad syntax, with codes', () => {
    const code = (expr: string) => {
      try {
        fn(expr);
      } catch (e) {
        return [(e as { code: string }).code, (e as Error).message];
      }
      return ['none', ''];
    };
    const [backref, why] = code('(re-find "(a)\\\\1" "aa")');
    expect(backref).toBe('query/unsupported-regex');
    expect(why).toMatch(/backreference/);
    expect(code('(re-pattern "a(?=b)")')[0]).toBe('query/unsupported-regex');
    expect(code('(re-find "a(?<!b)" "a")')[0]).toBe('query/unsupported-regex');
    expect(code('(re-find "(" "a")')[0]).toBe('query/invalid-regex');
  });

  it('finds what a backtracking engine finds (the whole match) on simple patterns', () => {
    const atom = fc.constantFrom('a', 'b', '.', '[ab]', '[^a]', '(a|ab)', '(ab|a)', '(b)', '(a?)', '\\w');
    const quant = fc.constantFrom('', '*', '+', '?', '{1,2}', '*?', '+?');
    const pattern = fc
      .array(
        fc.tuple(atom, quant).map(([a, k]) => a + k),
        { minLength: 1, maxLength: 4 },
      )
      .map((xs) => xs.join(''));
    const input = fc.stringMatching(/^[abc]{0,8}$/);
    fc.assert(
      fc.property(pattern, fc.boolean(), input, (p, anchored, s) => {
        const src = (anchored ? '^' : '') + p;
        const js = s.match(new RegExp(src));
        const got = call('re-find', src, s);
        const whole = Array.isArray(got) ? got[0] : got;
        expect(whole).toBe(js ? js[0] : null);
      }),
      { numRuns: 300 },
    );
  });
});

describe("Datomic's log functions: tx-ids and tx-data", () => {
  it('tx-ids gives the tx ids of [from, to) by t, tx id or Date, nil leaving an end open', async () => {
    const a = await conn.transact('[{:x/n 10}]');
    const b = await conn.transact('[{:x/n 11} {:x/n 12}]');
    const c = await conn.transact('[{:x/n 13}]');
    const log = conn.log();
    const ids = (from: unknown, to: unknown) => q<number[]>('[:find [?tx ...] :in ?log ?from ?to :where [(tx-ids ?log ?from ?to) [?tx ...]]]', log, from, to).sort((x, y) => x - y);
    expect(ids(a.t, c.t)).toEqual([a.tx, b.tx]);
    expect(ids(a.tx, c.tx)).toEqual([a.tx, b.tx]);
    expect(ids(b.t, null)).toEqual([b.tx, c.tx]);
    expect(ids(null, null)).toEqual([...log.txRange()].map((tx) => tx.tx));
    expect(ids(b.dbAfter.entity(b.tx)!.get(':db/txInstant'), null)).toEqual([b.tx, c.tx]);
  });

  it('tx-data gives a transaction datoms as [e a v tx added], for a tx id or a t', async () => {
    const r = await conn.transact('[{:db/id "n" :x/n 20}]');
    const n = r.tempids.n!;
    await conn.transact(`[[:db/retract ${n} :x/n 20] [:db/add ${n} :x/n 21]]`);
    const log = conn.log();
    const changes = q<unknown[][]>(`[:find ?attr ?v ?added :in $ ?log ?t :where [(tx-data ?log ?t) [[?e ?a ?v _ ?added]]] [(= ?e ${n})] [?a :db/ident ?attr]]`, conn.db(), log, r.t + 1);
    expect(changes.map(([a, v, added]) => [String(a), v, added]).sort()).toEqual([
      [':x/n', 20, false],
      [':x/n', 21, true],
    ]);
    const byTx = q<unknown[][]>('[:find ?e ?a ?v ?tx ?added :in ?log ?tx :where [(tx-data ?log ?tx) [[?e ?a ?v ?tx ?added]]]]', log, r.tx);
    expect(byTx.length).toBe(2); // :x/n 20 and the tx's :db/txInstant
    expect(byTx.every((d) => d[3] === r.tx && d[4] === true)).toBe(true);
    // every datom of every transaction in a range, as Datomic's idiom joins the two
    const perTx = q<unknown[][]>('[:find ?tx (count ?e) :in ?log ?from :where [(tx-ids ?log ?from nil) [?tx ...]] [(tx-data ?log ?tx) [[?e _ _ _ ?added]]] [(true? ?added)]]', log, r.t);
    expect(perTx.map(([, count]) => count).sort()).toEqual([2, 2]);
    expect(q('[:find ?e . :in ?log :where [(tx-data ?log 999999) [[?e]]]]', log)).toBe(null);
  });

  it('a log function without the log is a query error', () => {
    expect(() => q('[:find ?tx :in $ :where [(tx-ids $ 1 2) [?tx ...]]]', conn.db())).toThrow(/tx-ids expects the log/);
    expect(() => q('[:find ?e :in ?log :where [(tx-data ?log "x") [[?e]]]]', conn.log())).toThrow(/tx-data expects a tx id or a t/);
  });
});
