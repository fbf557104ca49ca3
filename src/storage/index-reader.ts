// The one way datoms come out of the indexes: a cursor over an index between two bounds as a
// value at (basis t, since t, history?) sees it, with the current and history keys merged here.
import {
  decodeValue,
  indexKey,
  isLongMarker,
  KEY_SLOTS,
  rawFromKey,
  Tag,
  tagInKey,
  toDatom,
  tToTx,
  type IndexName,
  type LongValues,
  type KeyPart,
  type Payload,
  type RawDatom,
} from './encoding.js';
import type { KeyCodec } from './key-codec.js';
import type { Datom, DatomVisitor, Value } from '../model.js';

/** Which datoms a read sees: those of the value at basisT, since sinceT, with retractions when history. */
export interface ReadAt {
  /** The last t the value includes. */
  basisT: number;
  /** Only datoms of transactions after this t (null: from the start). */
  sinceT: number | null;
  /** Every assertion and retraction in the range, not only what was true at the basis. */
  history: boolean;
  /** The store's last t as the read's snapshot sees it, when the caller has read it already. */
  lastT?: number;
}

/** A stored datom as the store holds it, for merging with datoms from elsewhere (a `with` overlay). */
export interface StoredDatom {
  raw: RawDatom;
  added: boolean;
  tx: number;
  /** Its key in the index read, computed once (compareStored). */
  key?: KeyPart[];
}

/** A read snapshot a lazy cursor holds (Store.snapshotted); reads go through its LMDB read transaction. */
export interface ReadSnapshot {
  /** Its LMDB read transaction, for lmdb-js's reads; storage/closed once the store closed. */
  transaction(): unknown;
}

/**
 * Reading datoms. Bounds are key parts: `from` alone reads the keys that start with it; with `to`,
 * the keys in [from, to). A snapshot, when given, is the one every read of the cursor goes through.
 */
export interface DatomSource {
  /** The datoms in index order. */
  datoms(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, snapshot?: ReadSnapshot): Iterable<Datom>;
  /** The same datoms in stored form, in index order (to merge a `with` overlay in). */
  /** The current datoms whose keys start with `prefix`, at once: a value with nothing committed after its basis and no since (`state`: the store's indexState, for its key cache). */
  currentArray(index: IndexName, prefix: KeyPart[], state?: string, limit?: number): Datom[];
  storedDatoms(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, snapshot?: ReadSnapshot): Iterable<StoredDatom>;
  /** The datoms of a value (not history) as a callback each, in no particular order: the query engine's path. */
  visit(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, visit: DatomVisitor): void;
  /** A stored datom decoded (its long value, if any, read from this store). */
  datomOf(stored: StoredDatom): Datom;
  /** The number of datoms true now in the range: exact, but counted key by key (for planning). */
  count(index: IndexName, from: KeyPart[], to?: KeyPart[]): number;
}

/** What the reader needs from the store: its keys, its last t and its key order. */
export interface IndexKeys {
  /** The keys of the current or history part of an index in range, in key order. */
  keys(which: 'current' | 'history', index: IndexName, from: KeyPart[], to?: KeyPart[], snapshot?: ReadSnapshot): Iterable<KeyPart[]>;
  /** The current keys that start with `prefix`, read at once (or from the key cache at `state`); past `limit`, maybe not all. */
  currentKeysWithPrefix(index: IndexName, prefix: KeyPart[], state?: string, limit?: number): KeyPart[][];
  /** The number of current keys in range. */
  countCurrent(index: IndexName, from: KeyPart[], to?: KeyPart[]): number;
  /** The last committed t (as `snapshot` sees it, when given). */
  lastT(snapshot?: ReadSnapshot): number;
  readonly keyCodec: KeyCodec;
  /** The store's values table, where index keys' markers of long values lead. */
  readonly longValue: LongValues;
}

const ASSERTION = 1;
const RETRACTION = 2;

export class IndexReader implements DatomSource {
  constructor(private readonly store: IndexKeys) {}

  datoms(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, snapshot?: ReadSnapshot): Iterable<Datom> {
    const s = KEY_SLOTS[index];
    const longValues = this.store.longValue;
    const datom = (k: KeyPart[], tx: number, added: boolean): Datom => ({
      e: k[s.e] as number,
      a: k[s.a] as number,
      v: decodeValue(tagInKey(index, k), k[s.payload], longValues) as Value,
      tx,
      added,
    });
    return this.read(index, from, to, at, snapshot, datom);
  }

  /**
   * The current datoms whose keys start with `prefix`, read at once (no lazy cursor): what a value
   * sees when nothing was committed after its basis and it has no since (the caller knows).
   */
  currentArray(index: IndexName, prefix: KeyPart[], state?: string, limit?: number): Datom[] {
    const s = KEY_SLOTS[index];
    const longValues = this.store.longValue;
    const out: Datom[] = [];
    for (const k of this.store.currentKeysWithPrefix(index, prefix, state, limit)) {
      out.push({ e: k[s.e] as number, a: k[s.a] as number, v: decodeValue(tagInKey(index, k), k[s.payload], longValues) as Value, tx: k[s.tx] as number, added: true });
    }
    return out;
  }

  storedDatoms(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, snapshot?: ReadSnapshot): Iterable<StoredDatom> {
    return this.read(index, from, to, at, snapshot, (k, tx, added) => ({ raw: rawFromKey(index, k), added, tx }));
  }

  datomOf(stored: StoredDatom): Datom {
    return toDatom(stored.raw, stored.added, stored.tx, this.store.longValue);
  }

  /**
   * The datoms of the range in index order, each made by `make` from its key. Retractions after
   * the basis live in the history keys: when nothing was committed after it (the common "now"
   * case) and there is no since, the current keys alone are the answer.
   */
  private read<T>(
    index: IndexName,
    from: KeyPart[],
    to: KeyPart[] | undefined,
    at: ReadAt,
    snapshot: ReadSnapshot | undefined,
    make: (k: KeyPart[], tx: number, added: boolean) => T,
  ): Iterable<T> {
    const needHistory = at.history || (at.lastT ?? this.store.lastT(snapshot)) > at.basisT;
    if (!needHistory && at.sinceT === null) return this.current(index, from, to, snapshot, make);
    return this.merged(index, from, to, at, needHistory, snapshot, make);
  }

  private *current<T>(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, snapshot: ReadSnapshot | undefined, make: (k: KeyPart[], tx: number, added: boolean) => T): Generator<T> {
    const txSlot = KEY_SLOTS[index].tx;
    for (const k of this.store.keys('current', index, from, to, snapshot)) yield make(k, k[txSlot] as number, true);
  }

  /**
   * A past, since or history view of an index in index order: the current keys and the history
   * keys merged straight from LMDB's key arrays. A history key [.. txAsserted txRetracted] gives,
   * in a history view, the assertion then the retraction (versions of one fact never overlap, so
   * nothing of the same fact falls between the two); in a past view, the assertion if the datom
   * was still true at the basis.
   */
  private *merged<T>(
    index: IndexName,
    from: KeyPart[],
    to: KeyPart[] | undefined,
    at: ReadAt,
    needHistory: boolean,
    snapshot: ReadSnapshot | undefined,
    make: (k: KeyPart[], tx: number, added: boolean) => T,
  ): Generator<T> {
    const txSlot = KEY_SLOTS[index].tx;
    const codec = this.store.keyCodec;
    const txMax = tToTx(at.basisT);
    const txMin = at.sinceT === null ? -1 : tToTx(at.sinceT);
    const history = at.history;
    const cur = this.store.keys('current', index, from, to, snapshot)[Symbol.iterator]();
    const past = (needHistory ? this.store.keys('history', index, from, to, snapshot) : [])[Symbol.iterator]();
    let c = cur.next();
    let h = past.next();
    while (!c.done || !h.done) {
      let takeCurrent = h.done;
      if (!c.done && !h.done) {
        let order = 0;
        for (let i = 0; i < txSlot && order === 0; i++) order = comparePartOfKey(codec, c.value[i]!, h.value[i]!, c.value[i - 1]);
        takeCurrent = order < 0 || (order === 0 && (c.value[txSlot] as number) < (h.value[txSlot] as number));
      }
      if (takeCurrent) {
        const k = c.value as KeyPart[];
        const tx = k[txSlot] as number;
        if (tx <= txMax && tx > txMin) yield make(k, tx, true);
        c = cur.next();
      } else {
        const k = h.value as KeyPart[];
        const asserted = k[txSlot] as number;
        const retracted = k[txSlot + 1] as number;
        const seen = visibleVersions(asserted, retracted, txMin, txMax, history);
        if (seen & ASSERTION) yield make(k, asserted, true);
        if (seen & RETRACTION) yield make(k, retracted, false);
        h = past.next();
      }
    }
  }

  visit(index: IndexName, from: KeyPart[], to: KeyPart[] | undefined, at: ReadAt, visit: DatomVisitor): void {
    if (at.history) {
      for (const d of this.datoms(index, from, to, at)) visit(d.e, d.a, d.v, d.tx, d.added);
      return;
    }
    const store = this.store;
    const s = KEY_SLOTS[index];
    // a value fixed by the bounds is decoded once; numbers, strings, booleans and refs are their
    // own payload; only other types need decoding per datom
    const vSlot = index === 'avet' ? 1 : index === 'vaet' ? -1 : 2;
    const fixed = to === undefined && vSlot >= 0 && from.length >= vSlot + 2;
    const longValues = store.longValue;
    const fixedV = fixed ? decodeValue(from[vSlot] as Tag, from[vSlot + 1]!, longValues) : undefined;
    const valueOf = (tag: Tag, payload: Payload) =>
      fixed ? fixedV : tag <= Tag.Number || tag === Tag.Ref || (tag === Tag.String && !isLongMarker(payload)) ? payload : decodeValue(tag, payload, longValues);
    const txMax = tToTx(at.basisT);
    const txMin = at.sinceT === null ? -1 : tToTx(at.sinceT);
    if (store.lastT() <= at.basisT && txMin < 0) {
      for (const k of store.keys('current', index, from, to)) visit(k[s.e] as number, k[s.a] as number, valueOf(tagInKey(index, k), k[s.payload]!), k[s.tx] as number, true);
      return;
    }
    // as of a past t (or since a t): the current datoms asserted in (since, basis], then the
    // retracted ones that were true at the basis — visited one after the other, not merged
    for (const k of store.keys('current', index, from, to)) {
      const tx = k[s.tx] as number;
      if (tx <= txMax && tx > txMin) visit(k[s.e] as number, k[s.a] as number, valueOf(tagInKey(index, k), k[s.payload]!), tx, true);
    }
    if (store.lastT() <= at.basisT) return;
    for (const k of store.keys('history', index, from, to)) {
      const txAsserted = k[s.tx] as number;
      if (visibleVersions(txAsserted, k[s.tx + 1] as number, txMin, txMax, false) & ASSERTION) {
        visit(k[s.e] as number, k[s.a] as number, valueOf(tagInKey(index, k), k[s.payload]!), txAsserted, true);
      }
    }
  }

  count(index: IndexName, from: KeyPart[], to?: KeyPart[]): number {
    return this.store.countCurrent(index, from, to);
  }
}

/**
 * Which versions of a retracted datom (asserted at txAsserted, retracted at txRetracted) a view
 * over (txMin, txMax] sees: a history view both events in its range; a past view the assertion,
 * if the datom was still true at txMax. A bit set of ASSERTION and RETRACTION.
 */
function visibleVersions(txAsserted: number, txRetracted: number, txMin: number, txMax: number, history: boolean): number {
  if (txAsserted > txMax) return 0;
  if (history) return (txAsserted > txMin ? ASSERTION : 0) | (txRetracted <= txMax && txRetracted > txMin ? RETRACTION : 0);
  return txAsserted > txMin && txRetracted > txMax ? ASSERTION : 0;
}

/**
 * Two parts of keys that go on after them, in the store's byte order: as comparePart, but -0
 * before 0 where the codec keys them apart (format 5: -0 is 0 followed by a byte below any part),
 * and a payload ordered by the tag `previous` to it (format 6: tuples, keywords).
 */
function comparePartOfKey(codec: KeyCodec, a: KeyPart, b: KeyPart, previous: KeyPart | undefined): number {
  const c = codec.comparePartAfter(previous, a, b);
  if (c !== 0 || a !== 0 || 1 / (a as number) === 1 / (b as number)) return c;
  return codec.compareKeys([a, 0], [b, 0]);
}

/** Compare two stored datoms in the order of `index` (tx, then added, last), as the store's `codec` orders keys. */
export function compareStored(index: IndexName, x: StoredDatom, y: StoredDatom, codec: KeyCodec): number {
  const kx = (x.key ??= indexKey(index, x.raw));
  const ky = (y.key ??= indexKey(index, y.raw));
  const n = kx.length - 1; // the tx slot is compared below with the datom's tx
  for (let i = 0; i < n; i++) {
    const c = comparePartOfKey(codec, kx[i]!, ky[i]!, kx[i - 1]);
    if (c !== 0) return c;
  }
  return x.tx - y.tx || Number(y.added) - Number(x.added);
}
