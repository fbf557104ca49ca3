// LMDB's log table, in each format's encoding: records by t, checked on every read (checksummed
// formats), and the hash chain (log-chain.ts) extended with each record put.
import path from 'node:path';
import type { Database, RootDatabase } from 'lmdb';
import { decodeLogEntry, encodeLogEntry, encodeLogRecord, type LogEntry } from './log.js';
import { LogChain } from './log-chain.js';
import { LOG_FILE, recordChecksum } from './log-file.js';
import { BINARY_LOG_FORMAT, CHECKSUMMED_LOG_FORMAT, DATA_FILE, LOG_CHECKSUM, logDbOptions, StorageError } from './store-format.js';

export class LogTable {
  private readonly log: Database<any, number>;
  /** The log's hash chain, extended with each record put. */
  readonly chain: LogChain;

  constructor(
    env: RootDatabase,
    private readonly dir: string,
    private readonly format: number,
  ) {
    this.log = env.openDB('log', logDbOptions(format));
    this.chain = new LogChain(env, (t) => this.recordAt(t));
  }

  /**
   * A log record (encodeLogRecord's bytes) into the table, in the database's format; `entry`
   * gives the entry itself for the formats that store it as msgpack.
   */
  put(t: number, record: Uint8Array, entry: () => LogEntry): void {
    this.log.putSync(t, this.format >= CHECKSUMMED_LOG_FORMAT ? checksummed(t, record) : this.format >= BINARY_LOG_FORMAT ? record : encodeLogEntry(entry()));
    this.chain.extend(t, record);
  }

  entry(t: number): LogEntry | undefined {
    const raw = this.log.get(t);
    return raw === undefined ? undefined : this.decode(t, raw);
  }

  /** Entries with from <= t < to, oldest first. */
  *range(from: number, to: number): Generator<LogEntry> {
    for (const { key, value } of this.log.getRange({ start: from, end: Math.min(to, 0xffffffff) })) {
      yield this.decode(key as number, value);
    }
  }

  /** The record of t as encodeLogRecord's bytes (checked). */
  recordAt(t: number): Uint8Array | undefined {
    const raw = this.log.get(t);
    return raw === undefined ? undefined : this.storedRecord(t, raw);
  }

  /** Every record as encodeLogRecord's bytes, oldest first. */
  *records(): Generator<{ t: number; bytes: Uint8Array }> {
    for (const { key, value } of this.log.getRange({})) yield { t: key as number, bytes: this.storedRecord(key as number, value) };
  }

  isEmpty(): boolean {
    for (const _ of this.log.getKeys({ limit: 1 })) return false;
    return true;
  }

  entryCount(): number {
    return (this.log.getStats() as { entryCount: number }).entryCount;
  }

  /**
   * A table value back to its entry. A value that fails its checksum (format 5 on) or cannot be
   * decoded was damaged on disk: an error, never a different transaction.
   */
  private decode(t: number, stored: unknown): LogEntry {
    try {
      return decodeLogEntry(t, this.format >= CHECKSUMMED_LOG_FORMAT ? this.checkedBytes(t, stored) : (stored as Uint8Array));
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw this.damaged(t, `cannot be decoded (${(err as Error).message})`);
    }
  }

  /** A table value as encodeLogRecord's bytes, checked when the format has checksums. */
  private storedRecord(t: number, stored: unknown): Uint8Array {
    if (this.format >= CHECKSUMMED_LOG_FORMAT) return this.checkedBytes(t, stored);
    if (this.format >= BINARY_LOG_FORMAT && stored instanceof Uint8Array) return stored;
    return encodeLogRecord(this.decode(t, stored));
  }

  private checkedBytes(t: number, stored: unknown): Uint8Array {
    if (!(stored instanceof Uint8Array) || stored.length < LOG_CHECKSUM) throw this.damaged(t, 'is not a checksummed record');
    const value = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
    const bytes = value.subarray(LOG_CHECKSUM);
    if (recordChecksum(t, bytes) !== value.readUInt32LE(0)) throw this.damaged(t, 'fails its checksum');
    return bytes;
  }

  private damaged(t: number, what: string): StorageError {
    return new StorageError(
      'storage/mdb-damaged',
      `${path.join(this.dir, DATA_FILE)} is damaged: the log record of t=${t} ${what} (restore a backup, or move ${DATA_FILE} aside and open the database for writing to rebuild it from ${LOG_FILE})`,
    );
  }
}

/** A table value of the checksummed format: the CRC-32 of t and the record, then the record. */
function checksummed(t: number, record: Uint8Array): Buffer {
  const value = Buffer.allocUnsafe(LOG_CHECKSUM + record.length);
  value.writeUInt32LE(recordChecksum(t, record), 0);
  value.set(record, LOG_CHECKSUM);
  return value;
}
