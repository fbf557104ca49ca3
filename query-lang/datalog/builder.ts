// CST (from ./parser.ts) -> typed AST (./ast.ts). Shape-level checks that the grammar cannot express
// (`.`/`...` placement, duplicate sections, option values) are reported here.
import type { CstNode, IToken } from 'chevrotain';
import { readEdn } from '../edn/reader.js';
import { Keyword, type EdnValue, type SourcePos } from '../edn/types.js';
import {
  AndSym,
  Blank as BlankTok,
  DefaultSym,
  FindKw,
  InKw,
  KeysKw,
  LimitSym,
  Nil,
  NotJoinSym,
  NotSym,
  OrJoinSym,
  OrSym,
  RulesTok,
  SrcTok,
  StarSym,
  StringLit,
  StrsKw,
  VarTok,
  WhereKw,
  WithKw,
  tokenPos,
} from '../edn/lexer.js';
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
  PullElem,
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

type Child = CstNode | IToken;

function isToken(c: Child): c is IToken {
  return (c as IToken).tokenType !== undefined;
}

function nodePos(n: CstNode): SourcePos {
  const l = n.location!;
  return { line: l.startLine ?? 1, column: l.startColumn ?? 1, offset: l.startOffset };
}

function kids(n: CstNode, name: string): Child[] {
  return n.children[name] ?? [];
}
function tok(n: CstNode, name: string): IToken | undefined {
  return n.children[name]?.[0] as IToken | undefined;
}
function node(n: CstNode, name: string): CstNode | undefined {
  return n.children[name]?.[0] as CstNode | undefined;
}
function nodes(n: CstNode, name: string): CstNode[] {
  return (n.children[name] ?? []) as CstNode[];
}
function toks(n: CstNode, name: string): IToken[] {
  return (n.children[name] ?? []) as IToken[];
}

export class AstBuilder {
  constructor(readonly text: string) {}

  fail(code: string, message: string, pos: SourcePos | undefined, formText?: string): never {
    throw new QueryParseError(code, message, { pos, form: formText });
  }

  /** The source text of a CST node or token. */
  source(c: Child): string {
    if (isToken(c)) return c.image;
    const l = c.location!;
    return this.text.slice(l.startOffset, (l.endOffset ?? l.startOffset) + 1);
  }

  ednValue(c: Child): EdnValue {
    return readEdn(this.source(c));
  }

  // ---------- terms ----------

  variable(t: IToken): Variable {
    return { kind: 'var', name: t.image, pos: tokenPos(t) };
  }
  srcVar(t: IToken): SrcVar {
    return { kind: 'src', name: t.image, pos: tokenPos(t) };
  }
  blank(t: IToken): Blank {
    return { kind: 'blank', pos: tokenPos(t) };
  }
  constant(n: CstNode): Constant {
    return { kind: 'const', value: this.ednValue(n), pos: nodePos(n) };
  }

  term(n: CstNode): Term {
    const v = tok(n, VarTok.name);
    if (v) return this.variable(v);
    const b = tok(n, BlankTok.name);
    if (b) return this.blank(b);
    return this.constant(node(n, 'constant')!);
  }

  fnArg(n: CstNode): FnArg {
    const s = tok(n, SrcTok.name);
    if (s) return this.srcVar(s);
    const v = tok(n, VarTok.name);
    if (v) return this.variable(v);
    const b = tok(n, BlankTok.name);
    if (b) return this.blank(b);
    return this.constant(node(n, 'constant')!);
  }

  patternName(t: IToken): PatternName {
    return { kind: 'pattern-name', name: t.image, pos: tokenPos(t) };
  }

  fnName(t: IToken): FnName | Variable {
    return t.tokenType === VarTok ? this.variable(t) : { kind: 'fn-name', name: t.image, pos: tokenPos(t) };
  }

  // ---------- query ----------

  query(n: CstNode): Query {
    const sections = [...nodes(n, 'querySection'), ...nodes(n, 'queryMapEntry')];
    const seen = new Map<string, CstNode>();
    let find: FindSpec | undefined;
    let returnMap: ReturnMap | undefined;
    let withVars: Variable[] = [];
    let inBindings: Binding[] | undefined;
    let where: Clause[] = [];
    let findNode: CstNode | undefined;
    for (const s of sections) {
      const key = tok(s, 'key')!;
      const group = key.tokenType === KeysKw || key.tokenType === StrsKw || key.tokenType.name === 'SymsKw' ? ':keys/:strs/:syms' : key.image;
      if (seen.has(group)) this.fail('query/syntax', `expected each query section once but found a second ${key.image}`, tokenPos(key));
      seen.set(group, s);
      switch (key.tokenType) {
        case FindKw:
          findNode = s;
          find = this.findSpec(node(s, 'findSpec')!);
          break;
        case WithKw:
          withVars = toks(s, VarTok.name).map((t) => this.variable(t));
          break;
        case InKw:
          inBindings = nodes(s, 'binding').map((b) => this.binding(b, 'in'));
          break;
        case WhereKw:
          where = nodes(s, 'clause').map((c) => this.clause(c, false));
          break;
        default: {
          const names = kids(node(s, 'returnNames')!, 'name').map((t) => {
            const tk = t as IToken;
            return tk.tokenType === StringLit ? (readEdn(tk.image) as string) : tk.image;
          });
          const kind = key.image.slice(1) as ReturnMap['kind'];
          returnMap = { kind, names };
          if (names.length === 0) this.fail('query/invalid-find', `expected at least one name after ${key.image}`, tokenPos(key));
        }
      }
    }
    if (!find) this.fail('query/invalid-find', 'expected a :find section in the query', nodePos(n));
    if (returnMap) {
      const keyTok = tok(seen.get(':keys/:strs/:syms')!, 'key')!;
      if (find.kind === 'find-scalar' || find.kind === 'find-coll') {
        this.fail('query/invalid-find', `expected a relation or tuple find spec with :${returnMap.kind} but found a ${find.kind === 'find-scalar' ? 'scalar (?x .)' : 'collection ([?x ...])'} find spec`, tokenPos(keyTok));
      }
      const count = find.elements.length;
      if (returnMap.names.length !== count) {
        this.fail('query/invalid-find', `expected ${count} name(s) after :${returnMap.kind} (one per :find element) but found ${returnMap.names.length}`, tokenPos(keyTok));
      }
    }
    void findNode;
    return {
      find,
      ...(returnMap ? { returnMap } : {}),
      with: withVars,
      in: inBindings ?? [{ kind: 'src', name: '$' }],
      where,
      pos: nodePos(n),
      text: this.text,
    };
  }

  findSpec(n: CstNode): FindSpec {
    const elems = nodes(n, 'findElem').map((e) => this.findElem(e));
    const ellipsis = tok(n, 'Ellipsis');
    const dot = tok(n, 'Dot');
    if (tok(n, 'LBracket')) {
      if (ellipsis) {
        if (elems.length !== 1) this.fail('query/invalid-find', `expected exactly one element before '...' in a collection find spec [?x ...] but found ${elems.length}`, tokenPos(ellipsis));
        return { kind: 'find-coll', element: elems[0]! };
      }
      return { kind: 'find-tuple', elements: elems };
    }
    if (dot) {
      if (elems.length !== 1) this.fail('query/invalid-find', `expected exactly one element before '.' in a scalar find spec (?x .) but found ${elems.length}`, tokenPos(dot));
      return { kind: 'find-scalar', element: elems[0]! };
    }
    return { kind: 'find-rel', elements: elems };
  }

  findElem(n: CstNode): FindElem {
    const v = tok(n, VarTok.name);
    if (v) return this.variable(v);
    const pull = node(n, 'pullExpr');
    if (pull) {
      const src = tok(pull, SrcTok.name);
      const pv = tok(pull, 'patternVar');
      const pn = tok(pull, 'patternName');
      const pe: PullElem = {
        kind: 'pull',
        ...(src ? { src: this.srcVar(src) } : {}),
        variable: this.variable(tok(pull, 'entity')!),
        pattern: pv ? this.variable(pv) : pn ? this.patternName(pn) : this.pullPattern(node(pull, 'pullPattern')!),
        pos: nodePos(n),
      };
      return pe;
    }
    const agg = node(n, 'aggregate')!;
    const args = kids(agg, 'arg').map((a) => (isToken(a) ? this.variable(a) : this.constant(a)));
    const last = args[args.length - 1]!;
    if (last.kind !== 'var') {
      this.fail('query/invalid-find', `expected the aggregated ?variable as the last argument of (${tok(agg, 'fn')!.image} ...) but found a constant`, last.pos);
    }
    const ae: AggregateElem = { kind: 'aggregate', fn: this.fnName(tok(agg, 'fn')!), args, pos: nodePos(n) };
    return ae;
  }

  binding(n: CstNode, where: 'in' | 'in-nested' | 'fn'): Binding {
    const v = tok(n, VarTok.name);
    if (v) return this.variable(v);
    const b = tok(n, BlankTok.name);
    if (b) return this.blank(b);
    const s = tok(n, SrcTok.name);
    if (s) {
      if (where !== 'in') this.fail('query/invalid-binding', `expected a ?variable or _ but found source ${s.image} (sources can only be bound at the top level of :in)`, tokenPos(s));
      return this.srcVar(s);
    }
    const pn = tok(n, 'patternName');
    if (pn) {
      if (where !== 'in') this.fail('query/invalid-binding', `expected a ?variable or _ but found ${pn.image} (a plain symbol names a pull pattern, and only at the top level of :in)`, tokenPos(pn));
      return this.patternName(pn);
    }
    const r = tok(n, RulesTok.name);
    if (r) {
      if (where !== 'in') this.fail('query/invalid-binding', `expected a ?variable or _ but found rules var ${r.image} (rules can only be bound at the top level of :in)`, tokenPos(r));
      return { kind: 'rules-var', name: r.image };
    }
    const inner = where === 'fn' ? 'fn' : 'in-nested';
    const subs = nodes(n, 'binding');
    const ellipsis = tok(n, 'Ellipsis');
    if (ellipsis) {
      if (subs.length !== 1) this.fail('query/invalid-binding', `expected exactly one binding before '...' in a collection binding [?x ...] but found ${subs.length}`, tokenPos(ellipsis));
      return { kind: 'bind-coll', element: this.binding(subs[0]!, inner) };
    }
    if (subs.length === 1 && tok(subs[0]!, 'LBracket') && !tok(subs[0]!, 'Ellipsis')) {
      return { kind: 'bind-rel', elements: nodes(subs[0]!, 'binding').map((x) => this.binding(x, inner)) };
    }
    return { kind: 'bind-tuple', elements: subs.map((x) => this.binding(x, inner)) };
  }

  // ---------- where ----------

  clause(n: CstNode, inOr: boolean): Clause {
    const bc = node(n, 'bracketClause');
    const pos = nodePos(n);
    if (bc) {
      const fe = node(bc, 'fnExpr');
      if (fe) {
        const fn = this.fnName(tok(fe, 'fn')!);
        const args = nodes(fe, 'fnArg').map((a) => this.fnArg(a));
        const b = node(bc, 'binding');
        if (b) return { kind: 'function', fn, args, binding: this.binding(b, 'fn'), pos };
        return { kind: 'predicate', fn, args, pos };
      }
      const src = tok(bc, SrcTok.name);
      const terms = nodes(bc, 'term').map((t) => this.term(t));
      if (terms.length > 5) this.fail('query/syntax', `expected a data pattern of at most 5 terms [e a v tx added] but found ${terms.length}`, pos, this.source(n));
      return { kind: 'pattern', ...(src ? { src: this.srcVar(src) } : {}), terms, pos };
    }
    const lc = node(n, 'listClause')!;
    const srcTok = tok(lc, SrcTok.name);
    const src = srcTok ? { src: this.srcVar(srcTok) } : {};
    const op = tok(lc, 'op');
    const sub = (inOrBranch: boolean) => nodes(lc, 'clause').map((c) => this.clause(c, inOrBranch));
    if (!op) {
      const name = tok(lc, 'rule')!;
      return { kind: 'rule-call', ...src, name: name.image, args: nodes(lc, 'term').map((t) => this.term(t)), pos };
    }
    switch (op.tokenType) {
      case NotSym:
        return { kind: 'not', ...src, clauses: sub(false), pos };
      case NotJoinSym:
        return { kind: 'not', ...src, joinVars: toks(lc, 'joinVar').map((t) => this.variable(t)), clauses: sub(false), pos };
      case OrSym:
      case OrJoinSym: {
        const branches = sub(true).map((c) => (c.kind === 'and' ? c.clauses : [c]));
        const rv = node(lc, 'ruleVars');
        return { kind: 'or', ...src, ...(rv ? { joinVars: this.ruleVars(rv) } : {}), branches, pos };
      }
      case AndSym:
        if (!inOr) this.fail('query/syntax', 'expected (and ...) only as a branch of (or ...) / (or-join ...)', pos, this.source(n));
        if (srcTok) this.fail('query/syntax', `expected (and ...) without a source but found ${srcTok.image}`, tokenPos(srcTok));
        return { kind: 'and', clauses: sub(false), pos };
      default:
        return this.fail('query/syntax', `unexpected ${op.image}`, tokenPos(op));
    }
  }

  ruleVars(n: CstNode): RuleVars {
    return { required: toks(n, 'required').map((t) => this.variable(t)), free: toks(n, 'free').map((t) => this.variable(t)) };
  }

  // ---------- rules ----------

  ruleSet(n: CstNode): RuleSet {
    return nodes(n, 'ruleDef').map((d) => this.ruleDef(d));
  }

  ruleDef(n: CstNode): Rule {
    const head = node(n, 'ruleHead')!;
    const name = tok(head, 'NameSym') ?? (head.children['NameSym']?.[0] as IToken);
    const vars = this.ruleVars(node(head, 'ruleVars')!);
    const all = [...vars.required, ...vars.free];
    if (all.length === 0) this.fail('query/syntax', `expected at least one ?variable in the head of rule ${name.image}`, nodePos(head));
    const names = new Set<string>();
    for (const v of all) {
      if (names.has(v.name)) this.fail('query/syntax', `expected distinct variables in the head of rule ${name.image} but found ${v.name} twice`, v.pos);
      names.add(v.name);
    }
    return { name: name.image, vars, clauses: nodes(n, 'clause').map((c) => this.clause(c, false)), pos: nodePos(n) };
  }

  // ---------- pull ----------

  pullPattern(n: CstNode): PullPattern {
    const elements: PullElement[] = [];
    for (const e of nodes(n, 'pullElem')) elements.push(...this.pullElem(e));
    return { kind: 'pull-pattern', elements, pos: nodePos(n) };
  }

  pullElem(n: CstNode): PullElement[] {
    const pos = nodePos(n);
    const kw = tok(n, 'Keyword') ?? this.anyKeyword(n);
    if (kw) return [this.pullAttr(kw)];
    if (tok(n, StarSym.name)) return [{ kind: 'wildcard', pos }];
    const s = tok(n, StringLit.name);
    if (s) {
      if (readEdn(s.image) !== '*') this.fail('query/syntax', `expected an attribute keyword or "*" in pull pattern but found ${s.image}`, pos);
      return [{ kind: 'wildcard', pos }];
    }
    const ae = node(n, 'pullAttrExpr');
    if (ae) return [this.pullAttrExpr(ae)];
    const ao = node(n, 'pullAttrWithOpts');
    if (ao) return [this.pullAttrWithOpts(ao)];
    // map spec
    return nodes(n, 'pullMapEntry').map((entry) => {
      const key = node(entry, 'pullMapKey')!;
      const kk = tok(key, 'Keyword') ?? this.anyKeyword(key);
      const attr = kk ? this.pullAttr(kk) : node(key, 'pullAttrExpr') ? this.pullAttrExpr(node(key, 'pullAttrExpr')!) : this.pullAttrWithOpts(node(key, 'pullAttrWithOpts')!);
      const val = node(entry, 'pullMapValue')!;
      const pat = node(val, 'pullPattern');
      if (pat) attr.sub = this.pullPattern(pat);
      else if (tok(val, 'Ellipsis')) attr.sub = { kind: 'recurse', depth: null };
      else {
        const num = tok(val, 'NumberLit')!;
        const d = readEdn(num.image);
        if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) this.fail('query/syntax', `expected a positive integer recursion depth but found ${num.image}`, tokenPos(num));
        attr.sub = { kind: 'recurse', depth: d };
      }
      attr.pos = nodePos(entry);
      return attr;
    });
  }

  /** Keyword tokens of the specialised keyword types (:as, :limit, :find ...) used as attributes. */
  anyKeyword(n: CstNode): IToken | undefined {
    for (const [k, v] of Object.entries(n.children)) {
      if (k.endsWith('Kw') && v.length && isToken(v[0]!)) return v[0] as IToken;
    }
    return undefined;
  }

  pullAttr(kwTok: IToken): PullAttr {
    const k = Keyword.of(kwTok.image);
    const reverse = k.isReverse;
    return { kind: 'pull-attr', attr: reverse ? k.reverse().fqn : k.fqn, reverse, pos: tokenPos(kwTok) };
  }

  limitValue(t: IToken): number | null {
    if (t.tokenType === Nil) return null;
    const v = readEdn(t.image);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) this.fail('query/syntax', `expected a non-negative integer limit or nil but found ${t.image}`, tokenPos(t));
    return v;
  }

  pullAttrExpr(n: CstNode): PullAttr {
    const op = tok(n, 'op')!;
    const kws = (n.children['Keyword'] ?? []) as IToken[];
    const kwTok = kws[0] ?? this.anyKeyword(n)!;
    const attr = this.pullAttr(kwTok);
    attr.pos = nodePos(n);
    if (op.tokenType === LimitSym) attr.limit = this.limitValue(tok(n, 'limit')!);
    else if (op.tokenType === DefaultSym) attr.default = { value: this.ednValue(node(n, 'default')!) };
    return attr;
  }

  pullAttrWithOpts(n: CstNode): PullAttr {
    const kwTok = tok(n, 'Keyword') ?? this.anyKeyword(n)!;
    const attr = this.pullAttr(kwTok);
    attr.pos = nodePos(n);
    const seen = new Set<string>();
    for (const o of nodes(n, 'pullOption')) {
      const opt = tok(o, 'opt')!;
      if (seen.has(opt.image)) this.fail('query/syntax', `expected each pull option once but found ${opt.image} twice`, tokenPos(opt));
      seen.add(opt.image);
      const val = kids(o, 'value')[0]!;
      if (opt.image === ':limit') attr.limit = this.limitValue(val as IToken);
      else if (opt.image === ':as') attr.as = this.ednValue(val);
      else if (opt.image === ':xform') attr.xform = (val as IToken).image;
      else attr.default = { value: this.ednValue(val) };
    }
    return attr;
  }
}
