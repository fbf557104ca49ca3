// The log file: every committed transaction's log entry, appended in t order as one framed
// record. A commit is durable once its records are fdatasynced here (one sequential write and
// one flush); LMDB commits without its own flush and is synced in the background. After an OS
// crash LMDB's file may be torn, and the indexes are rebuilt from this file alone.
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Packr } from 'msgpackr';
import { FactlogError } from '../../query-lang/errors.js';
import { decodeLogEntry, type LogEntry } from './log.js';

export const LOG_FILE = 'factlog.log';
/** The file's first bytes: a name and the record format (1). */
const MAGIC = Buffer.from('factlog log 0001', 'latin1');
export const LOG_FILE_START = MAGIC.length;
/** A record: u32 payload length, u32 CRC-32 of the payload, the payload (MessagePack). */
const FRAME = 8;
/** Larger lengths are taken for garbage (a torn or overwritten frame), not read. */
const MAX_RECORD = 1 << 30;
const READ_CHUNK = 1 << 20;

export class LogFileError extends FactlogError {}

/** A log entry as the store's LMDB log table holds it (encodeLogEntry's form), with its t. */
export interface LogRecord {
  t: number;
  encoded: unknown;
}

/** A record read back: its entry and the file offset just after it. */
export interface ReadRecord {
  entry: LogEntry;
  end: number;
}

// self-contained records: no structures shared between them
const packr = new Packr({ useRecords: false });

export class LogFile {
  /** Set when a failed append could not be undone: appending after it would hide later records. */
  private broken = false;

  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {}

  /** Set when open found no file (or an empty one) and created it. */
  created = false;

  /** Open (creating it with its header, flushed, when missing) for appending and reading. */
  static open(file: string): LogFile {
    const fresh = !fs.existsSync(file);
    const fd = fs.openSync(file, 'a+');
    const log = new LogFile(file, fd);
    if (fresh || fs.fstatSync(fd).size === 0) {
      log.created = true;
      fs.writeSync(fd, MAGIC);
      fs.fsyncSync(fd);
      syncDirectoryOf(file);
    }
    log.checkHeader();
    return log;
  }

  private checkHeader(): void {
    const head = Buffer.alloc(MAGIC.length);
    fs.readSync(this.fd, head, 0, head.length, 0);
    if (!head.equals(MAGIC)) {
      throw new LogFileError('storage/not-a-log-file', `${this.file} is not a factlog log file`);
    }
  }

  size(): number {
    return fs.fstatSync(this.fd).size;
  }

  /**
   * Append records (one write) and, when `flush`, wait until they are on disk. Returns where they
   * start and end. A failure takes the file back to where it was, so no record follows garbage.
   */
  append(records: LogRecord[], flush: boolean): { start: number; end: number } {
    if (this.broken) throw new LogFileError('storage/write-failed', `${this.file} could not be written earlier; reopen the database`);
    const start = this.size();
    const bytes = Buffer.concat(records.flatMap(frameOf));
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(this.fd, bytes, done, bytes.length - done);
      if (flush) fs.fdatasyncSync(this.fd);
    } catch (err) {
      this.truncate(start);
      throw new LogFileError('storage/write-failed', `cannot append to ${this.file}: ${(err as Error).message}`);
    }
    return { start, end: start + bytes.length };
  }

  /** Cut the file back to `size` bytes (a commit that failed after its records were appended). */
  truncate(size: number): void {
    try {
      fs.ftruncateSync(this.fd, size);
    } catch {
      this.broken = true;
    }
  }

  flush(): void {
    fs.fdatasyncSync(this.fd);
  }

  /**
   * The records from offset `from` on, in order. Stops at the first frame that is incomplete or
   * whose checksum fails: the tail of an append that a crash cut short.
   */
  *read(from: number = LOG_FILE_START): Generator<ReadRecord> {
    const size = this.size();
    let buffer: Buffer = Buffer.alloc(0);
    let bufferAt = from;
    let at = from;
    while (at + FRAME <= size) {
      if (at + FRAME > bufferAt + buffer.length) ({ buffer, bufferAt } = this.readAt(at, FRAME, size));
      const length = buffer.readUInt32LE(at - bufferAt);
      const checksum = buffer.readUInt32LE(at - bufferAt + 4);
      if (length > MAX_RECORD || at + FRAME + length > size) return;
      if (at + FRAME + length > bufferAt + buffer.length) ({ buffer, bufferAt } = this.readAt(at, FRAME + length, size));
      const payload = buffer.subarray(at - bufferAt + FRAME, at - bufferAt + FRAME + length);
      if (crc32(payload) !== checksum) return;
      const stored = packr.unpack(payload) as { t: number; tx: number; instant: number; datoms: unknown[] };
      at += FRAME + length;
      yield { entry: decodeLogEntry(stored.t, stored), end: at };
    }
  }

  /** Where the last whole record from `from` on ends (the file's valid length). */
  validEnd(from: number = LOG_FILE_START): number {
    let end = from;
    for (const record of this.read(from)) end = record.end;
    return end;
  }

  private readAt(at: number, atLeast: number, size: number): { buffer: Buffer; bufferAt: number } {
    const length = Math.min(Math.max(atLeast, READ_CHUNK), size - at);
    const buffer = Buffer.alloc(length);
    for (let done = 0; done < length; ) done += fs.readSync(this.fd, buffer, done, length - done, at + done);
    return { buffer, bufferAt: at };
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function frameOf(record: LogRecord): Buffer[] {
  const payload = packr.pack({ t: record.t, ...(record.encoded as object) });
  const frame = Buffer.alloc(FRAME);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  // pack's buffer is reused by the next pack: copy it
  return [frame, Buffer.from(payload)];
}

/** Make a new directory entry durable (the file's own fsync does not cover its name). */
export function syncDirectoryOf(file: string): void {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
