// The sorted part of an import. Once the schema is in (its transactions go through the transactor
// as before), each exported transaction is checked on its own as the transactor would take it
// (its t, tx id and instant, new entity ids in order, attributes, values, ref targets) and its log
// record written as it is; its datoms go into an external sort, checked together at the end (each
// assertion new, each retraction of a datom that holds, cardinality one, uniqueness) and made into
// the indexes (storage/sorted-import.ts). Anything the transactor might have done otherwise throws
// BulkCheckFailed, and the import replays the file one transaction at a time instead.
import type { Keyword } from '../../query-lang/edn/types.js';
import type { Connection } from '../connection.js';
import type { AttrInfo } from '../db/api.js';
import { Attr, FIRST_USER_EID, type Schema } from '../db/schema.js';
import { encodeValue, isLongMarker, longValueEntry, tToTx, TX_BASE, unstorablePayload, type Payload, type Tag } from '../storage/encoding.js';
import type { SortBudget, StringSorter } from '../storage/external-sort.js';
import { encodeLogParts, type LoggedDatom } from '../storage/log.js';
import { addDatomRecord, BulkCheckFailed, type SortedDatoms } from '../storage/sorted-import.js';
import type { Meta } from '../storage/store-format.js';
import type { Store } from '../storage/store.js';
import { keyCodecOf } from '../storage/store-format.js';
import { coerceValue } from '../tx/values.js';
import type { IdMap } from './id-map.js';
import { parseLine, type ImportedTx, type LineImporter } from './import-lines.js';

/** How far ahead of the clock an explicit :db/txInstant may be (the transactor's rule, transact.ts). */
const FUTURE_INSTANT_TOLERANCE_MS = 10_000;
/** Transactions that cannot start the sorted part (each then commits on its own) before the import stops trying. */
const MAX_MISSES = 64;
const FORM = { text: 'an imported datom' };
/** The sorted part commits its log records in batches of about this many datoms (few commits, bounded memory). */
const LOG_COMMIT_DATOMS = 100_000;

/** An import's lines: through the transactor (`prefix`) until the sorted part can start, then sorted. */
export class SortedImporter implements LineImporter {
  count = 0;
  private loader: SortedLoader | undefined;
  private misses = 0;

  constructor(
    private readonly conn: Connection,
    private readonly prefix: LineImporter & { readonly ids: IdMap },
    private readonly budget: SortBudget,
  ) {}

  /** The last t imported. */
  get basisT(): number {
    return this.loader ? this.loader.lastT : this.conn.basisT;
  }

  async importLines(lines: { line: string; lineNo: number }[]): Promise<void> {
    let before: { line: string; lineNo: number }[] = [];
    for (const item of lines) {
      if (!item.line.trim()) continue;
      if (this.loader) {
        const txIn = parseLine(item.line, item.lineNo);
        if (txIn.t !== 0) this.loader.add(txIn); // the bootstrap: every database has it
        continue;
      }
      if (this.misses <= MAX_MISSES) {
        const txIn = parseLine(item.line, item.lineNo);
        if (txIn.t !== 0) {
          await this.throughTransactor(before);
          before = [];
          if (this.startSorted(txIn)) continue;
        }
      }
      before.push(item);
    }
    await this.throughTransactor(before);
    if (this.loader && this.loader.pendingDatoms >= LOG_COMMIT_DATOMS) await this.loader.writeLog();
    this.count = this.prefix.count + (this.loader?.count ?? 0);
  }

  /** Once every line is in: the rest of the log written, and the sorted part's datoms (undefined when it never started). */
  async finish(): Promise<SortedDatoms | undefined> {
    if (!this.loader) return undefined;
    await this.loader.writeLog();
    return this.loader.sortedDatoms();
  }

  private async throughTransactor(lines: { line: string; lineNo: number }[]): Promise<void> {
    if (lines.length) await this.prefix.importLines(lines);
  }

  /** Start the sorted part with `txIn` when it and the database so far allow it. */
  private startSorted(txIn: ImportedTx): boolean {
    const schema = this.conn.db().schema;
    const meta = this.conn.store.readMeta();
    if (schema.hasComposites() || schema.hasFulltext()) {
      this.misses = MAX_MISSES + 1; // composite tuples and full text are the transactor's to keep
      return false;
    }
    const loader = new SortedLoader(this.conn.store, schema, meta, this.budget, this.prefix.ids);
    try {
      loader.add(txIn);
    } catch (err) {
      if (!(err instanceof BulkCheckFailed)) throw err;
      this.misses++;
      return false;
    }
    this.loader = loader;
    return true;
  }
}

interface CheckedTx {
  head: { t: number; tx: number; instant: number };
  asserted: LoggedDatom[];
  retracted: LoggedDatom[];
  nextEid: number;
}

/** A checked transaction's log record, encoded at once: its datoms' objects die young instead of waiting for the commit. */
interface PendingRecord {
  t: number;
  record: Buffer;
  longValues: [string, string | Buffer][];
}

/** The sorted part: every transaction checked, its log record written, its datoms sorted. */
class SortedLoader {
  count = 0;
  lastT: number;
  private nextEid: number;
  private lastInstant: number;
  /** Entities the sorted part may write: from here, and transaction entities after `firstTx`. */
  private readonly firstEid: number;
  private readonly firstTx: number;
  private readonly attrs = new Map<string, AttrInfo | undefined>();
  private readonly uniqueChecked = new Set<number>();
  private pending: PendingRecord[] = [];
  /** Datoms of the pending transactions. */
  pendingDatoms = 0;
  private readonly datoms: StringSorter;
  private readonly codec;

  constructor(
    private readonly store: Store,
    private readonly schema: Schema,
    meta: Meta,
    private readonly budget: SortBudget,
    /** Exported entity ids to the ids they have here (the transactor's tempids gave them, in order). */
    private readonly ids: IdMap,
  ) {
    this.lastT = meta.lastT;
    this.nextEid = this.firstEid = meta.nextEid;
    this.lastInstant = meta.lastInstant;
    this.firstTx = tToTx(meta.lastT);
    this.datoms = budget.sorter();
    this.codec = keyCodecOf(store.format);
  }

  add(txIn: ImportedTx): void {
    const checked = this.check(txIn);
    const { tx } = checked.head;
    for (const d of checked.retracted) addDatomRecord(this.datoms, this.codec, d.e, d.a, d.tag, d.payload, tx, false);
    for (const d of checked.asserted) addDatomRecord(this.datoms, this.codec, d.e, d.a, d.tag, d.payload, tx, true);
    const { head, asserted, retracted } = checked;
    const longValues: [string, string | Buffer][] = [];
    for (const d of asserted) {
      const entry = longValueEntry(d.payload);
      if (entry) longValues.push(entry);
    }
    this.pending.push({ t: head.t, record: encodeLogParts({ ...head, retracted, asserted }), longValues });
    this.pendingDatoms += checked.asserted.length + checked.retracted.length;
    this.lastT = checked.head.t;
    this.nextEid = checked.nextEid;
    this.lastInstant = checked.head.instant;
    this.count++;
  }

  /** The transactions added since the last call, their log records into the store (one commit). */
  async writeLog(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    this.pendingDatoms = 0;
    if (pending.length === 0) return;
    const meta = { lastT: this.lastT, nextEid: this.nextEid, lastInstant: this.lastInstant };
    await this.store.writeTransaction(() => {
      for (const p of pending) this.store.putEncodedLogRecord(p.t, p.record, p.longValues);
      this.store.putMeta(meta);
    });
  }

  sortedDatoms(): SortedDatoms {
    const schema = this.schema;
    return {
      records: this.datoms.sorted(),
      budget: this.budget,
      attr: (a) => {
        const attr = schema.attr(a)!;
        return { cardinalityOne: attr.cardinality === 'one', unique: attr.unique !== null, keepsHistory: !attr.noHistory };
      },
    };
  }

  /** The transaction's datoms as the transactor would store them, or BulkCheckFailed. */
  private check(txIn: ImportedTx): CheckedTx {
    const fail = (why: string): never => {
      throw new BulkCheckFailed(`t ${txIn.t}: ${why}`);
    };
    const t = this.lastT + 1;
    const tx = tToTx(t);
    if (txIn.t !== t || (txIn.tx ?? TX_BASE + txIn.t) !== tx) fail('not the next t and tx');
    // new entities get ids in the order they are first asserted (the transactor's tempids)
    const fresh = new Map<number, number>();
    let nextEid = this.nextEid;
    const isOld = (e: number) => e >= FIRST_USER_EID && e < TX_BASE && e !== tx;
    for (const d of txIn.datoms) if (d.added && isOld(d.e) && !fresh.has(d.e) && !this.ids.has(d.e)) fresh.set(d.e, nextEid++);
    for (const d of txIn.datoms) if (isOld(d.e) && !fresh.has(d.e) && !this.ids.has(d.e)) fail(`entity ${d.e} is new but never asserted`);
    const entity = (e: number): number => {
      if (e === tx || e >= TX_BASE) return e;
      return fresh.get(e) ?? this.ids.get(e) ?? fail(`entity ${e} is neither new nor imported before`);
    };
    const asserted: LoggedDatom[] = [];
    const retracted: LoggedDatom[] = [];
    let instant: number | undefined;
    const assertedSlots = new Set<string>();
    for (const d of txIn.datoms) {
      const attr = this.attrOf(d.attr) ?? fail(`attribute ${d.attr} is not in the schema`);
      const isInstant = attr.id === Attr.txInstant;
      if (isInstant ? !d.added || d.e !== tx || instant !== undefined : attr.id < FIRST_USER_EID) fail(`a datom of ${d.attr}`);
      if (attr.tupleAttrs || attr.valueType === 'tuple' || attr.fulltext) fail(`a datom of ${d.attr}`);
      const e = entity(d.e);
      if (!(e === tx || (e > this.firstTx && e < tx) || (e >= this.firstEid && e < nextEid))) fail(`entity ${d.e}`);
      const [tag, payload] = this.valueOf(attr, d.v, d.ref, tx, nextEid, fresh) ?? fail(`a value of ${d.attr}`);
      if (isInstant) instant = payload as number;
      if (attr.unique && !this.uniqueChecked.has(attr.id)) {
        if (this.store.attrCount(attr.id) !== 0) fail(`${d.attr} has values from before`);
        this.uniqueChecked.add(attr.id);
      }
      if (attr.cardinality === 'one' && !isInstant) {
        // an assertion retracts the value before it there and then, ahead of a later explicit retraction
        const slot = `${e} ${attr.id}`;
        if (d.added) assertedSlots.add(slot);
        else if (assertedSlots.has(slot)) fail(`a retraction of ${d.attr} after an assertion of it`);
      }
      (d.added ? asserted : retracted).push({ e, a: attr.id, tag, payload });
    }
    if (instant === undefined || instant < this.lastInstant || instant > Date.now() + FUTURE_INSTANT_TOLERANCE_MS) fail('its :db/txInstant');
    for (const [old, id] of fresh) this.ids.set(old, id);
    return { head: { t, tx, instant: instant! }, asserted, retracted, nextEid };
  }

  private attrOf(ident: Keyword): AttrInfo | undefined {
    if (!this.attrs.has(ident.fqn)) this.attrs.set(ident.fqn, this.schema.attr(ident));
    return this.attrs.get(ident.fqn);
  }

  /** A value as the transactor stores it; undefined when it might store another or refuse it. */
  private valueOf(attr: AttrInfo, v: unknown, taggedRef: boolean, tx: number, nextEid: number, fresh: Map<number, number>): [Tag, Payload] | undefined {
    if (attr.valueType === 'ref') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return undefined;
      // as the one-by-one import gives it: mapped, new here, else the id as it is, if it names an entity here
      const id = v >= FIRST_USER_EID && v < TX_BASE ? (fresh.get(v) ?? this.ids.get(v) ?? v) : v;
      const known = id >= TX_BASE ? id <= tx : id >= FIRST_USER_EID ? id < nextEid : this.schema.ident(id) !== undefined;
      return known ? encodeValue(id, 'ref') : undefined;
    }
    if (taggedRef) return undefined;
    let encoded: [Tag, Payload];
    try {
      encoded = encodeValue(coerceValue(attr, v, FORM), attr.valueType);
    } catch {
      return undefined;
    }
    const payload = encoded[1];
    if (isLongMarker(payload) || unstorablePayload(payload, this.store.exactValues) || Object.is(payload, -0)) return undefined;
    return encoded;
  }
}
