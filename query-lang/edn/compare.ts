// The order of values the query language compares in (comparison predicates, min/max, sorting,
// and the index ranges that stand in for them): Datomic-like across types.
import { Keyword, Sym, Uuid, Char, BigDec, Uri } from './types.js';
import { compareBytesValues } from './binary.js';
import { compareDecimals, decimalToNumber, integerDecimal, toDecimal, type Decimal } from './decimal.js';

/** The rank of a value's kind in the order across kinds. */
export function kindRank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 4;
  }
  if (v instanceof BigDec) return 2;
  if (v instanceof Date) return 3;
  if (v instanceof Keyword) return 5;
  if (v instanceof Sym) return 6;
  if (v instanceof Uuid) return 7;
  // between the kinds that were here first, so that their ranks (and keys of tuples) stay
  if (v instanceof Uri) return 7.5;
  if (v instanceof Uint8Array) return 9.5;
  if (v instanceof Char) return 8;
  if (Array.isArray(v)) return 9;
  return 10;
}

function cmpPrim<T extends string | number | bigint>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function numeric(v: unknown): number | bigint {
  if (v instanceof BigDec) return Number(v.text);
  return v as number | bigint;
}

/**
 * A decimal against a number, bigint or decimal: exactly against an integer or a decimal (Clojure's
 * BigDecimal ops), as doubles against a fraction or NaN (a double is contagious in Clojure).
 */
function compareWithDecimal(a: unknown, b: unknown): number | undefined {
  const exact = (v: unknown): Decimal | undefined =>
    v instanceof BigDec ? toDecimal(v) : typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)) ? integerDecimal(v as number | bigint) : undefined;
  const x = exact(a);
  const y = exact(b);
  if (x !== undefined && y !== undefined) return compareDecimals(x, y);
  return undefined;
}

/** Number(decimal) for a comparison as doubles. */
function asDouble(v: unknown): unknown {
  if (!(v instanceof BigDec)) return v;
  const d = toDecimal(v);
  return d === undefined ? NaN : decimalToNumber(d);
}

/**
 * Total order used by comparison predicates, min/max and sorting: values of the same kind
 * compare naturally (numbers numerically across number/bigint, strings by code unit, dates by time,
 * keywords by namespace then name, tuples element-wise); different kinds order by a fixed type rank.
 * Values of no kind known here (functions, maps) compare equal to each other.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = kindRank(a);
  const rb = kindRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return (a ? 1 : 0) - (b ? 1 : 0);
    case 2: {
      if (a instanceof BigDec || b instanceof BigDec) {
        const exact = compareWithDecimal(a, b);
        if (exact !== undefined) return exact;
        return compareValues(asDouble(a), asDouble(b));
      }
      const x = numeric(a);
      const y = numeric(b);
      // NaN above every other number, equal to itself (Java's Double.compareTo; the index order)
      const nanX = x !== x;
      const nanY = y !== y;
      if (nanX || nanY) return Number(nanX) - Number(nanY);
      if (typeof x === typeof y) return cmpPrim(x as number, y as number);
      // mixed number / bigint: JS relational operators compare them mathematically
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 3:
      return cmpPrim((a as Date).getTime(), (b as Date).getTime());
    case 4:
      return cmpPrim(a as string, b as string);
    case 5: {
      const ka = a as Keyword;
      const kb = b as Keyword;
      const ns = cmpPrim(ka.ns ?? '', kb.ns ?? '');
      return ns !== 0 ? ns : cmpPrim(ka.name, kb.name);
    }
    case 6:
      return cmpPrim((a as Sym).name, (b as Sym).name);
    case 7:
      return cmpPrim((a as Uuid).value, (b as Uuid).value);
    case 7.5:
      return cmpPrim((a as Uri).value, (b as Uri).value);
    case 8:
      return cmpPrim((a as Char).value, (b as Char).value);
    case 9: {
      const xa = a as unknown[];
      const xb = b as unknown[];
      const n = Math.min(xa.length, xb.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(xa[i], xb[i]);
        if (c !== 0) return c;
      }
      return xa.length - xb.length;
    }
    case 9.5:
      return compareBytesValues(a as Uint8Array, b as Uint8Array);
    default:
      return 0;
  }
}
