import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FactlogError, Keyword, parsePull, readEdn, type PullAttr } from '../query-lang/index.js';

const attr = (a: string, extra: Partial<PullAttr> = {}) => expect.objectContaining({ kind: 'pull-attr', attr: a, ...extra });

function fails(text: string, code: string, line?: number, column?: number, msg?: string): void {
  try {
    parsePull(text);
  } catch (e) {
    expect(e).toBeInstanceOf(FactlogError);
    const fe = e as FactlogError;
    expect(fe.code).toBe(code);
    if (line !== undefined) expect(fe.pos).toMatchObject({ line, column });
    if (msg) expect(fe.message).toContain(msg);
    return;
  }
  throw new Error(`expected ${text} to fail`);
}

/** A parsed pattern without its positions (those of JS data refer to its printed text). */
const shape = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'pos' ? undefined : v)));

describe('parsePull of plain JS data', () => {
  it('reads strings in attribute places as keywords, "*" and "..." as symbols, objects as maps', () => {
    const pairs: [unknown, string][] = [
      [[':a', 'person/name', '*', ':person/_friend'], '[:a :person/name * :person/_friend]'],
      [[{ ':friend': [':name', { mentor: '...' }] }, { 'b/c': 3 }], '[{:friend [:name {:mentor ...}]} {:b/c 3}]'],
      [[[':a', ':as', 'x', ':limit', 5, ':default', 'none']], '[[:a :as "x" :limit 5 :default "none"]]'],
      [[{ ':a': [':b'] }, new Map<unknown, unknown>([[':c', [':d']]])], '[{:a [:b]} {:c [:d]}]'],
    ];
    for (const [js, text] of pairs) expect(shape(parsePull(js as never))).toEqual(shape(parsePull(text)));
  });

  it('keeps EDN data as it is, and still rejects what is no pattern', () => {
    expect(shape(parsePull(readEdn('[:a {:b [:c]}]') as never))).toEqual(shape(parsePull('[:a {:b [:c]}]')));
    expect(() => parsePull([42] as never)).toThrow(FactlogError);
    expect(() => parsePull([{ ':a': 'nope' }] as never)).toThrow(FactlogError);
  });
});

describe('parsePull', () => {
  it('attributes, wildcard, :db/id, reverse', () => {
    const p = parsePull('[:a :person/name * "*" :db/id :person/_friend :_parent]');
    expect(p.kind).toBe('pull-pattern');
    expect(p.elements).toEqual([
      attr('a', { reverse: false }),
      attr('person/name', { reverse: false }),
      expect.objectContaining({ kind: 'wildcard' }),
      expect.objectContaining({ kind: 'wildcard' }),
      attr('db/id', { reverse: false }),
      attr('person/friend', { reverse: true }),
      attr('parent', { reverse: true }),
    ]);
    const plain = p.elements[0] as PullAttr;
    expect(plain.limit).toBeUndefined();
    expect(plain.default).toBeUndefined();
    expect(plain.as).toBeUndefined();
    expect(plain.sub).toBeUndefined();
    expect(parsePull('[]').elements).toEqual([]);
  });
  it('section keywords are ordinary attributes here', () => {
    expect(parsePull('[:find :as :limit :default]').elements).toEqual([attr('find'), attr('as'), attr('limit'), attr('default')]);
  });
  it('nested maps and recursion', () => {
    const p = parsePull('[{:friend [:name {:pet [:kind]}]} {:parent ...} {:child 5, :sib [*]}]');
    expect(p.elements[0]).toMatchObject({
      attr: 'friend',
      sub: { kind: 'pull-pattern', elements: [{ attr: 'name' }, { attr: 'pet', sub: { elements: [{ attr: 'kind' }] } }] },
    });
    expect(p.elements[1]).toMatchObject({ attr: 'parent', sub: { kind: 'recurse', depth: null } });
    expect(p.elements[2]).toMatchObject({ attr: 'child', sub: { kind: 'recurse', depth: 5 } });
    expect(p.elements[3]).toMatchObject({ attr: 'sib', sub: { elements: [{ kind: 'wildcard' }] } });
    expect(parsePull('[{:person/_friend [:name]}]').elements[0]).toMatchObject({ attr: 'person/friend', reverse: true, sub: { kind: 'pull-pattern' } });
  });
  it('limit and default expressions', () => {
    const p = parsePull('[(limit :a 10) (limit :b nil) (default :c "x") (default :d [1 2]) (default :e nil)]');
    expect(p.elements[0]).toMatchObject({ attr: 'a', limit: 10 });
    expect(p.elements[1]).toMatchObject({ attr: 'b', limit: null });
    expect(p.elements[2]).toMatchObject({ attr: 'c', default: { value: 'x' } });
    expect(p.elements[3]).toMatchObject({ attr: 'd', default: { value: [1, 2] } });
    expect(p.elements[4]).toMatchObject({ attr: 'e', default: { value: null } });
  });
  it('attribute with options', () => {
    const p = parsePull('[[:a :as "x"] [:b :limit 5] [:c :default 0] [:d :as :dee :limit nil :default "n"] [:person/_friend :as "friends"] [:e]]');
    expect(p.elements[0]).toMatchObject({ attr: 'a', as: 'x' });
    expect(p.elements[1]).toMatchObject({ attr: 'b', limit: 5 });
    expect(p.elements[2]).toMatchObject({ attr: 'c', default: { value: 0 } });
    expect(p.elements[3]).toMatchObject({ attr: 'd', as: Keyword.of('dee'), limit: null, default: { value: 'n' } });
    expect(p.elements[4]).toMatchObject({ attr: 'person/friend', reverse: true, as: 'friends' });
    expect(p.elements[5]).toMatchObject({ attr: 'e' });
  });
  it('options as map keys', () => {
    const p = parsePull('[{[:friend :limit 2] [:name]} {(limit :kid 3) ...} {(default :x 1) [:y]} {[:f :as "F"] 2}]');
    expect(p.elements[0]).toMatchObject({ attr: 'friend', limit: 2, sub: { elements: [{ attr: 'name' }] } });
    expect(p.elements[1]).toMatchObject({ attr: 'kid', limit: 3, sub: { kind: 'recurse', depth: null } });
    expect(p.elements[2]).toMatchObject({ attr: 'x', default: { value: 1 }, sub: { kind: 'pull-pattern' } });
    expect(p.elements[3]).toMatchObject({ attr: 'f', as: 'F', sub: { kind: 'recurse', depth: 2 } });
  });
  it('accepts EDN data and caches by text', () => {
    const data = readEdn('[:a {:b [:c]}]');
    const p = parsePull(data);
    expect(p.elements).toHaveLength(2);
    expect(parsePull('[:a {:b [:c]}]')).toBe(p);
    expect(parsePull([Keyword.of('a'), Keyword.of('b')]).elements).toEqual([attr('a'), attr('b')]);
  });
  it('records positions', () => {
    const p = parsePull('[:a\n {:b [:c]}\n (limit :d 1)]');
    expect(p.pos).toMatchObject({ line: 1, column: 1 });
    expect(p.elements[0]!.pos).toMatchObject({ line: 1, column: 2 });
    expect(p.elements[1]!.pos).toMatchObject({ line: 2, column: 3 });
    expect(p.elements[2]!.pos).toMatchObject({ line: 3, column: 2 });
  });
  it('errors say what was expected, where', () => {
    fails('[:a "b"]', 'query/syntax', 1, 5, '"*"');
    fails('[:a\n 5]', 'query/syntax', 2, 2, 'expected');
    fails('[(limit :a -1)]', 'query/syntax', 1, 12, 'limit');
    fails('[(limit :a "x")]', 'query/syntax', 1, 12);
    fails('[{:a 0}]', 'query/syntax', 1, 6, 'depth');
    fails('[{:a :b}]', 'query/syntax', 1, 6);
    fails('[{}]', 'query/syntax', 1, 3);
    fails('[[:a :as]]', 'query/syntax', 1, 9);
    fails('[[:a :limit 1 :limit 2]]', 'query/syntax', 1, 15, 'twice');
    fails('[[:a :frob 1]]', 'query/syntax', 1, 6);
    fails('{:a [:b]}', 'query/syntax', 1, 1, 'pull pattern');
    fails('[:a', 'edn/syntax', 1, 4);
    fails('[(foo :a)]', 'query/syntax', 1, 3);
  });
  it('fuzz: only FactlogError', () => {
    const pieces = ['[', ']', '(', ')', '{', '}', ':a', ':b/_c', '*', '"*"', '...', '5', 'nil', 'limit', 'default', ':as', ':limit', ':default', '"x"', '#_', '-1'];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 25 }), (ps) => {
        try {
          parsePull(ps.join(' '));
        } catch (e) {
          if (!(e instanceof FactlogError)) throw e;
        }
      }),
      { numRuns: 2000 },
    );
  });
});
