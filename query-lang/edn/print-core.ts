// EDN printing without the reader: values to text, with how to write a keyword or symbol given (printer.ts checks they read back).
import { BigDec, Char, EdnList, isPlainObject, Keyword, Sym, Tagged, Uri, Uuid } from './types.js';
import { base64OfBytes } from './binary.js';
import { EdnPrintError } from './errors.js';

/** Deeper values are refused (must be >= the reader's MAX_EDN_DEPTH so everything read can be printed). */
export const MAX_PRINT_DEPTH = 1500;

const KEYWORD_NAME_RE = /^(?:[a-zA-Z*!_?$%&=<>/.+-]|[0-9])[a-zA-Z0-9*!_?$%&=<>.+\-/:#']*$/;

const CHAR_NAMES: Record<string, string> = {
  '\n': 'newline',
  ' ': 'space',
  '\t': 'tab',
  '\r': 'return',
  '\b': 'backspace',
  '\f': 'formfeed',
};

function hex4(code: number): string {
  return code.toString(16).padStart(4, '0');
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;

export function printString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const code = s.charCodeAt(i);
    if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += '\\u' + hex4(code);
    else if (code >= 0xd800 && code < 0xdc00 && isLowSurrogate(s.charCodeAt(i + 1))) out += c + s[++i];
    // a lone surrogate as its escape: UTF-8 (a file, stdout) would turn it into U+FFFD
    else if (code >= 0xd800 && code <= 0xdfff) out += '\\u' + hex4(code);
    else out += c;
  }
  return out + '"';
}

function printChar(c: Char): string {
  const v = c.value;
  const named = CHAR_NAMES[v];
  if (named) return '\\' + named;
  if (v.length === 2 && /^[\uD800-\uDBFF][\uDC00-\uDFFF]$/.test(v)) return '\\' + v;
  if (v.length !== 1) throw new EdnPrintError(`cannot print a Char of ${v.length} UTF-16 units: ${JSON.stringify(v)}`);
  const code = v.charCodeAt(0);
  if (code <= 0x20 || (code >= 0x7f && code <= 0xa0) || (code >= 0xd800 && code <= 0xdfff) || /\s/.test(v)) return '\\u' + hex4(code);
  return '\\' + v;
}

function printNumber(n: number): string {
  if (Number.isNaN(n)) return '##NaN';
  if (n === Infinity) return '##Inf';
  if (n === -Infinity) return '##-Inf';
  if (Object.is(n, -0)) return '-0.0';
  const s = String(n);
  if (Number.isInteger(n) && !Number.isSafeInteger(n) && !/[.e]/.test(s)) return s + '.0';
  return s;
}

interface PrintOpts {
  /** Sort map entries and set elements (canonical form for equality). */
  canonical: boolean;
  /** A keyword's or symbol's text. */
  nameText: (name: Keyword | Sym) => string;
}

function print(v: unknown, opts: PrintOpts, depth: number, seen: Set<object>): string {
  if (v === null || v === undefined) return 'nil';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      return printNumber(v);
    case 'bigint':
      return v.toString() + 'N';
    case 'string':
      return printString(v);
    case 'object':
      break;
    default:
      throw new EdnPrintError(`cannot print a ${typeof v} as EDN`);
  }
  const o = v as object;
  if (o instanceof Keyword || o instanceof Sym) return opts.nameText(o);
  if (o instanceof Char) return printChar(o);
  if (o instanceof BigDec) {
    if (!BIGDEC_RE.test(o.text)) throw new EdnPrintError(`${JSON.stringify(o.text)} is not a decimal number`);
    return o.text + 'M';
  }
  if (o instanceof Uuid) return `#uuid "${o.value}"`;
  if (o instanceof Uri) return `#uri ${printString(o.value)}`;
  if (o instanceof Uint8Array) return `#bytes "${base64OfBytes(o)}"`;
  if (o instanceof Date) {
    if (Number.isNaN(o.getTime())) throw new EdnPrintError('cannot print an invalid Date');
    return `#inst "${o.toISOString()}"`;
  }
  if (depth >= MAX_PRINT_DEPTH) throw new EdnPrintError(`value nested deeper than ${MAX_PRINT_DEPTH} levels`);
  if (seen.has(o)) throw new EdnPrintError('cannot print a cyclic value');
  seen.add(o);
  try {
    const sub = (x: unknown): string => print(x, opts, depth + 1, seen);
    if (Array.isArray(o)) return '[' + o.map(sub).join(' ') + ']';
    if (o instanceof EdnList) return '(' + o.items.map(sub).join(' ') + ')';
    if (o instanceof Tagged) return '#' + o.tag + ' ' + sub(o.value);
    if (o instanceof Set) {
      const items = [...o].map(sub);
      if (opts.canonical) items.sort();
      return '#{' + items.join(' ') + '}';
    }
    if (o instanceof Map) {
      const items = [...o].map(([k, val]) => sub(k) + ' ' + sub(val));
      if (opts.canonical) items.sort();
      return '{' + items.join(', ') + '}';
    }
    if (isPlainObject(o)) {
      const items = Object.entries(o).map(([k, val]) => (KEYWORD_NAME_RE.test(k) ? ':' + k : printString(k)) + ' ' + sub(val));
      if (opts.canonical) items.sort();
      return '{' + items.join(', ') + '}';
    }
    throw new EdnPrintError(`cannot print a ${o.constructor?.name ?? 'object'} as EDN`);
  } finally {
    seen.delete(o);
  }
}

const BIGDEC_RE = /^[+-]?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$/;

/** `value` as EDN text, keywords and symbols written by `nameText`. Throws EdnPrintError for what EDN cannot express. */
export function printWith(value: unknown, nameText: (name: Keyword | Sym) => string): string {
  return print(value, { canonical: false, nameText }, 0, new Set());
}

/** A canonical text for `value`: equal EDN values (sets/maps in any order) give equal keys. */
export function canonicalKey(value: unknown): string {
  return print(value, { canonical: true, nameText: rawName }, 0, new Set());
}

/** A keyword's or symbol's text as it is. */
export function rawName(name: Keyword | Sym): string {
  return name instanceof Keyword ? ':' + name.fqn : name.name;
}
