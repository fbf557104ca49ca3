// One factlog database directory: the log file (source of truth, what a commit waits on) and the
// LMDB environment: the log by t, the current indexes (datoms true now), the history indexes
// (datoms retracted, with the t that retracted them) and a small meta table. Knows nothing of
// queries or transactions' meaning: it stores and scans. A facade: each job is a module of its
// own (recovery, log table, log file agreement, group commit, index writes, reads, maintenance).
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { rawFromKey, type IndexName, type KeyPart, type LongValues, type RawDatom } from './encoding.js';
import { decodeLogEntry, encodeLogParts, toLogEntry, type LogEntry } from './log.js';
import type { KeyCodec } from './key-codec.js';
import type { PackedIndex } from './packed-index.js';
import { freeSpaceOf, type FreeSpace } from './free-space.js';
import { EnvironmentGateError, joinEnvironmentGate, openThroughEnvironmentGate, throughEnvironmentGate } from './env-gate.js';
import { FulltextIndex } from './fulltext-index.js';
import { LOG_FILE, LOG_FILE_START, LogFile, type LogRecord, type ReadRecord } from './log-file.js';
import { UnsyncedMark } from './unsynced-marks.js';
import { Checkpoints } from './checkpoints.js';
import {
  DATA_FILE,
  environmentOptions,
  EXACT_VALUES_FORMAT,
  FORMAT_VERSION,
  INDEXES,
  keyCodecOf,
  openIndexes,
  StorageError,
  type Meta,
  type Retraction,
  type StoreOptions,
} from './store-format.js';
import { IndexWrites } from './index-writes.js';
import { GroupCommit } from './group-commit.js';
import { neverBootstrapped, prepareDirectory } from './store-recovery.js';
import { prefixStart, rangeOf, ReadSnapshots } from './store-reads.js';
import { IndexReader, type ReadSnapshot } from './index-reader.js';
import { LogTable } from './log-table.js';
import { StoreMeta } from './store-meta.js';
import { agreeLogFile, catchUpChain, logFileEndIn, type AgreementTarget } from './log-file-agreement.js';
import { appendEntries, backupEnvironment, rebuildIndexes, type KeepHistory, type MaintenanceTarget } from './store-maintenance.js';
import { closeAtExit, forgetOpen, isOpen } from './open-stores.js';
import { cachedKeys, CurrentKeyCache, keyCacheBudget } from './current-key-cache.js';

export type { Meta, Retraction } from './store-format.js';
export {
  DATA_FILE,
  environmentOptions,
  FORMAT_VERSION,
  INDEXES,
  indexDbOptions,
  KEY_MAX,
  keyCodecOf,
  LOG_DB_OPTIONS,
  logDbOptions,
  StorageError,
  type StoreOptions,
} from './store-format.js';
export type { ReadSnapshot } from './index-reader.js';

export class Store {
  readonly dir: string;
  private readonly env: RootDatabase;
  /** The meta table (store-meta.ts reads and writes it). */
  private readonly meta: Database<any, string>;
  private readonly storeMeta: StoreMeta;
  /** LMDB's log table and the hash chain over it. */
  private readonly log: LogTable;
  /** Long values (see keyPayload in encoding.ts) by their SHA-256: strings, or WTF-8 bytes. */
  private readonly values: Database<string | Buffer, string>;
  private readonly current: Record<IndexName, PackedIndex>;
  private readonly history: Record<IndexName, PackedIndex>;
  /** The terms of :db/fulltext values (fulltext-index.ts), derived from the log like the indexes. */
  readonly fulltext: FulltextIndex;
  /** Index maintenance: a transaction's datoms into the indexes, values and counts. */
  private readonly indexWrites: IndexWrites;
  /** The queue of writes, committed in groups. */
  private readonly groupCommit: GroupCommit;
  readonly readOnly: boolean;
  /** Datoms out of the indexes, as of a basis, since a t, with history or not: the one read seam. */
  readonly reader: IndexReader = new IndexReader(this);
  /** The format this database was created in (FORMAT_VERSION for a new one): decides the key encoding. */
  readonly format: number;
  /** Whether this format stores every value exactly (lone surrogates, -0); see unstorablePayload. */
  get exactValues(): boolean {
    return this.format >= EXACT_VALUES_FORMAT;
  }

  /** The order of this store's index keys, from their parts. */
  get keyCodec(): KeyCodec {
    return keyCodecOf(this.format);
  }
  /** Open for writing only. */
  private logFile?: LogFile;
  /** When LMDB's file is flushed (open for writing only). */
  private checkpoints?: Checkpoints;
  /** Log records of the commit being built, appended to the log file just before LMDB commits. */
  private readonly pendingRecords: LogRecord[] = [];
  /** noSync: never flush anything. */
  private readonly neverFlush: boolean;
  /** Read snapshots held by scans not finished yet: ended before the environment closes. */
  private readonly snapshots: ReadSnapshots;
  /** Entities' current keys as decoded at one state of the indexes (current-key-cache.ts). */
  readonly keyCache: CurrentKeyCache;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = dir;
    this.keyCache = new CurrentKeyCache(keyCacheBudget(options.entityCacheBytes));
    this.readOnly = options.readOnly ?? false;
    this.neverFlush = options.noSync ?? false;
    this.env = openLmdb(environmentOptions(path.join(dir, DATA_FILE), options));
    this.storeMeta = new StoreMeta(this.env);
    this.meta = this.storeMeta.table;
    this.format = this.storeMeta.formatVersion() ?? options.createFormat ?? FORMAT_VERSION;
    this.log = new LogTable(this.env, dir, this.format);
    this.values = this.env.openDB('values', {});
    ({ current: this.current, history: this.history } = openIndexes(this.env, this.format, this.meta));
    this.snapshots = new ReadSnapshots(dir, this.env as never, () => this.assertOpen());
    this.groupCommit = new GroupCommit({
      dir,
      env: this.env,
      meta: this.meta,
      flushEachCommit: !this.neverFlush && options.durability !== 'process',
      pendingRecords: this.pendingRecords,
      tables: () => this.tables(),
      checkpoints: () => this.checkpoints!,
      logFile: () => this.logFile!,
      logFileEnd: () => logFileEndIn(this.storeMeta, this.logFile!),
    });
    this.fulltext = FulltextIndex.open(this.env, this.readOnly);
    const tables = { current: this.current, history: this.history, meta: this.meta, values: this.values, format: this.format };
    this.indexWrites = new IndexWrites(tables, (d) => this.findCurrent(d), options.bulkLoad);
  }

  static open(options: StoreOptions): { store: Store; created: boolean } {
    keyCacheBudget(options.entityCacheBytes); // a bad option changes nothing
    const { dir, dataFile, hasData, marks } = prepareDirectory(options);
    const leaveGate = joinEnvironmentGate(dir);
    let store: Store;
    try {
      const openStore = () => new Store(dir, options);
      store = options.readOnly ? openThroughEnvironmentGate(dir, dataFile, openStore) : throughEnvironmentGate(dir, openStore);
    } catch (err) {
      leaveGate();
      if (err instanceof EnvironmentGateError) throw err;
      throw new StorageError('storage/open-failed', `cannot open ${dir}: ${(err as Error).message}`);
    }
    store.leaveGate = leaveGate;
    closeAtExit(store);
    const version = store.storeMeta.formatVersion();
    // Bootstrap writes the format version in the same LMDB transaction as t = 0, so a file with
    // no version and nothing in it was created by a process that died before bootstrapping.
    if (hasData && version === undefined && !neverBootstrapped(store.env, [store.storeMeta, store.log], store.tables())) {
      void store.close();
      throw new StorageError('storage/not-a-database', `${dataFile} is not a factlog database`);
    }
    if (version !== undefined && version > FORMAT_VERSION) {
      void store.close();
      throw new StorageError('storage/newer-format', `${dir} was written by a newer factlog (format ${version}; this version reads up to ${FORMAT_VERSION})`);
    }
    if (!store.readOnly) store.openForWriting(marks.deadProcesses);
    return { store, created: version === undefined };
  }

  /** The log file opened for appending, made to agree with LMDB, and the chain caught up. */
  private openForWriting(deadMarks: string[]): void {
    try {
      this.logFile = LogFile.open(path.join(this.dir, LOG_FILE));
      this.checkpoints = new Checkpoints(new UnsyncedMark(this.dir), deadMarks, this.neverFlush, {
        flushLogFile: () => this.logFile?.flush(),
        syncLmdb: (done) => (this.env as unknown as { sync(done: (err?: Error) => void): void }).sync(done),
      });
      const target: AgreementTarget = {
        dir: this.dir,
        env: this.env,
        format: this.format,
        meta: this.storeMeta,
        log: this.log,
        logFile: this.logFile,
        checkpoints: this.checkpoints,
        lastT: () => this.lastT(),
      };
      agreeLogFile(target);
      catchUpChain(target);
    } catch (err) {
      void this.close();
      throw err;
    }
  }

  /** In JSON (a tx report's dbAfter, say) a store is its directory, not its handles and timers. */
  toJSON(): { dir: string } {
    return { dir: this.dir };
  }

  /** Flushes what this process wrote (unless noSync), then closes. Closing again waits for the same close. */
  close(): Promise<void> {
    return (this.closing ??= this.flushAndClose());
  }

  private closing?: Promise<void>;

  private async flushAndClose(): Promise<void> {
    // stays open (open-stores.ts) until closeNow: the exit hook closes it if the process ends meanwhile
    await this.checkpoints?.close();
    this.closeNow();
  }

  /**
   * Close without flushing (at process exit, where nothing asynchronous runs any more): what
   * this process committed is in the OS's page cache and its mark stays, so the next open
   * flushes it.
   */
  closeNow(): void {
    if (!forgetOpen(this)) return; // closed already
    this.checkpoints?.stop();
    this.logFile?.close();
    this.logFile = undefined;
    // a read transaction left open would outlive its environment
    this.snapshots.endAll();
    // decoded values (excised ones, after an excision) leave memory with the store, not its last Db value
    this.keyCache.clear();
    // lmdb-js closes the environment within this call, as our writes are all synchronous. A
    // read-only store closes outside the gate: what harms another process's write transaction
    // is an open (scripts/repro-lmdb-open-close.mjs with only the opens gated: 0 of 14 rounds
    // failed; only the closes gated: 5 of 8), so a reader need not wait on a writer to close.
    // A process stopped inside the gate makes a writer's close throw storage/gate-stopped: the
    // environment is then left to lmdb-js, which closes it when this process ends
    try {
      if (this.readOnly) void this.env.close();
      else void throughEnvironmentGate(this.dir, () => this.env.close());
    } finally {
      this.leaveGate();
    }
  }

  /** Takes back this store's standing ticket of the environment gate (env-gate.ts). */
  private leaveGate: () => void = () => {};

  private tables(): PackedIndex[] {
    return [...Object.values(this.current), ...Object.values(this.history)];
  }

  /** Set before a close that replaces the database's files (a live excision): what reads say after it. */
  closedFor?: { code: string; message: string };

  private assertOpen(): void {
    if (!isOpen(this)) throw new StorageError(this.closedFor?.code ?? 'storage/closed', this.closedFor?.message ?? `the database at ${this.dir} is closed`);
  }

  // ---------------- the log's hash chain (log-chain.ts) ----------------

  /** chain(t): one value for the whole history up to t; undefined past the last t. */
  chainHash(t: number): Buffer | undefined {
    this.assertOpen();
    return this.log.chain.hashAt(t);
  }

  /** The chain table as stored, and how far, for verify. */
  chainTable(): { chainedTo: number; entries: Iterable<{ t: number; hash: Buffer }> } {
    this.assertOpen();
    return { chainedTo: this.log.chain.chainedTo(), entries: this.log.chain.entries() };
  }

  // ---------------- the log file (log-file.ts, log-file-agreement.ts) ----------------

  /** The log file's records that LMDB has not indexed yet, oldest first. */
  unindexedLogRecords(): Generator<ReadRecord> {
    return this.openLogFileOrThrow().read(this.storeMeta.logFileEnd() ?? LOG_FILE_START, this.lastT() + 1);
  }

  /** Every record of the log file, oldest first (open for writing only). */
  readLogFile(): Generator<ReadRecord> {
    return this.openLogFileOrThrow().read(LOG_FILE_START, 0);
  }

  /** The log file, which only a store open for writing has. */
  private openLogFileOrThrow(): LogFile {
    if (!this.logFile) throw new StorageError('storage/read-only', `${this.dir} is open read-only`);
    return this.logFile;
  }

  /** Inside a write transaction: index records read from the log file (they are in it already). */
  indexLogRecords(records: ReadRecord[], keepHistory: KeepHistory): void {
    appendEntries(
      this.maintenance(),
      records.map((r) => r.entry),
      keepHistory,
      false,
    );
    this.storeMeta.setLogFileEnd(records[records.length - 1].end);
  }

  /** Where LMDB says the log file's records end (undefined before the log file was written). */
  recordedLogFileEnd(): number | undefined {
    this.assertOpen();
    return this.storeMeta.logFileEnd();
  }

  // ---------------- meta (store-meta.ts) ----------------

  readMeta(): Meta {
    return this.storeMeta.read();
  }

  /** The last committed t, read from the same snapshot as the scans that follow it in this tick (or from `snapshot`). */
  lastT(snapshot?: ReadSnapshot): number {
    this.assertOpen();
    return this.storeMeta.lastT(snapshot?.transaction());
  }

  attrCount(a: number): number {
    this.assertOpen();
    return this.storeMeta.attrCount(a);
  }

  /** The per-attribute datom counts kept in meta. */
  attrCounts(): Map<number, number> {
    this.assertOpen();
    return this.storeMeta.attrCounts();
  }

  putMeta(meta: Meta): void {
    this.storeMeta.put(meta, this.format);
  }

  /** Set when this database is a read replica: the primary it follows. */
  replicaOf(): string | undefined {
    return this.storeMeta.replicaOf();
  }

  markReplicaOf(source: string): void {
    this.storeMeta.markReplicaOf(source);
  }

  // ---------------- writing (group-commit.ts, index-writes.ts) ----------------

  /**
   * Run `write` in an LMDB write transaction, after every earlier one; resolves once committed
   * and flushed. Writes queued in one turn of the event loop share one commit (group-commit.ts),
   * each in its own child transaction, so one that throws is rolled back alone.
   */
  writeTransaction<T>(write: () => T): Promise<T> {
    if (this.readOnly) return Promise.reject(new StorageError('storage/read-only', `${this.dir} is open read-only`));
    return this.groupCommit.enqueue(write);
  }

  /** LMDB commits made by this process (each one flush): fewer than writes when they were grouped. */
  get commitCount(): number {
    return this.groupCommit.commitCount;
  }

  /** Inside a write transaction: append a log entry and apply it to the indexes. */
  putTransaction(head: { t: number; tx: number; instant: number }, asserted: RawDatom[], retracted: Retraction[], meta: Meta): void {
    const parts = { ...head, retracted: retracted.map((r) => r.raw), asserted };
    const record = encodeLogParts(parts);
    this.log.put(head.t, record, () => toLogEntry(parts));
    this.pendingRecords.push({ t: head.t, bytes: record });
    this.indexWrites.applyDatoms(asserted, retracted);
    this.putMeta(meta);
  }

  /**
   * Inside a write transaction: a transaction's log record (encodeLogParts) and the long values of
   * its assertions (longValueEntry), without its index keys (an import's sorted part:
   * packImportedDatabase builds the indexes at its end).
   */
  putEncodedLogRecord(t: number, record: Buffer, longValues: [string, string | Buffer][]): void {
    this.log.put(t, record, () => decodeLogEntry(t, record));
    this.pendingRecords.push({ t, bytes: record });
    for (const [hash, value] of longValues) this.values.putSync(hash, value);
  }

  // ---------------- rebuild, replica, backup (store-maintenance.ts) ----------------

  private maintenance(): MaintenanceTarget {
    return {
      format: this.format,
      meta: this.storeMeta,
      log: this.log,
      current: this.current,
      history: this.history,
      fulltext: this.fulltext,
      indexWrites: this.indexWrites,
      pendingRecords: this.pendingRecords,
    };
  }

  /** Drop every index and rebuild it from the log alone (one write transaction). */
  async rebuildIndexes(keepHistory: KeepHistory): Promise<void> {
    await this.writeTransaction(() => rebuildIndexes(this.maintenance(), keepHistory));
  }

  /** Inside a write transaction: append and index log entries written elsewhere (a replica's primary), keeping their ids. */
  appendLogEntries(entries: LogEntry[], keepHistory: KeepHistory): void {
    appendEntries(this.maintenance(), entries, keepHistory, true);
  }

  /** How much of LMDB's file is free pages (free-space.ts). */
  freeSpace(): FreeSpace {
    return freeSpaceOf(this.env);
  }

  /** A consistent copy of the whole database (taken from one read snapshot) into an empty directory. */
  backup(targetDir: string, compact = false): Promise<void> {
    return backupEnvironment(this.env, targetDir, compact);
  }

  // ---------------- reading (index-reader.ts, store-reads.ts, log-table.ts) ----------------

  /**
   * `read(snapshot)`, iterated over one read snapshot: taken at its first step and held until it
   * ends, is returned, the store closes or it is dropped unfinished (garbage collected). So a
   * lazy scan read across commits, of this process or another, reads the database as it was at
   * its first step. Inside a write transaction there is none (undefined): reads go through that
   * transaction, as they must see its writes, and nothing can commit while it runs.
   */
  snapshotted<T>(read: (snapshot: ReadSnapshot | undefined) => Iterable<T>): Iterator<T> & Iterable<T> {
    return this.snapshots.read(read);
  }

  /**
   * The key range of a scan, once the store is known to be open: lmdb-js's own error on a closed
   * environment ("Can not renew a transaction") names neither the database nor a code.
   */
  private range(prefix: KeyPart[], end?: KeyPart[]): { start: KeyPart[] | undefined; end: KeyPart[] | undefined } {
    this.assertOpen();
    return rangeOf(prefix, end);
  }

  /** The raw keys of the current or history part of an index in [prefix, end), in key order (the reader's and verify's). */
  keys(which: 'current' | 'history', index: IndexName, prefix: KeyPart[], end?: KeyPart[], snapshot?: ReadSnapshot): Iterable<KeyPart[]> {
    const table = (which === 'current' ? this.current : this.history)[index];
    const range = this.range(prefix, end);
    if (snapshot) return table.keysIn(range.start, range.end, () => snapshot.transaction());
    return table.keys(range.start, range.end);
  }

  /**
   * The current keys that start with `prefix`, read at once in this step's read transaction (or
   * from the key cache, given this step's `indexState`). Not to be changed: they may be shared.
   */
  currentKeysWithPrefix(index: IndexName, prefix: KeyPart[], state?: string, limit = Infinity): KeyPart[][] {
    const table = this.current[index];
    if (!table.packs || prefix.length === 0) {
      const range = this.range(prefix);
      return [...table.keys(range.start, range.end, limit === Infinity ? undefined : limit)];
    }
    this.assertOpen();
    return cachedKeys(this.keyCache, index, prefix, state, (most) => table.keysWithPrefix(prefixStart(prefix), most), limit);
  }

  /**
   * The state of the current indexes this step reads, `lastT` (read in it) and the rebuild epoch,
   * for the key cache; none inside a write transaction, whose writes may yet be rolled back.
   */
  indexState(lastT: number): string | undefined {
    if ((this.env as unknown as { env: { writeTxn?: unknown } }).env.writeTxn) return undefined;
    return `${lastT}:${this.storeMeta.indexEpoch()}`;
  }

  /** Number of current keys with this prefix; exact, but costs a scan of them. */
  countCurrent(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): number {
    const range = this.range(prefix, end);
    return this.current[index].count(range.start, range.end);
  }

  /** The current datom for fact (e, a, v) with the tx that asserted it. */
  findCurrent(d: Pick<RawDatom, 'e' | 'a' | 'tag' | 'payload'>): RawDatom | undefined {
    for (const key of this.keys('current', 'eavt', [d.e, d.a, d.tag, d.payload])) return rawFromKey('eavt', key);
    return undefined;
  }

  logEntry(t: number): LogEntry | undefined {
    this.assertOpen();
    return this.log.entry(t);
  }

  /** Log entries with from <= t < to, oldest first. */
  logRange(from = 0, to = Number.MAX_SAFE_INTEGER): Generator<LogEntry> {
    this.assertOpen();
    return this.log.range(from, to);
  }

  /** The log table's record of t as encodeLogRecord's bytes (checked), for verify. */
  logRecordAt(t: number): Uint8Array | undefined {
    this.assertOpen();
    return this.log.recordAt(t);
  }

  /** A long value by its SHA-256, from this store's values table (where its index keys' markers lead). */
  readonly longValue: LongValues = (hash) => {
    this.assertOpen();
    return this.values.get(hash);
  };

  /** The values table: long values by their SHA-256. */
  *longValues(): Generator<{ hash: string; value: string | Buffer }> {
    this.assertOpen();
    for (const { key, value } of this.values.getRange({})) yield { hash: key, value };
  }

  /** Every key of an index (current and history), for comparing indexes in tests and tools. */
  dumpIndex(index: IndexName, which: 'current' | 'history'): KeyPart[][] {
    return (which === 'current' ? this.current[index] : this.history[index]).all();
  }

  /** entries: keys per index (datoms), log records; sizeBytes: LMDB's file; logFileBytes: the log file. */
  stats(): { entries: Record<string, number>; sizeBytes: number; logFileBytes: number } {
    const entries: Record<string, number> = { log: this.log.entryCount() };
    for (const index of INDEXES) {
      entries[index] = this.current[index].size();
      entries[`${index}.history`] = this.history[index].size();
    }
    const file = path.join(this.dir, DATA_FILE);
    const size = (f: string) => (fs.existsSync(f) ? fs.statSync(f).size : 0);
    return { entries, sizeBytes: size(file), logFileBytes: size(path.join(this.dir, LOG_FILE)) };
  }

  /** Drop the cached read snapshot so the next read sees other processes' commits. */
  refresh(): void {
    this.env.resetReadTxn();
  }
}
