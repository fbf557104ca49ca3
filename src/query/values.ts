// Value normalisation for joins (valueKey) and Datomic-like ordering across types (compareValues).
import { Keyword, Sym, Uuid, Char, BigDec, EdnList } from '../../query-lang/edn/types.js';

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
      if (v instanceof BigDec) return 'm' + v.text;
      if (Array.isArray(v)) return '[' + v.map((x) => { const k = valueKey(x); return k.length + ':' + k; }).join('') + ']';
      if (v instanceof EdnList) return '(' + v.items.map((x) => { const k = valueKey(x); return k.length + ':' + k; }).join('') + ')';
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

export function valuesEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  return valueKey(a) === valueKey(b);
}

function typeRank(v: unknown): number {
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
 * Total order used by comparison predicates, min/max and sorting: values of the same kind
 * compare naturally (numbers numerically across number/bigint, strings by code unit, dates by time,
 * keywords by namespace then name, tuples element-wise); different kinds order by a fixed type rank.
 */
export function compareValues(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return (a ? 1 : 0) - (b ? 1 : 0);
    case 2: {
      const x = numeric(a);
      const y = numeric(b);
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
    default:
      return cmpPrim(valueKey(a), valueKey(b));
  }
}
