// One factlog database directory: the log file (source of truth, what a commit waits on) and the
// LMDB environment: the log by t, the current indexes (datoms true now), the history indexes
// (datoms retracted, with the t that retracted them) and a small meta table. Knows nothing of
// queries or transactions' meaning: it stores and scans.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { rawFromKey, TX_BASE as TX_BASE_ID, type IndexName, type KeyPart, type LongValues, type RawDatom } from './encoding.js';
import { decodeLogEntry, encodeLogEntry, encodeLogParts, encodeLogRecord, toLogEntry, type LogEntry } from './log.js';
import type { KeyCodec } from './key-codec.js';
import { PackedIndex, runsFlagIn } from './packed-index.js';
import { EnvironmentGateError, joinEnvironmentGate, openThroughEnvironmentGate, throughEnvironmentGate } from './env-gate.js';
import { FulltextIndex } from './fulltext-index.js';
import { LogChain } from './log-chain.js';
import { LOG_FILE, LOG_FILE_START, LogFile, recordChecksum, type LogRecord, type ReadRecord } from './log-file.js';
import { UnsyncedMark } from './unsynced-marks.js';
import { Checkpoints } from './checkpoints.js';
import {
  BINARY_LOG_FORMAT,
  CHECKSUMMED_LOG_FORMAT,
  DATA_FILE,
  DB_NAMES,
  EXACT_VALUES_FORMAT,
  environmentOptions,
  FORMAT_VERSION,
  INDEXES,
  indexDbOptions,
  keyCodecOf,
  LOG_CHECKSUM,
  logDbOptions,
  PACKED_FORMAT,
  StorageError,
  type Meta,
  type Retraction,
  type StoreOptions,
} from './store-format.js';

export type { Meta, Retraction } from './store-format.js';
import { IndexWrites } from './index-writes.js';
import { GroupCommit } from './group-commit.js';
import { prepareDirectory } from './store-recovery.js';
import { HeldSnapshot, rangeOf, readInSnapshot, type LmdbReadTxn } from './store-reads.js';

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
import { IndexReader, type ReadSnapshot } from './index-reader.js';

export type { ReadSnapshot } from './index-reader.js';

/**
 * Stores not closed yet. At exit they are closed through the gate (env-gate.ts); lmdb-js would
 * otherwise close them in its own exit hook, outside it.
 */
const openStores = new Set<Store>();
let exitHookAdded = false;

function closeAtExit(store: Store): void {
  if (!exitHookAdded) process.once('exit', () => [...openStores].forEach(closeAtExitNow));
  exitHookAdded = true;
  openStores.add(store);
}

/** At exit, a process stopped inside the gate (storage/gate-stopped) is no reason to end with a stack trace. */
function closeAtExitNow(store: Store): void {
  try {
    store.closeNow();
  } catch (err) {
    if (!(err instanceof EnvironmentGateError)) throw err;
  }
}

export class Store {
  readonly dir: string;
  private readonly env: RootDatabase;
  private readonly meta: Database<any, string>;
  private readonly log: Database<any, number>;
  /** Long values (see keyPayload in encoding.ts) by their SHA-256: strings, or WTF-8 bytes. */
  private readonly values: Database<string | Buffer, string>;
  private readonly current: Record<IndexName, PackedIndex>;
  private readonly history: Record<IndexName, PackedIndex>;
  /** The log's hash chain (log-chain.ts), extended with each record put. */
  private readonly chain: LogChain;
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
  /** 'os' durability: fdatasync the log file in every commit. */
  private readonly flushEachCommit: boolean;
  /** noSync: never flush anything. */
  private readonly neverFlush: boolean;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = dir;
    this.readOnly = options.readOnly ?? false;
    this.neverFlush = options.noSync ?? false;
    this.flushEachCommit = !this.neverFlush && options.durability !== 'process';
    this.env = openLmdb(environmentOptions(path.join(dir, DATA_FILE), options));
    this.meta = this.env.openDB('meta', {});
    this.format = this.meta.get('formatVersion') ?? options.createFormat ?? FORMAT_VERSION;
    this.log = this.env.openDB('log', logDbOptions(this.format));
    this.values = this.env.openDB('values', {});
    this.chain = new LogChain(this.env, (t) => this.logRecordAt(t));
    const indexDb = (name: string) =>
      new PackedIndex(this.env.openDB<Buffer, any>(name, indexDbOptions(this.format)), this.format >= PACKED_FORMAT, runsFlagIn(this.meta, name), undefined, keyCodecOf(this.format));
    this.current = { eavt: indexDb('eavt'), aevt: indexDb('aevt'), avet: indexDb('avet'), vaet: indexDb('vaet') };
    this.history = {
      eavt: indexDb(`eavt.history`),
      aevt: indexDb(`aevt.history`),
      avet: indexDb(`avet.history`),
      vaet: indexDb(`vaet.history`),
    };
    this.groupCommit = new GroupCommit({
      dir,
      env: this.env,
      meta: this.meta,
      flushEachCommit: this.flushEachCommit,
      pendingRecords: this.pendingRecords,
      tables: () => this.tables(),
      checkpoints: () => this.checkpoints!,
      logFile: () => this.logFile!,
      logFileEnd: () => this.logFileEnd(),
    });
    this.fulltext = FulltextIndex.open(this.env, this.readOnly);
    this.indexWrites = new IndexWrites(
      { current: this.current, history: this.history, meta: this.meta, values: this.values, format: this.format },
      (d) => this.findCurrent(d),
      options.bulkLoad,
    );
  }

  static open(options: StoreOptions): { store: Store; created: boolean } {
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
    const version = store.meta.get('formatVersion');
    // Bootstrap writes the format version in the same LMDB transaction as t = 0, so a file with
    // no version and nothing in it was created by a process that died before bootstrapping.
    if (hasData && version === undefined && !store.isEmpty()) {
      void store.close();
      throw new StorageError('storage/not-a-database', `${dataFile} is not a factlog database`);
    }
    if (version !== undefined && version > FORMAT_VERSION) {
      void store.close();
      throw new StorageError('storage/newer-format', `${dir} was written by a newer factlog (format ${version}; this version reads up to ${FORMAT_VERSION})`);
    }
    if (!store.readOnly) {
      try {
        store.openLogFile(marks.deadProcesses);
        store.catchUpChain();
      } catch (err) {
        void store.close();
        throw err;
      }
    }
    return { store, created: version === undefined };
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
    // stays in openStores until closeNow: the exit hook closes it if the process ends meanwhile
    await this.checkpoints?.close();
    this.closeNow();
  }

  /**
   * Close without flushing (at process exit, where nothing asynchronous runs any more): what
   * this process committed is in the OS's page cache and its mark stays, so the next open
   * flushes it.
   */
  closeNow(): void {
    if (!openStores.delete(this)) return; // closed already
    this.checkpoints?.stop();
    this.logFile?.close();
    this.logFile = undefined;
    // a read transaction left open would outlive its environment
    for (const snapshot of [...this.snapshots]) snapshot.end();
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

  // ---------------- the log's hash chain (log-chain.ts) ----------------

  /** chain(t): one value for the whole history up to t; undefined past the last t. */
  chainHash(t: number): Buffer | undefined {
    this.assertOpen();
    return this.chain.hashAt(t);
  }

  /** The chain table as stored, and how far, for verify. */
  chainTable(): { chainedTo: number; entries: Iterable<{ t: number; hash: Buffer }> } {
    this.assertOpen();
    return { chainedTo: this.chain.chainedTo(), entries: this.chain.entries() };
  }

  /**
   * Open for writing: a chain table behind the log (a database of an older factlog) is caught up
   * in a commit of its own. A log record that does not read leaves it behind: the damage is
   * reported where the record is read, as before.
   */
  private catchUpChain(): void {
    if (this.chain.chainedTo() >= this.lastT()) return;
    try {
      throughEnvironmentGate(this.dir, () =>
        this.env.transactionSync(() => {
          this.checkpoints!.beforeCommit();
          this.chain.catchUp(this.lastT());
        }),
      );
    } catch (err) {
      if ((err as { code?: string }).code !== 'storage/mdb-damaged') throw err;
    }
    this.checkpoints!.committed();
  }

  // ---------------- the log file ----------------

  /**
   * Open the log file for appending, and make it agree with LMDB: cut off a torn last record,
   * or, when there was no log file (a database made before it, or restored from a backup, which
   * copies LMDB's file), write LMDB's log into it. Records after LMDB's last t stay for the
   * connection to index (replayLogFile).
   */
  private openLogFile(deadMarks: string[]): void {
    const logFile = LogFile.open(path.join(this.dir, LOG_FILE));
    this.logFile = logFile;
    const checkpoints = new Checkpoints(new UnsyncedMark(this.dir), deadMarks, this.neverFlush, {
      flushLogFile: () => this.logFile?.flush(),
      syncLmdb: (done) => (this.env as unknown as { sync(done: (err?: Error) => void): void }).sync(done),
    });
    this.checkpoints = checkpoints;
    this.assertLogFileEndsAsLmdb(logFile);
    // No records in the log file while LMDB has a log (a database made before the log file, or
    // restored from a backup of LMDB's file): it is written from LMDB's log table.
    const needsCopy = () => this.lastT() >= 0 && logFile.endsAt(LOG_FILE_START);
    const end = () => this.meta.get('logFileEnd') as number | undefined;
    const looksOff = () => {
      const e = end();
      if (e === undefined) return this.lastT() >= 0;
      return needsCopy() || logFile.size() < e || !logFile.endsAt(logFile.validEnd(e, this.lastT() + 1));
    };
    // outside the lock, only a hint: another process may be appending meanwhile, so a record read
    // half written, with a whole one after it, is no damage yet; under the lock it would be
    const hint = () => {
      try {
        return looksOff();
      } catch (err) {
        if ((err as { code?: string }).code === 'storage/log-damaged') return true;
        throw err;
      }
    };
    if (!hint()) return;
    // under LMDB's write lock, so no other process appends meanwhile
    throughEnvironmentGate(this.dir, () =>
      this.env.transactionSync(() => {
        if (!looksOff()) return;
        checkpoints.beforeCommit();
        const e = end();
        if (needsCopy()) this.copyLogToFile();
        else if (e === undefined) {
          // records, but LMDB has a log of its own and does not know of them
          throw new StorageError('storage/log-file-mismatch', `${logFile.file} holds records the indexes do not know of; move it away to have it rewritten from them`);
        } else if (logFile.size() < e) {
          throw new StorageError('storage/log-file-damaged', `${logFile.file} is shorter than the indexes say it was (${logFile.size()} < ${e} bytes)`);
        } else logFile.truncate(logFile.validEnd(e, this.lastT() + 1));
      }),
    );
    checkpoints.committed();
  }

  /**
   * Where LMDB says the log file's records end, the last one must be LMDB's last transaction:
   * else the file is another database's or an older copy, and appending after it would mix the
   * two. (Formats 1 and 2 are not checked: their records are re-encoded, not the file's bytes.)
   */
  private assertLogFileEndsAsLmdb(logFile: LogFile): void {
    const end = this.meta.get('logFileEnd') as number | undefined;
    const lastT = this.lastT();
    if (end === undefined || lastT < 0 || this.format < BINARY_LOG_FORMAT || logFile.size() < end) return;
    const bytes = this.logRecordAt(lastT);
    if (bytes && !logFile.holdsRecordEndingAt(end, { t: lastT, bytes })) {
      throw new StorageError(
        'storage/log-file-mismatch',
        `${logFile.file} does not end with the indexes' last transaction (t=${lastT}) at byte ${end}: it is another database's, or another state of this one; nothing was changed`,
      );
    }
  }

  /** Write every entry of LMDB's log table to an empty log file. */
  private copyLogToFile(): void {
    const logFile = this.logFile!;
    let records: LogRecord[] = [];
    let end = LOG_FILE_START;
    for (const { key, value } of this.log.getRange({})) {
      const t = key as number;
      records.push({ t, bytes: this.storedLogRecord(t, value) });
      if (records.length === 1000) {
        end = logFile.append(records, false, end).end;
        records = [];
      }
    }
    if (records.length > 0) end = logFile.append(records, false, end).end;
    logFile.flush();
    this.meta.putSync('logFileEnd', end);
  }

  /** The log file's records that LMDB has not indexed yet, oldest first. */
  unindexedLogRecords(): Generator<ReadRecord> {
    return this.openLogFileOrThrow().read(this.meta.get('logFileEnd') ?? LOG_FILE_START, this.lastT() + 1);
  }

  /** The log file, which only a store open for writing has. */
  private openLogFileOrThrow(): LogFile {
    if (!this.logFile) throw new StorageError('storage/read-only', `${this.dir} is open read-only`);
    return this.logFile;
  }

  /**
   * Inside a write transaction: where the log file's records end, as of the last commit by any
   * process. Before a database's first record there must be none (unindexed ones are replayed
   * by replayLogFile, which a writer runs before writing).
   */
  private logFileEnd(): number {
    const end = this.meta.get('logFileEnd') as number | undefined;
    if (end !== undefined) return end;
    if (!this.logFile!.endsAt(LOG_FILE_START)) {
      throw new StorageError('storage/log-not-replayed', `${this.logFile!.file} holds records not indexed yet; open the database with open() to index them`);
    }
    return LOG_FILE_START;
  }

  /** Every record of the log file, oldest first (open for writing only). */
  readLogFile(): Generator<ReadRecord> {
    return this.openLogFileOrThrow().read(LOG_FILE_START, 0);
  }

  /** Inside a write transaction: index records read from the log file (they are in it already). */
  indexLogRecords(records: ReadRecord[], keepHistory: (a: number, entry: LogEntry) => boolean): void {
    this.appendEntries(
      records.map((r) => r.entry),
      keepHistory,
      false,
    );
    this.meta.putSync('logFileEnd', records[records.length - 1].end);
  }

  /** Takes back this store's standing ticket of the environment gate (env-gate.ts). */
  private leaveGate: () => void = () => {};

  /**
   * True for a file created but never bootstrapped: our named databases hold nothing and the
   * main database holds nothing but their names (an LMDB file written by anything else is not empty).
   */
  private isEmpty(): boolean {
    const names = new Set(DB_NAMES);
    for (const key of this.env.getKeys()) if (!names.has(String(key))) return false;
    const tables = this.tables();
    const isEmpty = (keys: Iterable<unknown>) => {
      for (const _ of keys) return false;
      return true;
    };
    return isEmpty(this.meta.getKeys({ limit: 1 })) && isEmpty(this.log.getKeys({ limit: 1 })) && tables.every((t) => isEmpty(t.keys(undefined, undefined, 1)));
  }

  private tables(): PackedIndex[] {
    return [...Object.values(this.current), ...Object.values(this.history)];
  }

  // ---------------- meta ----------------

  readMeta(): Meta {
    return {
      lastT: this.meta.get('lastT') ?? -1,
      nextEid: this.meta.get('nextEid') ?? 0,
      lastInstant: this.meta.get('lastInstant') ?? 0,
    };
  }

  /** The last committed t, read from the same snapshot as the scans that follow it in this tick (or from `snapshot`). */
  lastT(snapshot?: ReadSnapshot): number {
    this.assertOpen();
    return (snapshot ? this.meta.get('lastT', { transaction: snapshot.transaction() } as any) : this.meta.get('lastT')) ?? -1;
  }

  attrCount(a: number): number {
    this.assertOpen();
    return this.meta.get(`count:${a}`) ?? 0;
  }

  // ---------------- writing ----------------

  /**
   * Run `write` in an LMDB write transaction, after every earlier one; resolves once committed
   * and flushed to disk. Reads inside `write` see the writes of earlier transactions. Writes
   * queued in the same turn of the event loop share one commit and one flush (group commit);
   * each runs in its own child transaction, so one that throws is rolled back alone.
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
    this.putLogRecord(head.t, encodeLogParts(parts), () => toLogEntry(parts), true);
    this.indexWrites.applyDatoms(asserted, retracted);
    this.putMeta(meta);
  }

  /**
   * A log record (encodeLogRecord's bytes) into LMDB's log table, in the database's format, and,
   * when `toLogFile`, into the log file with this commit.
   */
  private putLogRecord(t: number, record: Uint8Array, entry: () => LogEntry, toLogFile: boolean): void {
    this.log.putSync(t, this.format >= CHECKSUMMED_LOG_FORMAT ? checksummed(t, record) : this.format >= BINARY_LOG_FORMAT ? record : encodeLogEntry(entry()));
    if (toLogFile) this.pendingRecords.push({ t, bytes: record });
    this.chain.extend(t, record);
  }

  putMeta(meta: Meta): void {
    if (this.meta.get('formatVersion') === undefined) this.meta.putSync('formatVersion', this.format);
    this.meta.putSync('lastT', meta.lastT);
    this.meta.putSync('nextEid', meta.nextEid);
    this.meta.putSync('lastInstant', meta.lastInstant);
  }

  // ---------------- reading ----------------

  /**
   * The key range of a scan, once the store is known to be open: lmdb-js's own error on a closed
   * environment ("Can not renew a transaction") names neither the database nor a code.
   */
  private range(prefix: KeyPart[], end?: KeyPart[]): { start: KeyPart[] | undefined; end: KeyPart[] | undefined } {
    this.assertOpen();
    return rangeOf(prefix, end);
  }

  private scan(table: PackedIndex, prefix: KeyPart[], end?: KeyPart[], limit?: number, snapshot?: ReadSnapshot): Iterable<KeyPart[]> {
    const range = this.range(prefix, end);
    if (snapshot) return table.keysIn(range.start, range.end, () => snapshot.transaction());
    return table.keys(range.start, range.end, limit);
  }

  /**
   * `read(snapshot)`, iterated over one read snapshot: taken at its first step and held until it
   * ends, is returned, the store closes or it is dropped unfinished (garbage collected). So a
   * lazy scan read across commits, of this process or another, reads the database as it was at
   * its first step. Inside a write transaction there is none (undefined): reads go through that
   * transaction, as they must see its writes, and nothing can commit while it runs.
   */
  snapshotted<T>(read: (snapshot: ReadSnapshot | undefined) => Iterable<T>): Iterator<T> & Iterable<T> {
    this.assertOpen();
    if ((this.env as unknown as { env: { writeTxn?: unknown } }).env.writeTxn) return read(undefined)[Symbol.iterator]() as Iterator<T> & Iterable<T>;
    return readInSnapshot(
      this.dir,
      () => this.env.useReadTransaction() as unknown as LmdbReadTxn,
      this.snapshots,
      () => this.assertOpen(),
      read,
    );
  }

  /** Read snapshots held by scans not finished yet: ended before the environment closes. */
  private readonly snapshots = new Set<HeldSnapshot>();

  private assertOpen(): void {
    if (!openStores.has(this)) throw new StorageError('storage/closed', `the database at ${this.dir} is closed`);
  }

  /** The raw keys of the current or history part of an index in [prefix, end), in key order (the reader's and verify's). */
  keys(which: 'current' | 'history', index: IndexName, prefix: KeyPart[], end?: KeyPart[], snapshot?: ReadSnapshot): Iterable<KeyPart[]> {
    return this.scan((which === 'current' ? this.current : this.history)[index], prefix, end, undefined, snapshot);
  }

  /** Number of current keys with this prefix; exact, but costs a scan of them. */
  countCurrent(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): number {
    const range = this.range(prefix, end);
    return this.current[index].count(range.start, range.end);
  }

  logEntry(t: number): LogEntry | undefined {
    this.assertOpen();
    const raw = this.log.get(t);
    return raw === undefined ? undefined : this.decodeStoredLog(t, raw);
  }

  /** Log entries with from <= t < to, oldest first. */
  *logRange(from = 0, to = Number.MAX_SAFE_INTEGER): Generator<LogEntry> {
    this.assertOpen();
    for (const { key, value } of this.log.getRange({ start: from, end: Math.min(to, 0xffffffff) })) {
      yield this.decodeStoredLog(key as number, value);
    }
  }

  /** The log table's record of t as encodeLogRecord's bytes (checked), for verify. */
  logRecordAt(t: number): Uint8Array | undefined {
    this.assertOpen();
    const raw = this.log.get(t);
    return raw === undefined ? undefined : this.storedLogRecord(t, raw);
  }

  /**
   * A log table value back to its entry. A value that fails its checksum (format 5 on) or cannot
   * be decoded was damaged on disk: an error, never a different transaction.
   */
  private decodeStoredLog(t: number, stored: unknown): LogEntry {
    try {
      return decodeLogEntry(t, this.format >= CHECKSUMMED_LOG_FORMAT ? this.checkedLogBytes(t, stored) : (stored as Uint8Array));
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.damagedLog(t, `cannot be decoded (${(err as Error).message})`);
    }
  }

  /** A log table value as encodeLogRecord's bytes, checked when the format has checksums. */
  private storedLogRecord(t: number, stored: unknown): Uint8Array {
    if (this.format >= CHECKSUMMED_LOG_FORMAT) return this.checkedLogBytes(t, stored);
    if (this.format >= BINARY_LOG_FORMAT && stored instanceof Uint8Array) return stored;
    return encodeLogRecord(this.decodeStoredLog(t, stored));
  }

  private checkedLogBytes(t: number, stored: unknown): Uint8Array {
    if (!(stored instanceof Uint8Array) || stored.length < LOG_CHECKSUM) throw this.damagedLog(t, 'is not a checksummed record');
    const value = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    const bytes = value.subarray(LOG_CHECKSUM);
    if (recordChecksum(t, bytes) !== value.readUInt32LE(0)) throw this.damagedLog(t, 'fails its checksum');
    return bytes;
  }

  private damagedLog(t: number, what: string): StorageError {
    return new StorageError(
      'storage/mdb-damaged',
      `${path.join(this.dir, DATA_FILE)} is damaged: the log record of t=${t} ${what} (restore a backup, or move ${DATA_FILE} aside and open the database for writing to rebuild it from ${LOG_FILE})`,
    );
  }

  /** Drop every index and rebuild it from the log alone (one write transaction). */
  async rebuildIndexes(keepHistory: (a: number, entry: LogEntry) => boolean): Promise<void> {
    await this.writeTransaction(() => {
      for (const index of INDEXES) {
        this.current[index].clear();
        this.history[index].clear();
      }
      for (const key of [...this.meta.getKeys()]) if (String(key).startsWith('count:')) this.meta.removeSync(key);
      this.fulltext.clear();
      for (const entry of this.logRange()) this.indexWrites.indexLogEntry(entry, keepHistory);
      this.chain.rebuild(this.lastT());
    });
  }

  /**
   * Inside a write transaction: append log entries written elsewhere (a replica following its
   * primary) and index them, keeping their t, tx and entity ids.
   */
  appendLogEntries(entries: LogEntry[], keepHistory: (a: number, entry: LogEntry) => boolean): void {
    this.appendEntries(entries, keepHistory, true);
  }

  private appendEntries(entries: LogEntry[], keepHistory: (a: number, entry: LogEntry) => boolean, toLogFile: boolean): void {
    let meta = this.readMeta();
    for (const entry of entries) {
      if (entry.t !== meta.lastT + 1) {
        throw new StorageError('storage/log-gap', `log entry t=${entry.t} does not follow t=${meta.lastT}`);
      }
      this.putLogEntry(entry, toLogFile);
      this.indexWrites.indexLogEntry(entry, keepHistory);
      let nextEid = meta.nextEid;
      for (const d of entry.datoms) if (d.e < TX_BASE_ID && d.e >= nextEid) nextEid = d.e + 1;
      meta = { lastT: entry.t, nextEid, lastInstant: entry.instant };
    }
    this.putMeta(meta);
  }

  /** Into LMDB's log table and, unless it came from there, the log file with this commit. */
  private putLogEntry(entry: LogEntry, toLogFile: boolean): void {
    if (this.format < BINARY_LOG_FORMAT && !toLogFile) {
      this.log.putSync(entry.t, encodeLogEntry(entry));
      this.chain.extend(entry.t, encodeLogRecord(entry));
    } else this.putLogRecord(entry.t, encodeLogRecord(entry), () => entry, toLogFile);
  }

  /** A consistent copy of the whole database (taken from one read snapshot) into an empty directory. */
  async backup(targetDir: string, compact = false): Promise<void> {
    const target = path.resolve(targetDir);
    if (fs.existsSync(target) && fs.readdirSync(target).length > 0) {
      throw new StorageError('storage/target-not-empty', `backup target ${target} is not empty`);
    }
    fs.mkdirSync(target, { recursive: true });
    await this.env.backup(path.join(target, DATA_FILE), compact);
  }

  /** Where LMDB says the log file's records end (undefined before the log file was written). */
  recordedLogFileEnd(): number | undefined {
    this.assertOpen();
    return this.meta.get('logFileEnd');
  }

  /** The per-attribute datom counts kept in meta. */
  attrCounts(): Map<number, number> {
    this.assertOpen();
    const counts = new Map<number, number>();
    for (const { key, value } of this.meta.getRange({ start: 'count:', end: 'count;' })) counts.set(Number(String(key).slice(6)), value);
    return counts;
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

  /** Set when this database is a read replica: the primary it follows. */
  replicaOf(): string | undefined {
    return this.meta.get('replicaOf');
  }

  markReplicaOf(source: string): void {
    this.meta.putSync('replicaOf', source);
  }

  /** The current datom for fact (e, a, v) with the tx that asserted it. */
  findCurrent(d: Pick<RawDatom, 'e' | 'a' | 'tag' | 'payload'>): RawDatom | undefined {
    for (const key of this.keys('current', 'eavt', [d.e, d.a, d.tag, d.payload])) return rawFromKey('eavt', key);
    return undefined;
  }

  /** Every key of an index (current and history), for comparing indexes in tests and tools. */
  dumpIndex(index: IndexName, which: 'current' | 'history'): KeyPart[][] {
    return (which === 'current' ? this.current[index] : this.history[index]).all();
  }

  /** entries: keys per index (datoms), log records; sizeBytes: LMDB's file; logFileBytes: the log file. */
  stats(): { entries: Record<string, number>; sizeBytes: number; logFileBytes: number } {
    const entries: Record<string, number> = { log: (this.log.getStats() as any).entryCount };
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

/** A log table value of the checksummed format: the CRC-32 of t and the record, then the record. */
function checksummed(t: number, record: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(LOG_CHECKSUM + record.length);
  value.writeUInt32LE(recordChecksum(t, record), 0);
  value.set(record, LOG_CHECKSUM);
  return value;
}
