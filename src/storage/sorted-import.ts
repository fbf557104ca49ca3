// An import's indexes built by sorting: the datoms of its transactions, sorted in EAVT order,
// walked once to check them as the transactor would have (each assertion new, each retraction of
// a datom that holds, one value at a time in a cardinality-one slot, one entity at a time per
// unique value) and to make every current and history key, each index's keys sorted on their own
// and appended in key order (external-sort.ts), merged with what the side database holds already.
import type { Database, RootDatabase } from 'lmdb';
import { keyPayload, Tag, type KeyPart, type Payload } from './encoding.js';
import { readKey, writeUint, type KeyCodec } from './key-codec.js';
import { KeyListBuilder, PackedIndex, runsFlagIn } from './packed-index.js';
import type { SortBudget, StringSorter } from './external-sort.js';
import { indexDbOptions, keyCodecOf } from './store-format.js';

/** What the walk needs to know of an attribute (the schema does not change during the sorted part of an import). */
export interface SortedAttr {
  cardinalityOne: boolean;
  unique: boolean;
  keepsHistory: boolean;
}

/** The sorted part of an import: its datom records in EAVT order, and its attributes. */
export interface SortedDatoms {
  records: Iterable<string>;
  attr(a: number): SortedAttr;
  budget: SortBudget;
}

/**
 * The transactions are not what the transactor would have made of them (a retraction of a datom
 * that does not hold, two values of a cardinality-one attribute, a unique value on two entities...):
 * the import replays them one by one instead, which refuses them with the transactor's own error.
 */
export class BulkCheckFailed extends Error {}

/** Keys per write transaction of the target (as in bulk-import.ts). */
const CHUNK = 200_000;
const scratch = Buffer.allocUnsafe(1 << 16);
/** The end of an interval still open (a current datom): after every tx's bytes. */
const OPEN = '\uffff';

/**
 * A datom's sort record: its EAVT key (e, a, tag, value, tx) in the store's bytes, whether it is
 * an assertion, and the byte lengths of e, a, tag and tx, so that the walk cuts it into parts.
 */
export function datomRecord(codec: KeyCodec, e: number, a: number, tag: Tag, payload: Payload, tx: number, added: boolean): string {
  let pos = writeUint(e, scratch, 0);
  const lenE = pos;
  pos = writeUint(a, scratch, pos);
  const lenA = pos - lenE;
  const tagStart = pos;
  pos = writeUint(tag, scratch, pos);
  const lenT = pos - tagStart;
  pos = codec.writeValue(tag, keyPayload(payload), scratch, pos);
  const txStart = pos;
  pos = writeUint(tx, scratch, pos);
  const lenX = pos - txStart;
  scratch[pos++] = added ? 1 : 0;
  scratch[pos++] = lenE;
  scratch[pos++] = lenA;
  scratch[pos++] = lenT;
  scratch[pos++] = lenX;
  return scratch.toString('latin1', 0, pos);
}

/** One target index, written in key order: the side database's keys merged with the sorted ones. */
class IndexAppender {
  private readonly to: PackedIndex;
  private builder = new KeyListBuilder(CHUNK);
  private count = 0;
  /** The side database's keys (few: the schema's transactions, before the sorted part), read at once: lmdb-js's lazy scans of one environment do not outlast one another. */
  private readonly source: string[] = [];
  private next = 0;
  private sourceHead: string | undefined;

  constructor(
    private readonly target: RootDatabase,
    meta: Database<any, string>,
    name: string,
    private readonly codec: KeyCodec,
    format: number,
    source: Iterable<KeyPart[]>,
  ) {
    this.to = new PackedIndex(target.openDB<Buffer, any>(name, indexDbOptions(format)), true, runsFlagIn(meta, name), undefined, codec);
    for (const key of source) this.source.push(scratch.toString('latin1', 0, this.codec.writeKey(key, scratch, 0)));
    this.nextSource();
  }

  add(key: string): void {
    while (this.sourceHead !== undefined && this.sourceHead < key) {
      this.put(this.sourceHead);
      this.nextSource();
    }
    this.put(key);
  }

  addAll(keys: Iterable<string>): void {
    for (const key of keys) this.add(key);
  }

  finish(): void {
    while (this.sourceHead !== undefined) {
      this.put(this.sourceHead);
      this.nextSource();
    }
    this.flush();
  }

  private nextSource(): void {
    this.sourceHead = this.source[this.next++];
  }

  private put(key: string): void {
    this.builder.addWritten(writeLatin1, key);
    if (++this.count === CHUNK) this.flush();
  }

  private flush(): void {
    if (this.count === 0) return;
    const keys = this.builder.finish();
    this.target.transactionSync(() => {
      this.to.beginWrite();
      this.to.putMany(keys, true);
    });
    this.builder = new KeyListBuilder(CHUNK);
    this.count = 0;
  }
}

const writeLatin1 = (key: string, target: Uint8Array, pos: number) => pos + (target as Buffer).write(key, pos, 'latin1');

/** Per attribute (by its key bytes): its AEVT keys (in order as the walk makes them) and AVET keys (sorted). */
interface AttrKeys {
  info: SortedAttr;
  aevt: StringSorter;
  aevtHistory: StringSorter;
  avet: StringSorter;
  avetHistory: StringSorter;
  current: number;
}

/**
 * Check the sorted datoms and write every index of `target` (an import's packed copy of `source`)
 * from them and the keys `source` holds; the per-attribute counts go into the target's meta.
 * Throws BulkCheckFailed when the datoms are not what one-by-one transactions would have stored.
 */
export function writeSortedIndexes(source: { keys(name: string): Iterable<KeyPart[]> }, target: RootDatabase, meta: Database<any, string>, format: number, datoms: SortedDatoms): void {
  const codec = keyCodecOf(format);
  const appender = (name: string) => new IndexAppender(target, meta, name, codec, format, source.keys(name));
  const eavt = appender('eavt');
  const eavtHistory = appender('eavt.history');
  const { budget } = datoms;
  const vaet = budget.sorter();
  const vaetHistory = budget.sorter();
  const unique = budget.sorter();
  const attrs = new Map<string, AttrKeys>();
  const refTag = scratch.toString('latin1', 0, writeUint(Tag.Ref, scratch, 0));

  // the group being walked: one fact (e, a, v), its parts, and its open assertion
  let fact = '';
  let E = '';
  let A = '';
  let T = '';
  let V = '';
  let keys: AttrKeys | undefined;
  let open: string | undefined;
  let lastTx = '';
  // the (e, a) slot being walked: its intervals when cardinality one
  let slot = '';
  let intervals: [string, string][] = [];

  const fail = (why: string): never => {
    throw new BulkCheckFailed(why);
  };
  const closeSlot = () => {
    if (intervals.length > 1) {
      intervals.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
      let end = intervals[0]![1];
      for (let i = 1; i < intervals.length; i++) {
        const [s, e] = intervals[i]!;
        if (s < end) fail('two values at once in a cardinality-one attribute');
        if (e > end) end = e;
      }
    }
    intervals = [];
  };
  const interval = (start: string, end: string) => {
    const k = keys!;
    if (k.info.cardinalityOne) intervals.push([start, end]);
    const atv = A + T + V;
    if (k.info.unique) unique.add(atv + start + (end === OPEN ? '' : end) + String.fromCharCode(atv.length & 0xff, atv.length >> 8, start.length, end === OPEN ? 0 : end.length));
    const isRef = T === refTag;
    if (end === OPEN) {
      k.current++;
      eavt.add(fact + start);
      k.aevt.add(A + E + T + V + start);
      k.avet.add(atv + E + start);
      if (isRef) vaet.add(V + A + E + start);
    } else if (k.info.keepsHistory) {
      eavtHistory.add(fact + start + end);
      k.aevtHistory.add(A + E + T + V + start + end);
      k.avetHistory.add(atv + E + start + end);
      if (isRef) vaetHistory.add(V + A + E + start + end);
    }
  };
  const closeFact = () => {
    if (open !== undefined) interval(open, OPEN);
    open = undefined;
  };
  const keysOf = (a: string): AttrKeys => {
    let k = attrs.get(a);
    if (!k) {
      const id = readKey(Buffer.from(a, 'latin1'), 0, a.length)[0] as number;
      k = { info: datoms.attr(id), aevt: budget.sorter(true), aevtHistory: budget.sorter(true), avet: budget.sorter(), avetHistory: budget.sorter(), current: 0 };
      attrs.set(a, k);
    }
    return k;
  };

  for (const r of datoms.records) {
    const n = r.length;
    const lenE = r.charCodeAt(n - 4);
    const lenA = r.charCodeAt(n - 3);
    const lenT = r.charCodeAt(n - 2);
    const txStart = n - 5 - r.charCodeAt(n - 1);
    const tx = r.slice(txStart, n - 5);
    if (txStart !== fact.length || !r.startsWith(fact)) {
      closeFact();
      fact = r.slice(0, txStart);
      const ea = fact.slice(0, lenE + lenA);
      if (ea !== slot) {
        closeSlot();
        slot = ea;
        E = fact.slice(0, lenE);
        A = fact.slice(lenE, lenE + lenA);
        keys = keysOf(A);
      }
      T = fact.slice(lenE + lenA, lenE + lenA + lenT);
      V = fact.slice(lenE + lenA + lenT);
    } else if (tx === lastTx) fail('a datom twice in one transaction');
    lastTx = tx;
    if (r.charCodeAt(n - 5) === 1) {
      if (open !== undefined) fail('an assertion of a datom that holds');
      open = tx;
    } else {
      if (open === undefined) fail('a retraction of a datom that does not hold');
      interval(open!, tx);
      open = undefined;
    }
  }
  closeFact();
  closeSlot();
  eavt.finish();
  eavtHistory.finish();
  checkUnique(unique.sorted());

  const ordered = [...attrs.keys()].sort();
  const aevt = appender('aevt');
  const aevtHistory = appender('aevt.history');
  const avet = appender('avet');
  const avetHistory = appender('avet.history');
  for (const a of ordered) {
    const k = attrs.get(a)!;
    aevt.addAll(k.aevt.sorted());
    aevtHistory.addAll(k.aevtHistory.sorted());
    avet.addAll(k.avet.sorted());
    avetHistory.addAll(k.avetHistory.sorted());
  }
  for (const done of [aevt, aevtHistory, avet, avetHistory]) done.finish();
  const vaetCurrent = appender('vaet');
  vaetCurrent.addAll(vaet.sorted());
  vaetCurrent.finish();
  const vaetPast = appender('vaet.history');
  vaetPast.addAll(vaetHistory.sorted());
  vaetPast.finish();

  for (const [a, k] of attrs) {
    if (k.current === 0) continue;
    const key = `count:${readKey(Buffer.from(a, 'latin1'), 0, a.length)[0]}`;
    target.transactionSync(() => meta.putSync(key, ((meta.get(key) as number | undefined) ?? 0) + k.current));
  }
}

/**
 * Each unique value held by one entity at a time: its intervals (sorted by value, then start)
 * never overlap nor touch (a value passed from one entity to another in one transaction is what
 * a new entity would upsert into: left to the transactor).
 */
function checkUnique(records: Iterable<string>): void {
  let value = '';
  let end = '';
  for (const r of records) {
    const n = r.length;
    const lenValue = r.charCodeAt(n - 4) | (r.charCodeAt(n - 3) << 8);
    const lenStart = r.charCodeAt(n - 2);
    const lenEnd = r.charCodeAt(n - 1);
    const v = r.slice(0, lenValue);
    const start = r.slice(lenValue, lenValue + lenStart);
    const stop = lenEnd === 0 ? OPEN : r.slice(lenValue + lenStart, lenValue + lenStart + lenEnd);
    if (v === value && start <= end) throw new BulkCheckFailed('a unique value on two entities at once');
    if (v !== value || stop > end) end = stop;
    value = v;
  }
}
