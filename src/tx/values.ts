// Coerce and validate a value for its attribute's :db/valueType (refs are resolved elsewhere).
import { BigDec, EdnList, Keyword, Sym, Uri, Uuid } from '../../query-lang/edn/types.js';
import { canonicalBigDec } from '../../query-lang/edn/decimal.js';
import { isUriText } from '../../query-lang/edn/binary.js';
import { isReadableName } from '../../query-lang/edn/printer.js';
import { longForm } from '../storage/encoding.js';
import type { AttrInfo, Value, ValueType } from '../db/api.js';
import { txError, type FormRef } from './errors.js';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Coerce = (v: unknown) => Value | undefined;

/** One coercion per value type: returns undefined when the value does not fit. */
const COERCE: Record<Exclude<ValueType, 'ref' | 'tuple'>, Coerce> = {
  string: (v) => (typeof v === 'string' ? v : undefined),
  long: (v) => (typeof v === 'number' || typeof v === 'bigint' ? longForm(v) : undefined),
  double: (v) => (typeof v === 'number' && !Number.isNaN(v) ? v : v instanceof BigDec ? Number(v.text) : undefined),
  boolean: (v) => (typeof v === 'boolean' ? v : undefined),
  instant: (v) => (v instanceof Date && !Number.isNaN(v.getTime()) ? v : undefined),
  uuid: (v) => (v instanceof Uuid ? v : typeof v === 'string' && UUID_RE.test(v) ? new Uuid(v) : undefined),
  keyword: (v) => readable(v instanceof Keyword ? v : typeof v === 'string' && v.startsWith(':') && v.length > 1 ? Keyword.of(v) : undefined),
  bigint: (v) => (typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : undefined),
  symbol: (v) => readable(v instanceof Sym ? v : undefined),
  // as Datomic, a bigdec attribute takes decimals only (not a long or a double: 0.1 is not 0.1M)
  bigdec: (v) => (v instanceof BigDec ? canonicalBigDec(v) : undefined),
  float: (v) => (typeof v === 'number' && !Number.isNaN(v) ? Math.fround(v) : v instanceof BigDec ? Math.fround(Number(v.text)) : undefined),
  uri: (v) => (v instanceof Uri && isUriText(v.value) ? v : v instanceof URL ? new Uri(v.href) : undefined),
  // a copy: the caller's buffer may change after the transaction
  bytes: (v) => (v instanceof Uint8Array ? new Uint8Array(v) : undefined),
};

/** Keywords and symbols whose text reads back as themselves: tuples and exports store the text. */
function readable<T extends Keyword | Sym>(name: T | undefined): T | undefined {
  return name && isReadableName(name) ? name : undefined;
}

/** Values accepted for attributes used without schema. */
function coerceSchemaless(v: unknown): Value | undefined {
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'bigint') return v;
  if (typeof v === 'number') return Number.isNaN(v) ? undefined : v;
  if (v instanceof Keyword || v instanceof Sym) return readable(v);
  if (v instanceof Uuid) return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  return undefined;
}

function coerceTuple(attr: AttrInfo, v: unknown): Value | undefined {
  if (!Array.isArray(v) || v.length < 2 || v.length > 8) return undefined;
  const types = attr.tupleTypes ?? (attr.tupleType ? v.map(() => attr.tupleType!) : undefined);
  if (types && types.length !== v.length) return undefined;
  // a composite tuple (a lookup ref's value) has one element per part, nil for a missing one
  if (attr.tupleAttrs && attr.tupleAttrs.length !== v.length) return undefined;
  const out: Value[] = [];
  for (let i = 0; i < v.length; i++) {
    const t = types?.[i];
    if (v[i] === null && attr.tupleAttrs) {
      out.push(null as unknown as Value);
      continue;
    }
    if (v[i] === null) return undefined;
    const c = t === 'ref' ? tupleRef(v[i]) : t && t !== 'tuple' ? COERCE[t](v[i]) : coerceSchemaless(v[i]);
    if (c === undefined) return undefined;
    out.push(c);
  }
  return out;
}

/**
 * A ref inside a tuple is taken as an entity id, as it is stored: no ident, lookup ref or tempid
 * is resolved there (Datomic's docs describe no such resolution). The transaction checks that
 * the entity exists.
 */
function tupleRef(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Whether a tuple attribute has ref elements, whose entities must exist. */
export function tupleRefSlots(attr: AttrInfo): boolean {
  return attr.tupleType === 'ref' || (attr.tupleTypes?.includes('ref') ?? false);
}

export function coerceValue(attr: AttrInfo, v: unknown, form: FormRef): Value {
  if (v === null || v === undefined) {
    throw txError('tx/invalid-value', `nil is not a value (attribute ${attr.ident})`, form);
  }
  const type = attr.valueType;
  const out = type === null ? coerceSchemaless(v) : type === 'tuple' ? coerceTuple(attr, v) : type === 'ref' ? (v as Value) : COERCE[type](v);
  if (out === undefined) {
    const expected = type === null ? 'a scalar value' : type === 'tuple' ? describeTuple(attr) : `a value of type :db.type/${type}`;
    throw txError('tx/invalid-value', `${attr.ident} expects ${expected}, got ${describeValue(v)}`, form);
  }
  return out;
}

function describeTuple(attr: AttrInfo): string {
  const types = attr.tupleTypes ? attr.tupleTypes.map((t) => `:db.type/${t}`).join(' ') : attr.tupleType ? `:db.type/${attr.tupleType} ...` : null;
  const refs = tupleRefSlots(attr) ? ' (a ref is an entity id)' : '';
  return types ? `a tuple [${types}]${refs}` : 'a tuple of 2 to 8 scalars';
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v instanceof Keyword) return v.toString();
  if (Array.isArray(v)) return 'a vector';
  if (v instanceof EdnList) return 'a list';
  if (v instanceof Set) return 'a set';
  if (v instanceof BigDec) return `${v.text}M`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (v instanceof Map || (typeof v === 'object' && v !== null && !(v instanceof Date))) return 'a map';
  return `${typeof v} ${String(v)}`;
}
