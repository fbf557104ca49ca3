// EDN lexer: every token is declared as data with Chevrotain's createToken, and one Lexer tokenizes.
// Datalog's words (`?var`, `$src`, `...`, `:find`, `not` ...) are ordinary symbols and keywords here:
// the Datalog parser reads them from the EDN data.
import type { IToken, TokenType } from 'chevrotain';
import { chevrotain } from '../chevrotain.js';

const { createToken, Lexer } = chevrotain;
import type { SourcePos } from './types.js';
import { EdnSyntaxError } from './errors.js';

// Characters allowed after the first character of a symbol or keyword.
const SYM_REST = String.raw`[a-zA-Z0-9*!_?$%&=<>.+\-\/:#'\u00A0-\uFFFF]`;
// First character of a symbol: '+', '-' and '.' only when not followed by a digit.
const SYM_FIRST = String.raw`(?:[a-zA-Z*!_?$%&=<>\/\u00A0-\uFFFF]|[+\-.](?![0-9]))`;
const rx = (src: string): RegExp => new RegExp(src);

// ---------- skipped ----------
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /[\s,]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: 'Comment', pattern: /;[^\n\r]*/, group: Lexer.SKIPPED });

// ---------- delimiters ----------
export const Discard = createToken({ name: 'Discard', pattern: /#_/, label: "'#_'" });
export const HashBrace = createToken({ name: 'HashBrace', pattern: /#\{/, label: "'#{'" });
export const SymbolicValue = createToken({ name: 'SymbolicValue', pattern: /##(?:Inf|-Inf|NaN)/, label: 'a symbolic value (##Inf, ##-Inf, ##NaN)' });
export const Tag = createToken({ name: 'Tag', pattern: rx(String.raw`#[a-zA-Z]` + SYM_REST + '*'), label: 'a tag (#inst, #uuid, ...)' });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });

// ---------- atoms ----------
export const StringLit = createToken({ name: 'StringLit', pattern: /"(?:[^"\\]|\\[\s\S])*"/, label: 'a string' });
// Greedy: the reader validates the exact spelling (\a, \newline, \u00e9 ...).
export const CharLit = createToken({ name: 'CharLit', pattern: /\\(?:[a-zA-Z0-9]+|[\uD800-\uDBFF][\uDC00-\uDFFF]|\S)/, label: 'a character' });
// Greedy: numbers swallow trailing symbol characters so `1abc` is one (invalid) token, not two.
export const NumberLit = createToken({ name: 'NumberLit', pattern: rx(String.raw`[+\-]?[0-9]` + SYM_REST + '*'), label: 'a number' });

export const KeywordTok = createToken({ name: 'Keyword', pattern: rx(String.raw`:(?!:)` + SYM_REST + '+'), label: 'a keyword' });

// Symbols. `AnySymbol` is the category the reader asks for; nil, true and false are words only when no longer symbol starts with them.
export const AnySymbol = createToken({ name: 'AnySymbol', pattern: Lexer.NA, label: 'a symbol' });
export const Symbol = createToken({ name: 'Symbol', pattern: rx(SYM_FIRST + SYM_REST + '*'), categories: [AnySymbol], label: 'a symbol' });
export const Nil = createToken({ name: 'Nil', pattern: /nil/, longer_alt: Symbol, label: 'nil' });
export const True = createToken({ name: 'True', pattern: /true/, longer_alt: Symbol, label: 'true' });
export const False = createToken({ name: 'False', pattern: /false/, longer_alt: Symbol, label: 'false' });

/** Every token type, in lexing priority order. */
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Discard,
  HashBrace,
  SymbolicValue,
  Tag,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LBrace,
  RBrace,
  StringLit,
  CharLit,
  NumberLit,
  KeywordTok,
  Nil,
  True,
  False,
  Symbol,
  AnySymbol,
];

export const ednLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });

export function tokenPos(tok: IToken): SourcePos {
  return { line: tok.startLine ?? 1, column: tok.startColumn ?? 1, offset: tok.startOffset };
}

/** Position of `offset` in `text` (1-based line and column). */
export function posAt(text: string, offset: number): SourcePos {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1, offset };
}

/**
 * The lexer's pass, with a stack overflow (its regexes recurse per character, so a string literal
 * of some millions of characters overflows V8's stack) reported as an EDN error, not a RangeError.
 */
function lexWithinStack(text: string) {
  try {
    return ednLexer.tokenize(text);
  } catch (err) {
    if (!isStackOverflow(err)) throw err;
    throw new EdnSyntaxError(`a token too long to read in ${text.length} characters of input (a string literal of millions of characters?)`, { code: 'edn/too-long' });
  }
}

export function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && err.message.includes('call stack');
}

/** Tokenize EDN text; throws EdnSyntaxError on the first character no token matches. */
export function tokenize(text: string): IToken[] {
  const result = lexWithinStack(text);
  if (result.errors.length > 0) {
    const e = result.errors[0]!;
    const pos: SourcePos = { line: e.line ?? 1, column: e.column ?? 1, offset: e.offset };
    const ch = text[e.offset];
    let what = ch === undefined ? 'end of input' : JSON.stringify(ch);
    if (ch === '"') what = 'an unterminated string';
    else if (ch === '#') what = `an invalid dispatch ${JSON.stringify(text.slice(e.offset, e.offset + 2))}`;
    else if (ch === '\\') what = 'an invalid character literal';
    throw new EdnSyntaxError(`expected an EDN form but found ${what}`, { pos });
  }
  return result.tokens;
}
