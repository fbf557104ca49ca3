// How values cross HTTP, shared by the server and the remote client: JSON with the CLI's tagged
// value forms (src/cli/json-values.ts), or EDN. Imports nothing that loads storage (the client must not).
import { Keyword, isPlainObject } from '../../query-lang/edn/types.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { encodeJsonValue, decodeJsonValue } from '../cli/json-values.js';

export const JSON_TYPE = 'application/json';
export const EDN_TYPE = 'application/edn';

/**
 * A JS value (a query result, a pull result, a report) as JSON: arrays stay JSON arrays (rows,
 * collections, a cardinality-many attribute's values, tuples), plain objects stay objects, and
 * every other value takes its tagged form ({"#kw": "ns/name"}, {"#inst": "..."}, ...).
 */
export function toWire(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toWire);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toWire(x);
    const keys = Object.keys(out);
    // an object that would read back as a tagged value is sent as a #map
    if (keys.length === 1 && keys[0]!.startsWith('#')) return { '#map': [[keys[0], out[keys[0]!]]] };
    return out;
  }
  if (v instanceof Set) return { '#set': [...v].map(toWire) };
  if (v instanceof Map) return { '#map': [...v].map(([k, x]) => [toWire(k), toWire(x)]) };
  return encodeJsonValue(v);
}

/** The JS value of `toWire`'s JSON (and of the CLI's forms: {"#tuple": [...]} is an array too). */
export function fromWire(x: unknown): unknown {
  if (x === null || typeof x !== 'object') return x;
  if (Array.isArray(x)) return x.map(fromWire);
  const keys = Object.keys(x);
  if (keys.length === 1 && keys[0]!.startsWith('#')) {
    const payload = (x as Record<string, unknown>)[keys[0]!];
    // containers decode their elements here, so that plain objects and arrays may nest in them
    if (keys[0] === '#set' && Array.isArray(payload)) return new Set(payload.map(fromWire));
    if (keys[0] === '#map' && Array.isArray(payload) && payload.every((p) => Array.isArray(p) && p.length === 2)) {
      const m = new Map((payload as [unknown, unknown][]).map(([k, v]) => [fromWire(k), fromWire(v)]));
      // {"#map": [["#x", v]]} stood for a plain object with that one key
      const [only] = m.keys();
      return m.size === 1 && typeof only === 'string' && only.startsWith('#') ? { [only]: m.get(only) } : m;
    }
    if (keys[0] === '#tuple' && Array.isArray(payload)) return payload.map(fromWire);
    return decodeJsonValue(x).v;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(x)) out[k] = fromWire(v);
  return out;
}

/** A response as EDN text: plain objects become maps with keyword keys (':t', ':person/name'). */
export function toEdnText(v: unknown): string {
  return printEdn(v);
}

/** An EDN map read from a body as an object keyed by the keywords' names (`{:query ...}` -> `{ query }`). */
export function ednBodyObject(v: unknown): Record<string, unknown> {
  if (!(v instanceof Map)) return isPlainObject(v) ? (v as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [k, x] of v) out[k instanceof Keyword ? k.fqn : String(k)] = x;
  return out;
}
