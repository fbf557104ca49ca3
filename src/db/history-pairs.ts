// The distinct (entity, value) pairs of one attribute in a history value, grouped by entity, read
// in one AEVT scan: what a join over a history reads of each attribute (every version of a fact
// is one pair), built once per history value and kept with the columns, as an immutable value's
// column is.
import { decodeValue, type Tag } from '../storage/encoding.js';
import type { ReadAt } from '../storage/index-reader.js';
import type { Payload } from '../storage/key-codec.js';
import type { Store } from '../storage/store.js';
import { AttributeColumn } from './columns.js';

/**
 * Attribute `a`'s pairs in the history value `at`: the versions of one fact (its assertions and
 * retractions) are neighbours in AEVT order, so each is kept once by comparing a key with the
 * one before, and a value is decoded once per pair. A pair's tx is its first version's.
 * `onRead` hears of each datom read, with the pairs kept so far (a query's limits may stop it).
 */
export function historyPairs(store: Store, a: number, at: ReadAt, onRead?: (pairs: number) => void): AttributeColumn {
  const es: number[] = [];
  const vs: unknown[] = [];
  const txs: number[] = [];
  let lastE = -1;
  let lastTag: Tag | -1 = -1;
  let lastPayload: Payload | undefined;
  for (const { raw, tx } of store.reader.storedDatoms('aevt', [a], undefined, at)) {
    onRead?.(es.length);
    // -0 and 0 are one value (their keys differ, side by side), as a join sees them
    if (raw.e === lastE && raw.tag === lastTag && raw.payload === lastPayload) continue;
    lastE = raw.e;
    lastTag = raw.tag;
    lastPayload = raw.payload;
    es.push(raw.e);
    vs.push(decodeValue(raw.tag, raw.payload, store.longValue));
    txs.push(tx);
  }
  return AttributeColumn.fromDatoms(es, vs, txs);
}
