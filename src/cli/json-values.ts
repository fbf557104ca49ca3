// Tagged JSON for factlog values: the one encoding that export writes, import reads and every
// `--format json` prints, so that two different values never print the same.
//
// Strings, booleans and finite numbers are JSON's own (-0 aside); every other value is an object
// with one key, its tag:
//   {"#kw":"ns/name"} {"#sym":"x"} {"#inst":"ISO"} {"#uuid":"..."} {"#bigint":"123"} {"#ref":1003}
//   {"#double":"NaN"|"Infinity"|"-Infinity"|"-0"} {"#tuple":[...]} (nil in a tuple: null)
//   {"#bigdec":"1.50"} (its text, scale kept) {"#uri":"urn:x"} {"#bytes":"AAEC/w=="} (base64)
// and, only in query output (values no datom holds): {"#set":[...]} {"#list":[...]}
//   {"#map":[[k,v],...]} {"#char":"c"} {"#tagged":["tag",value]}. A float is a JSON number.
// A JSON object of query output that could be read as a tag (one key starting with #) is wrapped
// in {"#map":...} too.
import { BigDec, Char, EdnList, Keyword, Sym, Tagged, Uri, Uuid } from '../../query-lang/edn/types.js';
import { base64OfBytes, bytesOfBase64, isUriText } from '../../query-lang/edn/binary.js';
import { parseDecimal } from '../../query-lang/edn/decimal.js';
import { FactlogError } from '../../query-lang/errors.js';

/** A value that has no tagged JSON form, or JSON that is no value. */
export class JsonValueError extends FactlogError {
  constructor(message: string) {
    super('json/invalid-value', message);
  }
}

/** How deep tuples, sets, maps... may nest in a JSON value read back (a datom's tuple has one level). */
export const MAX_JSON_DEPTH = 100;

/** The tagged JSON form of a value; `isRef`: a number that is an entity id (a ref attribute's value). */
export function encodeJsonValue(v: unknown, isRef = false): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') {
    if (isRef) return { '#ref': v };
    return Number.isFinite(v) && !Object.is(v, -0) ? v : { '#double': Object.is(v, -0) ? '-0' : String(v) };
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return { '#bigint': v.toString() };
  if (v instanceof Keyword) return { '#kw': v.fqn };
  if (v instanceof Date) {
    if (Number.isNaN(v.getTime())) throw new JsonValueError('an invalid date');
    return { '#inst': v.toISOString() };
  }
  if (v instanceof Uuid) return { '#uuid': v.value };
  if (v instanceof Sym) return { '#sym': v.name };
  if (v instanceof Uri) return { '#uri': v.value };
  if (v instanceof Uint8Array) return { '#bytes': base64OfBytes(v) };
  const inner = (x: unknown) => encodeJsonValue(x);
  if (Array.isArray(v)) return { '#tuple': v.map(inner) };
  if (v instanceof Set) return { '#set': [...v].map(inner) };
  if (v instanceof EdnList) return { '#list': v.items.map(inner) };
  if (v instanceof Map) return { '#map': [...v].map(([k, x]) => [inner(k), inner(x)]) };
  if (v instanceof Char) return { '#char': v.value };
  if (v instanceof BigDec) return { '#bigdec': v.text };
  if (v instanceof Tagged) return { '#tagged': [v.tag, inner(v.value)] };
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return encodeJsonObject(v as Record<string, unknown>);
  throw new JsonValueError(`no JSON form for ${String(v)}`);
}

/**
 * A plain object (a pull result, an entity, a row of named columns) as a JSON object with encoded
 * values. `arraysAreCollections`: in a pull result or an entity an array holds a cardinality-many
 * attribute's values, each encoded; in a row it is a tuple value.
 */
export function encodeJsonObject(o: Record<string, unknown>, arraysAreCollections = true): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = arraysAreCollections && Array.isArray(x) ? x.map((e) => encodeJsonValue(e)) : encodeJsonValue(x);
  const keys = Object.keys(out);
  return keys.length === 1 && keys[0]!.startsWith('#') ? { '#map': [[keys[0], out[keys[0]!]]] } : out;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BIGINT_RE = /^-?\d+$/;
const DOUBLES: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };

/** A value read back from its tagged JSON form; `ref` when it was tagged #ref. */
export function decodeJsonValue(x: unknown, depth = 0): { v: unknown; ref: boolean } {
  if (depth > MAX_JSON_DEPTH) throw new JsonValueError(`a value nested deeper than ${MAX_JSON_DEPTH} levels`);
  if (x === null || typeof x !== 'object') return { v: x, ref: false };
  if (Array.isArray(x)) throw new JsonValueError('an untagged array (a tuple is {"#tuple": [...]})');
  const entries = Object.entries(x as Record<string, unknown>);
  if (entries.length !== 1 || !entries[0]![0].startsWith('#')) {
    throw new JsonValueError(`an untagged object ${clip(JSON.stringify(x))} (a value's tag is its only key, e.g. {"#kw": "a/b"})`);
  }
  const [tag, payload] = entries[0]!;
  return { v: decodeTagged(tag, payload, depth), ref: tag === '#ref' };
}

function decodeTagged(tag: string, payload: unknown, depth: number): unknown {
  const str = (valid?: (s: string) => boolean): string => {
    if (typeof payload !== 'string' || (valid && !valid(payload))) throw new JsonValueError(`invalid ${tag} ${clip(JSON.stringify(payload) ?? String(payload))}`);
    return payload;
  };
  const list = (): unknown[] => {
    if (!Array.isArray(payload)) throw new JsonValueError(`${tag} needs an array`);
    return payload.map((p) => decodeJsonValue(p, depth + 1).v);
  };
  switch (tag) {
    case '#ref':
      if (!Number.isSafeInteger(payload) || (payload as number) < 0) throw new JsonValueError(`invalid #ref ${clip(JSON.stringify(payload))} (an entity id)`);
      return payload;
    case '#kw':
      return Keyword.of(str((s) => s.length > 0 && !s.startsWith(':')));
    case '#sym':
      return Sym.of(str((s) => s.length > 0));
    case '#inst': {
      const d = new Date(str());
      if (Number.isNaN(d.getTime())) throw new JsonValueError(`invalid #inst ${clip(JSON.stringify(payload))}`);
      return d;
    }
    case '#uuid':
      return new Uuid(str((s) => UUID_RE.test(s)));
    case '#bigint':
      return BigInt(str((s) => BIGINT_RE.test(s)));
    case '#double': {
      const s = str();
      const n = s in DOUBLES ? DOUBLES[s]! : Number(s);
      if (Number.isNaN(n) && s !== 'NaN') throw new JsonValueError(`invalid #double ${clip(JSON.stringify(s))}`);
      return n;
    }
    case '#tuple':
      return list();
    case '#set':
      return new Set(list());
    case '#list':
      return new EdnList(list() as never[]);
    case '#map':
      return decodeMap(payload, depth);
    case '#char':
      return new Char(str((s) => [...s].length === 1));
    case '#bigdec':
      return new BigDec(str((s) => parseDecimal(s) !== undefined));
    case '#uri':
      return new Uri(str(isUriText));
    case '#bytes':
      return bytesOfBase64(str((s) => bytesOfBase64(s) !== undefined));
    case '#tagged': {
      if (!Array.isArray(payload) || payload.length !== 2 || typeof payload[0] !== 'string') throw new JsonValueError('#tagged needs ["tag", value]');
      return new Tagged(payload[0], decodeJsonValue(payload[1], depth + 1).v as never);
    }
  }
  throw new JsonValueError(`unknown value tag ${clip(tag)}`);
}

function decodeMap(payload: unknown, depth: number): Map<unknown, unknown> {
  const pairs = Array.isArray(payload) ? payload : [];
  if (!Array.isArray(payload) || !pairs.every((p) => Array.isArray(p) && p.length === 2)) throw new JsonValueError('#map needs [[key, value], ...]');
  return new Map(pairs.map(([k, x]) => [decodeJsonValue(k, depth + 1).v, decodeJsonValue(x, depth + 1).v]));
}

function clip(s: string): string {
  return s.length > 40 ? s.slice(0, 37) + '...' : s;
}
