// Value normalisation for joins (valueKey); the ordering across types (compareValues) is the query language's.
import { Keyword, Sym, Uuid, Char, BigDec, EdnList, Uri } from '../../query-lang/edn/types.js';
import { compareDecimals, decimalText, toDecimal } from '../../query-lang/edn/decimal.js';
import { base64OfBytes } from '../../query-lang/edn/binary.js';
import { compareValues as compareKnownValues, kindRank } from '../../query-lang/edn/compare.js';

const objectIds = new WeakMap<object, number>();
let nextObjectId = 1;

function objectKey(o: object): string {
  let id = objectIds.get(o);
  if (id === undefined) {
    id = nextObjectId++;
    objectIds.set(o, id);
  }
  return 'o' + id;
}

/**
 * A string that is equal for two values exactly when they join in a query:
 * numbers and bigints compare numerically, Dates by time, Uuids by text, keywords/symbols by name,
 * arrays (tuples) element-wise. Other objects (functions, maps) join by identity.
 */
export function valueKey(v: unknown): string {
  switch (typeof v) {
    case 'number':
      return 'n' + (Object.is(v, -0) ? 0 : v);
    case 'bigint':
      return 'n' + v.toString();
    case 'string':
      return 's' + v;
    case 'boolean':
      return v ? 'T' : 'F';
    case 'undefined':
      return 'z';
    case 'object':
      if (v === null) return 'z';
      if (v instanceof Keyword) return 'k' + v.fqn;
      if (v instanceof Date) return 'd' + v.getTime();
      if (v instanceof Uuid) return 'u' + v.value;
      if (v instanceof Sym) return 'y' + v.name;
      if (v instanceof Char) return 'c' + v.value;
      if (v instanceof BigDec) return 'm' + decimalKey(v);
      if (v instanceof Uri) return 'r' + v.value;
      if (v instanceof Uint8Array) return 'b' + base64OfBytes(v);
      if (Array.isArray(v))
        return (
          '[' +
          v
            .map((x) => {
              const k = valueKey(x);
              return k.length + ':' + k;
            })
            .join('') +
          ']'
        );
      if (v instanceof EdnList)
        return (
          '(' +
          v.items
            .map((x) => {
              const k = valueKey(x);
              return k.length + ':' + k;
            })
            .join('') +
          ')'
        );
      return objectKey(v);
    default:
      return objectKey(v as object);
  }
}

/**
 * A Map key that is equal (SameValueZero) for two values exactly when they join: numbers (and
 * bigints that are exact numbers) stay numbers — no string per row on the hot paths — everything
 * else is its valueKey string. Numbers and strings never collide as Map keys.
 */
export function joinKey(v: unknown): unknown {
  if (typeof v === 'number') return v === 0 ? 0 : v;
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isFinite(n) && BigInt(n) === v ? n : 'n' + v.toString();
  }
  return valueKey(v);
}

/** Key of several values (a tuple of join columns). */
export function tupleKey(values: readonly unknown[]): string {
  if (values.length === 1) return valueKey(values[0]);
  let out = '';
  for (const v of values) {
    const k = valueKey(v);
    out += k.length + ':' + k;
  }
  return out;
}

/**
 * A decimal joins (and is found in the indexes) as the value it is with its scale, as a datom
 * holds it (Java's BigDecimal.equals: 1.5M and 1.50M are two values); valuesEqual (the = and ==
 * predicates) compares them by value, as Clojure's = does.
 */
function decimalKey(v: BigDec): string {
  const d = toDecimal(v);
  return d === undefined ? v.text : decimalText(d);
}

export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof BigDec && b instanceof BigDec) {
    const x = toDecimal(a);
    const y = toDecimal(b);
    if (x !== undefined && y !== undefined) return compareDecimals(x, y) === 0;
  }
  return valueKey(a) === valueKey(b);
}

/**
 * The query language's order of values (query-lang/edn/compare.ts); values of no kind it knows
 * (functions, maps) order among themselves by their valueKey, for a stable sort.
 */
export function compareValues(a: unknown, b: unknown): number {
  const c = compareKnownValues(a, b);
  if (c !== 0 || kindRank(a) !== 10) return c;
  const x = valueKey(a);
  const y = valueKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
