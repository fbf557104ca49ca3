import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  EdnList,
  FactlogError,
  Keyword,
  QueryParseError,
  Sym,
  parseQuery,
  parseRules,
  clearParseCaches,
  printEdn,
  readEdn,
  validateRuleCalls,
  type Clause,
  type Query,
} from '../query-lang/index.js';

function q(text: string): Query {
  return parseQuery(text);
}

function fails(f: () => unknown, code: string, line?: number, column?: number, msg?: string): FactlogError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FactlogError);
    const fe = e as FactlogError;
    expect(fe.code).toBe(code);
    if (line !== undefined) expect(fe.pos).toMatchObject({ line, column });
    if (msg) expect(fe.message).toContain(msg);
    return fe;
  }
  throw new Error('expected failure ' + code);
}

const v = (name: string) => expect.objectContaining({ kind: 'var', name });
const c = (value: unknown) => expect.objectContaining({ kind: 'const', value });

describe('find specs', () => {
  it('relation, scalar, collection, tuple', () => {
    expect(q('[:find ?e ?n :where [?e :name ?n]]').find).toEqual({ kind: 'find-rel', elements: [v('?e'), v('?n')] });
    expect(q('[:find ?e . :where [?e :name]]').find).toEqual({ kind: 'find-scalar', element: v('?e') });
    expect(q('[:find [?e ...] :where [?e :name]]').find).toEqual({ kind: 'find-coll', element: v('?e') });
    expect(q('[:find [?e ?n] :where [?e :name ?n]]').find).toEqual({ kind: 'find-tuple', elements: [v('?e'), v('?n')] });
  });
  it('aggregates', () => {
    const f = q('[:find (count ?e) (min 3 ?n) (sum ?n) (?agg ?n) (count-distinct ?e) :in $ ?agg :where [?e :n ?n]]').find;
    expect(f.kind).toBe('find-rel');
    if (f.kind !== 'find-rel') return;
    expect(f.elements[0]).toMatchObject({ kind: 'aggregate', fn: { kind: 'fn-name', name: 'count' }, args: [v('?e')] });
    expect(f.elements[1]).toMatchObject({ kind: 'aggregate', fn: { name: 'min' }, args: [c(3), v('?n')] });
    expect(f.elements[2]).toMatchObject({ kind: 'aggregate', fn: { name: 'sum' } });
    expect(f.elements[3]).toMatchObject({ kind: 'aggregate', fn: { kind: 'var', name: '?agg' } });
    expect(f.elements[4]).toMatchObject({ kind: 'aggregate', fn: { name: 'count-distinct' } });
  });
  it('pull expressions', () => {
    const f = q('[:find (pull ?e [:name]) (pull $h ?e [*]) (pull ?e ?p) :in $ $h ?p :where [?e :name]]').find;
    if (f.kind !== 'find-rel') throw new Error();
    expect(f.elements[0]).toMatchObject({ kind: 'pull', variable: v('?e'), pattern: { kind: 'pull-pattern', elements: [{ kind: 'pull-attr', attr: 'name' }] } });
    expect(f.elements[0]).not.toHaveProperty('src');
    expect(f.elements[1]).toMatchObject({ kind: 'pull', src: { kind: 'src', name: '$h' }, pattern: { elements: [{ kind: 'wildcard' }] } });
    expect(f.elements[2]).toMatchObject({ kind: 'pull', pattern: { kind: 'var', name: '?p' } });
    expect(q('[:find (pull ?e [:a]) . :where [?e :a]]').find.kind).toBe('find-scalar');
  });
  it(':keys, :strs, :syms and :with', () => {
    expect(q('[:find ?e ?n :keys e name :where [?e :name ?n]]').returnMap).toEqual({ kind: 'keys', names: ['e', 'name'] });
    expect(q('[:find ?e :strs e :where [?e :name]]').returnMap).toEqual({ kind: 'strs', names: ['e'] });
    expect(q('[:find [?e ?n] :syms e n :where [?e :name ?n]]').returnMap).toEqual({ kind: 'syms', names: ['e', 'n'] });
    const w = q('[:find (sum ?h) :with ?e :where [?e :h ?h]]');
    expect(w.with).toEqual([v('?e')]);
    expect(q('[:find ?e :where [?e :a]]').returnMap).toBeUndefined();
  });
  it('find errors', () => {
    fails(() => q('[:find ?e ?n . :where [?e :a ?n]]'), 'query/invalid-find', 1, 14);
    fails(() => q('[:find [?e ?n ...] :where [?e :a ?n]]'), 'query/invalid-find', 1, 15);
    fails(() => q('[:where [?e :a]]'), 'query/invalid-find', 1, 1, ':find');
    fails(() => q('[:find ?e ?n :keys a :where [?e :a ?n]]'), 'query/invalid-find', 1, 14, 'expected 2 name(s)');
    fails(() => q('[:find ?e . :keys a :where [?e :a]]'), 'query/invalid-find');
    fails(() => q('[:find (count 3) :where [?e :a]]'), 'query/invalid-find');
    fails(() => q('[:find ?e :find ?e :where [?e :a]]'), 'query/syntax', 1, 11);
    fails(() => q('[:find :where [?e :a]]'), 'query/syntax', 1, 8);
  });
});

describe('pull pattern names (Datomic pattern-name)', () => {
  it('a plain symbol in :in names a pull pattern used by (pull ?e name)', () => {
    const query = q('[:find (pull ?e pat) :in $ pat :where [?e :name]]');
    expect(query.in).toEqual([expect.objectContaining({ kind: 'src', name: '$' }), expect.objectContaining({ kind: 'pattern-name', name: 'pat' })]);
    expect(query.find).toMatchObject({ kind: 'find-rel', elements: [{ kind: 'pull', variable: v('?e'), pattern: { kind: 'pattern-name', name: 'pat' } }] });
    expect(parseQuery({ find: [['pull', '?e', 'pat']], in: ['$', 'pat'], where: [['?e', ':name']] }).text).toBe(printEdn(readEdn('{:find [(pull ?e pat)] :in [$ pat] :where [[?e :name]]}')));
  });
  it('a pattern name must be declared in :in, once, and only at its top level', () => {
    fails(() => q('[:find (pull ?e pat) :where [?e :name]]'), 'query/unbound-variable', 1, 17, 'pat');
    fails(() => q('[:find (pull ?e pat) :in $ pat pat :where [?e :name]]'), 'query/syntax', 1, 32, 'pat twice');
    fails(() => q('[:find ?e :in $ [pat ...] :where [?e :name]]'), 'query/invalid-binding', 1, 18, 'pull pattern');
    fails(() => q('[:find ?x :where [(str 1) x]]'), 'query/invalid-binding', 1, 27);
  });
});

describe(':in bindings', () => {
  it('defaults to [$]', () => {
    expect(q('[:find ?e :where [?e :a]]').in).toEqual([{ kind: 'src', name: '$' }]);
  });
  it('parses every binding form', () => {
    const b = q('[:find ?a :in $ $h % ?x _ [?t1 ?t2] [?c ...] [[?r1 ?r2]] :where [?a :x ?x]]').in;
    expect(b).toEqual([
      expect.objectContaining({ kind: 'src', name: '$' }),
      expect.objectContaining({ kind: 'src', name: '$h' }),
      { kind: 'rules-var', name: '%' },
      v('?x'),
      expect.objectContaining({ kind: 'blank' }),
      { kind: 'bind-tuple', elements: [v('?t1'), v('?t2')] },
      { kind: 'bind-coll', element: v('?c') },
      { kind: 'bind-rel', elements: [v('?r1'), v('?r2')] },
    ]);
  });
  it('in-only queries', () => {
    expect(q('[:find ?x :in ?x]').where).toEqual([]);
  });
  it('rejects sources inside tuples and duplicate names', () => {
    fails(() => q('[:find ?a :in [$ ?a]]'), 'query/invalid-binding', 1, 16);
    fails(() => q('[:find ?a :in $ ?a ?a]'), 'query/syntax', 1, 20);
  });
});

describe(':where clauses', () => {
  const where = (text: string): Clause[] => q(text).where;
  it('data patterns', () => {
    const [p1, p2, p3] = where('[:find ?e :in $ $h :where [?e :a ?v] [$h ?e :a/b ?v ?tx ?added] [?e :ref [:id "x"] _]]');
    expect(p1).toMatchObject({ kind: 'pattern', terms: [v('?e'), c(Keyword.of('a')), v('?v')] });
    expect(p1).not.toHaveProperty('src');
    expect(p2).toMatchObject({ kind: 'pattern', src: { name: '$h' }, terms: [v('?e'), c(Keyword.of('a/b')), v('?v'), v('?tx'), v('?added')] });
    expect(p3).toMatchObject({ terms: [v('?e'), c(Keyword.of('ref')), c([Keyword.of('id'), 'x']), { kind: 'blank' }] });
    expect(where('[:find ?e :where [?e]]')[0]).toMatchObject({ terms: [v('?e')] });
    expect(where('[:find ?e :where [?e :a nil] [?e :b 1.5M] [?e :c #inst "2020-01-01"]]')).toHaveLength(3);
    fails(() => q('[:find ?e :where [?e :a ?v ?t ?x ?y]]'), 'query/syntax', 1, 18, 'at most 5');
  });
  it('predicates and functions with binding forms', () => {
    const cs = where(
      '[:find ?a ?b :in $ ?f :where [?a :x ?x] [(< ?x 10)] [(str ?x "s") ?b] [(vector ?x ?x) [?t1 ?t2]] [(range ?x) [?c ...]] [(rel ?x) [[?r1 _]]] [(?f ?x) ?y] [(clojure.string/includes? ?b "s")] [(ground [1 2]) [?g ...]] [(get-else $ ?a :n "none") ?gn]]',
    );
    expect(cs[1]).toMatchObject({ kind: 'predicate', fn: { kind: 'fn-name', name: '<' }, args: [v('?x'), c(10)] });
    expect(cs[2]).toMatchObject({ kind: 'function', fn: { name: 'str' }, args: [v('?x'), c('s')], binding: v('?b') });
    expect(cs[3]).toMatchObject({ binding: { kind: 'bind-tuple', elements: [v('?t1'), v('?t2')] } });
    expect(cs[4]).toMatchObject({ binding: { kind: 'bind-coll', element: v('?c') } });
    expect(cs[5]).toMatchObject({ binding: { kind: 'bind-rel', elements: [v('?r1'), { kind: 'blank' }] } });
    expect(cs[6]).toMatchObject({ kind: 'function', fn: { kind: 'var', name: '?f' } });
    expect(cs[7]).toMatchObject({ kind: 'predicate', fn: { name: 'clojure.string/includes?' } });
    expect(cs[8]).toMatchObject({ args: [c([1, 2])] });
    expect(cs[9]).toMatchObject({ args: [{ kind: 'src', name: '$' }, v('?a'), c(Keyword.of('n')), c('none')] });
  });
  it('and, or and not are function names inside [( ... )]', () => {
    const cs = where('[:find ?c :in ?a ?b :where [(and ?a ?b) ?c] [(or ?a ?b)] [(not ?c)]]');
    expect(cs[0]).toMatchObject({ kind: 'function', fn: { kind: 'fn-name', name: 'and' }, args: [v('?a'), v('?b')], binding: v('?c') });
    expect(cs[1]).toMatchObject({ kind: 'predicate', fn: { kind: 'fn-name', name: 'or' } });
    expect(cs[2]).toMatchObject({ kind: 'predicate', fn: { kind: 'fn-name', name: 'not' } });
  });
  it('not and not-join', () => {
    const cs = where('[:find ?e :where [?e :a ?x] (not [?e :b 1]) (not-join [?e] [?e :c ?y] [?y :d 2]) ($ not [?e :z])]');
    expect(cs[1]).toMatchObject({ kind: 'not', clauses: [{ kind: 'pattern' }] });
    expect(cs[1]).not.toHaveProperty('joinVars');
    expect(cs[2]).toMatchObject({ kind: 'not', joinVars: [v('?e')], clauses: [{ kind: 'pattern' }, { kind: 'pattern' }] });
    expect(cs[3]).toMatchObject({ kind: 'not', src: { name: '$' } });
  });
  it('or, or-join and and', () => {
    const cs = where(
      '[:find ?e :where [?e :a ?x] (or [?e :b ?z] (and [?e :c ?z] [(pos? ?z)] [?e :d ?z]) [?e :b ?z]) (or-join [?e] [?e :k ?q] [?e :j]) (or-join [[?e] ?x] [?e :m ?x] (and [?e :n ?x] [?x :o ?p])) ($ or [?e :s] [?e :t])]',
    );
    expect(cs[1]).toMatchObject({ kind: 'or', branches: [[{ kind: 'pattern' }], [{ kind: 'pattern' }, { kind: 'predicate' }, { kind: 'pattern' }], [{ kind: 'pattern' }]] });
    expect(cs[1]).not.toHaveProperty('joinVars');
    expect(cs[2]).toMatchObject({ kind: 'or', joinVars: { required: [], free: [v('?e')] }, branches: [[{ kind: 'pattern' }], [{ kind: 'pattern' }]] });
    expect(cs[3]).toMatchObject({ kind: 'or', joinVars: { required: [v('?e')], free: [v('?x')] }, branches: [[{}], [{}, {}]] });
    expect(cs[4]).toMatchObject({ kind: 'or', src: { name: '$' } });
  });
  it('rule calls', () => {
    const cs = where('[:find ?a :in $ % :where [?a :x ?b] (anc ?a ?b) ($ anc ?a "x") (anc ?a _)]');
    expect(cs[1]).toMatchObject({ kind: 'rule-call', name: 'anc', args: [v('?a'), v('?b')] });
    expect(cs[2]).toMatchObject({ kind: 'rule-call', src: { name: '$' }, args: [v('?a'), c('x')] });
    expect(cs[3]).toMatchObject({ args: [v('?a'), { kind: 'blank' }] });
  });
});

describe('map form and EDN data input', () => {
  it('parses the map form', () => {
    const m = q('{:find [?e ?n] :in [$ ?x] :where [[?e :name ?n] [?e :x ?x]] :with [?w] :keys [e n]}'.replace(':with [?w] ', ''));
    expect(m.find).toEqual({ kind: 'find-rel', elements: [v('?e'), v('?n')] });
    expect(m.in).toHaveLength(2);
    expect(m.where).toHaveLength(2);
    expect(m.returnMap).toEqual({ kind: 'keys', names: ['e', 'n'] });
    expect(q('{:find [?e .] :where [[?e :a]]}').find.kind).toBe('find-scalar');
    expect(q('{:find [[?e ...]] :where [[?e :a]]}').find.kind).toBe('find-coll');
    expect(q('{:find [[?e ?a]] :where [[?e :a ?a]]}').find.kind).toBe('find-tuple');
    expect(q('{:find [(sum ?h)] :with [?e] :where [[?e :h ?h]]}').with).toEqual([v('?e')]);
  });
  it('accepts EDN data (printed, then parsed)', () => {
    const data = readEdn('[:find ?e :where [?e :a 1]]');
    const a = parseQuery(data);
    expect(a.where[0]).toMatchObject({ kind: 'pattern', terms: [v('?e'), c(Keyword.of('a')), c(1)] });
    const built = [Keyword.of('find'), Sym.of('?e'), Keyword.of('where'), [Sym.of('?e'), Keyword.of('a'), 'x']];
    expect(parseQuery(built).text).toBe('[:find ?e :where [?e :a "x"]]');
    expect(parseQuery({ find: [Sym.of('?e')], where: [[Sym.of('?e'), Keyword.of('a')]] }).find.kind).toBe('find-rel');
    fails(() => parseQuery(new EdnList([Keyword.of('find')])), 'query/syntax', 1, 1);
  });
});

describe('queries as plain JS data', () => {
  /** The JS query parses to the query the EDN text does (its text is the printed EDN data). */
  const same = (js: unknown, text: string) => expect(parseQuery(js as never).text).toBe(printEdn(readEdn(text)));

  it('reads strings by shape: variables, sources, keywords, markers; other strings are constants', () => {
    same(
      [
        ':find',
        '?n',
        ':in',
        '$',
        '?min',
        ':where',
        ['?e', ':person/name', '?n'],
        ['?e', ':person/age', '?a'],
        [['>=', '?a', '?min']],
        ['?e', ':person/nick', 'Ann'],
        ['?e', ':person/color', ':color/red'],
        ['_', ':x', '_'],
      ],
      '[:find ?n :in $ ?min :where [?e :person/name ?n] [?e :person/age ?a] [(>= ?a ?min)] [?e :person/nick "Ann"] [?e :person/color :color/red] [_ :x _]]',
    );
    same([':find', '?n', '.', ':where', [[':person/email', 'a@x'], ':person/name', '?n']], '[:find ?n . :where [[:person/email "a@x"] :person/name ?n]]');
    same([':find', ['?n', '...'], ':in', '$db', ':where', ['$db', '?e', ':n', '?n']], '[:find [?n ...] :in $db :where [$db ?e :n ?n]]');
    same(['find', ['?n', '?e'], 'keys', 'name', 'id', 'where', ['?e', ':n', '?n']], '[:find [?n ?e] :keys name id :where [?e :n ?n]]');
  });

  it('arrays headed by a name are lists: calls, aggregates, pull, rule calls, not/or/and', () => {
    same(
      {
        find: [
          ['count', '?e'],
          ['max', 3, '?s'],
          ['pull', '?e', ['*', { ':emp/boss': ['emp/name'] }]],
        ],
        with: ['?x'],
        in: ['$', ['?t', '...'], [['?a', '?b']]],
        where: [
          ['?e', ':s', '?s'],
          ['?e', ':x', '?x'],
        ],
      },
      '{:find [(count ?e) (max 3 ?s) (pull ?e [* {:emp/boss [:emp/name]}])] :with [?x] :in [$ [?t ...] [[?a ?b]]] :where [[?e :s ?s] [?e :x ?x]]}',
    );
    same(
      [
        ':find',
        '?x',
        ':in',
        '$',
        '$db',
        '%',
        ':where',
        ['?e', ':h', '?h'],
        [
          ['ground', ['a', 'b']],
          ['?x', '...'],
        ],
        [['str', '?x', '!'], '?s'],
        ['reports', '?e', '?b'],
        ['not', ['?e', ':banned', true]],
        ['or', ['?e', ':a', 1], ['and', ['?e', ':b', 2], ['?e', ':c', 3]]],
        ['not-join', ['?e'], ['?e', ':d', '?d']],
        ['or-join', [['?e'], '?f'], ['?e', ':f', '?f']],
        ['$db', 'not', ['?e', ':g']],
      ],
      '[:find ?x :in $ $db % :where [?e :h ?h] [(ground ["a" "b"]) [?x ...]] [(str ?x "!") ?s] (reports ?e ?b) (not [?e :banned true]) (or [?e :a 1] (and [?e :b 2] [?e :c 3])) (not-join [?e] [?e :d ?d]) (or-join [[?e] ?f] [?e :f ?f]) ($db not [?e :g])]',
    );
  });

  it('rule sets as JS data; EDN data is left as it is', () => {
    const js = [
      [
        ['reach', '?a', '?b'],
        ['?a', ':next', '?b'],
      ],
      [
        ['reach', '?a', '?b'],
        ['?a', ':next', '?x'],
        ['reach', '?x', '?b'],
      ],
      [
        ['top', ['?e']],
        ['not', ['?e', ':boss', '_']],
      ],
    ];
    const text = '[[(reach ?a ?b) [?a :next ?b]] [(reach ?a ?b) [?a :next ?x] (reach ?x ?b)] [(top [?e]) (not [?e :boss _])]]';
    expect(parseRules(js as never)).toBe(parseRules(text));
    // a Sym marks EDN data: its strings stay string constants, "?x" included
    const edn = [Keyword.of('find'), Sym.of('?e'), Keyword.of('where'), [Sym.of('?e'), Keyword.of('a'), '?x']];
    expect(parseQuery(edn).text).toBe('[:find ?e :where [?e :a "?x"]]');
  });
});

describe('caching', () => {
  it('returns the same object for the same text', () => {
    const t = '[:find ?e :where [?e :cached/a]]';
    expect(parseQuery(t)).toBe(parseQuery(t));
    expect(parseQuery(readEdn(t))).toBe(parseQuery(t));
    expect(parseRules('[[(r ?a) [?a :b]]]')).toBe(parseRules('[[(r ?a) [?a :b]]]'));
  });
});

describe('positions', () => {
  it('records positions on AST nodes', () => {
    const query = q('[:find ?e\n :where\n  [?e :a ?v]\n  [(< ?v 3)]]');
    expect(query.pos).toMatchObject({ line: 1, column: 1 });
    expect(query.where[0]!.pos).toMatchObject({ line: 3, column: 3 });
    expect(query.where[1]!.pos).toMatchObject({ line: 4, column: 3 });
    expect((query.where[0] as { terms: { pos?: unknown }[] }).terms[1]!.pos).toMatchObject({ line: 3, column: 7 });
  });
});

describe('syntax errors', () => {
  it('reports what was expected, with line:column', () => {
    fails(() => q('[:find ?e :where [?e :a] {:a 1}]'), 'query/syntax', 1, 26, 'but found');
    fails(() => q('[:find ?e\n :where\n  [?e :a]\n  (?e :b)]'), 'query/syntax', 4, 4);
    fails(() => q('[:find ?e :where [(< ?e 1) ?x ?y]]'), 'query/syntax', 1, 31);
    fails(() => q('[:find ?e :where []]'), 'query/syntax', 1, 19);
    fails(() => q('(:find ?e)'), 'query/syntax', 1, 1, 'expected a query');
    fails(() => q(':find'), 'query/syntax', 1, 1);
    fails(() => q('[:find ?e :where [?e :a] (and [?e :b])]'), 'query/syntax', 1, 26, 'and');
    fails(() => q('[:find ?e :where [?e :a] (not-join ?e [?e :b])]'), 'query/syntax', 1, 36);
    fails(() => q('[:find ?e :where [?e :a'), 'edn/syntax', 1, 24);
    fails(() => q('[:find ?e :where [?e :a]] [1]'), 'edn/syntax', 1, 27);
    fails(() => q(''), 'edn/syntax', 1, 1);
    fails(() => q('[:find ?e :where ' + '['.repeat(300) + ']'.repeat(300) + ']'), 'query/too-deep');
    fails(() => q('['.repeat(5000)), 'edn/too-deep');
    fails(() => q('[:find ?e :in $ :where [?e :a] [(foo) ?x ?y]]'), 'query/syntax');
    const e = fails(() => q('[:find ?e :where [?e :a] {:a 1}]'), 'query/syntax');
    expect(e).toBeInstanceOf(QueryParseError);
  });
  it('an empty not / or / not-join / rule call names the form that needs more', () => {
    const cases: [string, number, string][] = [
      ['[:find ?e :where [?e :a] (not)]', 30, 'expected at least one clause in (not ...)'],
      ['[:find ?e :where [?e :a] (or)]', 29, 'expected at least one clause in (or ...)'],
      ['[:find ?e :where [?e :a] (not-join [] [?e :b])]', 37, 'expected at least one ?variable in the join vector of (not-join'],
      ['[:find ?e :in $ % :where [?e :a] (frob)]', 39, 'expected at least one argument (?var, _ or a constant) in the rule call (frob ...)'],
      ['[:find ?e :where [?e :a] (or (and) [?e :b])]', 34, 'expected at least one clause in (and ...)'],
    ];
    for (const [text, column, message] of cases) {
      const e = fails(() => q(text), 'query/syntax', 1, column, message);
      expect(e.message).not.toContain('at least one a ');
    }
  });
});

describe('static validation', () => {
  it('unbound :find / :with / predicate / function variables', () => {
    fails(() => q('[:find ?x :where [?e :a]]'), 'query/unbound-variable', 1, 8, '?x');
    fails(() => q('[:find ?e :with ?z :where [?e :a]]'), 'query/unbound-variable', 1, 17, '?z');
    fails(() => q('[:find ?e :where [?e :a]\n [(< ?z 1)]]'), 'query/unbound-variable', 2, 6, '?z');
    fails(() => q('[:find ?e :where [?e :a] [(str ?q) ?s]]'), 'query/unbound-variable', 1, 32, '?q');
    fails(() => q('[:find ?e :where [?e :a] [(?f ?e) ?s]]'), 'query/unbound-variable', 1, 28, '?f');
    fails(() => q('[:find (?agg ?e) :where [?e :a]]'), 'query/unbound-variable', 1, 9, '?agg');
    fails(() => q('[:find (pull ?e ?p) :where [?e :a]]'), 'query/unbound-variable', 1, 17, '?p');
    // bound by a function binding, an :in, a rule call: fine
    q('[:find ?s :in $ ?x :where [(str ?x) ?s]]');
    q('[:find ?b :in $ % :where (r ?a ?b) [(pos? ?a)]]');
    // predicate inside not sees outer bindings
    q('[:find ?e :where [?e :a ?v] (not [(< ?v 1)])]');
  });
  it('not / not-join', () => {
    fails(() => q('[:find ?e :where [?e :a]\n (not [?x :b])]'), 'query/invalid-not', 2, 2);
    fails(() => q('[:find ?e :where [?e :a] (not-join [?z] [?z :b])]'), 'query/invalid-not', 1, 37, '?z');
    fails(() => q('[:find ?e :where [?e :a] (not-join [?e] [?x :b])]'), 'query/invalid-not', 1, 37, 'used inside');
    fails(() => q('[:find ?e :where [?e :a] (not-join [?e] [?e :b ?x] [(< ?v ?x)])]'), 'query/unbound-variable', 1, 56, '?v');
    q('[:find ?e :where [?e :a] (not-join [?e] [?e :b ?x] [?x :c 1])]');
  });
  it('or / or-join', () => {
    fails(() => q('[:find ?e :where [?e :a] (or [?e :b ?x] [?e :c])]'), 'query/invalid-or', 1, 41, '?x');
    fails(() => q('[:find ?e :where [?e :a] (or [?e :b] [?e :c ?y])]'), 'query/invalid-or', 1, 45, '?y');
    fails(() => q('[:find ?e :where [?e :a] (or-join [?e ?x] [?e :b ?x] [?e :c])]'), 'query/invalid-or', 1, 54, '?x');
    fails(() => q('[:find ?e :where [?f :a] (or-join [[?e]] [?e :b] [?e :c])]'), 'query/insufficient-binding', 1, 37, '?e');
    fails(() => q('[:find ?e :where [?e :a] (or [?e :b] (and [?e :c] [(< ?w 1)]))]'), 'query/invalid-or');
    q('[:find ?e :where [?e :a] (or-join [?e] [?e :b ?x] [?e :c])]');
  });
  it('sources and rules vars', () => {
    fails(() => q('[:find ?e :where [$h ?e :a]]'), 'query/unknown-source', 1, 19, '$h');
    fails(() => q('[:find ?e :in $h :where [?e :a]]'), 'query/unknown-source', 1, 25);
    fails(() => q('[:find ?e :where [?e :a] (r ?e)]'), 'query/missing-rules', 1, 26);
    fails(() => q('[:find (pull $x ?e [:a]) :where [?e :a]]'), 'query/unknown-source', 1, 14);
  });
});

describe('rules', () => {
  it('parses rule sets with required vars', () => {
    const rs = parseRules(`[[(ancestor ?a ?b) [?a :parent ?b]]
      [(ancestor ?a ?b) [?a :parent ?x] (ancestor ?x ?b)]
      [(named [?e] ?n) [?e :name ?n]]]`);
    expect(rs).toHaveLength(3);
    expect(rs[0]).toMatchObject({ name: 'ancestor', vars: { required: [], free: [v('?a'), v('?b')] }, clauses: [{ kind: 'pattern' }] });
    expect(rs[1]!.clauses[1]).toMatchObject({ kind: 'rule-call', name: 'ancestor' });
    expect(rs[2]).toMatchObject({ name: 'named', vars: { required: [v('?e')], free: [v('?n')] } });
    expect(rs[2]!.pos).toMatchObject({ line: 3, column: 7 });
    expect(parseRules('[]')).toEqual([]);
    expect(parseRules(readEdn('[[(r ?a) [?a :x]]]'))).toHaveLength(1);
  });
  it('rule errors', () => {
    fails(() => parseRules('[[(r ?a ?b) [?a :p ?b]] [(r ?a) [?a :p]]]'), 'query/rule-arity', 1, 25);
    fails(() => parseRules('[[(r ?a) [?a :p ?b] (r ?a ?b)]]'), 'query/rule-arity', 1, 21);
    fails(() => parseRules('[[(r ?a) (s ?a)]]'), 'query/unknown-rule', 1, 10);
    fails(() => parseRules('[[(r ?a) [?a :p] (not [?x :q])]]'), 'query/invalid-not', 1, 18);
    fails(() => parseRules('[[(r) [?a :p]]]'), 'query/syntax');
    fails(() => parseRules('[[(r ?a ?a) [?a :p]]]'), 'query/syntax', 1, 9);
    fails(() => parseRules('[[(r ?a)]]'), 'query/syntax', 1, 9);
    fails(() => parseRules('[(r ?a) [?a :p]]'), 'query/syntax', 1, 2);
    // head variables count as bound inside the body
    parseRules('[[(big [?a]) [(> ?a 10)]]]');
  });
  it('validateRuleCalls checks calls against a rule set', () => {
    const rules = parseRules('[[(anc ?a ?b) [?a :parent ?b]]]');
    validateRuleCalls(q('[:find ?a :in $ % :where (anc ?a ?b)]'), rules);
    fails(() => validateRuleCalls(q('[:find ?a :in $ % :where [?a :x]\n (anc ?a ?b ?c)]'), rules), 'query/rule-arity', 2, 2, 'anc');
    fails(() => validateRuleCalls(q('[:find ?a :in $ % :where (or (anc ?a ?b) (nope ?a ?b))]'), rules), 'query/unknown-rule', 1, 42);
  });
});

describe('parser fuzz', () => {
  const samples = [
    '[:find ?e ?n :in $ % ?x :where [?e :name ?n] [(< ?n 10)] (not [?e :b _]) (or [?e :c 1] [?e :c 2]) (anc ?e ?x)]',
    '{:find [(pull ?e [:a {:b ...} (limit :c 2)]) .] :in [$ [?x ...]] :where [[?e :a ?x] (or-join [[?e] ?x] [?e :m ?x])]}',
    '[:find [?e ...] :with ?w :keys a :where [?e :a ?w] [(str ?w) [[?p ?q]]] (not-join [?e] [?e :z])]',
    '[[(anc ?a ?b) [?a :parent ?b]] [(anc [?a] ?b) [?a :parent ?x] (anc ?x ?b)]]',
  ];
  const pieces = [
    '[',
    ']',
    '(',
    ')',
    '{',
    '}',
    '#{',
    ' ',
    '?e',
    '?x',
    '$',
    '$h',
    '%',
    '_',
    '...',
    '.',
    ':find',
    ':in',
    ':where',
    ':with',
    ':keys',
    'not',
    'not-join',
    'or',
    'or-join',
    'and',
    'pull',
    'count',
    '<',
    '1',
    '"s"',
    ':a',
    'nil',
    '#_',
    '#inst',
    '*',
    'limit',
    'default',
    ':as',
    ':limit',
  ];
  const mutated = fc.tuple(fc.constantFrom(...samples), fc.array(fc.tuple(fc.nat(), fc.nat(4), fc.constantFrom(...pieces)), { minLength: 1, maxLength: 4 })).map(([s, edits]) => {
    let t = s;
    for (const [at, del, ins] of edits) {
      const i = at % (t.length + 1);
      t = t.slice(0, i) + ins + t.slice(i + del);
    }
    return t;
  });
  const random = fc.array(fc.constantFrom(...pieces), { maxLength: 30 }).map((a) => a.join(' '));
  it('random and mutated query strings only ever throw FactlogError', () => {
    fc.assert(
      fc.property(fc.oneof(mutated, random, fc.string({ maxLength: 40 })), (text) => {
        for (const f of [parseQuery, parseRules]) {
          try {
            f(text);
          } catch (e) {
            if (!(e instanceof FactlogError)) throw e;
            expect(e.pos === undefined || (e.pos.line >= 1 && e.pos.column >= 1)).toBe(true);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

/** A query as EDN text (laid out with `sep`) and as plain JS data: pieces of both, built side by side. */
interface Both {
  text: (sep: string) => string;
  js: unknown;
}
const both = (text: (sep: string) => string, js: unknown): Both => ({ text, js });
const lit = (text: string, js: unknown): Both => both(() => text, js);
/** `[a b]` / `(a b)` and their JS arrays. */
const vec = (open: string, close: string, parts: Both[]): Both =>
  both(
    (sep) => open + parts.map((p) => p.text(sep)).join(sep) + close,
    parts.map((p) => p.js),
  );

describe('one parser for text and data', () => {
  const attr = fc.constantFrom('a', 'b', 'person/name', 'x/y-z');
  const value = fc.oneof(
    fc.constantFrom('?a', '?b').map((v) => lit(v, v)),
    fc.integer({ min: -99, max: 99 }).map((n) => lit(String(n), n)),
    fc.constantFrom('s', 'two words', 'q"uote').map((t) => lit(JSON.stringify(t), t)),
    fc.constantFrom('k', 'ns/k').map((k) => lit(':' + k, ':' + k)),
  );
  const pattern = fc.tuple(fc.boolean(), attr, value).map(([src, a, v]) => vec('[', ']', [...(src ? [lit('$', '$')] : []), lit('?e', '?e'), lit(':' + a, ':' + a), v]));
  const predicate = fc
    .tuple(fc.constantFrom('<', '>=', 'pos?'), fc.integer({ min: 0, max: 9 }))
    .map(([fn, n]) => vec('[', ']', [both((sep) => `(${fn}${sep}?a${fn === 'pos?' ? '' : sep + n})`, fn === 'pos?' ? [fn, '?a'] : [fn, '?a', n])]));
  const fnBinding = fc.constantFrom<Both>(lit('?s', '?s'), lit('[?t ...]', ['?t', '...']), lit('[?t ?u]', ['?t', '?u']), lit('[[?t _]]', [['?t', '_']]));
  const fnClause = fnBinding.map((b) => vec('[', ']', [both((sep) => `(str${sep}?a${sep}"x")`, ['str', '?a', 'x']), b]));
  const simple = fc.oneof(pattern, predicate, fnClause);
  const listOf = (op: string, parts: Both[]) => vec('(', ')', [lit(op, op), ...parts]);
  const clause = fc.oneof(
    { weight: 3, arbitrary: simple },
    pattern.map((p) => listOf('not', [p])),
    attr.map((a) =>
      listOf('or', [lit(`[?e :${a} ?a]`, ['?e', ':' + a, '?a']), listOf('and', [lit('[?e :d ?a]', ['?e', ':d', '?a']), vec('[', ']', [both((sep) => `(pos?${sep}?a)`, ['pos?', '?a'])])])]),
    ),
    pattern.map((p) => listOf('not-join', [vec('[', ']', [lit('?e', '?e')]), p])),
    attr.map((a) =>
      listOf('or-join', [vec('[', ']', [vec('[', ']', [lit('?e', '?e')]), lit('?a', '?a')]), lit(`[?e :${a} ?a]`, ['?e', ':' + a, '?a']), lit('[$ ?e :c ?a]', ['$', '?e', ':c', '?a'])]),
    ),
    fc.constantFrom('anc', 'rule-2').map((r) => listOf(r, [lit('?e', '?e'), lit('?a', '?a')])),
    pattern.map((p) => vec('(', ')', [lit('$', '$'), lit('not', 'not'), p])),
  );
  const find = fc.constantFrom<Both[]>(
    [lit('?e', '?e'), lit('?a', '?a')],
    [lit('?e', '?e'), lit('.', '.')],
    [lit('[?e ...]', ['?e', '...'])],
    [lit('[?e ?a]', ['?e', '?a'])],
    [lit('(count ?e)', ['count', '?e']), lit('(max 3 ?a)', ['max', 3, '?a'])],
    [lit('(pull ?e [:a {:b [*]} [:c :limit 2]])', ['pull', '?e', [':a', { ':b': ['*'] }, [':c', ':limit', 2]]])],
  );
  const query = fc.tuple(find, fc.array(clause, { minLength: 0, maxLength: 5 }), fc.boolean(), fc.constantFrom(' ', '\n  ', ', ', ' \t')).map(([findPart, clauses, asMap, sep]) => {
    const where = [vec('[', ']', [lit('?e', '?e'), lit(':a', ':a'), lit('?a', '?a')]), ...clauses];
    const ins = [lit('$', '$'), lit('%', '%')];
    const findText = findPart.map((p) => p.text(sep)).join(sep);
    const findJs = findPart.map((p) => p.js);
    if (asMap) {
      const text = `{:find [${findText}]${sep}:in [${ins.map((p) => p.text(sep)).join(sep)}]${sep}:where [${where.map((p) => p.text(sep)).join(sep)}]}`;
      return { text, js: { find: findJs, in: ins.map((p) => p.js), where: where.map((p) => p.js) } };
    }
    const text = `[:find${sep}${findText}${sep}:in${sep}${ins.map((p) => p.text(sep)).join(sep)}${sep}:where${sep}${where.map((p) => p.text(sep)).join(sep)}]`;
    return { text, js: [':find', ...findJs, ':in', ...ins.map((p) => p.js), ':where', ...where.map((p) => p.js)] };
  });
  /** The AST without where its nodes were (JS data is located in its printed text, not in ours). */
  const shape = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'pos' || k === 'text' ? undefined : v)));
  /** Every variable node's name is the text at its position. */
  const varsAtTheirPlace = (node: unknown, text: string): void => {
    if (Array.isArray(node)) return node.forEach((n) => varsAtTheirPlace(n, text));
    if (node === null || typeof node !== 'object') return;
    const n = node as { kind?: string; name?: string; pos?: { offset: number } };
    if (n.kind === 'var' && n.pos) expect(text.slice(n.pos.offset, n.pos.offset + n.name!.length)).toBe(n.name);
    for (const [k, v] of Object.entries(node)) if (k !== 'pos' && k !== 'text') varsAtTheirPlace(v, text);
  };

  it('the text of a query and its JS data give the same AST, each located in its own text', () => {
    let parsed = 0;
    fc.assert(
      fc.property(query, ({ text, js }) => {
        clearParseCaches();
        let fromText: Query;
        try {
          fromText = parseQuery(text);
        } catch (err) {
          fails(() => parseQuery(js as never), (err as FactlogError).code);
          return;
        }
        clearParseCaches();
        const fromData = parseQuery(js as never);
        parsed++;
        expect(shape(fromData)).toEqual(shape(fromText));
        expect(fromText.text).toBe(text);
        expect(fromData.text).toBe(printEdn(readEdn(text)));
        varsAtTheirPlace(fromText, text);
        varsAtTheirPlace(fromData, fromData.text!);
      }),
      { numRuns: 500 },
    );
    expect(parsed).toBeGreaterThan(400); // most generated queries are valid ones
  });

  it('a malformed clause anywhere is reported at its line and column', () => {
    const malformed: [string, string][] = [
      ['[?e :a ?a ?t ?x ?y]', 'at most 5 terms'],
      ['(and [?e :c 1])', 'only as a branch'],
      ['{:bad 1}', "found '{'"],
      ['(?e :b)', "found '?e'"],
    ];
    fc.assert(
      fc.property(fc.array(clause, { maxLength: 6 }), fc.nat(), fc.constantFrom(...malformed), fc.nat(6), ([...clauses], at, [bad, says], indent) => {
        const lines = ['[:find ?e', ' :in $ %', ' :where [?e :a ?a]', ...clauses.map((c) => ' '.repeat(indent + 1) + c.text(' '))];
        const line = 3 + (at % (clauses.length + 1)) + 1;
        lines.splice(line - 1, 0, ' '.repeat(indent + 1) + bad);
        const e = fails(() => parseQuery(lines.join('\n') + ']'), 'query/syntax', line, indent + 2 + (bad.startsWith('(?e') ? 1 : 0), says);
        expect(e.message).toContain(`(at ${line}:`);
      }),
      { numRuns: 300 },
    );
  });
});
