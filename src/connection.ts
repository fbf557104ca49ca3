// A connection to one database directory: the single writer's transaction pipeline and the
// source of immutable Db values. Ties storage, tx and db together; nothing below imports it.
import { FactlogError } from '../query-lang/errors.js';
import type { Datom, LogView } from './db/api.js';
import { reportsIterator, type TxData } from './model.js';
import { Db, type DbContext, type TxReport } from './db/db.js';
import { Overlay } from './db/overlay.js';
import { ColumnCache } from './db/columns.js';
import { Attr, bootstrapFacts, isSchemaAttr, keepsHistory, LAST_SCHEMA_ATTR, Schema } from './db/schema.js';
import { encodeValue, tToTx, txToT, type RawDatom } from './storage/encoding.js';
import { TxLog, type LogTx } from './db/txlog.js';
import { Store, type Meta, type Retraction, type StoreOptions } from './storage/store.js';
import { compactDatabase, otherProcessUsing } from './storage/compaction.js';
import { worthCompacting, type AutoCompact } from './storage/free-space.js';
import { prepareTx, type PreparedTx } from './tx/transact.js';
import { namesExcision, type ExcisionMode } from './tx/excise.js';
import { excisionRulesIn } from './db/excision.js';
import { exciseLive } from './db/live-excision.js';
import { toLogEntry } from './storage/log.js';
import { functionRegistry, type FunctionOptions, type TxFunctions } from './tx/tx-functions.js';
import { FIRST_USER_EID } from './db/schema.js';
import { replayLogFile, schemaOfStore } from './db/log-replay.js';
import { catchUpFulltext, fulltextBehind } from './db/fulltext.js';
import { verifyStore, type VerifyReport } from './db/verify.js';
import { DEFAULT_HEAP_SHARE, heapShareOf } from './db/heap-guard.js';

export interface OpenOptions extends StoreOptions, FunctionOptions {
  /** Reject attributes that have no schema. */
  strictSchema?: boolean;
  /**
   * Datoms this connection may hold in memory as attribute columns, decoded copies of whole
   * attributes of a Db value that queries read many entities of (default: a quarter of the JS
   * heap limit at 64 bytes a datom, at least 1,000,000; 0: none).
   */
  columnDatoms?: number;
  /** Default timeout of queries on this connection's Db values, in ms (default 60,000; 0: none). */
  queryTimeout?: number;
  /** Default limit on the values (rows x columns) of a query's intermediate relations (default: from the heap size; 0: none). */
  queryMaxValues?: number;
  /**
   * The share of the heap's limit (0 to 1, default 0.8) the process's heap may fill during a query,
   * pull or datom read of this connection's Db values before it stops with query/too-large,
   * pull/too-large or db/too-large, rather than let V8 abort the process; 0: no guard.
   */
  heapShare?: number;
  /**
   * Check asserted values against their attributes' `:db.attr/preds` (default true). An import
   * turns it off: it replays facts checked when first written, with no predicate registered.
   */
  checkAttrPreds?: boolean;
  /**
   * Compact the database as it opens (`factlog compact`) when its LMDB file is mostly free pages:
   * by default when they are at least half the file and 64 MB, and no other process has it open.
   * `false`: never; or other thresholds.
   */
  autoCompact?: AutoCompact;
}

export type { TxReport };

/** A tx report subscriber; a promise it returns is watched for rejection, not waited for. */
/** A listener's return value is ignored, but a promise it returns that rejects is reported. */
export type TxListener = (report: TxReport) => unknown;

export interface ListenOptions {
  /**
   * Where this listener's failures go: a throw, or the rejection of a promise it returned, with
   * the report it failed on. Default (or when onError throws): printed by console.error with the
   * code conn/listener-failed. Either way the process, the other listeners and later reports go on.
   */
  onError?: (err: unknown, report: TxReport) => void;
}

/** @internal Where a cluster node (src/cluster) sends a connection's transactions instead of its own store. */
export interface ConnectionWriter {
  write(txDatas: readonly unknown[], onReport: ((report: TxReport, index: number) => void) | undefined, isBatch: boolean): Promise<TxReport[]>;
  /** Resolves once the local db includes t (default: the log's last t at the time of the call). */
  sync(t?: number): Promise<void>;
  close(): Promise<void>;
  /** The log's last t as far as this connection knows (a cluster's stream). */
  readonly streamT: number;
}

interface Subscription extends ListenOptions {
  listener: TxListener;
}

/** @internal The query and heap limits open's options give a connection's Db values (heapShare checked). */
export function connectionLimits(options: OpenOptions): { timeout?: number; maxValues?: number; heapShare?: number } {
  const heapShare = options.heapShare === undefined ? undefined : heapShareOf(options.heapShare, DEFAULT_HEAP_SHARE, 'conn/invalid-option');
  return { timeout: options.queryTimeout, maxValues: options.queryMaxValues, heapShare: heapShare === Infinity ? 0 : heapShare };
}

export async function open(options: OpenOptions): Promise<Connection> {
  const conn = await openOnce(options);
  if (conn.store.readOnly || !worthCompacting(conn.store.freeSpace(), options.autoCompact) || otherProcessUsing(conn.store.dir) !== undefined) return conn;
  await conn.close();
  await compactDatabase(conn.store.dir);
  return openOnce({ ...options, autoCompact: false });
}

async function openOnce(options: OpenOptions): Promise<Connection> {
  const functions = functionRegistry(options, options.checkAttrPreds ?? true);
  const limits = connectionLimits(options);
  const { store } = Store.open(options);
  const conn = new Connection(store, options.strictSchema ?? false, options.columnDatoms, limits, functions);
  conn.storeOptions = options;
  try {
    if (!store.readOnly) await replayLogFile(store);
    if (store.lastT() < 0) await conn.bootstrap();
  } catch (err) {
    await store.close();
    throw err;
  }
  conn.loadState();
  if (!store.readOnly) await conn.catchUpFulltext();
  return conn;
}

export class Connection {
  private meta: Meta = { lastT: -1, nextEid: FIRST_USER_EID, lastInstant: 0 };
  /** Schema snapshots, oldest first: the schema in force from t onward. */
  private schemas: { t: number; schema: Schema }[] = [];
  private readonly listeners = new Set<Subscription>();
  private ctx: DbContext;
  private closed = false;
  /** @internal Set by excise (feed/excise.ts) on the copy it rewrites: an excision commits only there. */
  allowsExcision = false;
  /** @internal Set on a cluster node: its transactions go to the cluster's log. */
  writer?: ConnectionWriter;
  /** @internal How the store was opened: a live excision opens it again on the new files. */
  storeOptions?: StoreOptions;
  /** Set while an excision runs: every write waits for it. */
  private excising?: Promise<void>;

  constructor(
    store: Store,
    readonly strictSchema: boolean,
    private readonly columnDatoms?: number,
    private readonly queryLimits: { timeout?: number; maxValues?: number; heapShare?: number } = {},
    /** The transaction functions and predicates its transactions may call. */
    readonly functions: TxFunctions = functionRegistry({}),
  ) {
    this.ctx = this.contextOf(store);
  }

  /** What this connection's Db values read through: a new one when an excision replaced the files, so older values never read the new ones. */
  private contextOf(store: Store): DbContext {
    return {
      queryLimits: this.queryLimits,
      store,
      schemaAt: (t) => this.schemaAt(t),
      tAtInstant: (date) => this.tAtInstant(date),
      speculate: (db, txData) => this.speculate(db, txData),
      columns: new ColumnCache(this.columnDatoms),
    };
  }

  /** @internal */
  get store(): Store {
    return this.ctx.store;
  }

  get path(): string {
    return this.store.dir;
  }

  /** @internal Write the bootstrap transaction (t = 0) of a new database. */
  async bootstrap(): Promise<void> {
    const tx = tToTx(0);
    let schema = new Schema();
    const facts = bootstrapFacts();
    schema = schema.apply(facts.map(([e, a, v]) => ({ e, a, v, added: true })));
    const asserted: RawDatom[] = facts.map(([e, a, v]) => {
      const [tag, payload] = encodeValue(v, schema.attr(a)!.valueType);
      return { e, a, tag, payload, tx };
    });
    const [tag, payload] = encodeValue(new Date(0), 'instant');
    asserted.push({ e: tx, a: Attr.txInstant, tag, payload, tx });
    await this.store.writeTransaction(() => {
      // another process creating the same database may have bootstrapped it first
      if (this.store.lastT() >= 0) return;
      this.store.putTransaction({ t: 0, tx, instant: 0 }, asserted, [], { lastT: 0, nextEid: FIRST_USER_EID, lastInstant: 0 });
    });
  }

  /** @internal Read meta and rebuild the schema history from the indexes' schema datoms. */
  loadState(): void {
    this.meta = this.store.readMeta();
    const facts: { e: number; a: number; v: Datom['v']; added: boolean; t: number }[] = [];
    // a history view under the bootstrap schema is enough to read the schema attributes themselves
    const builtIn = new Schema().apply(bootstrapFacts().map(([e, a, v]) => ({ e, a, v, added: true })));
    this.schemas = [{ t: 0, schema: builtIn }];
    const everything = new Db(this.ctx, { basisT: this.meta.lastT, asOfT: null, sinceT: null, isHistory: true, overlay: null });
    for (let a = Attr.ident; a <= LAST_SCHEMA_ATTR; a++) {
      if (!isSchemaAttr(a)) continue;
      for (const d of everything.datoms('aevt', a)) facts.push({ ...d, t: txToT(d.tx) });
    }
    facts.sort((x, y) => x.t - y.t || Number(x.added) - Number(y.added));
    this.schemas = [];
    // a database bootstrapped before the newest system attributes knows them too (see bootstrapFacts)
    let schema = builtIn;
    for (let i = 0; i < facts.length;) {
      const t = facts[i].t;
      const batch = [];
      while (i < facts.length && facts[i].t === t) batch.push(facts[i++]);
      schema = schema.apply(batch);
      this.schemas.push({ t, schema });
    }
  }

  /** @internal Take in transactions indexed by someone else that change no schema: meta alone is read again. */
  advanceMeta(): void {
    this.meta = this.store.readMeta();
  }

  private schemaAt(t: number): Schema {
    const s = this.schemas;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid].t <= t) lo = mid;
      else hi = mid - 1;
    }
    return s[lo].schema;
  }

  /** The largest t up to `lastT` whose instant is <= the date (0 when none is). */
  private tAtInstant(date: Date, lastT = this.meta.lastT): number {
    const ms = date.getTime();
    let lo = -1;
    let hi = lastT;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      const entry = this.store.logEntry(mid);
      if (entry && entry.instant <= ms) lo = mid;
      else hi = mid - 1;
    }
    return Math.max(lo, 0);
  }

  /** Catch up with transactions committed by another process since we last looked. */
  private syncWithStore(): void {
    const lastT = this.store.lastT();
    if (lastT <= this.meta.lastT) return;
    this.loadState();
  }

  /** The current database value. Immutable: later transactions do not change it. */
  db(): Db {
    this.ensureOpen();
    this.syncWithStore();
    return this.dbAt(this.meta.lastT);
  }

  /** @internal */
  dbAt(t: number): Db {
    return new Db(this.ctx, { basisT: t, asOfT: null, sinceT: null, isHistory: false, overlay: null });
  }

  /**
   * Transact tx data (EDN text or JS data). Resolves once the log entry and the indexes are
   * committed and flushed to disk in one LMDB transaction; concurrent calls share commits.
   */
  transact(txData: TxData): Promise<TxReport>;
  /** @internal Data built at run time (the CLI's files, tests' generators): checked as it is read. */
  transact(txData: unknown): Promise<TxReport>;
  async transact(txData: unknown): Promise<TxReport> {
    const [report] = await this.write([txData]);
    return report;
  }

  /**
   * Transact several transactions, in order, in ONE LMDB write transaction with one flush to
   * disk: for bulk loads and replays, where a commit (fsync) per transaction dominates. Each
   * keeps its own t, tx, :db/txInstant, tempids and report, and each sees the ones before it.
   * All-or-nothing: if any of them fails, none is committed and the error is thrown with
   * `batchIndex` set to the failing position. An element may be a function of the db value
   * before it (called inside the write transaction), so that later tx data can use what earlier
   * ones produced; `onReport` is called with each report as soon as it is prepared.
   */
  transactBatch(txDatas: readonly (TxData | ((db: Db) => TxData))[], onReport?: (report: TxReport, index: number) => void): Promise<TxReport[]>;
  /** @internal Data built at run time: checked as it is read. */
  transactBatch(txDatas: readonly unknown[], onReport?: (report: TxReport, index: number) => void): Promise<TxReport[]>;
  async transactBatch(txDatas: readonly unknown[], onReport?: (report: TxReport, index: number) => void): Promise<TxReport[]> {
    return this.write(txDatas, onReport, true);
  }

  /** Prepare and store transactions inside one write transaction; then publish their reports. */
  private async write(txDatas: readonly unknown[], onReport?: (report: TxReport, index: number) => void, isBatch = false): Promise<TxReport[]> {
    this.ensureOpen();
    if (this.writer) return this.writer.write(txDatas, onReport, isBatch);
    const primary = this.store.replicaOf();
    if (primary !== undefined) {
      throw new FactlogError('conn/replica-read-only', `${this.store.dir} is a read replica of ${primary}; transact on the primary`);
    }
    while (this.excising) await this.excising;
    if (!isBatch && namesExcision(txDatas[0])) return [await this.exciseAlone(txDatas[0])];
    return this.writeNow(txDatas, onReport, isBatch);
  }

  private async writeNow(txDatas: readonly unknown[], onReport: ((report: TxReport, index: number) => void) | undefined, isBatch: boolean): Promise<TxReport[]> {
    const reports: TxReport[] = [];
    let index = 0;
    try {
      await this.store.writeTransaction(() => {
        this.syncWithStore();
        const stateBefore = { meta: this.meta, schemas: this.schemas.length };
        try {
          for (index = 0; index < txDatas.length; index++) {
            const before = this.dbAt(this.meta.lastT);
            const item = txDatas[index];
            const txData = isBatch && typeof item === 'function' ? (item as (db: Db) => unknown)(before) : item;
            const prepared = prepareTx(before, txData, this.nextTxOptions(this.allowsExcision ? 'rebuilt' : 'refuse'));
            this.commit(prepared);
            const report = txReport(before, this.dbAt(prepared.t), prepared);
            reports.push(report);
            onReport?.(report, index);
          }
        } catch (err) {
          // this write's child transaction is rolled back, and so must be what it advanced in
          // memory, before the writes queued behind it in the same commit are prepared
          this.meta = stateBefore.meta;
          this.schemas.length = stateBefore.schemas;
          throw err;
        }
      });
    } catch (err) {
      // nothing was committed; if our own callback advanced the in-memory state before the
      // commit failed, read the state back from disk
      if (reports.length > 0) this.loadState();
      const error = err instanceof FactlogError ? err : new FactlogError('storage/write-failed', `transaction failed: ${(err as Error).message}`);
      if (isBatch) (error as FactlogError & { batchIndex?: number }).batchIndex = index;
      throw error;
    }
    for (const report of reports) this.publish(report);
    return reports;
  }

  private nextTxOptions(excise: ExcisionMode) {
    const { lastT, nextEid, lastInstant } = this.meta;
    return { t: lastT + 1, nextEid, lastInstant, strictSchema: this.strictSchema, functions: this.functions, excise };
  }

  /**
   * A transaction naming :db/excise, alone: prepared and checked against the database now, then
   * the database rewritten without what it excises (db/live-excision.ts) while every other write
   * of this connection waits. Db values taken before it read nothing more (storage/excised).
   */
  private async exciseAlone(txData: unknown): Promise<TxReport> {
    let done!: () => void;
    this.excising = new Promise((resolve) => (done = resolve));
    try {
      const { before, prepared } = await this.store.writeTransaction(() => {
        this.syncWithStore();
        const before = this.dbAt(this.meta.lastT);
        return { before, prepared: prepareTx(before, txData, this.nextTxOptions('check')) };
      });
      const request = toLogEntry(prepared);
      const rules = excisionRulesIn(request, before.schema);
      if (rules.length === 0) return (await this.writeNow([txData], undefined, false))[0];
      await exciseLive(this.store, request, rules, (replace) => this.replaceFiles(replace, prepared.t));
      const report = txReport(before, this.dbAt(prepared.t), prepared);
      this.publish(report);
      return report;
    } finally {
      this.excising = undefined;
      done();
    }
  }

  /** Close the store, let `replace` move the new files in, and open them (or the old ones, if it failed). */
  private async replaceFiles(replace: () => void, t: number): Promise<void> {
    const old = this.store;
    old.closedFor = { code: 'storage/excised', message: `the database at ${old.dir} was rewritten by an excision (t=${t}) after this value was taken: take a new db from the connection` };
    await old.close();
    try {
      replace();
    } catch (err) {
      old.closedFor = { code: 'storage/closed', message: `the connection to ${old.dir} opened its files again around an excision that failed: take a new db from the connection` };
      throw err;
    } finally {
      this.ctx = this.contextOf(Store.open({ ...this.storeOptions, path: old.dir, create: false }).store);
      this.loadState();
    }
  }

  /** Hand the report to subscribers after the writer has moved on, in commit order. */
  /** @internal */
  publish(report: TxReport): void {
    if (this.listeners.size === 0) return;
    const listeners = [...this.listeners];
    this.pendingReports.push(() => {
      for (const subscription of listeners) deliver(subscription, report);
    });
    if (this.pendingReports.length === 1) setImmediate(() => this.drainReports());
  }

  private readonly pendingReports: (() => void)[] = [];

  private drainReports(): void {
    const batch = this.pendingReports.splice(0);
    for (const deliver of batch) deliver();
  }

  /** Inside the write transaction: store the prepared tx and advance the in-memory state. */
  private commit(p: PreparedTx): void {
    const before = this.schemaAt(this.meta.lastT);
    const retractions: Retraction[] = p.retracted.map((raw) => ({ raw, txRetracted: p.tx, keepHistory: keepsHistory(raw.a, before, p.schema) }));
    const meta: Meta = { lastT: p.t, nextEid: p.nextEid, lastInstant: p.instant };
    this.store.putTransaction({ t: p.t, tx: p.tx, instant: p.instant }, p.asserted, retractions, meta);
    catchUpFulltext(this.store, p.schema);
    if (p.schema !== this.schemaAt(this.meta.lastT)) this.schemas.push({ t: p.t, schema: p.schema });
    this.meta = meta;
  }

  private speculate(db: Db, txData: unknown): TxReport {
    const base = db.overlay ?? Overlay.empty(db.basisT, db.schema, this.meta.nextEid);
    const prepared = prepareTx(db, txData, {
      t: db.basisT + 1,
      nextEid: base.nextEid,
      lastInstant: this.meta.lastInstant,
      strictSchema: this.strictSchema,
      functions: this.functions,
    });
    const overlay = base.extend(prepared.t, prepared.asserted, prepared.retracted, prepared.schema, prepared.nextEid);
    return txReport(db, db.withOverlay(overlay), prepared);
  }

  /**
   * Call `listener` with the report of every transaction committed through this connection, in
   * order, shortly after `transact` resolves. Returns a function that unsubscribes.
   */
  listen(listener: TxListener, options: ListenOptions = {}): () => void {
    const subscription: Subscription = { listener, onError: options.onError };
    this.listeners.add(subscription);
    return () => this.listeners.delete(subscription);
  }

  /** Every later tx report as an async iterable; stops when the loop breaks or the connection closes. */
  reports(): AsyncIterableIterator<TxReport> {
    return reportsIterator({ subscribe: (push) => this.listen(push), isClosed: () => this.closed, closeWaiters: this.closeWaiters });
  }

  private readonly closeWaiters = new Set<() => void>();

  /** The transaction log, read by t or by Date. */
  log(): LogView {
    this.ensureOpen();
    // the whole log, other processes' latest transactions too (not only what this connection has seen)
    return new TxLog(this.store, (d) => this.tAtInstant(d, this.store.lastT()));
  }

  /** Rebuild every index from the log alone. */
  async rebuildIndexes(): Promise<void> {
    this.ensureOpen();
    await this.store.rebuildIndexes((a, entry) => keepsHistory(a, this.schemaAt(entry.t - 1), this.schemaAt(entry.t)));
    this.loadState();
    await this.catchUpFulltext();
  }

  /** Index what the full-text index lacks (after a rebuild, a replay, or on a database made before it). */
  async catchUpFulltext(): Promise<void> {
    const schema = this.schemaAt(this.meta.lastT);
    if (!fulltextBehind(this.store, schema)) return;
    // the schema read in the write transaction: another process may have committed since
    await this.store.writeTransaction(() => catchUpFulltext(this.store, schemaOfStore(this.store)));
  }

  /**
   * Check the database against its log: LMDB's log records (checksums), the log file record for
   * record, meta, and every index and long value against a replay of the log. Reads only.
   */
  async verify(): Promise<VerifyReport> {
    this.ensureOpen();
    return verifyStore(this.store);
  }

  /** Log entries from t `from` (inclusive) to `to` (exclusive), with datoms decoded. */
  txRange(from?: number | Date | null, to?: number | Date | null): Iterable<LogTx> {
    return this.log().txRange(from, to);
  }

  /**
   * Resolves with a db that includes t (default: the last t of the log at the time of the call),
   * as Datomic's d/sync: on a cluster node, once it has indexed that far.
   */
  async sync(t?: number): Promise<Db> {
    this.ensureOpen();
    await this.writer?.sync(t);
    return this.db();
  }

  get basisT(): number {
    return this.meta.lastT;
  }

  async close(): Promise<void> {
    // an excision under way ends first: it closes and opens the store
    while (this.excising && !this.closed) await this.excising;
    if (this.closed) return;
    this.closed = true;
    await this.writer?.close();
    this.drainReports();
    for (const wake of this.closeWaiters) wake();
    await this.store.close();
  }

  private ensureOpen(): void {
    if (this.closed) throw new FactlogError('conn/closed', `the connection to ${this.store.dir} is closed`);
  }
}

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/** Hand a report to one listener; its failure, now or later, is its own (the transaction is committed). */
function deliver(subscription: Subscription, report: TxReport): void {
  try {
    const result = subscription.listener(report);
    if (isThenable(result)) result.then(undefined, (err: unknown) => listenerFailed(subscription, err, report));
  } catch (err) {
    listenerFailed(subscription, err, report);
  }
}

function listenerFailed(subscription: Subscription, err: unknown, report: TxReport): void {
  if (subscription.onError) {
    try {
      subscription.onError(err, report);
      return;
    } catch (handlerErr) {
      err = handlerErr;
    }
  }
  const code = (err as { code?: unknown } | null)?.code;
  const what = err instanceof Error ? err.message : String(err);
  const stack = err instanceof Error && err.stack ? `\n${err.stack}` : '';
  console.error(`factlog: a tx listener failed on the report of t=${report.t} [conn/listener-failed]: ${what}${typeof code === 'string' ? ` [${code}]` : ''}${stack}`);
}

/** @internal A transaction's report; its datoms are made on first read, then kept. */
export function txReport(dbBefore: Db, dbAfter: Db, p: PreparedTx): TxReport {
  let datoms: Datom[] | undefined;
  return {
    dbBefore,
    dbAfter,
    tx: p.tx,
    t: p.t,
    tempids: p.tempids,
    get txData() {
      return (datoms ??= p.txData());
    },
  };
}
