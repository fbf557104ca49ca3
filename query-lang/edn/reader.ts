// EDN reader: a hand-written recursive descent over the Chevrotain token vector, with an explicit
// nesting limit so hostile input can never overflow the JS stack.
import type { IToken } from 'chevrotain';
import { chevrotain } from '../chevrotain.js';

const { tokenMatcher } = chevrotain;
import { BigDec, Char, EdnList, Keyword, Sym, Tagged, Uri, Uuid, type EdnValue, type SourcePos } from './types.js';
import { bytesOfBase64, isUriText } from './binary.js';
import { EdnSyntaxError } from './errors.js';
import {
  AnySymbol,
  CharLit,
  Discard,
  False,
  HashBrace,
  KeywordTok,
  LBrace,
  LBracket,
  LParen,
  Nil,
  NumberLit,
  RBrace,
  RBracket,
  RParen,
  StringLit,
  SymbolicValue,
  Tag,
  True,
  posAt,
  tokenPos,
  tokenize,
} from './lexer.js';
import { canonicalKey } from './print-core.js';

/** Maximum nesting of collections, tags and discards. */
export const MAX_EDN_DEPTH = 1000;

const positions = new WeakMap<object, SourcePos>();

/** Start position of a composite form (array, EdnList, Map, Set, Tagged, Date, Uuid) read by the reader. */
export function positionOf(form: object): SourcePos | undefined {
  return positions.get(form);
}

/** Record `pos` as the start position of `form` (used by other layers that build forms). */
export function setPositionOf(form: object, pos: SourcePos): void {
  positions.set(form, pos);
}

export function describeToken(tok: IToken | undefined): string {
  if (!tok) return 'end of input';
  const img = tok.image.length > 40 ? tok.image.slice(0, 37) + '...' : tok.image;
  return `'${img}'`;
}

const CHAR_NAMES: Record<string, string> = {
  newline: '\n',
  space: ' ',
  tab: '\t',
  return: '\r',
  backspace: '\b',
  formfeed: '\f',
};

const INT_RE = /^[+-]?(?:0|[1-9][0-9]*)N?$/;
const FLOAT_RE = /^[+-]?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?M?$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const INST_RE = /^([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?)?)?(Z|[+-]\d{2}:\d{2})?$/;

function fail(message: string, pos: SourcePos, code: 'edn/syntax' | 'edn/too-deep' = 'edn/syntax'): never {
  throw new EdnSyntaxError(message, { pos, code });
}

/** Position of character `index` inside token `tok`. */
function posInToken(tok: IToken, index: number): SourcePos {
  const start = tokenPos(tok);
  const inner = posAt(tok.image, index);
  return inner.line === 1
    ? { line: start.line, column: start.column + index, offset: start.offset + index }
    : { line: start.line + inner.line - 1, column: inner.column, offset: start.offset + index };
}

function validName(text: string): boolean {
  if (text === '/') return true;
  const slash = text.indexOf('/');
  if (slash < 0) return true;
  return slash > 0 && slash < text.length - 1;
}

function readString(tok: IToken): string {
  const img = tok.image;
  if (img.indexOf('\\') < 0) return img.slice(1, -1);
  let out = '';
  for (let i = 1; i < img.length - 1; i++) {
    const c = img[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = img[++i]!;
    switch (e) {
      case 't':
        out += '\t';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case 'u': {
        const hex = img.slice(i + 1, i + 5);
        if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail(`expected 4 hex digits after \\u in string but found ${JSON.stringify(hex)}`, posInToken(tok, i - 1));
        out += String.fromCharCode(parseInt(hex, 16));
        i += 4;
        break;
      }
      default:
        fail(`expected a string escape (\\t \\n \\r \\" \\\\ \\uXXXX) but found \\${e}`, posInToken(tok, i - 1));
    }
  }
  return out;
}

function readNumber(tok: IToken): number | bigint | BigDec {
  const t = tok.image;
  if (INT_RE.test(t)) {
    if (t.endsWith('N')) return BigInt(t.slice(0, -1));
    const big = BigInt(t);
    return big > BigInt(Number.MAX_SAFE_INTEGER) || big < -BigInt(Number.MAX_SAFE_INTEGER) ? big : Number(big);
  }
  if (FLOAT_RE.test(t)) {
    if (t.endsWith('M')) return new BigDec(t.slice(0, -1));
    return Number(t);
  }
  return fail(`expected a number (integer, float, N or M suffix) but found '${t}'`, tokenPos(tok));
}

function readChar(tok: IToken): Char {
  const body = tok.image.slice(1);
  if (body.length === 1 || (body.length === 2 && /^[\uD800-\uDBFF][\uDC00-\uDFFF]$/.test(body))) return new Char(body);
  const named = CHAR_NAMES[body];
  if (named !== undefined) return new Char(named);
  if (/^u[0-9a-fA-F]{4}$/.test(body)) return new Char(String.fromCharCode(parseInt(body.slice(1), 16)));
  return fail(`expected a character (\\c, \\newline, \\space, \\tab, \\return, \\uXXXX) but found '${tok.image}'`, tokenPos(tok));
}

/** Convert an atom token (anything but delimiters, tags and discards) to its value. */
export function atomValue(tok: IToken): EdnValue {
  const tt = tok.tokenType;
  if (tt === StringLit) return readString(tok);
  if (tt === NumberLit) return readNumber(tok);
  if (tt === Nil) return null;
  if (tt === True) return true;
  if (tt === False) return false;
  if (tt === CharLit) return readChar(tok);
  if (tt === SymbolicValue) return tok.image === '##NaN' ? NaN : tok.image === '##Inf' ? Infinity : -Infinity;
  if (tokenMatcher(tok, KeywordTok)) {
    const name = tok.image.slice(1);
    if (!validName(name)) fail(`expected a keyword like :name or :ns/name but found '${tok.image}'`, tokenPos(tok));
    return Keyword.of(name);
  }
  if (tokenMatcher(tok, AnySymbol)) {
    if (!validName(tok.image)) fail(`expected a symbol like name or ns/name but found '${tok.image}'`, tokenPos(tok));
    return Sym.of(tok.image);
  }
  return fail(`expected an EDN form but found ${describeToken(tok)}`, tokenPos(tok));
}

function parseInst(s: string, pos: SourcePos): Date {
  const m = INST_RE.exec(s);
  const bad = (): never => fail(`expected an RFC 3339 timestamp after #inst but found ${JSON.stringify(s)}`, pos);
  if (!m) return bad();
  const year = Number(m[1]);
  const month = m[2] ? Number(m[2]) : 1;
  const day = m[3] ? Number(m[3]) : 1;
  const hour = m[4] ? Number(m[4]) : 0;
  const min = m[5] ? Number(m[5]) : 0;
  const sec = m[6] ? Number(m[6]) : 0;
  const ms = m[7] ? Number((m[7] + '00').slice(0, 3)) : 0;
  if (month < 1 || month > 12 || hour > 23 || min > 59 || sec > 60) return bad();
  if (day < 1 || day > daysIn(year, month)) return bad();
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(4, 6));
    if (zh > 23 || zm > 59) return bad();
    offsetMin = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, min, Math.min(sec, 59), ms);
  const t = d.getTime() - offsetMin * 60_000 + (sec === 60 ? 1000 : 0);
  if (!Number.isFinite(t) || Math.abs(t) > 8.64e15) return bad();
  return new Date(t);
}

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

const CLOSERS: Record<string, string> = { LParen: ')', LBracket: ']', LBrace: '}', HashBrace: '}' };

/** Duplicate detection with EDN value equality (interned/primitive by identity, composites by canonical text). */
class Uniq {
  private prims = new Set<unknown>();
  private composites = new Set<string>();
  add(v: EdnValue): boolean {
    if (v === null || typeof v !== 'object' || v instanceof Keyword || v instanceof Sym) {
      if (this.prims.has(v)) return false;
      this.prims.add(v);
      return true;
    }
    const key = canonicalKey(v);
    if (this.composites.has(key)) return false;
    this.composites.add(key);
    return true;
  }
}

/** Where the parts of a collection read from text are: its start, each item's start, its closing delimiter. */
export interface FormLayout {
  start: SourcePos;
  items: SourcePos[];
  end: SourcePos;
}

/** One form with the layout of every collection in it, for parsers whose messages point into the text. */
export interface LocatedForm {
  text: string;
  value: EdnValue;
  /** Where the form starts. */
  pos: SourcePos;
  layouts: Map<object, FormLayout>;
}

class Reader {
  i = 0;
  /** Filled only when asked for (readEdnLocated): tx data of millions of forms does without. */
  layouts?: Map<object, FormLayout>;
  constructor(
    readonly text: string,
    readonly toks: IToken[],
  ) {}

  endPos(): SourcePos {
    return posAt(this.text, this.text.length);
  }

  peek(): IToken | undefined {
    return this.toks[this.i];
  }

  posOf(tok: IToken | undefined): SourcePos {
    return tok ? tokenPos(tok) : this.endPos();
  }

  skipDiscards(depth: number): void {
    while (this.peek()?.tokenType === Discard) {
      const d = this.toks[this.i++]!;
      if (depth + 1 > MAX_EDN_DEPTH) fail(`forms nested deeper than ${MAX_EDN_DEPTH} levels`, tokenPos(d), 'edn/too-deep');
      const nxt = this.peek();
      if (!nxt || CLOSER_TYPES.has(nxt.tokenType.name)) fail(`expected a form to discard after '#_' but found ${describeToken(nxt)}`, this.posOf(nxt));
      this.readForm(depth + 1);
    }
  }

  readForm(depth: number): EdnValue {
    this.skipDiscards(depth);
    const tok = this.toks[this.i];
    if (!tok) return fail('expected an EDN form but found end of input', this.endPos());
    this.i++;
    const tt = tok.tokenType;
    const pos = tokenPos(tok);
    switch (tt) {
      case LParen:
      case LBracket:
      case LBrace:
      case HashBrace: {
        if (depth + 1 > MAX_EDN_DEPTH) fail(`forms nested deeper than ${MAX_EDN_DEPTH} levels`, pos, 'edn/too-deep');
        const itemPos = this.layouts ? [] : undefined;
        const items = this.readSeq(tok, depth + 1, itemPos);
        let v: EdnValue;
        if (tt === LParen) v = new EdnList(items);
        else if (tt === LBracket) v = items;
        else if (tt === HashBrace) {
          const u = new Uniq();
          for (let k = 0; k < items.length; k++) {
            if (!u.add(items[k]!)) fail(`expected distinct set elements but found duplicate ${describeValue(items[k]!)}`, pos);
          }
          v = new Set(items);
        } else {
          if (items.length % 2 !== 0) fail('expected an even number of forms in map (key value pairs) but found an odd number', pos);
          const u = new Uniq();
          const m = new Map<EdnValue, EdnValue>();
          for (let k = 0; k < items.length; k += 2) {
            if (!u.add(items[k]!)) fail(`expected distinct map keys but found duplicate key ${describeValue(items[k]!)}`, pos);
            m.set(items[k]!, items[k + 1]!);
          }
          v = m;
        }
        positions.set(v as object, pos);
        if (itemPos) this.layouts!.set(v as object, { start: pos, items: itemPos, end: tokenPos(this.toks[this.i - 1]!) });
        return v;
      }
      case RParen:
      case RBracket:
      case RBrace:
        return fail(`expected an EDN form but found unmatched ${describeToken(tok)}`, pos);
      case Tag: {
        if (depth + 1 > MAX_EDN_DEPTH) fail(`forms nested deeper than ${MAX_EDN_DEPTH} levels`, pos, 'edn/too-deep');
        const nxt = this.peek();
        if (!nxt || CLOSER_TYPES.has(nxt.tokenType.name)) fail(`expected a form after tag '${tok.image}' but found ${describeToken(nxt)}`, this.posOf(nxt));
        const tag = tok.image.slice(1);
        const valuePos = this.posOf(this.peek());
        const value = this.readForm(depth + 1);
        let v: EdnValue;
        if (tag === 'inst') {
          if (typeof value !== 'string') fail('expected a string after #inst', valuePos);
          v = parseInst(value, valuePos);
        } else if (tag === 'uuid') {
          if (typeof value !== 'string' || !UUID_RE.test(value)) fail(`expected a UUID string like "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" after #uuid`, valuePos);
          v = new Uuid(value);
        } else if (tag === 'uri') {
          if (typeof value !== 'string' || !isUriText(value)) fail('expected a URI string (RFC 3986: no spaces, quotes or control characters) after #uri', valuePos);
          v = new Uri(value);
        } else if (tag === 'bytes') {
          const bytes = typeof value === 'string' ? bytesOfBase64(value) : undefined;
          if (bytes === undefined) fail('expected a base64 string (RFC 4648, padded) after #bytes', valuePos);
          v = bytes;
        } else {
          v = new Tagged(tag, value);
        }
        positions.set(v as object, pos);
        return v;
      }
      case Discard:
        return fail('unexpected #_', pos); // unreachable: skipDiscards consumed it
      default:
        return atomValue(tok);
    }
  }

  readSeq(open: IToken, depth: number, itemPos?: SourcePos[]): EdnValue[] {
    const close = CLOSERS[open.tokenType.name]!;
    const items: EdnValue[] = [];
    for (;;) {
      this.skipDiscards(depth);
      const tok = this.peek();
      if (!tok) {
        const o = tokenPos(open);
        fail(`expected '${close}' to close '${open.image}' opened at ${o.line}:${o.column} but found end of input`, this.endPos());
      }
      if (CLOSER_TYPES.has(tok.tokenType.name)) {
        if (tok.image !== close) {
          const o = tokenPos(open);
          fail(`expected '${close}' to close '${open.image}' opened at ${o.line}:${o.column} but found '${tok.image}'`, tokenPos(tok));
        }
        this.i++;
        return items;
      }
      itemPos?.push(tokenPos(tok));
      items.push(this.readForm(depth));
    }
  }
}

const CLOSER_TYPES = new Set([RParen.name, RBracket.name, RBrace.name]);

function describeValue(v: EdnValue): string {
  const s = canonicalKey(v);
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}

/** Read every top-level form of `text`. */
export function readAllEdn(text: string): EdnValue[] {
  const r = new Reader(text, tokenize(text));
  const out: EdnValue[] = [];
  for (;;) {
    r.skipDiscards(0);
    if (r.i >= r.toks.length) return out;
    out.push(r.readForm(0));
  }
}

/** Read exactly one EDN form from `text`. */
export function readEdn(text: string): EdnValue {
  return readOne(new Reader(text, tokenize(text)));
}

/** Read exactly one EDN form from `text`, with where each collection's items start and end. */
export function readEdnLocated(text: string): LocatedForm {
  const r = new Reader(text, tokenize(text));
  const layouts = new Map<object, FormLayout>();
  r.layouts = layouts;
  r.skipDiscards(0);
  const pos = r.posOf(r.peek());
  return { text, value: readOne(r), pos, layouts };
}

function readOne(r: Reader): EdnValue {
  r.skipDiscards(0);
  if (r.i >= r.toks.length) fail('expected an EDN form but found end of input', r.endPos());
  const v = r.readForm(0);
  r.skipDiscards(0);
  const extra = r.peek();
  if (extra) fail(`expected end of input after the form but found ${describeToken(extra)}`, tokenPos(extra));
  return v;
}

/**
 * Where each element of the collection `text` holds starts: for an error about an element that is
 * a number, string or other atom, whose position positionOf cannot keep. Read again only then.
 */
export function elementPositions(text: string): SourcePos[] {
  const r = new Reader(text, tokenize(text));
  r.skipDiscards(0);
  const open = r.peek();
  if (!open || CLOSERS[open.tokenType.name] === undefined) return [];
  r.i++;
  const out: SourcePos[] = [];
  for (;;) {
    r.skipDiscards(1);
    const tok = r.peek();
    if (!tok || CLOSER_TYPES.has(tok.tokenType.name)) return out;
    out.push(tokenPos(tok));
    r.readForm(1);
  }
}
