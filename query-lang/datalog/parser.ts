// Chevrotain grammar for Datomic-dialect Datalog queries, rules and pull patterns, over the EDN token
// vocabulary of ../edn/lexer.ts. It only recognises shapes and builds a CST; ./builder.ts turns the CST
// into the typed AST of ./ast.ts and ./validate.ts does the static checks.
import type { IParserErrorMessageProvider, IToken, TokenType } from 'chevrotain';
import { chevrotain } from '../chevrotain.js';

const { CstParser, EOF } = chevrotain;
import {
  allTokens,
  AndSym,
  AnySymbol,
  AsKw,
  Blank,
  CharLit,
  DefaultKw,
  XformKw,
  DefaultSym,
  Dot,
  Ellipsis,
  False,
  FindKw,
  HashBrace,
  InKw,
  KeysKw,
  KeywordTok,
  LBrace,
  LBracket,
  LimitKw,
  LimitSym,
  LParen,
  NameSym,
  Nil,
  NotJoinSym,
  NotSym,
  NumberLit,
  OrJoinSym,
  OrSym,
  PullSym,
  RBrace,
  RBracket,
  RParen,
  RulesTok,
  SrcTok,
  StarSym,
  StringLit,
  StrsKw,
  SymbolicValue,
  SymsKw,
  Tag,
  True,
  VarTok,
  WhereKw,
  WithKw,
} from '../edn/lexer.js';

/** Human descriptions of grammar rules, used in error messages ("expected <this> but found ..."). */
export const RULE_DESCRIPTIONS: Record<string, string> = {
  query: 'a query: [:find ... :where ...] or {:find [...] :where [...]}',
  querySection: 'a query section keyword (:find, :keys, :strs, :syms, :with, :in, :where)',
  queryMapEntry: 'a query map entry (:find [...], :in [...], :where [...], :with [...], :keys [...])',
  findSpec: 'a find spec (?a ?b, ?a ., [?a ...] or [?a ?b])',
  findElem: 'a find element (?var, (aggregate ... ?var) or (pull ?e [pattern]))',
  findExpr: 'an aggregate (count ?x) or pull expression (pull ?e [...])',
  pullExpr: 'a pull expression (pull $src? ?e [pattern] | ?pattern-var | pattern-name)',
  aggregate: 'an aggregate like (count ?x), (min 3 ?x) or (?agg ?x)',
  returnNames: 'names (symbols) for :keys/:strs/:syms',
  binding: 'a binding form ($src, %, ?x, _, a pattern name, [?a ?b], [?a ...] or [[?a ?b]])',
  clause: 'a where clause: [?e :attr ?v], [(pred ?x)], [(fn ?x) ?y], (not ...), (not-join [...] ...), (or ...), (or-join [...] ...), (and ...) or (rule ?x)',
  bracketClause: 'a data pattern [$src? e a v tx added] or a function/predicate expression [(fn args...) binding?]',
  listClause: 'a list clause: (not ...), (not-join [...] ...), (or ...), (or-join [...] ...), (and ...) or (rule-name ?args...)',
  fnExpr: 'a function or predicate expression (name args...)',
  fnArg: 'a function argument (?var, $src, _, or a constant)',
  term: 'a pattern term (?var, _ or a constant)',
  constant: 'a constant (string, number, keyword, nil, boolean, char, tagged literal, vector, map or set)',
  ednForm: 'an EDN form',
  ruleVars: 'rule variables ([?required ...] ?free ...)',
  ruleSet: 'a rule set [[(rule-name ?a ?b) clause ...] ...]',
  ruleDef: 'a rule [(rule-name ?vars...) clause ...]',
  ruleHead: 'a rule head (rule-name [?required ...] ?free ...)',
  pullPattern: 'a pull pattern [...]',
  pullElem: 'a pull pattern element (:attr, *, {:attr sub-pattern}, (limit :attr n), (default :attr v) or [:attr :as x :limit n :default v :xform f])',
  pullMapEntry: 'a pull map entry (:attr [pattern] | ... | depth)',
  pullMapKey: 'a pull map key (:attr, (limit ...), (default ...) or [:attr options...])',
  pullMapValue: 'a pull sub-pattern: [pattern], ... (recursion) or a recursion depth',
  pullAttrExpr: 'a pull attribute expression (limit :attr n|nil) or (default :attr value)',
  pullAttrWithOpts: 'an attribute with options [:attr :as x :limit n :default v :xform f]',
  pullOption: 'a pull attribute option (:as x, :limit n|nil, :default v, :xform f)',
};

/** What else could have come before a closing bracket in a rule, for friendlier messages. */
const CLOSER_CONTEXT: Record<string, string> = {
  query: 'another element of the current section (a where clause, binding, find element ...), a section keyword (:find :keys :with :in :where)',
  queryMapEntry: 'another element of this section',
  findSpec: 'another find element',
  binding: 'another binding',
  bracketClause: 'another pattern term',
  fnExpr: 'another function argument',
  listClause: 'another clause or argument',
  ruleSet: 'another rule [(head ...) clauses...]',
  ruleDef: 'another clause',
  ruleVars: 'another ?variable',
  pullPattern: 'another pull pattern element',
  pullAttrWithOpts: 'another option (:as, :limit, :default, :xform)',
};

function describeTok(tok: IToken | undefined): string {
  if (!tok || tok.tokenType === EOF) return 'end of input';
  const img = tok.image.length > 40 ? tok.image.slice(0, 37) + '...' : tok.image;
  return `'${img}'`;
}

/** In an iteration's ERR_MSG: the token before the missing item (the name of a rule call). */
const PREVIOUS_TOKEN = '<previous>';

/** 'a list clause: ...' -> 'list clause: ...', for "expected at least one ...". */
function withoutArticle(description: string): string {
  return description.replace(/^an? /, '');
}

function tokLabel(t: TokenType): string {
  return t.LABEL ?? t.name;
}

const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    const where = RULE_DESCRIPTIONS[ruleName];
    const before = CLOSER_CONTEXT[ruleName];
    const exp = before && ['RBracket', 'RBrace', 'RParen'].includes(expected.name) ? `${before} or ${tokLabel(expected)}` : tokLabel(expected);
    return `expected ${exp} but found ${describeTok(actual)}${where ? ` (while reading ${where})` : ''}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected end of input but found ${describeTok(firstRedundant)}`;
  },
  buildNoViableAltMessage({ actual, ruleName }) {
    return `expected ${RULE_DESCRIPTIONS[ruleName] ?? ruleName} but found ${describeTok(actual[0])}`;
  },
  buildEarlyExitMessage({ actual, previous, ruleName, customUserDescription }) {
    if (customUserDescription) return `expected ${customUserDescription.replace(PREVIOUS_TOKEN, previous.image)} but found ${describeTok(actual[0])}`;
    return `expected at least one ${withoutArticle(RULE_DESCRIPTIONS[ruleName] ?? ruleName)} but found ${describeTok(actual[0])}`;
  },
};

export class DatalogParser extends CstParser {
  constructor() {
    super(allTokens, { maxLookahead: 3, nodeLocationTracking: 'full', errorMessageProvider: errorMessages });
    this.performSelfAnalysis();
  }

  // ---------- EDN literals ----------

  /** Any EDN form, including symbols and lists (only used inside constants and pull options). */
  ednForm = this.RULE('ednForm', () => {
    this.OR([
      { ALT: () => this.CONSUME(StringLit) },
      { ALT: () => this.CONSUME(NumberLit) },
      { ALT: () => this.CONSUME(KeywordTok) },
      { ALT: () => this.CONSUME(CharLit) },
      { ALT: () => this.CONSUME(Nil) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.CONSUME(SymbolicValue) },
      { ALT: () => this.CONSUME(AnySymbol) },
      {
        ALT: () => {
          this.CONSUME(Tag);
          this.SUBRULE(this.ednForm);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.MANY(() => this.SUBRULE2(this.ednForm));
          this.CONSUME(RParen);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.MANY2(() => this.SUBRULE3(this.ednForm));
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LBrace);
          this.MANY3(() => this.SUBRULE4(this.ednForm));
          this.CONSUME(RBrace);
        },
      },
      {
        ALT: () => {
          this.CONSUME(HashBrace);
          this.MANY4(() => this.SUBRULE5(this.ednForm));
          this.CONSUME2(RBrace);
        },
      },
    ]);
  });

  /** A constant in term/argument position: any EDN form except bare symbols and lists. */
  constant = this.RULE('constant', () => {
    this.OR([
      { ALT: () => this.CONSUME(StringLit) },
      { ALT: () => this.CONSUME(NumberLit) },
      { ALT: () => this.CONSUME(KeywordTok) },
      { ALT: () => this.CONSUME(CharLit) },
      { ALT: () => this.CONSUME(Nil) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
      { ALT: () => this.CONSUME(SymbolicValue) },
      {
        ALT: () => {
          this.CONSUME(Tag);
          this.SUBRULE(this.ednForm);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.MANY(() => this.SUBRULE2(this.ednForm));
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LBrace);
          this.MANY2(() => this.SUBRULE3(this.ednForm));
          this.CONSUME(RBrace);
        },
      },
      {
        ALT: () => {
          this.CONSUME(HashBrace);
          this.MANY3(() => this.SUBRULE4(this.ednForm));
          this.CONSUME2(RBrace);
        },
      },
    ]);
  });

  // ---------- query ----------

  query = this.RULE('query', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.MANY(() => this.SUBRULE(this.querySection));
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LBrace);
          this.MANY2(() => this.SUBRULE(this.queryMapEntry));
          this.CONSUME(RBrace);
        },
      },
    ]);
  });

  /** Vector form: a section keyword followed by its forms, up to the next section keyword. */
  querySection = this.RULE('querySection', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(FindKw, { LABEL: 'key' });
          this.SUBRULE(this.findSpec);
        },
      },
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(KeysKw, { LABEL: 'key' }) },
            { ALT: () => this.CONSUME(StrsKw, { LABEL: 'key' }) },
            { ALT: () => this.CONSUME(SymsKw, { LABEL: 'key' }) },
          ]);
          this.SUBRULE(this.returnNames);
        },
      },
      {
        ALT: () => {
          this.CONSUME(WithKw, { LABEL: 'key' });
          this.MANY(() => this.CONSUME(VarTok));
        },
      },
      {
        ALT: () => {
          this.CONSUME(InKw, { LABEL: 'key' });
          this.MANY2(() => this.SUBRULE(this.binding));
        },
      },
      {
        ALT: () => {
          this.CONSUME(WhereKw, { LABEL: 'key' });
          this.MANY3(() => this.SUBRULE(this.clause));
        },
      },
    ]);
  });

  /** Map form: a section keyword followed by a vector of its forms. */
  queryMapEntry = this.RULE('queryMapEntry', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(FindKw, { LABEL: 'key' });
          this.CONSUME(LBracket);
          this.SUBRULE(this.findSpec);
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.OR2([
            { ALT: () => this.CONSUME(KeysKw, { LABEL: 'key' }) },
            { ALT: () => this.CONSUME(StrsKw, { LABEL: 'key' }) },
            { ALT: () => this.CONSUME(SymsKw, { LABEL: 'key' }) },
          ]);
          this.CONSUME2(LBracket);
          this.SUBRULE(this.returnNames);
          this.CONSUME2(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(WithKw, { LABEL: 'key' });
          this.CONSUME3(LBracket);
          this.MANY(() => this.CONSUME(VarTok));
          this.CONSUME3(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(InKw, { LABEL: 'key' });
          this.CONSUME4(LBracket);
          this.MANY2(() => this.SUBRULE(this.binding));
          this.CONSUME4(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(WhereKw, { LABEL: 'key' });
          this.CONSUME5(LBracket);
          this.MANY3(() => this.SUBRULE(this.clause));
          this.CONSUME5(RBracket);
        },
      },
    ]);
  });

  returnNames = this.RULE('returnNames', () => {
    this.MANY(() =>
      this.OR([
        { ALT: () => this.CONSUME(AnySymbol, { LABEL: 'name' }) },
        { ALT: () => this.CONSUME(StringLit, { LABEL: 'name' }) },
      ]),
    );
  });

  findSpec = this.RULE('findSpec', () => {
    this.OR([
      {
        // [?a ...] (collection) or [?a ?b] (tuple)
        ALT: () => {
          this.CONSUME(LBracket);
          this.AT_LEAST_ONE(() => this.SUBRULE(this.findElem));
          this.OPTION(() => this.CONSUME(Ellipsis));
          this.CONSUME(RBracket);
        },
      },
      {
        // ?a ?b (relation) or ?a . (scalar)
        ALT: () => {
          this.AT_LEAST_ONE2(() => this.SUBRULE2(this.findElem));
          this.OPTION2(() => this.CONSUME(Dot));
        },
      },
    ]);
  });

  findElem = this.RULE('findElem', () => {
    this.OR([
      { ALT: () => this.CONSUME(VarTok) },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.OR2([{ ALT: () => this.SUBRULE(this.pullExpr) }, { ALT: () => this.SUBRULE(this.aggregate) }]);
          this.CONSUME(RParen);
        },
      },
    ]);
  });

  pullExpr = this.RULE('pullExpr', () => {
    this.CONSUME(PullSym);
    this.OPTION(() => this.CONSUME(SrcTok));
    this.CONSUME(VarTok, { LABEL: 'entity' });
    this.OR([
      { ALT: () => this.SUBRULE(this.pullPattern) },
      { ALT: () => this.CONSUME2(VarTok, { LABEL: 'patternVar' }) },
      // Datomic's pattern-name: a plain symbol bound in :in
      { ALT: () => this.CONSUME(NameSym, { LABEL: 'patternName' }) },
    ]);
  });

  aggregate = this.RULE('aggregate', () => {
    this.OR([
      { ALT: () => this.CONSUME(NameSym, { LABEL: 'fn' }) },
      { ALT: () => this.CONSUME(VarTok, { LABEL: 'fn' }) },
    ]);
    this.AT_LEAST_ONE(() =>
      this.OR2([
        { ALT: () => this.CONSUME2(VarTok, { LABEL: 'arg' }) },
        { ALT: () => this.SUBRULE(this.constant, { LABEL: 'arg' }) },
      ]),
    );
  });

  /** $src, %, ?x, _, pattern-name, [?a ?b], [?a ...], [[?a ?b]] (the builder allows a pattern name only at the top of :in) */
  binding = this.RULE('binding', () => {
    this.OR([
      { ALT: () => this.CONSUME(VarTok) },
      { ALT: () => this.CONSUME(Blank) },
      { ALT: () => this.CONSUME(SrcTok) },
      { ALT: () => this.CONSUME(RulesTok) },
      { ALT: () => this.CONSUME(NameSym, { LABEL: 'patternName' }) },
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.AT_LEAST_ONE(() => this.SUBRULE(this.binding));
          this.OPTION(() => this.CONSUME(Ellipsis));
          this.CONSUME(RBracket);
        },
      },
    ]);
  });

  // ---------- where ----------

  clause = this.RULE('clause', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(LBracket);
          this.SUBRULE(this.bracketClause);
          this.CONSUME(RBracket);
        },
      },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE(this.listClause);
          this.CONSUME(RParen);
        },
      },
    ]);
  });

  bracketClause = this.RULE('bracketClause', () => {
    this.OR([
      {
        // [(fn args...) binding?]
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE(this.fnExpr);
          this.CONSUME(RParen);
          this.OPTION(() => this.SUBRULE(this.binding));
        },
      },
      {
        // [$src? e a v tx added]
        ALT: () => {
          this.OPTION2(() => this.CONSUME(SrcTok));
          this.AT_LEAST_ONE(() => this.SUBRULE(this.term));
        },
      },
    ]);
  });

  fnExpr = this.RULE('fnExpr', () => {
    this.OR([
      { ALT: () => this.CONSUME(NameSym, { LABEL: 'fn' }) },
      { ALT: () => this.CONSUME(VarTok, { LABEL: 'fn' }) },
      // inside [( ... )] these are plain function names (the built-ins and/or/not), not clauses
      { ALT: () => this.CONSUME(AndSym, { LABEL: 'fn' }) },
      { ALT: () => this.CONSUME(OrSym, { LABEL: 'fn' }) },
      { ALT: () => this.CONSUME(NotSym, { LABEL: 'fn' }) },
    ]);
    this.MANY(() => this.SUBRULE(this.fnArg));
  });

  fnArg = this.RULE('fnArg', () => {
    this.OR([
      { ALT: () => this.CONSUME(VarTok) },
      { ALT: () => this.CONSUME(SrcTok) },
      { ALT: () => this.CONSUME(Blank) },
      { ALT: () => this.SUBRULE(this.constant) },
    ]);
  });

  term = this.RULE('term', () => {
    this.OR([
      { ALT: () => this.CONSUME(VarTok) },
      { ALT: () => this.CONSUME(Blank) },
      { ALT: () => this.SUBRULE(this.constant) },
    ]);
  });

  listClause = this.RULE('listClause', () => {
    this.OPTION(() => this.CONSUME(SrcTok));
    this.OR([
      {
        ALT: () => {
          this.CONSUME(NotSym, { LABEL: 'op' });
          this.AT_LEAST_ONE({ DEF: () => this.SUBRULE(this.clause), ERR_MSG: 'at least one clause in (not ...)' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(NotJoinSym, { LABEL: 'op' });
          this.CONSUME(LBracket);
          this.AT_LEAST_ONE2({ DEF: () => this.CONSUME(VarTok, { LABEL: 'joinVar' }), ERR_MSG: 'at least one ?variable in the join vector of (not-join [?vars ...] ...)' });
          this.CONSUME(RBracket);
          this.AT_LEAST_ONE3({ DEF: () => this.SUBRULE2(this.clause), ERR_MSG: 'at least one clause in (not-join [...] ...)' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(OrSym, { LABEL: 'op' });
          this.AT_LEAST_ONE4({ DEF: () => this.SUBRULE3(this.clause), ERR_MSG: 'at least one clause in (or ...)' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(OrJoinSym, { LABEL: 'op' });
          this.CONSUME2(LBracket);
          this.SUBRULE(this.ruleVars);
          this.CONSUME2(RBracket);
          this.AT_LEAST_ONE5({ DEF: () => this.SUBRULE4(this.clause), ERR_MSG: 'at least one clause in (or-join [...] ...)' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(AndSym, { LABEL: 'op' });
          this.AT_LEAST_ONE6({ DEF: () => this.SUBRULE5(this.clause), ERR_MSG: 'at least one clause in (and ...)' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(NameSym, { LABEL: 'rule' });
          this.AT_LEAST_ONE7({ DEF: () => this.SUBRULE(this.term), ERR_MSG: `at least one argument (?var, _ or a constant) in the rule call (${PREVIOUS_TOKEN} ...)` });
        },
      },
    ]);
  });

  /** `[?req ...] ?free ...` or `?free ...` (the contents of a rule head or or-join vector). */
  ruleVars = this.RULE('ruleVars', () => {
    this.OPTION(() => {
      this.CONSUME(LBracket);
      this.AT_LEAST_ONE(() => this.CONSUME(VarTok, { LABEL: 'required' }));
      this.CONSUME(RBracket);
    });
    this.MANY(() => this.CONSUME2(VarTok, { LABEL: 'free' }));
  });

  // ---------- rules ----------

  ruleSet = this.RULE('ruleSet', () => {
    this.CONSUME(LBracket);
    this.MANY(() => this.SUBRULE(this.ruleDef));
    this.CONSUME(RBracket);
  });

  ruleDef = this.RULE('ruleDef', () => {
    this.CONSUME(LBracket);
    this.SUBRULE(this.ruleHead);
    this.AT_LEAST_ONE(() => this.SUBRULE(this.clause));
    this.CONSUME(RBracket);
  });

  ruleHead = this.RULE('ruleHead', () => {
    this.CONSUME(LParen);
    this.CONSUME(NameSym);
    this.SUBRULE(this.ruleVars);
    this.CONSUME(RParen);
  });

  // ---------- pull ----------

  pullPattern = this.RULE('pullPattern', () => {
    this.CONSUME(LBracket);
    this.MANY(() => this.SUBRULE(this.pullElem));
    this.CONSUME(RBracket);
  });

  pullElem = this.RULE('pullElem', () => {
    this.OR([
      { ALT: () => this.CONSUME(KeywordTok) },
      { ALT: () => this.CONSUME(StarSym) },
      { ALT: () => this.CONSUME(StringLit) },
      {
        ALT: () => {
          this.CONSUME(LBrace);
          this.AT_LEAST_ONE(() => this.SUBRULE(this.pullMapEntry));
          this.CONSUME(RBrace);
        },
      },
      { ALT: () => this.SUBRULE(this.pullAttrExpr) },
      { ALT: () => this.SUBRULE(this.pullAttrWithOpts) },
    ]);
  });

  pullMapEntry = this.RULE('pullMapEntry', () => {
    this.SUBRULE(this.pullMapKey);
    this.SUBRULE(this.pullMapValue);
  });

  pullMapKey = this.RULE('pullMapKey', () => {
    this.OR([
      { ALT: () => this.CONSUME(KeywordTok) },
      { ALT: () => this.SUBRULE(this.pullAttrExpr) },
      { ALT: () => this.SUBRULE(this.pullAttrWithOpts) },
    ]);
  });

  pullMapValue = this.RULE('pullMapValue', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.pullPattern) },
      { ALT: () => this.CONSUME(Ellipsis) },
      { ALT: () => this.CONSUME(NumberLit) },
    ]);
  });

  /** (limit :attr n|nil) or (default :attr value) */
  pullAttrExpr = this.RULE('pullAttrExpr', () => {
    this.CONSUME(LParen);
    this.OR([
      {
        ALT: () => {
          this.CONSUME(LimitSym, { LABEL: 'op' });
          this.CONSUME(KeywordTok);
          this.OR2([
            { ALT: () => this.CONSUME(NumberLit, { LABEL: 'limit' }) },
            { ALT: () => this.CONSUME(Nil, { LABEL: 'limit' }) },
          ]);
        },
      },
      {
        ALT: () => {
          this.CONSUME(DefaultSym, { LABEL: 'op' });
          this.CONSUME2(KeywordTok);
          this.SUBRULE(this.ednForm, { LABEL: 'default' });
        },
      },
    ]);
    this.CONSUME(RParen);
  });

  /** [:attr :as x :limit n :default v] */
  pullAttrWithOpts = this.RULE('pullAttrWithOpts', () => {
    this.CONSUME(LBracket);
    this.CONSUME(KeywordTok);
    this.MANY(() => this.SUBRULE(this.pullOption));
    this.CONSUME(RBracket);
  });

  pullOption = this.RULE('pullOption', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(AsKw, { LABEL: 'opt' });
          this.SUBRULE(this.ednForm, { LABEL: 'value' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(LimitKw, { LABEL: 'opt' });
          this.OR2([
            { ALT: () => this.CONSUME(NumberLit, { LABEL: 'value' }) },
            { ALT: () => this.CONSUME(Nil, { LABEL: 'value' }) },
          ]);
        },
      },
      {
        ALT: () => {
          this.CONSUME(DefaultKw, { LABEL: 'opt' });
          this.SUBRULE2(this.ednForm, { LABEL: 'value' });
        },
      },
      {
        ALT: () => {
          this.CONSUME(XformKw, { LABEL: 'opt' });
          this.CONSUME(AnySymbol, { LABEL: 'value' });
        },
      },
    ]);
  });
}

/** The single shared parser instance (Chevrotain parsers are reusable via `.input = tokens`). */
export const datalogParser = new DatalogParser();
