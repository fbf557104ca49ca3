// Bulk key ordering: a big transaction's datoms in (close to) each index's key order, as runs of
// keys to put one after the other (LMDB then fills pages left to right) or to pack (format 4 on).
import { indexKeyWritersOf, Tag, type IndexName, type KeyPart, type Payload, type RawDatom } from './encoding.js';
import { KeyListBuilder, type KeyList } from './packed-index.js';
import { keyCodecOf } from './store-format.js';

/** Below this many datoms a transaction's keys are put as they come. */
export const SORT_THRESHOLD = 64;

/**
 * Datoms in (close to) each index's key order: only a hint for faster puts, so strings compared
 * by UTF-16 units instead of UTF-8 bytes, or payloads of mixed types, do no harm.
 */
const cmp = (p: KeyPart, q: KeyPart): number => (p === q ? 0 : p < q ? -1 : p > q ? 1 : 0);
/** EAVT's order; AEVT's and AVET's follow from it by attribute (keyOrders). */
const EAVT_ORDER = (x: RawDatom, y: RawDatom): number => x.e - y.e || x.a - y.a || x.tag - y.tag || cmp(x.payload, y.payload);
/** AVET's order within one attribute. */
const VALUE_ORDER = (x: RawDatom, y: RawDatom): number => x.tag - y.tag || cmp(x.payload, y.payload) || x.e - y.e;
const VAET_ORDER = (x: RawDatom, y: RawDatom): number => (x.payload as number) - (y.payload as number) || x.a - y.a || x.e - y.e;

/**
 * Each index's datoms in (close to) its key order, as runs to put one after the other. One EAVT
 * sort (skipped when the tx data already came in that order, as bulk loads do), then a stable
 * split by attribute gives AEVT's order, and grouping each attribute's run by value AVET's:
 * sorts of one attribute's values instead of three sorts of all the datoms.
 */
/** Whether an index holds datoms of this tag: VAET only refs; AVET all but bytes (not indexed by value, as in Datomic). */
export function indexHolds(index: IndexName, tag: Tag): boolean {
  return index === 'vaet' ? tag === Tag.Ref : index !== 'avet' || tag !== Tag.Bytes;
}

export function keyOrders(asserted: RawDatom[]): Record<IndexName, RawDatom[][]> {
  const eavt = sortedBy(asserted, EAVT_ORDER);
  const byAttr = new Map<number, RawDatom[]>();
  for (const d of eavt) {
    const run = byAttr.get(d.a);
    if (run) run.push(d);
    else byAttr.set(d.a, [d]);
  }
  const aevt = [...byAttr.keys()].sort((x, y) => x - y).map((a) => byAttr.get(a)!);
  return {
    eavt: [eavt],
    aevt,
    avet: aevt.filter((run) => indexHolds('avet', run[0]!.tag)).flatMap(inValueOrder),
    vaet: [asserted.filter((d) => d.tag === Tag.Ref).sort(VAET_ORDER)],
  };
}

/**
 * One attribute's datoms, in entity order, in AVET's order: as groups of one value each (the
 * entity order kept within a group), the groups sorted by value. An attribute has mostly far
 * fewer values than datoms, so this sorts its distinct values instead of all of them.
 */
function inValueOrder(run: RawDatom[]): RawDatom[][] {
  const tag = run[0]!.tag;
  const groups = new Map<Payload, RawDatom[]>();
  for (const d of run) {
    if (d.tag !== tag) return [sortedBy(run, VALUE_ORDER)];
    const group = groups.get(d.payload);
    if (group) group.push(d);
    else groups.set(d.payload, [d]);
  }
  return [...groups.keys()].sort(cmp).map((v) => groups.get(v)!);
}

/** The keys in `index` of runs of datoms, one after the other, in byte form (in `format`'s codec). */
export function keyListOf(index: IndexName, runs: RawDatom[][], format: number): KeyList {
  const keys = new KeyListBuilder(runs.reduce((n, run) => n + run.length, 0));
  const write = indexKeyWritersOf(keyCodecOf(format))[index];
  for (const datoms of runs) for (const d of datoms) keys.addWritten(write, d);
  return keys.finish();
}

/** `datoms` in `order`: itself when already in order, else a sorted copy. */
function sortedBy(datoms: RawDatom[], order: (x: RawDatom, y: RawDatom) => number): RawDatom[] {
  for (let i = 1; i < datoms.length; i++) if (order(datoms[i - 1]!, datoms[i]!) > 0) return datoms.slice().sort(order);
  return datoms;
}
