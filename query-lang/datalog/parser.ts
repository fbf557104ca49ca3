// Datalog queries, rules and pull patterns from EDN data (read once from text, or given as data and
// located by ./located-data.ts) to the typed AST of ./ast.ts. The EDN reader has done the EDN; this
// reads the shapes Datomic's grammar gives those forms, with every node's position in the text.
// ./validate.ts does the static checks afterwards.
import { printEdn } from '../edn/printer.js';
import type { LocatedForm } from '../edn/reader.js';
import { BigDec, EdnList, Keyword, Sym, Tagged, Uuid, type EdnValue, type SourcePos } from '../edn/types.js';
import type {
  AggregateElem,
  Binding,
  Blank,
  Clause,
  Constant,
  FindElem,
  FindSpec,
  FnArg,
  FnName,
  PatternName,
  PullAttr,
  PullElement,
  PullPattern,
  Query,
  ReturnMap,
  Rule,
  RuleSet,
  RuleVars,
  SrcVar,
  Term,
  Variable,
} from './ast.js';
import { QueryParseError } from './errors.js';

/** Maximum nesting of collections and tags inside a query, rule set or pull pattern. */
export const MAX_QUERY_DEPTH = 200;

/** What each form is, for "expected <this> but found ..." messages. */
const DESC = {
  query: 'a query: [:find ... :where ...] or {:find [...] :where [...]}',
  queryMapEntry: 'a query map entry (:find [...], :in [...], :where [...], :with [...], :keys [...])',
  findSpec: 'a find spec (?a ?b, ?a ., [?a ...] or [?a ?b])',
  findElem: 'a find element (?var, (aggregate ... ?var) or (pull ?e [pattern]))',
  pullExpr: 'a pull expression (pull $src? ?e [pattern] | ?pattern-var | pattern-name)',
  aggregate: 'an aggregate like (count ?x), (min 3 ?x) or (?agg ?x)',
  binding: 'a binding form ($src, %, ?x, _, a pattern name, [?a ?b], [?a ...] or [[?a ?b]])',
  clause: 'a where clause: [?e :attr ?v], [(pred ?x)], [(fn ?x) ?y], (not ...), (not-join [...] ...), (or ...), (or-join [...] ...), (and ...) or (rule ?x)',
  bracketClause: 'a data pattern [$src? e a v tx added] or a function/predicate expression [(fn args...) binding?]',
  listClause: 'a list clause: (not ...), (not-join [...] ...), (or ...), (or-join [...] ...), (and ...) or (rule-name ?args...)',
  fnExpr: 'a function or predicate expression (name args...)',
  ruleVars: 'rule variables ([?required ...] ?free ...)',
  ruleSet: 'a rule set [[(rule-name ?a ?b) clause ...] ...]',
  ruleDef: 'a rule [(rule-name ?vars...) clause ...]',
  ruleHead: 'a rule head (rule-name [?required ...] ?free ...)',
  pullPattern: 'a pull pattern [...]',
  pullMapEntry: 'pull map entry (:attr [pattern] | ... | depth)',
  pullMapKey: 'a pull map key (:attr, (limit ...), (default ...) or [:attr options...])',
  pullMapValue: 'a pull sub-pattern: [pattern], ... (recursion) or a recursion depth',
  pullAttrExpr: 'a pull attribute expression (limit :attr n|nil) or (default :attr value)',
  pullAttrWithOpts: 'an attribute with options [:attr :as x :limit n :default v :xform f]',
};

/** Before a query's closing bracket: what else could have come. */
const QUERY_ITEM = 'another element of the current section (a where clause, binding, find element ...), a section keyword (:find :keys :with :in :where)';

const SECTIONS = new Set(['find', 'keys', 'strs', 'syms', 'with', 'in', 'where']);
const PULL_OPTIONS = new Set(['as', 'limit', 'default', 'xform']);

/** What a symbol is to the grammar; 'name' for any symbol that can name a function, aggregate or rule. */
type Word = 'var' | 'src' | 'rules' | 'blank' | 'ellipsis' | 'dot' | 'pull' | 'not' | 'not-join' | 'or' | 'or-join' | 'and' | 'name';
const WORDS = new Map<string, Word>([
  ['_', 'blank'],
  ['...', 'ellipsis'],
  ['.', 'dot'],
  ['pull', 'pull'],
  ['not', 'not'],
  ['not-join', 'not-join'],
  ['or', 'or'],
  ['or-join', 'or-join'],
  ['and', 'and'],
]);

function wordOf(x: EdnValue | undefined): Word | undefined {
  if (!(x instanceof Sym)) return undefined;
  const n = x.name;
  if (n.length > 1 && n[0] === '?') return 'var';
  if (n[0] === '$') return 'src';
  if (n[0] === '%') return 'rules';
  return WORDS.get(n) ?? 'name';
}

const isVar = (x: EdnValue | undefined): boolean => wordOf(x) === 'var';
/** A constant: any form but a symbol or a list. */
const isConstant = (x: EdnValue | undefined): boolean => x !== undefined && !(x instanceof Sym) && !(x instanceof EdnList);
const isTerm = (x: EdnValue | undefined): boolean => isConstant(x) || wordOf(x) === 'var' || wordOf(x) === 'blank';
const isFnArg = (x: EdnValue | undefined): boolean => isTerm(x) || wordOf(x) === 'src';
const isClauseStart = (x: EdnValue | undefined): boolean => Array.isArray(x) || x instanceof EdnList;
const isFindElem = (x: EdnValue | undefined): boolean => isVar(x) || x instanceof EdnList;
const BINDING_WORDS = new Set<Word | undefined>(['var', 'blank', 'src', 'rules', 'name']);
const isBindingStart = (x: EdnValue | undefined): boolean => Array.isArray(x) || BINDING_WORDS.has(wordOf(x));
/** What the EDN reader reads a number literal to. */
const isNumberForm = (x: EdnValue | undefined): boolean => typeof x === 'number' || typeof x === 'bigint' || x instanceof BigDec;
const keywordNamed = (x: EdnValue | undefined, names: Set<string>): string | undefined => (x instanceof Keyword && names.has(x.fqn) ? x.fqn : undefined);

/** A form as an error message names it: a collection by its opening delimiter, an atom by its text. */
function describe(x: EdnValue): string {
  if (Array.isArray(x)) return "'['";
  if (x instanceof EdnList) return "'('";
  if (x instanceof Map) return "'{'";
  if (x instanceof Set) return "'#{'";
  if (x instanceof Tagged) return `'#${x.tag}'`;
  if (x instanceof Date) return "'#inst'";
  if (x instanceof Uuid) return "'#uuid'";
  let text: string;
  try {
    text = printEdn(x);
  } catch {
    text = String(x);
  }
  return `'${text.length > 40 ? text.slice(0, 37) + '...' : text}'`;
}

/** 'a find spec (...)' -> 'find spec (...)', after "at least one". */
const bare = (description: string): string => description.replace(/^an? /, '');

/** A collection's items, where each starts, and where it closes (what a message about a missing item points at). */
class Items {
  constructor(
    readonly items: readonly EdnValue[],
    private readonly starts: readonly SourcePos[],
    private readonly end: SourcePos,
    private readonly closer: string,
  ) {}
  get length(): number {
    return this.items.length;
  }
  pos(i: number): SourcePos {
    return this.starts[i] ?? this.end;
  }
  found(i: number): string {
    return i < this.items.length ? describe(this.items[i]!) : `'${this.closer}'`;
  }
}

interface Sections {
  seen: Set<string>;
  find?: FindSpec;
  returnMap?: ReturnMap;
  returnMapPos?: SourcePos;
  with: Variable[];
  in?: Binding[];
  where: Clause[];
}

export class FormParser {
  private deferred?: QueryParseError;
  constructor(private readonly src: LocatedForm) {}

  // ---------- entries ----------

  query(): Query {
    const { value, pos } = this.src;
    if (Array.isArray(value)) return this.settled(this.vectorQuery(this.items(value, pos), pos));
    if (value instanceof Map) return this.settled(this.mapQuery(this.items(value, pos), pos));
    return this.fail('query/syntax', `expected ${DESC.query} but found ${describe(value)}`, pos);
  }

  ruleSet(): RuleSet {
    const { value, pos } = this.src;
    if (!Array.isArray(value)) return this.fail('query/syntax', `expected '[' but found ${describe(value)} (while reading ${DESC.ruleSet})`, pos);
    const xs = this.items(value, pos);
    return this.settled(
      xs.items.map((r, i) => (Array.isArray(r) ? this.ruleDef(this.items(r, xs.pos(i)), xs.pos(i)) : this.expected("another rule [(head ...) clauses...] or ']'", xs, i, DESC.ruleSet))),
    );
  }

  pullPattern(): PullPattern {
    return this.settled(this.pattern(this.src.value, this.src.pos));
  }

  // ---------- helpers ----------

  private items(form: EdnValue[] | EdnList | Map<EdnValue, EdnValue>, pos: SourcePos): Items {
    const layout = this.src.layouts.get(form);
    const end = layout?.end ?? pos;
    if (Array.isArray(form)) return new Items(form, layout?.items ?? [], end, ']');
    if (form instanceof EdnList) return new Items(form.items, layout?.items ?? [], end, ')');
    return new Items([...form].flat(), layout?.items ?? [], end, '}');
  }

  /**
   * A form the grammar takes but that is wrong in itself (a repeated section, `.` after two
   * elements, ...): reported once the whole input has the grammar's shape, so a shape error
   * anywhere wins, and then the first of these.
   */
  private later(code: string, message: string, pos: SourcePos | undefined, form?: object): void {
    this.deferred ??= new QueryParseError(code, message, { pos, form: form === undefined ? undefined : this.source(form) });
  }

  private settled<T>(result: T): T {
    if (this.deferred) throw this.deferred;
    return result;
  }

  private fail(code: string, message: string, pos: SourcePos | undefined, form?: object): never {
    throw new QueryParseError(code, message, { pos, form: form === undefined ? undefined : this.source(form) });
  }

  /** "expected <what> but found <item i>", at item i (or at the closing delimiter when there is none). */
  private expected(what: string, xs: Items, i: number, context?: string): never {
    return this.fail('query/syntax', `expected ${what} but found ${xs.found(i)}${context ? ` (while reading ${context})` : ''}`, xs.pos(i));
  }

  /** The text of a collection form. */
  private source(form: object): string | undefined {
    const l = this.src.layouts.get(form);
    return l ? this.src.text.slice(l.start.offset, l.end.offset + 1) : undefined;
  }

  private variable(x: EdnValue, pos: SourcePos): Variable {
    return { kind: 'var', name: (x as Sym).name, pos };
  }
  private srcVar(x: EdnValue, pos: SourcePos): SrcVar {
    return { kind: 'src', name: (x as Sym).name, pos };
  }
  private blank(pos: SourcePos): Blank {
    return { kind: 'blank', pos };
  }
  private constant(x: EdnValue, pos: SourcePos): Constant {
    return { kind: 'const', value: x, pos };
  }
  private patternName(x: EdnValue, pos: SourcePos): PatternName {
    return { kind: 'pattern-name', name: (x as Sym).name, pos };
  }
  private fnName(x: EdnValue, pos: SourcePos): FnName | Variable {
    return isVar(x) ? this.variable(x, pos) : { kind: 'fn-name', name: (x as Sym).name, pos };
  }

  private term(x: EdnValue, pos: SourcePos): Term {
    const w = wordOf(x);
    if (w === 'var') return this.variable(x, pos);
    if (w === 'blank') return this.blank(pos);
    return this.constant(x, pos);
  }

  private fnArg(x: EdnValue, pos: SourcePos): FnArg {
    return wordOf(x) === 'src' ? this.srcVar(x, pos) : this.term(x, pos);
  }

  /** Items from `k` on that `accept` takes, read by `read`; returns them and the index past them. */
  private run<T>(xs: Items, k: number, accept: (x: EdnValue) => boolean, read: (x: EdnValue, pos: SourcePos) => T): [T[], number] {
    const out: T[] = [];
    while (k < xs.length && accept(xs.items[k]!)) {
      out.push(read(xs.items[k]!, xs.pos(k)));
      k++;
    }
    return [out, k];
  }

  // ---------- query ----------

  private vectorQuery(xs: Items, pos: SourcePos): Query {
    const s: Sections = { seen: new Set(), with: [], where: [] };
    let i = 0;
    while (i < xs.length) {
      const key = keywordNamed(xs.items[i], SECTIONS);
      if (!key) this.expected(`${QUERY_ITEM} or ']'`, xs, i, DESC.query);
      i = this.section(s, key, xs.pos(i), xs, i + 1);
    }
    return this.finishQuery(s, pos);
  }

  private mapQuery(xs: Items, pos: SourcePos): Query {
    const s: Sections = { seen: new Set(), with: [], where: [] };
    for (let i = 0; i < xs.length; i += 2) {
      const key = keywordNamed(xs.items[i], SECTIONS);
      if (!key) this.expected(`${QUERY_ITEM} or '}'`, xs, i, DESC.query);
      const value = xs.items[i + 1];
      if (!Array.isArray(value)) this.expected("'['", xs, i + 1, DESC.queryMapEntry);
      const body = this.items(value, xs.pos(i + 1));
      const next = this.section(s, key, xs.pos(i), body, 0);
      if (next < body.length) this.expected("another element of this section or ']'", body, next, DESC.queryMapEntry);
    }
    return this.finishQuery(s, pos);
  }

  /** One section's forms from `k` on: those it takes; returns the index past them. */
  private section(s: Sections, key: string, keyPos: SourcePos, xs: Items, k: number): number {
    const group = key === 'keys' || key === 'strs' || key === 'syms' ? ':keys/:strs/:syms' : key;
    if (s.seen.has(group)) this.later('query/syntax', `expected each query section once but found a second :${key}`, keyPos);
    s.seen.add(group);
    switch (key) {
      case 'find': {
        const [spec, next] = this.findSpec(xs, k);
        s.find = spec;
        return next;
      }
      case 'with': {
        const [vars, next] = this.run(xs, k, isVar, (x, p) => this.variable(x, p));
        s.with = vars;
        return next;
      }
      case 'in': {
        const [bindings, next] = this.run(xs, k, isBindingStart, (x, p) => this.binding(x, p, 'in'));
        s.in = bindings;
        return next;
      }
      case 'where': {
        const [clauses, next] = this.run(xs, k, isClauseStart, (x, p) => this.clause(x, p, false));
        s.where = clauses;
        return next;
      }
      default: {
        const [names, next] = this.run(
          xs,
          k,
          (x) => x instanceof Sym || typeof x === 'string',
          (x) => (x instanceof Sym ? x.name : (x as string)),
        );
        if (names.length === 0) this.later('query/invalid-find', `expected at least one name after :${key}`, keyPos);
        s.returnMap = { kind: key as ReturnMap['kind'], names };
        s.returnMapPos = keyPos;
        return next;
      }
    }
  }

  private finishQuery(s: Sections, pos: SourcePos): Query {
    const { find, returnMap } = s;
    if (!find) {
      this.later('query/invalid-find', 'expected a :find section in the query', pos);
      throw this.deferred;
    }
    if (returnMap) {
      if (find.kind === 'find-scalar' || find.kind === 'find-coll') {
        this.later(
          'query/invalid-find',
          `expected a relation or tuple find spec with :${returnMap.kind} but found a ${find.kind === 'find-scalar' ? 'scalar (?x .)' : 'collection ([?x ...])'} find spec`,
          s.returnMapPos,
        );
      } else if (returnMap.names.length !== find.elements.length) {
        const count = find.elements.length;
        this.later('query/invalid-find', `expected ${count} name(s) after :${returnMap.kind} (one per :find element) but found ${returnMap.names.length}`, s.returnMapPos);
      }
    }
    return {
      find,
      ...(returnMap ? { returnMap } : {}),
      with: s.with,
      in: s.in ?? [{ kind: 'src', name: '$' }],
      where: s.where,
      pos,
      text: this.src.text,
    };
  }

  /** `?a ?b`, `?a .`, `[?a ...]` or `[?a ?b]` from item `k` on. */
  private findSpec(xs: Items, k: number): [FindSpec, number] {
    const first = xs.items[k];
    if (Array.isArray(first)) {
      const inner = this.items(first, xs.pos(k));
      const [elems, j] = this.run(inner, 0, isFindElem, (x, p) => this.findElem(x, p));
      if (elems.length === 0) this.expected(`at least one ${bare(DESC.findSpec)}`, inner, 0);
      const ellipsis = wordOf(inner.items[j]) === 'ellipsis';
      if (j + (ellipsis ? 1 : 0) < inner.length) this.expected("another find element or ']'", inner, j + (ellipsis ? 1 : 0), DESC.findSpec);
      if (!ellipsis) return [{ kind: 'find-tuple', elements: elems }, k + 1];
      if (elems.length !== 1) {
        this.later('query/invalid-find', `expected exactly one element before '...' in a collection find spec [?x ...] but found ${elems.length}`, inner.pos(j));
      }
      return [{ kind: 'find-coll', element: elems[0]! }, k + 1];
    }
    if (!isFindElem(first)) this.expected(DESC.findSpec, xs, k);
    const [elems, j] = this.run(xs, k, isFindElem, (x, p) => this.findElem(x, p));
    if (wordOf(xs.items[j]) !== 'dot') return [{ kind: 'find-rel', elements: elems }, j];
    if (elems.length !== 1) {
      this.later('query/invalid-find', `expected exactly one element before '.' in a scalar find spec (?x .) but found ${elems.length}`, xs.pos(j));
    }
    return [{ kind: 'find-scalar', element: elems[0]! }, j + 1];
  }

  private findElem(x: EdnValue, pos: SourcePos): FindElem {
    if (isVar(x)) return this.variable(x, pos);
    const xs = this.items(x as EdnList, pos);
    const w = wordOf(xs.items[0]);
    if (w === 'pull') return this.pullExpr(xs, pos);
    if (w === 'name' || w === 'var') return this.aggregate(xs, pos);
    return this.expected(DESC.findElem, xs, 0);
  }

  /** `(pull $src? ?e pattern)`, the pattern written out, a ?variable or a pattern name. */
  private pullExpr(xs: Items, pos: SourcePos): FindElem {
    let k = 1;
    const src = wordOf(xs.items[k]) === 'src' ? this.srcVar(xs.items[k]!, xs.pos(k++)) : undefined;
    if (!isVar(xs.items[k])) this.expected('a ?variable', xs, k, DESC.pullExpr);
    const variable = this.variable(xs.items[k]!, xs.pos(k++));
    const p = xs.items[k];
    const w = wordOf(p);
    let pattern: PullPattern | Variable | PatternName;
    if (Array.isArray(p)) pattern = this.pattern(p, xs.pos(k));
    else if (w === 'var') pattern = this.variable(p!, xs.pos(k));
    else if (w === 'name') pattern = this.patternName(p!, xs.pos(k));
    else return this.expected(DESC.pullExpr, xs, k);
    if (k + 1 < xs.length) this.expected("')'", xs, k + 1, DESC.findElem);
    return { kind: 'pull', ...(src ? { src } : {}), variable, pattern, pos };
  }

  private aggregate(xs: Items, pos: SourcePos): AggregateElem {
    const fn = this.fnName(xs.items[0]!, xs.pos(0));
    const [args, k] = this.run(
      xs,
      1,
      (x) => isVar(x) || isConstant(x),
      (x, p) => (isVar(x) ? this.variable(x, p) : this.constant(x, p)),
    );
    if (args.length === 0) this.expected(`at least one ${bare(DESC.aggregate)}`, xs, 1);
    if (k < xs.length) this.expected("')'", xs, k, DESC.findElem);
    const last = args[args.length - 1]!;
    if (last.kind !== 'var') {
      this.later('query/invalid-find', `expected the aggregated ?variable as the last argument of (${fn.name} ...) but found a constant`, last.pos);
    }
    return { kind: 'aggregate', fn, args, pos };
  }

  /** A binding: `where` says how deep it sits (sources, rules and pattern names only at the top of :in). */
  private binding(x: EdnValue, pos: SourcePos, where: 'in' | 'in-nested' | 'fn'): Binding {
    const w = wordOf(x);
    const topOnly = (what: string): void => {
      if (where !== 'in') this.later('query/invalid-binding', `expected a ?variable or _ but found ${what}`, pos);
    };
    switch (w) {
      case 'var':
        return this.variable(x, pos);
      case 'blank':
        return this.blank(pos);
      case 'src':
        topOnly(`source ${(x as Sym).name} (sources can only be bound at the top level of :in)`);
        return this.srcVar(x, pos);
      case 'name':
        topOnly(`${(x as Sym).name} (a plain symbol names a pull pattern, and only at the top level of :in)`);
        return this.patternName(x, pos);
      case 'rules':
        topOnly(`rules var ${(x as Sym).name} (rules can only be bound at the top level of :in)`);
        return { kind: 'rules-var', name: (x as Sym).name };
    }
    const inner = where === 'fn' ? 'fn' : 'in-nested';
    const { xs, count, ellipsis } = this.bindingVector(x as EdnValue[], pos);
    if (ellipsis) {
      if (count !== 1) this.later('query/invalid-binding', `expected exactly one binding before '...' in a collection binding [?x ...] but found ${count}`, xs.pos(count));
      return { kind: 'bind-coll', element: this.binding(xs.items[0]!, xs.pos(0), inner) };
    }
    const only = xs.items[0];
    if (count === 1 && Array.isArray(only)) {
      const rel = this.bindingVector(only, xs.pos(0));
      if (!rel.ellipsis) return { kind: 'bind-rel', elements: rel.xs.items.map((b, i) => this.binding(b, rel.xs.pos(i), inner)) };
    }
    return { kind: 'bind-tuple', elements: xs.items.map((b, i) => this.binding(b, xs.pos(i), inner)) };
  }

  /** `[binding+ ...?]`: its items, how many bindings, whether a `...` ends it. */
  private bindingVector(v: EdnValue[], pos: SourcePos): { xs: Items; count: number; ellipsis: boolean } {
    const xs = this.items(v, pos);
    let count = 0;
    for (; count < xs.length && isBindingStart(xs.items[count]); count++) {
      const sub = xs.items[count];
      if (Array.isArray(sub)) this.bindingVector(sub, xs.pos(count)); // its shape errors come first, as in the text
    }
    if (count === 0) this.expected(`at least one ${bare(DESC.binding)}`, xs, 0);
    const ellipsis = wordOf(xs.items[count]) === 'ellipsis';
    const end = count + (ellipsis ? 1 : 0);
    if (end < xs.length) this.expected("another binding or ']'", xs, end, DESC.binding);
    return { xs, count, ellipsis };
  }

  // ---------- where ----------

  private clause(x: EdnValue, pos: SourcePos, inOr: boolean): Clause {
    return Array.isArray(x) ? this.bracketClause(x, pos) : this.listClause(x as EdnList, pos, inOr);
  }

  /** `[(fn args...) binding?]` or `[$src? e a v tx added]`. */
  private bracketClause(v: EdnValue[], pos: SourcePos): Clause {
    const xs = this.items(v, pos);
    const head = xs.items[0];
    if (head instanceof EdnList) {
      const fx = this.items(head, xs.pos(0));
      const fw = wordOf(fx.items[0]);
      if (fw !== 'name' && fw !== 'var' && fw !== 'and' && fw !== 'or' && fw !== 'not') this.expected(DESC.fnExpr, fx, 0);
      const fn = this.fnName(fx.items[0]!, fx.pos(0));
      const [args, k] = this.run(fx, 1, isFnArg, (a, p) => this.fnArg(a, p));
      if (k < fx.length) this.expected("another function argument or ')'", fx, k, DESC.fnExpr);
      const binding = isBindingStart(xs.items[1]) ? this.binding(xs.items[1]!, xs.pos(1), 'fn') : undefined;
      if (xs.length > (binding ? 2 : 1)) this.expected("']'", xs, binding ? 2 : 1, DESC.clause);
      return binding ? { kind: 'function', fn, args, binding, pos } : { kind: 'predicate', fn, args, pos };
    }
    const hasSrc = wordOf(head) === 'src';
    const src = hasSrc ? this.srcVar(head!, xs.pos(0)) : undefined;
    const [terms, k] = this.run(xs, hasSrc ? 1 : 0, isTerm, (t, p) => this.term(t, p));
    if (terms.length === 0) this.expected(hasSrc ? `at least one ${bare(DESC.bracketClause)}` : DESC.bracketClause, xs, k);
    if (k < xs.length) this.expected("']'", xs, k, DESC.clause);
    if (terms.length > 5) this.later('query/syntax', `expected a data pattern of at most 5 terms [e a v tx added] but found ${terms.length}`, pos, v);
    return { kind: 'pattern', ...(src ? { src } : {}), terms, pos };
  }

  /** `($src? op ...)`: not, not-join, or, or-join, and, or a rule call. */
  private listClause(list: EdnList, pos: SourcePos, inOr: boolean): Clause {
    const xs = this.items(list, pos);
    const hasSrc = wordOf(xs.items[0]) === 'src';
    const srcVar = hasSrc ? this.srcVar(xs.items[0]!, xs.pos(0)) : undefined;
    const src = srcVar ? { src: srcVar } : {};
    const k = hasSrc ? 1 : 0;
    const op = xs.items[k];
    switch (wordOf(op)) {
      case 'not':
        return { kind: 'not', ...src, clauses: this.clauses(xs, k + 1, 'at least one clause in (not ...)', false), pos };
      case 'not-join': {
        const jx = this.joinVector(xs, k + 1);
        const [joinVars, j] = this.run(jx, 0, isVar, (x, p) => this.variable(x, p));
        if (joinVars.length === 0) this.expected('at least one ?variable in the join vector of (not-join [?vars ...] ...)', jx, 0);
        if (j < jx.length) this.expected("another ?variable or ']'", jx, j, DESC.listClause);
        return { kind: 'not', ...src, joinVars, clauses: this.clauses(xs, k + 2, 'at least one clause in (not-join [...] ...)', false), pos };
      }
      case 'or':
      case 'or-join': {
        const join = wordOf(op) === 'or-join';
        let joinVars: RuleVars | undefined;
        if (join) {
          const jx = this.joinVector(xs, k + 1);
          const [vars, j] = this.ruleVars(jx, 0);
          if (j < jx.length) this.expected("another ?variable or ']'", jx, j, DESC.ruleVars);
          joinVars = vars;
        }
        const need = join ? 'at least one clause in (or-join [...] ...)' : 'at least one clause in (or ...)';
        const branches = this.clauses(xs, k + (join ? 2 : 1), need, true).map((c) => (c.kind === 'and' ? c.clauses : [c]));
        return { kind: 'or', ...src, ...(joinVars ? { joinVars } : {}), branches, pos };
      }
      case 'and': {
        if (!inOr) this.later('query/syntax', 'expected (and ...) only as a branch of (or ...) / (or-join ...)', pos, list);
        if (srcVar) this.later('query/syntax', `expected (and ...) without a source but found ${srcVar.name}`, srcVar.pos);
        return { kind: 'and', clauses: this.clauses(xs, k + 1, 'at least one clause in (and ...)', false), pos };
      }
      case 'name': {
        const name = (op as Sym).name;
        const [args, j] = this.run(xs, k + 1, isTerm, (t, p) => this.term(t, p));
        if (args.length === 0) this.expected(`at least one argument (?var, _ or a constant) in the rule call (${name} ...)`, xs, j);
        if (j < xs.length) this.expected("another argument or ')'", xs, j, DESC.listClause);
        return { kind: 'rule-call', ...src, name, args, pos };
      }
      default:
        return this.expected(DESC.listClause, xs, k);
    }
  }

  /** The `[...]` after not-join / or-join. */
  private joinVector(xs: Items, k: number): Items {
    const v = xs.items[k];
    if (!Array.isArray(v)) this.expected("'['", xs, k, DESC.listClause);
    return this.items(v, xs.pos(k));
  }

  /** At least one clause from item `k` to the end. */
  private clauses(xs: Items, k: number, need: string, inOr: boolean): Clause[] {
    const [out, j] = this.run(xs, k, isClauseStart, (c, p) => this.clause(c, p, inOr));
    if (out.length === 0) this.expected(need, xs, j);
    if (j < xs.length) this.expected("another clause or ')'", xs, j, DESC.listClause);
    return out;
  }

  /** `[?required ...] ?free ...` from item `k` on. */
  private ruleVars(xs: Items, k: number): [RuleVars, number] {
    let required: Variable[] = [];
    if (Array.isArray(xs.items[k])) {
      const rx = this.items(xs.items[k] as EdnValue[], xs.pos(k));
      const [vars, j] = this.run(rx, 0, isVar, (x, p) => this.variable(x, p));
      if (vars.length === 0) this.expected('at least one ?variable in [?required ...]', rx, 0);
      if (j < rx.length) this.expected("another ?variable or ']'", rx, j, DESC.ruleVars);
      required = vars;
      k++;
    }
    const [free, j] = this.run(xs, k, isVar, (x, p) => this.variable(x, p));
    return [{ required, free }, j];
  }

  // ---------- rules ----------

  private ruleDef(xs: Items, pos: SourcePos): Rule {
    const head = xs.items[0];
    if (!(head instanceof EdnList)) return this.expected("'('", xs, 0, DESC.ruleDef);
    const hx = this.items(head, xs.pos(0));
    if (wordOf(hx.items[0]) !== 'name') this.expected('a function or rule name', hx, 0, DESC.ruleHead);
    const name = (hx.items[0] as Sym).name;
    const [vars, j] = this.ruleVars(hx, 1);
    if (j < hx.length) this.expected("another ?variable or ')'", hx, j, DESC.ruleHead);
    const all = [...vars.required, ...vars.free];
    if (all.length === 0) this.later('query/syntax', `expected at least one ?variable in the head of rule ${name}`, xs.pos(0));
    const names = new Set<string>();
    for (const v of all) {
      if (names.has(v.name)) this.later('query/syntax', `expected distinct variables in the head of rule ${name} but found ${v.name} twice`, v.pos);
      names.add(v.name);
    }
    const [clauses, k] = this.run(xs, 1, isClauseStart, (c, p) => this.clause(c, p, false));
    if (clauses.length === 0) this.expected(`at least one clause in the rule (${name} ...)`, xs, k);
    if (k < xs.length) this.expected("another clause or ']'", xs, k, DESC.ruleDef);
    return { name, vars, clauses, pos };
  }

  // ---------- pull ----------

  private pattern(v: EdnValue, pos: SourcePos): PullPattern {
    if (!Array.isArray(v)) return this.fail('query/syntax', `expected '[' but found ${describe(v)} (while reading ${DESC.pullPattern})`, pos);
    const xs = this.items(v, pos);
    const elements: PullElement[] = [];
    xs.items.forEach((x, i) => {
      const p = xs.pos(i);
      if (x instanceof Keyword) elements.push(this.pullAttr(x, p));
      else if (x === '*' || (x instanceof Sym && x.name === '*')) elements.push({ kind: 'wildcard', pos: p });
      else if (typeof x === 'string') {
        this.later('query/syntax', `expected an attribute keyword or "*" in pull pattern but found ${printEdn(x)}`, p);
        elements.push({ kind: 'wildcard', pos: p });
      } else if (x instanceof Map) elements.push(...this.pullMap(x, p));
      else if (x instanceof EdnList) elements.push(this.pullAttrExpr(x, p));
      else if (Array.isArray(x)) elements.push(this.pullAttrWithOpts(x, p));
      else this.expected("another pull pattern element or ']'", xs, i, DESC.pullPattern);
    });
    return { kind: 'pull-pattern', elements, pos };
  }

  /** `{attr-spec sub-pattern ...}`: each key an attribute (with options), each value a pattern, `...` or a depth. */
  private pullMap(m: Map<EdnValue, EdnValue>, pos: SourcePos): PullAttr[] {
    const xs = this.items(m, pos);
    if (xs.length === 0) this.expected(`at least one ${DESC.pullMapEntry}`, xs, 0);
    const out: PullAttr[] = [];
    for (let i = 0; i < xs.length; i += 2) {
      const key = xs.items[i]!;
      const keyPos = xs.pos(i);
      let attr: PullAttr;
      if (key instanceof Keyword) attr = this.pullAttr(key, keyPos);
      else if (key instanceof EdnList) attr = this.pullAttrExpr(key, keyPos);
      else if (Array.isArray(key)) attr = this.pullAttrWithOpts(key, keyPos);
      else return this.expected(DESC.pullMapKey, xs, i);
      const val = xs.items[i + 1]!;
      const valPos = xs.pos(i + 1);
      if (Array.isArray(val)) attr.sub = this.pattern(val, valPos);
      else if (wordOf(val) === 'ellipsis') attr.sub = { kind: 'recurse', depth: null };
      else if (isNumberForm(val)) {
        if (typeof val !== 'number' || !Number.isInteger(val) || val < 1) this.later('query/syntax', `expected a positive integer recursion depth but found ${printEdn(val)}`, valPos);
        attr.sub = { kind: 'recurse', depth: val as number };
      } else this.expected(DESC.pullMapValue, xs, i + 1);
      attr.pos = keyPos;
      out.push(attr);
    }
    return out;
  }

  private pullAttr(k: Keyword, pos: SourcePos): PullAttr {
    const reverse = k.isReverse;
    return { kind: 'pull-attr', attr: reverse ? k.reverse().fqn : k.fqn, reverse, pos };
  }

  /** `(limit :attr n|nil)` or `(default :attr value)`. */
  private pullAttrExpr(list: EdnList, pos: SourcePos): PullAttr {
    const xs = this.items(list, pos);
    const op = xs.items[0];
    const opName = op instanceof Sym ? op.name : undefined;
    if (opName !== 'limit' && opName !== 'default') return this.expected(DESC.pullAttrExpr, xs, 0);
    const kw = xs.items[1];
    if (!(kw instanceof Keyword)) return this.expected('a keyword', xs, 1, DESC.pullAttrExpr);
    const attr = this.pullAttr(kw, pos);
    if (opName === 'limit') attr.limit = this.limitValue(xs, 2, DESC.pullAttrExpr);
    else if (xs.length < 3) this.expected('an EDN form', xs, 2);
    else attr.default = { value: xs.items[2]! };
    if (xs.length > 3) this.expected("')'", xs, 3, DESC.pullAttrExpr);
    return attr;
  }

  /** `[:attr :as x :limit n :default v :xform f]`. */
  private pullAttrWithOpts(v: EdnValue[], pos: SourcePos): PullAttr {
    const xs = this.items(v, pos);
    const kw = xs.items[0];
    if (!(kw instanceof Keyword)) return this.expected('a keyword', xs, 0, DESC.pullAttrWithOpts);
    const attr = this.pullAttr(kw, pos);
    const seen = new Set<string>();
    for (let i = 1; i < xs.length; i += 2) {
      const opt = keywordNamed(xs.items[i], PULL_OPTIONS);
      if (!opt) this.expected("another option (:as, :limit, :default, :xform) or ']'", xs, i, DESC.pullAttrWithOpts);
      if (seen.has(opt)) this.later('query/syntax', `expected each pull option once but found :${opt} twice`, xs.pos(i));
      seen.add(opt);
      const value = xs.items[i + 1];
      if (opt === 'limit') attr.limit = this.limitValue(xs, i + 1, DESC.pullAttrWithOpts);
      else if (value === undefined) this.expected('an EDN form', xs, i + 1);
      else if (opt === 'as') attr.as = value;
      else if (opt === 'default') attr.default = { value };
      else if (value instanceof Sym) attr.xform = value.name;
      else this.expected('a symbol', xs, i + 1, DESC.pullAttrWithOpts);
    }
    return attr;
  }

  private limitValue(xs: Items, i: number, context: string): number | null {
    const v = xs.items[i];
    if (v === null) return null;
    if (!isNumberForm(v)) return this.expected('a number or nil', xs, i, context);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.later('query/syntax', `expected a non-negative integer limit or nil but found ${printEdn(v)}`, xs.pos(i));
    return v as number;
  }
}

/**
 * Refuse forms nested deeper than MAX_QUERY_DEPTH (collections and tags count, as in the text),
 * before the parser recurses: reported at the first form too deep.
 */
export function checkDepth(src: LocatedForm): void {
  const walk = (x: EdnValue, pos: SourcePos, depth: number, tags: number): void => {
    if (x instanceof Tagged || x instanceof Date || x instanceof Uuid) {
      if (depth + tags + 1 > MAX_QUERY_DEPTH) tooDeep(pos);
      if (x instanceof Tagged) walk(x.value, pos, depth, tags + 1);
      return;
    }
    if (!(Array.isArray(x) || x instanceof EdnList || x instanceof Map || x instanceof Set)) return;
    if (depth + 1 > MAX_QUERY_DEPTH) tooDeep(pos);
    const layout = src.layouts.get(x);
    const items = x instanceof Map ? [...x].flat() : x instanceof EdnList ? x.items : [...x];
    items.forEach((item, i) => walk(item, layout?.items[i] ?? pos, depth + 1, 0));
  };
  walk(src.value, src.pos, 0, 0);
}

function tooDeep(pos: SourcePos): never {
  throw new QueryParseError('query/too-deep', `expected forms nested at most ${MAX_QUERY_DEPTH} levels deep`, { pos });
}
