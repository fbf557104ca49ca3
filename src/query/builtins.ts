// Built-in functions/predicates and aggregates, as data: adding one is one line in a table.
import { Keyword, Sym, Uuid, Uri, EdnList, BigDec, Char, isPlainObject } from '../../query-lang/edn/types.js';
import { base64OfBytes } from '../../query-lang/edn/binary.js';
import type { DbView, Datom, LogView } from '../db/api.js';
import { compareValues, valueKey, valuesEqual } from './values.js';
import { addDecimals, decimalToNumber, divideDecimals, integerDecimal, multiplyDecimals, subtractDecimals, toBigDec, toDecimal, type Decimal } from '../../query-lang/edn/decimal.js';
import { QueryError } from './errors.js';
import { toRe2, rePattern, reFind, reMatches, reSeq as reSeqOf, reSplit } from './regex.js';

export interface BuiltinContext {
  /** Runs a nested query (for the `q` function). */
  q(query: unknown, inputs: unknown[]): unknown;
}

export type BuiltinFn = (args: unknown[], ctx: BuiltinContext) => unknown;
export type AggregateFn = (args: unknown[], values: unknown[]) => unknown;

const isNum = (x: unknown): x is number | bigint => typeof x === 'number' || typeof x === 'bigint';

function num(x: unknown, fn: string): number | bigint {
  if (isNum(x)) return x;
  throw new QueryError('query/type-error', `${fn} expects numbers, got ${printValue(x)}`);
}

/**
 * Two operands in one representation, by Clojure's contagion: a bigint with an integral number (a
 * long) gives two bigints, anything with a non-integral number (a double) two numbers. JS cannot
 * tell 2.0 from 2, so an integral double counts as a long here.
 */
function promote(x: number | bigint, y: number | bigint): [number, number] | [bigint, bigint] {
  if (typeof x === 'number' && typeof y === 'number') return [x, y];
  if (typeof x === 'bigint' && typeof y === 'bigint') return [x, y];
  const n = (typeof x === 'number' ? x : y) as number;
  return Number.isInteger(n) ? [BigInt(x), BigInt(y)] : [Number(x), Number(y)];
}

/**
 * Clojure's `/` without ratios: bigints that divide exactly stay a bigint (as the ratio would
 * reduce to an integer); otherwise, or dividing by zero, the quotient is a double.
 */
function divideBig(a: bigint, b: bigint): number | bigint {
  return b !== 0n && a % b === 0n ? a / b : Number(a) / Number(b);
}

type Operand = number | bigint | BigDec;

function operand(x: unknown, fn: string): Operand {
  return x instanceof BigDec ? x : num(x, fn);
}

const DECIMAL_OPS: Record<string, (a: Decimal, b: Decimal) => Decimal | undefined> = {
  '+': addDecimals,
  '-': subtractDecimals,
  '*': multiplyDecimals,
  '/': divideDecimals,
};

/**
 * One step with a BigDec, as Clojure's BigDecimal ops: with a long, bigint or BigDec the result
 * is the exact BigDec (Java's scale rules: + and - the larger scale, * the sum, / the exact
 * quotient or an error); with a double (a fraction, NaN or an infinity) both are doubles.
 */
function decimalStep(fn: string, a: Operand, b: Operand, op: (a: number, b: number) => number): Operand {
  const double = (v: Operand) => typeof v === 'number' && !Number.isInteger(v);
  const exact = (v: Operand): Decimal => (v instanceof BigDec ? decimalOf(v, fn) : integerDecimal(v));
  if (double(a) || double(b)) return op(a instanceof BigDec ? decimalToNumber(decimalOf(a, fn)) : Number(a), b instanceof BigDec ? decimalToNumber(decimalOf(b, fn)) : Number(b));
  const result = DECIMAL_OPS[fn]!(exact(a), exact(b));
  if (result === undefined) {
    const why = exact(b).unscaled === 0n ? 'divide by zero' : 'non-terminating decimal expansion; no exact decimal quotient';
    throw new QueryError('query/arithmetic-error', `${fn}: ${why} (${printValue(a)} / ${printValue(b)})`);
  }
  return toBigDec(result);
}

function decimalOf(v: BigDec, fn: string): Decimal {
  const d = toDecimal(v);
  if (d === undefined) throw new QueryError('query/type-error', `${fn} expects numbers, got ${printValue(v)}`);
  return d;
}

/** Arithmetic over number|bigint|BigDec, promoting mixed operands as Clojure does (see promote, decimalStep). */
function arith(args: unknown[], fn: string, op: (a: number, b: number) => number, opBig: (a: bigint, b: bigint) => bigint, unit: number): unknown {
  const xs = args.map((a) => operand(a, fn));
  if (xs.length === 0) return unit;
  if (xs.length === 1) {
    if (fn === '-') xs.unshift(0);
    else if (fn === '/') xs.unshift(1);
    else return xs[0];
  }
  let acc: Operand = xs[0]!;
  for (let i = 1; i < xs.length; i++) {
    const x = xs[i]!;
    if (acc instanceof BigDec || x instanceof BigDec) {
      acc = decimalStep(fn, acc, x, op);
      continue;
    }
    const [a, b] = promote(acc, x);
    if (typeof a === 'number') acc = op(a, b as number);
    else acc = fn === '/' ? divideBig(a, b as bigint) : opBig(a, b as bigint);
  }
  return acc;
}

function quot(a: unknown, b: unknown): unknown {
  const [x, y] = promote(num(a, 'quot'), num(b, 'quot'));
  if (typeof x === 'bigint') return x / (y as bigint);
  return Math.trunc(x / (y as number));
}

function rem(a: unknown, b: unknown): unknown {
  const [x, y] = promote(num(a, 'rem'), num(b, 'rem'));
  if (typeof x === 'bigint') return x % (y as bigint);
  return x % (y as number);
}

function mod(a: unknown, b: unknown): unknown {
  const [x, y] = promote(num(a, 'mod'), num(b, 'mod'));
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    const r = x % y;
    return r !== 0n && r < 0n !== y < 0n ? r + y : r;
  }
  const r = Number(x) % Number(y);
  return r !== 0 && r < 0 !== Number(y) < 0 ? r + Number(y) : r;
}

/** Clojure `str` rendering of one value. */
export function strOf(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return '[' + v.map(printValue).join(' ') + ']';
  return String(v);
}

/** EDN-ish printing of a value (used in messages, `pr-str`, explain). */
export function printValue(v: unknown): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return v.toString() + 'N';
  if (v instanceof Date) return `#inst "${v.toISOString()}"`;
  if (v instanceof Uuid) return `#uuid "${v.value}"`;
  if (v instanceof Char) return '\\' + v.value;
  if (v instanceof BigDec) return v.text + 'M';
  if (v instanceof Uri) return `#uri ${JSON.stringify(v.value)}`;
  if (v instanceof Uint8Array) return `#bytes "${base64OfBytes(v)}"`;
  if (v instanceof RegExp) return '#"' + v.source + '"';
  if (Array.isArray(v)) return '[' + v.map(printValue).join(' ') + ']';
  if (v instanceof EdnList) return '(' + v.items.map(printValue).join(' ') + ')';
  if (v instanceof Set) return '#{' + [...v].map(printValue).join(' ') + '}';
  if (v instanceof Map) return '{' + [...v].map(([k, x]) => printValue(k) + ' ' + printValue(x)).join(', ') + '}';
  if (typeof v === 'function') return `#fn[${v.name || 'anonymous'}]`;
  return String(v);
}

const regex = (re: unknown) => toRe2(re, printValue);

/** re-pattern's argument: a RegExp stays itself; a string or an EDN #"..." value is compiled. */
function pattern(x: unknown): RegExp {
  if (x instanceof RegExp) return x;
  const tagged = x && typeof x === 'object' && 'tag' in x && 'value' in x ? (x as { value: unknown }).value : x;
  return rePattern(str(tagged, 're-pattern'));
}

function str(x: unknown, fn: string): string {
  if (typeof x === 'string') return x;
  throw new QueryError('query/type-error', `${fn} expects a string, got ${printValue(x)}`);
}

function asDb(x: unknown, fn: string): DbView {
  if (x && typeof x === 'object' && 'datoms' in x && 'entid' in x) return x as DbView;
  throw new QueryError('query/type-error', `${fn} expects a database as first argument`);
}

function asLog(x: unknown, fn: string): LogView {
  if (x && typeof x === 'object' && typeof (x as LogView).txRange === 'function' && typeof (x as LogView).tx === 'function') return x as LogView;
  throw new QueryError('query/type-error', `${fn} expects the log (conn.log()) as first argument, got ${printValue(x)}`);
}

/** A bound of tx-ids: a t, a tx id or a Date; nil leaves that end open. */
function logBound(x: unknown, fn: string): number | Date | undefined {
  if (x === null || x === undefined) return undefined;
  if (typeof x === 'number' || x instanceof Date) return x;
  throw new QueryError('query/type-error', `${fn} expects a t, a tx id or a Date, got ${printValue(x)}`);
}

/** Datomic's log functions: the tx ids of [from, to), and a transaction's datoms as [e a v tx added]. */
function txIds(args: unknown[]): number[] {
  const range = asLog(args[0], 'tx-ids').txRange(logBound(args[1], 'tx-ids'), logBound(args[2], 'tx-ids'));
  return Array.from(range, (tx) => tx.tx);
}

function txData(args: unknown[]): unknown[][] {
  const at = args[1];
  if (typeof at !== 'number') throw new QueryError('query/type-error', `tx-data expects a tx id or a t, got ${printValue(at)}`);
  const tx = asLog(args[0], 'tx-data').tx(at);
  return tx ? tx.data.map((d) => [d.e, d.a, d.v, d.tx, d.added]) : [];
}

function attrId(db: DbView, a: unknown, fn: string): number {
  const info = db.attr(a as never);
  if (!info) throw new QueryError('query/unknown-attribute', `${fn}: unknown attribute ${printValue(a)}`);
  return info.id;
}

function firstDatom(db: DbView, e: number, a: number): Datom | undefined {
  for (const d of db.datoms('eavt', e, a)) if (d.added) return d;
  return undefined;
}

function entityId(db: DbView, e: unknown, fn: string): number | null {
  if (typeof e === 'number') return e;
  const id = db.entid(e);
  if (id === null && !(e instanceof Keyword) && !Array.isArray(e)) {
    throw new QueryError('query/type-error', `${fn}: not an entity ${printValue(e)}`);
  }
  return id;
}

function getElse(args: unknown[]): unknown {
  const [src, e, a, dflt] = args;
  if (dflt === null || dflt === undefined) throw new QueryError('query/invalid-argument', 'get-else: nil default is not allowed');
  const db = asDb(src, 'get-else');
  const info = db.attr(a as never);
  if (!info) throw new QueryError('query/unknown-attribute', `get-else: unknown attribute ${printValue(a)}`);
  if (info.cardinality === 'many') throw new QueryError('query/invalid-argument', `get-else: ${printValue(info.ident)} is cardinality many`);
  const id = entityId(db, e, 'get-else');
  const d = id === null ? undefined : firstDatom(db, id, info.id);
  return d ? d.v : dflt;
}

function getSome(args: unknown[]): unknown {
  const [src, e, ...attrs] = args;
  const db = asDb(src, 'get-some');
  const id = entityId(db, e, 'get-some');
  if (id === null) return null;
  for (const a of attrs) {
    const aid = attrId(db, a, 'get-some');
    const d = firstDatom(db, id, aid);
    if (d) return [aid, d.v];
  }
  return null;
}

function missing(args: unknown[]): boolean {
  const [src, e, a] = args;
  const db = asDb(src, 'missing?');
  const id = entityId(db, e, 'missing?');
  if (id === null) return true;
  return firstDatom(db, id, attrId(db, a, 'missing?')) === undefined;
}

/** Datomic's (fulltext $ attr search): a relation of [e value tx score]. */
function fulltext(args: unknown[]): unknown {
  const [src, a, search] = args;
  const db = asDb(src, 'fulltext');
  const info = db.attr(a as never);
  if (!info) throw new QueryError('query/unknown-attribute', `fulltext: unknown attribute ${printValue(a)}`);
  if (!info.fulltext) throw new QueryError('query/not-fulltext', `fulltext: ${printValue(info.ident)} is not :db/fulltext`);
  if (typeof search !== 'string') throw new QueryError('query/invalid-fulltext', `fulltext: the search is a string, not ${printValue(search)}`);
  return db.fulltext(info.id, search);
}

function count(x: unknown): number {
  if (x === null || x === undefined) return 0;
  if (typeof x === 'string' || Array.isArray(x)) return x.length;
  if (x instanceof Set || x instanceof Map) return x.size;
  if (x instanceof EdnList) return x.items.length;
  throw new QueryError('query/type-error', `count not supported on ${printValue(x)}`);
}

function typeName(x: unknown): string {
  if (x === null || x === undefined) return 'nil';
  if (typeof x === 'number') return Number.isInteger(x) ? 'long' : 'double';
  if (typeof x === 'bigint') return 'bigint';
  if (typeof x === 'string') return 'string';
  if (typeof x === 'boolean') return 'boolean';
  if (x instanceof Keyword) return 'keyword';
  if (x instanceof Sym) return 'symbol';
  if (x instanceof Date) return 'instant';
  if (x instanceof Uuid) return 'uuid';
  if (x instanceof BigDec) return 'bigdec';
  if (x instanceof Uri) return 'uri';
  if (x instanceof Uint8Array) return 'bytes';
  if (Array.isArray(x)) return 'tuple';
  if (typeof x === 'function') return 'function';
  return typeof x;
}

/** Clojure's `print` rendering (`print-str`): like printValue, but strings and chars as they are. */
function printPlain(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Char) return v.value;
  if (Array.isArray(v)) return '[' + v.map(printPlain).join(' ') + ']';
  if (v instanceof EdnList) return '(' + v.items.map(printPlain).join(' ') + ')';
  if (v instanceof Set) return '#{' + [...v].map(printPlain).join(' ') + '}';
  if (v instanceof Map) return '{' + [...v].map(([k, x]) => printPlain(k) + ' ' + printPlain(x)).join(', ') + '}';
  return printValue(v);
}

const truthy = (x: unknown) => x !== null && x !== undefined && x !== false;

function arity(args: unknown[], fn: string, min: number, max: number): void {
  if (args.length < min || args.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new QueryError('query/invalid-argument', `${fn} expects ${expected} argument(s), got ${args.length}`);
  }
}

/** The items of a collection, as Clojure's `seq` sees them (a map's entries as [k v]); nil is empty. */
function items(x: unknown, fn: string): unknown[] {
  if (x === null || x === undefined) return [];
  if (Array.isArray(x)) return x;
  if (x instanceof EdnList) return x.items;
  if (x instanceof Set) return [...x];
  if (x instanceof Map) return [...x].map(([k, v]) => [k, v]);
  if (typeof x === 'string') return Array.from(x, (c) => new Char(c));
  throw new QueryError('query/type-error', `${fn} expects a collection, got ${printValue(x)}`);
}

/** Clojure's finite `range`: (range end), (range start end), (range start end step). */
function range(args: unknown[]): number[] {
  arity(args, 'range', 1, 3);
  const xs = args.map((x) => Number(num(x, 'range')));
  const [start, end, step] = xs.length === 1 ? [0, xs[0]!, 1] : [xs[0]!, xs[1]!, xs[2] ?? 1];
  if (!xs.every(Number.isFinite)) throw new QueryError('query/invalid-argument', `range expects finite bounds and step, got ${args.map(printValue).join(' ')}`);
  if (step === 0) {
    if (start === end) return [];
    throw new QueryError('query/invalid-argument', 'range with step 0 would be infinite');
  }
  // Clojure's range is lazy; here it is a whole array, so a size no query could hold is refused
  if (Math.ceil((end - start) / step) > MAX_RANGE) throw new QueryError('query/invalid-argument', `range of more than ${MAX_RANGE} numbers: ${args.map(printValue).join(' ')}`);
  const out: number[] = [];
  for (let x = start; step > 0 ? x < end : x > end; x += step) out.push(x);
  return out;
}

const MAX_RANGE = 10_000_000;

/** The value under `key` in a map, JS object, vector, string or set (as Clojure's `get`), or undefined. */
function lookup(coll: unknown, key: unknown): unknown {
  if (coll instanceof Map) {
    if (coll.has(key)) return coll.get(key);
    for (const [k, v] of coll) if (valuesEqual(k, key)) return v;
    return undefined;
  }
  if (coll instanceof Set) {
    if (coll.has(key)) return key;
    for (const x of coll) if (valuesEqual(x, key)) return x;
    return undefined;
  }
  if (Array.isArray(coll) || typeof coll === 'string') {
    const i = typeof key === 'bigint' ? Number(key) : key;
    if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= coll.length) return undefined;
    return typeof coll === 'string' ? new Char(coll[i]!) : coll[i];
  }
  if (isPlainObject(coll)) {
    // JS objects are keyed as pull results are: attribute names without the colon
    const name = key instanceof Keyword ? key.fqn : typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
    if (name !== undefined && Object.hasOwn(coll, name)) return coll[name];
    if (key instanceof Keyword && Object.hasOwn(coll, ':' + key.fqn)) return coll[':' + key.fqn];
  }
  return undefined;
}

function get(args: unknown[]): unknown {
  arity(args, 'get', 2, 3);
  const v = lookup(args[0], args[1]);
  return v === undefined ? (args[2] ?? null) : v;
}

function hashMap(args: unknown[]): Map<unknown, unknown> {
  if (args.length % 2 !== 0) throw new QueryError('query/invalid-argument', `hash-map expects keys and values in pairs, got ${args.length} argument(s)`);
  const m = new Map<unknown, unknown>();
  for (let i = 0; i < args.length; i += 2) m.set(args[i], args[i + 1]);
  return m;
}

/** DataScript's `-differ?`: the first half of the arguments differs from the second half. */
function differ(args: unknown[]): boolean {
  const half = Math.ceil(args.length / 2);
  return !valuesEqual(args.slice(0, half), args.slice(half));
}

/** Clojure's `and`/`or` as functions (DataScript's and-fn/or-fn): the deciding argument. */
function and(args: unknown[]): unknown {
  let last: unknown = true;
  for (const x of args) if (!truthy((last = x))) return x;
  return last;
}

function or(args: unknown[]): unknown {
  let last: unknown = null;
  for (const x of args) if (truthy((last = x))) return x;
  return last;
}

const cmpChain = (ok: (c: number) => boolean) => (args: unknown[]) => {
  for (let i = 0; i + 1 < args.length; i++) if (!ok(compareValues(args[i], args[i + 1]))) return false;
  return true;
};

const allEqual = (args: unknown[]) => args.every((x) => valuesEqual(x, args[0]));
/** Clojure's ==: numbers of any kind by value (1 == 1.0 == 1M == 1.00M). */
const numericEqual = (args: unknown[]) => args.every((x) => operand(x, '==') !== undefined && compareValues(x, args[0]) === 0);

/** A number, bigint or BigDec as a double (avg's division), here and in fold.ts. */
export function toNumber(v: unknown): number {
  return v instanceof BigDec ? decimalToNumber(decimalOf(v, 'avg')) : Number(v);
}
const extreme = (sign: number) => (args: unknown[]) => args.reduce((best, x) => (compareValues(x, best) * sign > 0 ? x : best));

const sn = (s: string) => [s, 'clojure.string/' + s];

/** Symbol name -> implementation. Functions taking the source (`$`) get the DbView as first argument. */
export const FUNCTIONS: Record<string, BuiltinFn> = {
  '=': allEqual,
  '==': numericEqual,
  '!=': (a) => !allEqual(a),
  'not=': (a) => !allEqual(a),
  '<': cmpChain((c) => c < 0),
  '>': cmpChain((c) => c > 0),
  '<=': cmpChain((c) => c <= 0),
  '>=': cmpChain((c) => c >= 0),
  '+': (a) =>
    arith(
      a,
      '+',
      (x, y) => x + y,
      (x, y) => x + y,
      0,
    ),
  '-': (a) =>
    arith(
      a,
      '-',
      (x, y) => x - y,
      (x, y) => x - y,
      0,
    ),
  '*': (a) =>
    arith(
      a,
      '*',
      (x, y) => x * y,
      (x, y) => x * y,
      1,
    ),
  '/': (a) =>
    arith(
      a,
      '/',
      (x, y) => x / y,
      (x, y) => x / y,
      1,
    ),
  quot: (a) => quot(a[0], a[1]),
  rem: (a) => rem(a[0], a[1]),
  mod: (a) => mod(a[0], a[1]),
  inc: (a) =>
    arith(
      [a[0], 1],
      'inc',
      (x, y) => x + y,
      (x, y) => x + y,
      0,
    ),
  dec: (a) =>
    arith(
      [a[0], 1],
      'dec',
      (x, y) => x - y,
      (x, y) => x - y,
      0,
    ),
  abs: (a) => {
    const x = num(a[0], 'abs');
    return x < 0 ? -x : x;
  },
  max: extreme(1),
  min: extreme(-1),
  compare: (a) => Math.sign(compareValues(a[0], a[1])),
  str: (a) => a.map(strOf).join(''),
  'pr-str': (a) => a.map(printValue).join(' '),
  subs: (a) => str(a[0], 'subs').substring(Number(a[1]), a[2] === undefined ? undefined : Number(a[2])),
  're-find': (a) => reFind(regex(a[0]), str(a[1], 're-find')),
  're-matches': (a) => reMatches(regex(a[0]), str(a[1], 're-matches')),
  're-pattern': (a) => pattern(a[0]),
  re_pattern: (a) => pattern(a[0]),
  count: (a) => count(a[0]),
  identity: (a) => a[0],
  ground: (a) => a[0],
  'get-else': getElse,
  'get-some': getSome,
  'missing?': missing,
  fulltext,
  'tx-ids': txIds,
  'tx-data': txData,
  tuple: (a) => [...a],
  untuple: (a) => a[0],
  vector: (a) => [...a],
  list: (a) => [...a],
  'hash-set': (a) => new Set(a),
  q: (a, ctx) => ctx.q(a[0], a.slice(1)),
  ...Object.fromEntries(sn('starts-with?').map((n) => [n, (a: unknown[]) => str(a[0], n).startsWith(str(a[1], n))])),
  ...Object.fromEntries(sn('ends-with?').map((n) => [n, (a: unknown[]) => str(a[0], n).endsWith(str(a[1], n))])),
  ...Object.fromEntries(sn('includes?').map((n) => [n, (a: unknown[]) => str(a[0], n).includes(str(a[1], n))])),
  ...Object.fromEntries(sn('blank?').map((n) => [n, (a: unknown[]) => a[0] === null || a[0] === undefined || str(a[0], n).trim() === ''])),
  ...Object.fromEntries(sn('lower-case').map((n) => [n, (a: unknown[]) => str(a[0], n).toLowerCase()])),
  ...Object.fromEntries(sn('upper-case').map((n) => [n, (a: unknown[]) => str(a[0], n).toUpperCase()])),
  ...Object.fromEntries(sn('trim').map((n) => [n, (a: unknown[]) => str(a[0], n).trim()])),
  ...Object.fromEntries(
    sn('join').map((n) => [n, (a: unknown[]) => (a.length === 1 ? [...(a[0] as Iterable<unknown>)].map(strOf).join('') : [...(a[1] as Iterable<unknown>)].map(strOf).join(str(a[0], n)))]),
  ),
  ...Object.fromEntries(sn('split').map((n) => [n, (a: unknown[]) => reSplit(regex(a[1]), str(a[0], n))])),
  'zero?': (a) => Number(num(a[0], 'zero?')) === 0,
  'pos?': (a) => Number(num(a[0], 'pos?')) > 0,
  'neg?': (a) => Number(num(a[0], 'neg?')) < 0,
  'even?': (a) => {
    const x = num(a[0], 'even?');
    return typeof x === 'bigint' ? x % 2n === 0n : x % 2 === 0;
  },
  'odd?': (a) => {
    const x = num(a[0], 'odd?');
    return typeof x === 'bigint' ? x % 2n !== 0n : Math.abs(x % 2) === 1;
  },
  'nil?': (a) => a[0] === null || a[0] === undefined,
  'some?': (a) => a[0] !== null && a[0] !== undefined,
  'true?': (a) => a[0] === true,
  'false?': (a) => a[0] === false,
  not: (a) => a[0] === null || a[0] === undefined || a[0] === false,
  'string?': (a) => typeof a[0] === 'string',
  'number?': (a) => isNum(a[0]),
  'keyword?': (a) => a[0] instanceof Keyword,
  keyword: (a) => (a.length === 2 ? Keyword.of(`${strOf(a[0])}/${strOf(a[1])}`) : a[0] instanceof Keyword ? a[0] : Keyword.of(str(a[0], 'keyword'))),
  name: (a) => (a[0] instanceof Keyword ? a[0].name : a[0] instanceof Sym ? a[0].name : str(a[0], 'name')),
  namespace: (a) => (a[0] instanceof Keyword ? a[0].ns : null),
  'contains?': (a) => (a[0] instanceof Set || a[0] instanceof Map ? [...(a[0] as Set<unknown>).keys()].some((x) => valuesEqual(x, a[1])) : false),
  type: (a) => typeName(a[0]),
  'rand-int': (a) => {
    arity(a, 'rand-int', 1, 1);
    return Math.trunc(Math.random() * Number(num(a[0], 'rand-int')));
  },
  rand: (a) => {
    arity(a, 'rand', 0, 1);
    return Math.random() * (a.length ? Number(num(a[0], 'rand')) : 1);
  },
  range,
  'empty?': (a) => count(a[0]) === 0,
  'not-empty': (a) => (count(a[0]) === 0 ? null : a[0]),
  get,
  set: (a) => new Set(distinctValues(items(a[0], 'set'))),
  'hash-map': hashMap,
  'identical?': (a) => a[0] === a[1],
  're-seq': (a) => reSeqOf(regex(a[0]), str(a[1], 're-seq')),
  'print-str': (a) => a.map(printPlain).join(' '),
  'println-str': (a) => a.map(printPlain).join(' ') + '\n',
  'prn-str': (a) => a.map(printValue).join(' ') + '\n',
  '-differ?': differ,
  and,
  or,
};

// ---------- aggregates ----------

const nums = (vs: unknown[], fn: string) => vs.map((v) => Number(num(v, fn)));
const sortValues = (vs: unknown[]) => [...vs].sort(compareValues);

function distinctValues(vs: unknown[]): unknown[] {
  const seen = new Map<string, unknown>();
  for (const v of vs) if (!seen.has(valueKey(v))) seen.set(valueKey(v), v);
  return [...seen.values()];
}

/** Sum with the contagion of `+`: bigints, longs and BigDecs stay exact, a double makes the rest doubles. */
function sum(vs: unknown[]): unknown {
  let acc: Operand = 0;
  for (const v of vs) acc = sumStep(acc, v);
  return acc;
}

/** One value added to a running sum, as `sum` adds it (for aggregates folded in a scan). */
/** One step of `sum`, also folded into index scans (fold.ts). */
export function sumStep(acc: Operand, v: unknown): Operand {
  const x = operand(v, 'sum');
  if (acc instanceof BigDec || x instanceof BigDec) return decimalStep('+', acc, x, (p, q) => p + q);
  const [a, b] = promote(acc, x);
  return typeof a === 'number' ? a + (b as number) : a + (b as bigint);
}

function variance(vs: unknown[]): number {
  const xs = nums(vs, 'variance');
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length;
}

function median(vs: unknown[]): unknown {
  const xs = sortValues(vs);
  const n = xs.length;
  if (n === 0) return null;
  if (n % 2 === 1) return xs[(n - 1) / 2];
  const a = xs[n / 2 - 1];
  const b = xs[n / 2];
  return (Number(a) + Number(b)) / 2;
}

function nArg(args: unknown[], fn: string): number | null {
  if (args.length === 0) return null;
  const n = args[0];
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new QueryError('query/invalid-argument', `${fn}: n must be a non-negative integer`);
  return n;
}

function randomPick<T>(xs: T[]): T {
  return xs[Math.floor(Math.random() * xs.length)]!;
}

/**
 * Aggregate name -> implementation. `args` are the leading constant arguments (e.g. `n` of `(min n ?x)`),
 * `values` the bag of the aggregated variable (duplicates as distinguished by :with vars).
 */
export const AGGREGATES: Record<string, AggregateFn> = {
  count: (_a, vs) => vs.length,
  'count-distinct': (_a, vs) => distinctValues(vs).length,
  sum: (_a, vs) => sum(vs),
  avg: (_a, vs) => (vs.length ? toNumber(sum(vs)) / vs.length : null),
  // (min n ?x) / (max n ?x): the n least / greatest items of the bag, duplicates kept (as Datomic and DataScript)
  min: (a, vs) => {
    const n = nArg(a, 'min');
    const s = sortValues(vs);
    return n === null ? (s[0] ?? null) : s.slice(0, n);
  },
  max: (a, vs) => {
    const n = nArg(a, 'max');
    const s = sortValues(vs).reverse();
    return n === null ? (s[0] ?? null) : s.slice(0, n);
  },
  median: (_a, vs) => median(vs),
  variance: (_a, vs) => variance(vs),
  stddev: (_a, vs) => Math.sqrt(variance(vs)),
  distinct: (_a, vs) => new Set(distinctValues(vs)),
  rand: (a, vs) => {
    const n = nArg(a, 'rand');
    return n === null ? randomPick(vs) : Array.from({ length: n }, () => randomPick(vs));
  },
  sample: (a, vs) => {
    const n = nArg(a, 'sample') ?? 1;
    const pool = distinctValues(vs);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, n);
  },
};
