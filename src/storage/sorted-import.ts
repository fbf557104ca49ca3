// An import's indexes built by sorting: the datoms of its transactions, sorted in EAVT order,
// walked once to check them as the transactor would have (each assertion new, each retraction of
// a datom that holds, one value at a time in a cardinality-one slot, one entity at a time per
// unique value) and to make every current and history key, each index's keys sorted on their own
// and appended in key order (external-sort.ts), merged with what the side database holds already.
import type { Database, RootDatabase } from 'lmdb';
import { keyPayload, Tag, type KeyPart, type Payload } from './encoding.js';
import { compareBytes, readKey, writeUint, type KeyCodec } from './key-codec.js';
import { KeyListBuilder, PackedIndex, runsFlagIn } from './packed-index.js';
import { latin1Slice, latin1Write, SortedRun, type SortBudget, type StringSorter } from './external-sort.js';
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
/** The record being walked, in bytes. */
const record = Buffer.allocUnsafe(1 << 16);
/** The key being made, in bytes. */
const key = Buffer.allocUnsafe(1 << 16);
/** The end of an interval still open (a current datom): after every tx's bytes. */
const OPEN = '\uffff';

/**
 * A datom's sort record into `to`: its EAVT key (e, a, tag, value, tx) in the store's bytes, whether
 * it is an assertion, and the byte lengths of e, a, tag and tx, so that the walk cuts it into parts.
 */
export function addDatomRecord(to: StringSorter, codec: KeyCodec, e: number, a: number, tag: Tag, payload: Payload, tx: number, added: boolean): void {
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
  to.addBytes(scratch, pos);
}

/** Bytes [from, to) of `source` into `target` at `pos` (keys are short: a loop beats a native call). */
function put(source: Uint8Array, from: number, to: number, target: Uint8Array, pos: number): number {
  for (let i = from; i < to; i++) target[pos++] = source[i]!;
  return pos;
}

const writeKey = (length: number, target: Uint8Array, pos: number) => put(key, 0, length, target, pos);

/** One target index, written in key order: the side database's keys merged with the sorted ones. */
class IndexAppender {
  private readonly to: PackedIndex;
  private builder = new KeyListBuilder(CHUNK);
  private count = 0;
  /** The side database's keys (few: the schema's transactions, before the sorted part), read at once: lmdb-js's lazy scans of one environment do not outlast one another. */
  private readonly source: Buffer[] = [];
  private next = 0;

  constructor(
    private readonly target: RootDatabase,
    meta: Database<any, string>,
    name: string,
    codec: KeyCodec,
    format: number,
    source: Iterable<KeyPart[]>,
  ) {
    this.to = new PackedIndex(target.openDB<Buffer, any>(name, indexDbOptions(format)), true, runsFlagIn(meta, name), undefined, codec);
    for (const k of source) this.source.push(Buffer.from(scratch.subarray(0, codec.writeKey(k, scratch, 0))));
  }

  /** The key in bytes [0, length) of `key`. */
  add(length: number): void {
    while (this.next < this.source.length && compareBytes(this.source[this.next]!, 0, this.source[this.next]!.length, key, 0, length) < 0) {
      this.putSource();
    }
    this.builder.addWritten(writeKey, length);
    if (++this.count === CHUNK) this.flush();
  }

  addAll(keys: Iterable<string>): void {
    for (const k of keys) this.add(latin1Write(key, k, 0));
  }

  finish(): void {
    while (this.next < this.source.length) this.putSource();
    this.flush();
  }

  private putSource(): void {
    this.builder.add(this.source[this.next++]!);
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

/** Per attribute (by its key bytes): its AEVT keys (in order as the walk makes them) and AVET keys (sorted). */
interface AttrKeys {
  info: SortedAttr;
  aevt: SortedRun;
  aevtHistory: SortedRun;
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
  const refTag = latin1Slice(scratch, 0, writeUint(Tag.Ref, scratch, 0));

  // the fact (e, a, v) being walked, as its record's leading chars, and where its parts end in `record`
  let fact = '';
  let endE = 0;
  let endV = 0;
  let isRef = false;
  let keys: AttrKeys | undefined;
  /** The tx of the fact's assertion that holds, if it does. */
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
  /** Parts of `record` into `key` in the order given (pairs of [from, to)), then the txs. */
  const compose = (parts: number[], start: string, end: string | undefined): number => {
    let pos = 0;
    for (let i = 0; i < parts.length; i += 2) pos = put(record, parts[i]!, parts[i + 1]!, key, pos);
    pos += latin1Write(key, start, pos);
    if (end !== undefined) pos += latin1Write(key, end, pos);
    return pos;
  };
  let eavtParts: number[] = [];
  let aevtParts: number[] = [];
  let avetParts: number[] = [];
  let vaetParts: number[] = [];
  let atvLength = 0;
  const interval = (start: string, end: string) => {
    const k = keys!;
    if (k.info.cardinalityOne) intervals.push([start, end]);
    const current = end === OPEN;
    if (k.info.unique) {
      // [a tag v][start][end][lengths]: sorted by value, then start
      let pos = put(record, endE, endV, key, 0);
      pos += latin1Write(key, start, pos);
      if (!current) pos += latin1Write(key, end, pos);
      key[pos++] = atvLength & 0xff;
      key[pos++] = atvLength >> 8;
      key[pos++] = start.length;
      key[pos++] = current ? 0 : end.length;
      unique.addBytes(key, pos);
    }
    if (!current && !k.info.keepsHistory) return;
    const stop = current ? undefined : end;
    if (current) k.current++;
    (current ? eavt : eavtHistory).add(compose(eavtParts, start, stop));
    (current ? k.aevt : k.aevtHistory).add(key, compose(aevtParts, start, stop));
    (current ? k.avet : k.avetHistory).addBytes(key, compose(avetParts, start, stop));
    if (isRef) (current ? vaet : vaetHistory).addBytes(key, compose(vaetParts, start, stop));
  };
  const closeFact = () => {
    if (open !== undefined) interval(open, OPEN);
    open = undefined;
  };
  const keysOf = (a: string): AttrKeys => {
    let k = attrs.get(a);
    if (!k) {
      const id = readKey(Buffer.from(a, 'latin1'), 0, a.length)[0] as number;
      k = { info: datoms.attr(id), aevt: new SortedRun(budget), aevtHistory: new SortedRun(budget), avet: budget.sorter(), avetHistory: budget.sorter(), current: 0 };
      attrs.set(a, k);
    }
    return k;
  };

  for (const r of datoms.records) {
    const n = r.length;
    const txStart = n - 5 - r.charCodeAt(n - 1);
    const tx = r.slice(txStart, n - 5);
    if (txStart !== fact.length || !r.startsWith(fact)) {
      closeFact();
      latin1Write(record, r, 0);
      fact = r.slice(0, txStart);
      endE = r.charCodeAt(n - 4);
      const endA = endE + r.charCodeAt(n - 3);
      const endT = endA + r.charCodeAt(n - 2);
      endV = txStart;
      atvLength = endV - endE;
      isRef = r.slice(endA, endT) === refTag;
      eavtParts = [0, endV];
      aevtParts = [endE, endA, 0, endE, endA, endV];
      avetParts = [endE, endV, 0, endE];
      vaetParts = [endT, endV, endE, endA, 0, endE];
      const ea = fact.slice(0, endA);
      if (ea !== slot) {
        closeSlot();
        slot = ea;
        keys = keysOf(r.slice(endE, endA));
      }
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
    const name = `count:${readKey(Buffer.from(a, 'latin1'), 0, a.length)[0]}`;
    target.transactionSync(() => meta.putSync(name, ((meta.get(name) as number | undefined) ?? 0) + k.current));
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
