// An attribute's current datoms counted per value straight from AVET key ranges: one seek to each
// distinct value and a count of its keys (a packed run is counted from its bounds, not decoded),
// so a count grouped by value needs neither an entity id decoded nor a column built.
import { decodeValue, type KeyPart, type Tag } from '../storage/encoding.js';
import { KEY_MAX, type Store } from '../storage/store.js';
import type { Value, ValueType } from './api.js';

/**
 * Value types whose every key holds one value that groups apart from the others: doubles and
 * floats are left out (-0 shares 0's key range but not its group), as are decimals, tuples and
 * attributes without a declared type.
 */
const ONE_GROUP_PER_KEY = new Set<ValueType>(['string', 'keyword', 'ref', 'boolean', 'long', 'instant', 'uuid', 'symbol']);
/** Values seen before the average datoms per value is checked. */
const VALUES_BEFORE_CHECK = 16;
/**
 * Below this many datoms per distinct value, a seek per value costs more than reading the
 * datoms (a seek and a count cost about as much as decoding a few dozen keys).
 */
const MIN_DATOMS_PER_VALUE = 64;

/**
 * [value, datoms] of attribute `a` now, in AVET order; null when the type does not allow it or
 * the values are so many that reading every datom costs less. Reads the current keys only: the
 * caller has checked the value is the store's latest, with no since, history, overlay or filter.
 */
export function countsByValue(store: Store, a: number, valueType: ValueType | null): [Value, number][] | null {
  if (valueType === null || !ONE_GROUP_PER_KEY.has(valueType)) return null;
  const out: [Value, number][] = [];
  const end: KeyPart[] = [a, KEY_MAX];
  let from: KeyPart[] = [a];
  let datoms = 0;
  for (;;) {
    const first = firstKey(store, from, end);
    if (!first) return out;
    const [, tag, payload] = first as [number, Tag, KeyPart];
    const n = store.countCurrent('avet', [a, tag, payload]);
    out.push([decodeValue(tag, payload, store.longValue) as Value, n]);
    datoms += n;
    if (out.length >= VALUES_BEFORE_CHECK && out.length * MIN_DATOMS_PER_VALUE > datoms) return null;
    from = [a, tag, payload, KEY_MAX];
  }
}

function firstKey(store: Store, from: KeyPart[], end: KeyPart[]): KeyPart[] | undefined {
  for (const k of store.keys('current', 'avet', from, end)) return k;
  return undefined;
}
