// The LMDB environment of one factlog database directory: the log (source of truth), the current
// indexes (datoms true now), the history indexes (datoms retracted, with the t that retracted them)
// and a small meta table. Knows nothing of queries or transactions' meaning: it stores and scans.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { FactlogError } from '../../query-lang/errors.js';
import { addLongValueSource, datomFromKey, indexKey, KEY_SLOTS, longValueEntry, rawFromKey, Tag, tagInKey, keyPayload, type Payload, TX_BASE as TX_BASE_ID, type IndexName, type KeyPart, type RawDatom } from './encoding.js';
import type { Datom } from '../db/api.js';
import { decodeLogEntry, encodeLogEntry, encodeLogParts, encodeLogRecord, toLogEntry, type LogEntry } from './log.js';
import { KEY_CODEC, KEY_MAX_STRING } from './key-codec.js';
import { enterDirectory, isClaimFile } from './dir-claims.js';
import { isGateTicket, throughEnvironmentGate } from './env-gate.js';

/**
 * 3: log records in factlog's own bytes (log.ts). 2: index keys in factlog's own byte form
 * (key-codec.ts). 1: index keys in lmdb-js's default encoding (ordered-binary). Older formats are
 * still read and written, so databases made before keep working, with older factlogs too.
 */
export const FORMAT_VERSION = 3;
/** The first format whose index keys use key-codec.ts. */
const COMPACT_KEYS_FORMAT = 2;
/** The first format whose log records use encodeLogRecord. */
const BINARY_LOG_FORMAT = 3;
export const DATA_FILE = 'factlog.mdb';
export const INDEXES: IndexName[] = ['eavt', 'aevt', 'avet', 'vaet'];
const DB_NAMES = ['meta', 'log', 'values', ...INDEXES, ...INDEXES.map((i) => `${i}.history`)];

const EMPTY = Buffer.alloc(0);
/** Sorts after any key element we store; closes a prefix range. */
export const KEY_MAX = KEY_MAX_STRING;

export class StorageError extends FactlogError {}

/**
 * Stores not closed yet. At exit they are closed through the gate (env-gate.ts); lmdb-js would
 * otherwise close them in its own exit hook, outside it.
 */
const openStores = new Set<Store>();
let exitHookAdded = false;

function closeAtExit(store: Store): void {
  if (!exitHookAdded) process.once('exit', () => [...openStores].forEach((open) => void open.close()));
  exitHookAdded = true;
  openStores.add(store);
}

/** The LMDB environment a store opens (also what bench/raw-writes.ts measures against). */
export function environmentOptions(file: string, options: Omit<StoreOptions, 'path'>) {
  return {
    path: file,
    maxDbs: 16,
    mapSize: options.mapSize ?? 64 * 1024 ** 3,
    noSync: options.noSync ?? options.durability === 'process',
    // commits are flushed inside the commit call, so a commit that returned is on disk
    overlappingSync: false,
    readOnly: options.readOnly ?? false,
  };
}

export const LOG_DB_OPTIONS = { keyEncoding: 'uint32' } as const;

/** An index database of a store of this format: keys in its encoding, empty values. */
export function indexDbOptions(format: number): any {
  return { encoding: 'binary', ...(format >= COMPACT_KEYS_FORMAT ? { keyEncoder: KEY_CODEC } : {}) };
}

export interface StoreOptions {
  path: string;
  /** Create the database when the directory is missing or empty (default true). */
  create?: boolean;
  readOnly?: boolean;
  /** Initial LMDB map size in bytes; lmdb-js grows the map as the data grows. */
  mapSize?: number;
  /** Skip fsync (tests and benchmarks only: acknowledged transactions may be lost on a crash). */
  noSync?: boolean;
  /**
   * What a resolved transact survives. 'os' (the default): every commit is fsynced before it
   * resolves, so it survives a power loss or OS crash; one fsync per commit bounds sequential
   * awaited transacts to a few hundred per second (concurrent ones share commits).
   * 'process': commits are written to the file (the OS page cache) but not fsynced, so a
   * resolved transact survives the process being killed (SIGKILL, a crash) but the last ones
   * may be lost, never half-applied (LMDB's copy-on-write keeps the file consistent), on power
   * loss or a kernel crash. Several times more sequential transacts per second. For one process
   * only: while such a writer is open, other processes may not open the directory (see
   * dir-claims.ts).
   */
  durability?: 'os' | 'process';
  /** Create a new database in this older format (to test that older databases keep working). */
  createFormat?: number;
}

/** A write waiting for the next group commit. */
interface QueuedWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/** A retraction to store: the datom as it was asserted (tx = asserting tx) and the retracting tx. */
export interface Retraction {
  raw: RawDatom;
  txRetracted: number;
  keepHistory: boolean;
}

export interface Meta {
  lastT: number;
  nextEid: number;
  lastInstant: number;
}

export class Store {
  readonly dir: string;
  private readonly env: RootDatabase;
  private readonly meta: Database<any, string>;
  private readonly log: Database<any, number>;
  /** Long values (see keyPayload in encoding.ts) by their SHA-256. */
  private readonly values: Database<string, string>;
  private readonly withdrawValues: () => void;
  private readonly current: Record<IndexName, Database<Buffer, any>>;
  private readonly history: Record<IndexName, Database<Buffer, any>>;
  readonly readOnly: boolean;
  /** The format this database was created in (FORMAT_VERSION for a new one): decides the key encoding. */
  readonly format: number;

  private constructor(dir: string, options: StoreOptions) {
    this.dir = dir;
    this.readOnly = options.readOnly ?? false;
    this.env = openLmdb(environmentOptions(path.join(dir, DATA_FILE), options));
    this.meta = this.env.openDB('meta', {});
    this.log = this.env.openDB('log', LOG_DB_OPTIONS);
    this.values = this.env.openDB('values', {});
    this.withdrawValues = addLongValueSource((hash) => this.values.get(hash));
    this.format = this.meta.get('formatVersion') ?? options.createFormat ?? FORMAT_VERSION;
    const indexDb = (name: string) => this.env.openDB<Buffer, any>(name, indexDbOptions(this.format));
    this.current = { eavt: indexDb('eavt'), aevt: indexDb('aevt'), avet: indexDb('avet'), vaet: indexDb('vaet') };
    this.history = {
      eavt: indexDb(`eavt.history`),
      aevt: indexDb(`aevt.history`),
      avet: indexDb(`avet.history`),
      vaet: indexDb(`vaet.history`),
    };
  }

  static open(options: StoreOptions): { store: Store; created: boolean } {
    const dir = path.resolve(options.path);
    const exists = fs.existsSync(dir);
    if (exists && !fs.statSync(dir).isDirectory()) {
      throw new StorageError('storage/not-a-database', `${dir} is a file, not a factlog database directory`);
    }
    const dataFile = path.join(dir, DATA_FILE);
    const hasData = fs.existsSync(dataFile);
    if (!hasData) {
      const empty = !exists || fs.readdirSync(dir).every((name) => isClaimFile(name) || isGateTicket(name));
      if (!empty) {
        throw new StorageError('storage/not-a-database', `${dir} is not a factlog database (no ${DATA_FILE} in it)`);
      }
      if (options.create === false || options.readOnly) {
        throw new StorageError('storage/no-database', `no factlog database at ${dir}`);
      }
      fs.mkdirSync(dir, { recursive: true });
    }
    if (hasData) assertLmdbFile(dataFile, options.readOnly ?? false);
    const unsynced = !(options.readOnly ?? false) && environmentOptions(dataFile, options).noSync;
    const leaveDirectory = enterDirectory(dir, unsynced);
    let store: Store;
    try {
      store = throughEnvironmentGate(dir, () => new Store(dir, options));
    } catch (err) {
      leaveDirectory();
      throw new StorageError('storage/open-failed', `cannot open ${dir}: ${(err as Error).message}`);
    }
    store.leaveDirectory = leaveDirectory;
    store.soleProcess = unsynced;
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
      throw new StorageError(
        'storage/newer-format',
        `${dir} was written by a newer factlog (format ${version}; this version reads up to ${FORMAT_VERSION})`,
      );
    }
    return { store, created: version === undefined };
  }

  close(): Promise<void> {
    openStores.delete(this);
    this.withdrawValues();
    this.leaveDirectory();
    // lmdb-js closes the environment within this call, as our writes are all synchronous
    return throughEnvironmentGate(this.dir, () => this.env.close());
  }

  /**
   * Withdraws this store's presence from the directory (dir-claims.ts). A writer whose commits
   * LMDB does not flush loses commits when another process opens the environment meanwhile
   * (measured: 2-52 acknowledged commits lost in 4 s of another process opening and closing;
   * flushed commits lose none), apparently because opening sets the lock file's last txn id from
   * the data file's header (mdb_env_open2), so the writer's next transaction can start from the
   * older meta page and overwrite the newer. So such a writer must be the only process there.
   */
  private leaveDirectory: () => void = () => {};
  /** True for a writer that does not flush: no other process may open its directory meanwhile. */
  private soleProcess = false;

  /**
   * True for a file created but never bootstrapped: our named databases hold nothing and the
   * main database holds nothing but their names (an LMDB file written by anything else is not empty).
   */
  private isEmpty(): boolean {
    const names = new Set(DB_NAMES);
    for (const key of this.env.getKeys()) if (!names.has(String(key))) return false;
    const dbs = [this.meta, this.log, ...Object.values(this.current), ...Object.values(this.history)];
    return dbs.every((db) => {
      for (const _ of db.getKeys({ limit: 1 })) return false;
      return true;
    });
  }

  // ---------------- meta ----------------

  readMeta(): Meta {
    return {
      lastT: this.meta.get('lastT') ?? -1,
      nextEid: this.meta.get('nextEid') ?? 0,
      lastInstant: this.meta.get('lastInstant') ?? 0,
    };
  }

  /** The last committed t, read from the same snapshot as the scans that follow it in this tick. */
  lastT(): number {
    return this.meta.get('lastT') ?? -1;
  }

  attrCount(a: number): number {
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
    return new Promise<T>((resolve, reject) => {
      this.queuedWrites.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.queuedWrites.length === 1) setImmediate(() => this.commitQueuedWrites());
    });
  }

  private readonly queuedWrites: QueuedWrite[] = [];
  /** LMDB commits made by this process (each one flush): fewer than writes when they were grouped. */
  commitCount = 0;

  /**
   * One synchronous LMDB commit for every queued write. A synchronous commit returns after the
   * flush (no hand-off to lmdb-js's write thread), which is what bounds sequential transacts.
   */
  private commitQueuedWrites(): void {
    const batch = this.queuedWrites.splice(0);
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const commit = () =>
      this.env.transactionSync(() => {
        for (const queued of batch) {
          try {
            let value: unknown;
            this.env.childTransaction(() => {
              value = queued.write();
            });
            outcomes.push({ ok: true, value });
          } catch (err) {
            outcomes.push({ ok: false, value: err });
          }
        }
      });
    try {
      // a writer that has the directory to itself (dir-claims.ts) has no other process to wait for
      if (this.soleProcess) commit();
      else throughEnvironmentGate(this.dir, commit);
    } catch (err) {
      const failure = commitFailure(err);
      for (const queued of batch) queued.reject(failure);
      return;
    }
    this.commitCount++;
    batch.forEach((queued, i) => (outcomes[i]!.ok ? queued.resolve(outcomes[i]!.value) : queued.reject(outcomes[i]!.value)));
  }

  /** Inside a write transaction: append a log entry and apply it to the indexes. */
  putTransaction(head: { t: number; tx: number; instant: number }, asserted: RawDatom[], retracted: Retraction[], meta: Meta): void {
    const parts = { ...head, retracted: retracted.map((r) => r.raw), asserted };
    this.log.putSync(head.t, this.format >= BINARY_LOG_FORMAT ? encodeLogParts(parts) : encodeLogEntry(toLogEntry(parts)));
    const counts = new Map<number, number>();
    const bump = (a: number, n: number) => counts.set(a, (counts.get(a) ?? 0) + n);
    for (const r of retracted) {
      this.removeCurrent(r.raw);
      if (r.keepHistory) this.putHistory(r.raw, r.txRetracted);
      bump(r.raw.a, -1);
    }
    if (asserted.length < SORT_THRESHOLD) {
      for (const d of asserted) this.putCurrent(d);
    } else {
      // Big transactions: put each index's keys in key order. LMDB then fills pages left to
      // right and touches each page once instead of at random (about twice as fast).
      // One key array is reused: lmdb-js encodes the key during the put.
      const order = keyOrders(asserted);
      for (const index of INDEXES) {
        const db = this.current[index];
        const key: KeyPart[] = index === 'vaet' ? [0, 0, 0, 0] : [0, 0, 0, 0, 0];
        for (const datoms of order[index]) for (const d of datoms) db.putSync(indexKey(index, d, key), EMPTY);
      }
    }
    for (const d of asserted) {
      bump(d.a, 1);
      this.putLongValue(d);
    }
    for (const [a, n] of counts) if (n !== 0) this.meta.putSync(`count:${a}`, this.attrCount(a) + n);
    this.putMeta(meta);
  }

  private putLogEntry(entry: LogEntry): void {
    this.log.putSync(entry.t, this.format >= BINARY_LOG_FORMAT ? encodeLogRecord(entry) : encodeLogEntry(entry));
  }

  private putLongValue(d: RawDatom): void {
    const entry = longValueEntry(d.payload);
    if (entry) this.values.putSync(entry[0], entry[1]);
  }

  putMeta(meta: Meta): void {
    if (this.meta.get('formatVersion') === undefined) this.meta.putSync('formatVersion', this.format);
    this.meta.putSync('lastT', meta.lastT);
    this.meta.putSync('nextEid', meta.nextEid);
    this.meta.putSync('lastInstant', meta.lastInstant);
  }

  private putCurrent(d: RawDatom): void {
    for (const index of INDEXES) {
      if (index === 'vaet' && d.tag !== Tag.Ref) continue;
      this.current[index].putSync(indexKey(index, d), EMPTY);
    }
  }

  private removeCurrent(d: RawDatom): void {
    for (const index of INDEXES) {
      if (index === 'vaet' && d.tag !== Tag.Ref) continue;
      this.current[index].removeSync(indexKey(index, d));
    }
  }

  private putHistory(d: RawDatom, txRetracted: number): void {
    for (const index of INDEXES) {
      if (index === 'vaet' && d.tag !== Tag.Ref) continue;
      this.history[index].putSync([...indexKey(index, d), txRetracted], EMPTY);
    }
  }

  // ---------------- reading ----------------

  /** Current datoms whose key starts with `prefix`, in index order. */
  *scanCurrent(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): Generator<RawDatom> {
    for (const key of this.current[index].getKeys(rangeOf(prefix, end))) {
      yield rawFromKey(index, key as KeyPart[]);
    }
  }

  /** The raw keys of the current or history part of an index in [prefix, end), in key order. */
  keys(which: 'current' | 'history', index: IndexName, prefix: KeyPart[], end?: KeyPart[]): Iterable<KeyPart[]> {
    return (which === 'current' ? this.current : this.history)[index].getKeys(rangeOf(prefix, end)) as Iterable<KeyPart[]>;
  }

  /** Current datoms decoded straight from their keys: the fast path for reading "now". */
  *scanCurrentDatoms(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): Generator<Datom> {
    for (const key of this.current[index].getKeys(rangeOf(prefix, end))) yield datomFromKey(index, key as KeyPart[]);
  }

  /**
   * Visit current datoms without allocating a Datom each: the engine's hot path. The value comes
   * as tag + payload; `decodeValue` turns it into a JS value when the caller needs one.
   */
  visitCurrent(
    index: IndexName,
    prefix: KeyPart[],
    end: KeyPart[] | undefined,
    visit: (e: number, a: number, tag: Tag, payload: Payload, tx: number) => void,
  ): void {
    const s = KEY_SLOTS[index];
    for (const k of this.current[index].getKeys(rangeOf(prefix, end)) as Iterable<KeyPart[]>) {
      visit(k[s.e] as number, k[s.a] as number, tagInKey(index, k), k[s.payload], k[s.tx] as number);
    }
  }

  /** Visit retracted datoms with the tx that asserted and the tx that retracted each. */
  visitHistory(
    index: IndexName,
    prefix: KeyPart[],
    end: KeyPart[] | undefined,
    visit: (e: number, a: number, tag: Tag, payload: Payload, txAsserted: number, txRetracted: number) => void,
  ): void {
    const s = KEY_SLOTS[index];
    for (const k of this.history[index].getKeys(rangeOf(prefix, end)) as Iterable<KeyPart[]>) {
      visit(k[s.e] as number, k[s.a] as number, tagInKey(index, k), k[s.payload], k[s.tx] as number, k[s.tx + 1] as number);
    }
  }

  /** Retracted datoms (with the tx that retracted them) whose key starts with `prefix`. */
  *scanHistory(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): Generator<{ raw: RawDatom; txRetracted: number }> {
    const slot = KEY_SLOTS[index].tx + 1;
    for (const key of this.history[index].getKeys(rangeOf(prefix, end))) {
      const k = key as KeyPart[];
      yield { raw: rawFromKey(index, k), txRetracted: k[slot] as number };
    }
  }

  /** Number of current keys with this prefix; exact, but costs a scan of them. */
  countCurrent(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): number {
    return this.current[index].getKeysCount(rangeOf(prefix, end));
  }

  hasHistory(index: IndexName, prefix: KeyPart[], end?: KeyPart[]): boolean {
    for (const _ of this.history[index].getKeys({ ...rangeOf(prefix, end), limit: 1 })) return true;
    return false;
  }

  logEntry(t: number): LogEntry | undefined {
    const raw = this.log.get(t);
    return raw === undefined ? undefined : decodeLogEntry(t, raw);
  }

  /** Log entries with from <= t < to, oldest first. */
  *logRange(from = 0, to = Number.MAX_SAFE_INTEGER): Generator<LogEntry> {
    for (const { key, value } of this.log.getRange({ start: from, end: Math.min(to, 0xffffffff) })) {
      yield decodeLogEntry(key as number, value);
    }
  }

  /** Drop every index and rebuild it from the log alone (one write transaction). */
  async rebuildIndexes(keepHistory: (a: number, entry: LogEntry) => boolean): Promise<void> {
    await this.writeTransaction(() => {
      for (const index of INDEXES) {
        this.current[index].clearSync();
        this.history[index].clearSync();
      }
      for (const key of [...this.meta.getKeys()]) if (String(key).startsWith('count:')) this.meta.removeSync(key);
      for (const entry of this.logRange()) this.indexLogEntry(entry, keepHistory);
    });
  }

  /**
   * Inside a write transaction: append log entries written elsewhere (a replica following its
   * primary) and index them, keeping their t, tx and entity ids.
   */
  appendLogEntries(entries: LogEntry[], keepHistory: (a: number, entry: LogEntry) => boolean): void {
    let meta = this.readMeta();
    for (const entry of entries) {
      if (entry.t !== meta.lastT + 1) {
        throw new StorageError('storage/log-gap', `log entry t=${entry.t} does not follow t=${meta.lastT}`);
      }
      this.putLogEntry(entry);
      this.indexLogEntry(entry, keepHistory);
      let nextEid = meta.nextEid;
      for (const d of entry.datoms) if (d.e < TX_BASE_ID && d.e >= nextEid) nextEid = d.e + 1;
      meta = { lastT: entry.t, nextEid, lastInstant: entry.instant };
    }
    this.putMeta(meta);
  }

  /** Apply one log entry's datoms to the indexes and per-attribute counts. */
  private indexLogEntry(entry: LogEntry, keepHistory: (a: number, entry: LogEntry) => boolean): void {
    const counts = new Map<number, number>();
    for (const d of entry.datoms) {
      const raw: RawDatom = { e: d.e, a: d.a, tag: d.tag, payload: d.payload, tx: entry.tx };
      if (d.added) {
        this.putCurrent(raw);
        this.putLongValue(raw);
        counts.set(d.a, (counts.get(d.a) ?? 0) + 1);
      } else {
        const asserted = this.findCurrent(raw);
        if (!asserted) continue;
        this.removeCurrent(asserted);
        if (keepHistory(d.a, entry)) this.putHistory(asserted, entry.tx);
        counts.set(d.a, (counts.get(d.a) ?? 0) - 1);
      }
    }
    for (const [a, n] of counts) if (n !== 0) this.meta.putSync(`count:${a}`, this.attrCount(a) + n);
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

  /** Set when this database is a read replica: the primary it follows. */
  replicaOf(): string | undefined {
    return this.meta.get('replicaOf');
  }

  markReplicaOf(source: string): void {
    this.meta.putSync('replicaOf', source);
  }

  /** The current datom for fact (e, a, v) with the tx that asserted it. */
  findCurrent(d: Pick<RawDatom, 'e' | 'a' | 'tag' | 'payload'>): RawDatom | undefined {
    for (const raw of this.scanCurrent('eavt', [d.e, d.a, d.tag, d.payload])) return raw;
    return undefined;
  }

  /** Every key of an index (current and history), for comparing indexes in tests and tools. */
  dumpIndex(index: IndexName, which: 'current' | 'history'): KeyPart[][] {
    const db = which === 'current' ? this.current[index] : this.history[index];
    return [...db.getKeys({})] as KeyPart[][];
  }

  stats(): { entries: Record<string, number>; sizeBytes: number } {
    const entries: Record<string, number> = { log: (this.log.getStats() as any).entryCount };
    for (const index of INDEXES) {
      entries[index] = (this.current[index].getStats() as any).entryCount;
      entries[`${index}.history`] = (this.history[index].getStats() as any).entryCount;
    }
    const file = path.join(this.dir, DATA_FILE);
    return { entries, sizeBytes: fs.existsSync(file) ? fs.statSync(file).size : 0 };
  }

  /** Drop the cached read snapshot so the next read sees other processes' commits. */
  refresh(): void {
    this.env.resetReadTxn();
  }
}

/**
 * A failed LMDB commit (disk full, I/O error) carries its cause in a `commitError` promise that
 * would otherwise be an unhandled rejection and end the process; errors of our own pass through.
 */
function commitFailure(err: unknown): unknown {
  const commitError = (err as { commitError?: Promise<unknown> } | null)?.commitError;
  if (!commitError || typeof commitError.catch !== 'function') return err;
  commitError.catch(() => undefined);
  return new StorageError('storage/write-failed', `the commit could not be written (disk full or I/O error); nothing of it was applied`);
}

/** LMDB's meta page magic (0xBEEFC0DE, little-endian) at byte 24; anything else would crash the native library. */
const LMDB_MAGIC_OFFSET = 24;
const LMDB_MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);

function assertLmdbFile(file: string, readOnly: boolean): void {
  const stat = fs.statSync(file);
  if (stat.isDirectory()) throw new StorageError('storage/not-a-database', `${file} is a directory, not a factlog data file`);
  if (stat.size === 0) {
    // created, never written: LMDB initialises it when opening for writing
    if (readOnly) throw new StorageError('storage/not-a-database', `${file} is empty: the database was never initialised`);
    return;
  }
  const head = Buffer.alloc(LMDB_MAGIC_OFFSET + 4);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (!head.subarray(LMDB_MAGIC_OFFSET).equals(LMDB_MAGIC)) {
    throw new StorageError('storage/not-a-database', `${file} is not an LMDB file written by factlog`);
  }
}

/** Below this many datoms a transaction's keys are put as they come. */
const SORT_THRESHOLD = 64;

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
 * split by attribute gives AEVT's order, and sorting each attribute's run by value AVET's:
 * sorts of one attribute's datoms instead of three sorts of all of them.
 */
function keyOrders(asserted: RawDatom[]): Record<IndexName, RawDatom[][]> {
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
    avet: aevt.map((run) => sortedBy(run, VALUE_ORDER)),
    vaet: [asserted.filter((d) => d.tag === Tag.Ref).sort(VAET_ORDER)],
  };
}

/** `datoms` in `order`: itself when already in order, else a sorted copy. */
function sortedBy(datoms: RawDatom[], order: (x: RawDatom, y: RawDatom) => number): RawDatom[] {
  for (let i = 1; i < datoms.length; i++) if (order(datoms[i - 1]!, datoms[i]!) > 0) return datoms.slice().sort(order);
  return datoms;
}

function rangeOf(prefix: KeyPart[], end?: KeyPart[]) {
  // long values are found by their markers, whatever form the caller holds them in
  prefix = prefix.map(keyPayload);
  if (end) end = end.map(keyPayload);
  return { start: prefix.length ? prefix : undefined, end: end ?? (prefix.length ? [...prefix, KEY_MAX] : undefined) } as any;
}
