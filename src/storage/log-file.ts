// The log file: every committed transaction's log entry, appended in t order as one framed
// record. A commit is durable once its records are fdatasynced here (one sequential write and
// one flush); LMDB commits without its own flush and is synced in the background. After an OS
// crash LMDB's file may be torn, and the indexes are rebuilt from this file alone.
//
// The file is grown ahead of the records, with zeros actually written: a record then overwrites
// allocated blocks and leaves the size alone, so its fdatasync need not commit the file system's
// journal (which would also wait for LMDB's newly allocated pages). A zero length ends the log
// (unless whole records follow a zeroed one: that is damage, see read).
// Where the records end is not the file's size: the caller (the store) keeps it.
import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { FactlogError } from '../../query-lang/errors.js';
import { decodeLogEntry, type LogEntry } from './log.js';

export const LOG_FILE = 'factlog.log';
/** The file's first bytes: a name and the record format (1). */
const MAGIC = Buffer.from('factlog log 0001', 'latin1');
export const LOG_FILE_START = MAGIC.length;
/**
 * A record: u32 length of what follows the frame, u32 CRC-32 of it, then its t as u32 (the log
 * table's key) and the log record's bytes (log.ts's encodeLogRecord: the format-3 form whatever
 * the database's format).
 */
const FRAME = 8;
const T_SIZE = 4;
/** Larger lengths are taken for garbage (a torn or overwritten frame), not read. */
const MAX_RECORD = 1 << 30;
const READ_CHUNK = 1 << 20;
/** The file grows by its own size (at least MIN_GROW, at most MAX_GROW) at a time. */
const MIN_GROW = 64 << 10;
const MAX_GROW = 8 << 20;
const ZEROS = Buffer.alloc(1 << 20);
/** The smallest framed record: a frame, a t and log.ts's record header (version, tx, instant, count). */
const MIN_FRAMED_RECORD = FRAME + T_SIZE + 21;
/** How many transactions after a damaged record are looked for: one damaged record, or a few in a row. */
const DAMAGE_REACH = 4;
const END_OF_LOG = Buffer.alloc(FRAME);

export class LogFileError extends FactlogError {}

/** A transaction's log record (encodeLogRecord's bytes) with its t. */
export interface LogRecord {
  t: number;
  bytes: Uint8Array;
}

/** A record read back: its entry, its bytes (encodeLogRecord's) and the file offset just after it. */
export interface ReadRecord {
  entry: LogEntry;
  bytes: Uint8Array;
  end: number;
}

export class LogFile {
  /** Set when a failed append could not be undone: its record could be replayed. */
  private broken = false;
  /** The file's size as last seen: zeros from the last record to here. */
  private allocated = 0;

  private constructor(
    readonly file: string,
    private readonly fd: number,
  ) {}

  /** Open (creating it with its header, flushed, when missing) for appending and reading. */
  static open(file: string): LogFile {
    // never truncate: another process may have created the file and written to it meanwhile
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT);
    const log = new LogFile(file, fd);
    if (fs.fstatSync(fd).size === 0) {
      fs.writeSync(fd, MAGIC, 0, MAGIC.length, 0);
      fs.fsyncSync(fd);
      syncDirectoryOf(file);
    }
    log.checkHeader();
    log.allocated = log.size();
    return log;
  }

  /** Open an existing log file read-only (to verify it): records are read, never written. */
  static openForReading(file: string): LogFile {
    const log = new LogFile(file, fs.openSync(file, 'r'));
    try {
      log.checkHeader();
    } catch (err) {
      log.close();
      throw err;
    }
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
   * Write records (one write) at `at`, where the last record ends, and, when `flush`, wait until
   * they are on disk. Returns where they start and end. A failure zeroes what it wrote.
   */
  append(records: LogRecord[], flush: boolean, at: number): { start: number; end: number } {
    if (this.broken) throw new LogFileError('storage/write-failed', `${this.file} could not be written earlier; reopen the database`);
    // a zero frame after the records ends the log there, whatever an earlier append left beyond
    // (records of a writer that died before LMDB committed them, which a later reader must not
    // take for the next ones)
    const bytes = Buffer.concat([...records.flatMap(frameOf), END_OF_LOG]);
    const end = at + bytes.length - END_OF_LOG.length;
    try {
      // the zeros that end the log must follow the records: grow first
      if (end + FRAME > this.allocated) this.grow(end + FRAME);
      writeFully(this.fd, bytes, at);
      if (flush) fs.fdatasyncSync(this.fd);
    } catch (err) {
      this.undo(at, end);
      throw new LogFileError('storage/write-failed', `cannot append to ${this.file}: ${(err as Error).message}`);
    }
    return { start: at, end };
  }

  /** Zeros from the file's real size (another process may have grown it) to at least `size`. */
  private grow(size: number): void {
    this.allocated = this.size();
    if (size <= this.allocated) return;
    const target = Math.max(size, this.allocated + Math.min(Math.max(this.allocated, MIN_GROW), MAX_GROW));
    for (let at = this.allocated; at < target; at += ZEROS.length) writeFully(this.fd, ZEROS.subarray(0, Math.min(ZEROS.length, target - at)), at);
    this.allocated = target;
  }

  /**
   * Zero the records in [start, end), flushed: a commit that failed after they were written must
   * not be replayed after a crash. When even that fails, the file takes no more records.
   */
  undo(start: number, end: number): void {
    try {
      for (let at = start; at < end; at += ZEROS.length) writeFully(this.fd, ZEROS.subarray(0, Math.min(ZEROS.length, end - at)), at);
      fs.fdatasyncSync(this.fd);
    } catch {
      this.broken = true;
    }
  }

  /** Cut the file at `size` (a torn record found on opening, and whatever followed it). */
  truncate(size: number): void {
    fs.ftruncateSync(this.fd, size);
    fs.fdatasyncSync(this.fd);
    this.allocated = size;
  }

  /** True when `at` holds a zero frame header or the file ends there: the log ends at `at`. */
  endsAt(at: number): boolean {
    const head = Buffer.alloc(FRAME);
    const read = fs.readSync(this.fd, head, 0, FRAME, at);
    return head.subarray(0, read).every((b) => b === 0);
  }

  flush(): void {
    fs.fdatasyncSync(this.fd);
  }

  /**
   * The records from offset `from` on, in order. Stops at a zero length (the end), at the first
   * frame that is incomplete or whose checksum fails (an append that a crash cut short), and at a
   * whole record whose t does not follow on (`firstT` first, when given): whatever it is, it is
   * not the next transaction, and replaying it would index it as one. A bad or zeroed record with
   * the next transactions' records after it is damage, not a torn tail: see assertTornTail.
   */
  *read(from: number = LOG_FILE_START, firstT?: number): Generator<ReadRecord> {
    let nextT = firstT;
    const size = this.size();
    let buffer: Buffer = Buffer.alloc(0);
    let bufferAt = from;
    let at = from;
    while (at + FRAME <= size) {
      if (at + FRAME > bufferAt + buffer.length) ({ buffer, bufferAt } = this.readAt(at, FRAME, size));
      const length = buffer.readUInt32LE(at - bufferAt);
      const checksum = buffer.readUInt32LE(at - bufferAt + 4);
      if (length === 0 && checksum === 0) return this.assertTornTail(at, nextT, 'zeroed', size);
      if (length < T_SIZE || length > MAX_RECORD || at + FRAME + length > size) return this.assertTornTail(at, nextT, 'garbled', size);
      if (at + FRAME + length > bufferAt + buffer.length) ({ buffer, bufferAt } = this.readAt(at, FRAME + length, size));
      const payload = buffer.subarray(at - bufferAt + FRAME, at - bufferAt + FRAME + length);
      if (crc32(payload) !== checksum) return this.assertTornTail(at, nextT, 'garbled', size);
      const t = payload.readUInt32LE(0);
      if (nextT !== undefined && t !== nextT) return;
      nextT = t + 1;
      at += FRAME + length;
      const bytes = payload.subarray(T_SIZE);
      yield { entry: decodeLogEntry(t, bytes), bytes, end: at };
    }
  }

  /**
   * Reading stopped at `at`, where the record of `nextT` should be. A crash leaves a torn record
   * only at the end, with zeros (grown ahead), the zero frame an append ends with, or a dead
   * writer's leftovers after it; so a whole record of a later t found after `at` means the bytes
   * at `at` were damaged after they were written, and cutting there would lose the records after
   * it. Zeros at `at` count as a zeroed record only when a whole record's worth of them is there:
   * an append's own end-of-log frame is shorter, and what a dead writer left after it is not
   * read. A whole record that needs no other to be missing (the same t) proves nothing.
   */
  private assertTornTail(at: number, nextT: number | undefined, found: 'zeroed' | 'garbled', size: number): void {
    if (nextT === undefined) return;
    if (found === 'zeroed' && !this.zeroedFor(at, MIN_FRAMED_RECORD, size)) return;
    const later = this.findWholeRecord(at + 1, nextT + 1, DAMAGE_REACH, size);
    if (!later) return;
    const what = found === 'zeroed' ? 'is zeroed' : 'is garbled (its checksum or length is wrong)';
    throw new LogFileError(
      'storage/log-damaged',
      `${this.file} is damaged at byte ${at}: the record of t=${nextT} there ${what}, but a whole record of t=${later.t} follows at byte ${later.at}. ` +
        `Nothing was changed; restore the database from a backup (the records after the damage are intact)`,
    );
  }

  /** True when `length` bytes from `at` (or all to the end of the file) are zeros. */
  private zeroedFor(at: number, length: number, size: number): boolean {
    return this.readExactly(at, Math.min(length, size - at)).every((b) => b === 0);
  }

  /** The first whole record (length in bounds, checksum right) of t in [firstT, firstT + reach) starting at or after `from`. */
  private findWholeRecord(from: number, firstT: number, reach: number, size: number): { at: number; t: number } | undefined {
    const patterns = Array.from({ length: reach }, (_, i) => {
      const bytes = Buffer.alloc(T_SIZE);
      bytes.writeUInt32LE((firstT + i) >>> 0);
      return bytes;
    });
    // each chunk is searched for frames starting in its first READ_CHUNK bytes; it overlaps the next by a frame's head
    for (let chunkAt = from; chunkAt + FRAME + T_SIZE <= size; chunkAt += READ_CHUNK) {
      const length = Math.min(READ_CHUNK + FRAME + T_SIZE, size - chunkAt);
      const buffer = this.readExactly(chunkAt, length);
      let best: { at: number; t: number } | undefined;
      patterns.forEach((pattern, i) => {
        for (let hit = buffer.indexOf(pattern, FRAME); hit !== -1 && hit - FRAME < READ_CHUNK; hit = buffer.indexOf(pattern, hit + 1)) {
          const at = chunkAt + hit - FRAME;
          if (best && best.at <= at) break;
          if (this.isWholeRecordAt(at, size)) best = { at, t: firstT + i };
        }
      });
      if (best) return best;
    }
    return undefined;
  }

  private isWholeRecordAt(at: number, size: number): boolean {
    const head = this.readExactly(at, FRAME);
    const length = head.readUInt32LE(0);
    if (length < T_SIZE || length > MAX_RECORD || at + FRAME + length > size) return false;
    return crc32(this.readExactly(at + FRAME, length)) === head.readUInt32LE(4);
  }

  /** True when `record`, framed, is what the file holds just before `end`. */
  holdsRecordEndingAt(end: number, record: LogRecord): boolean {
    const framed = Buffer.concat(frameOf(record));
    if (end - framed.length < LOG_FILE_START) return false;
    return this.readExactly(end - framed.length, framed.length).equals(framed);
  }

  /** Where the last whole record from `from` on ends (the file's valid length); see read. */
  validEnd(from: number = LOG_FILE_START, firstT?: number): number {
    let end = from;
    for (const record of this.read(from, firstT)) end = record.end;
    return end;
  }

  private readAt(at: number, atLeast: number, size: number): { buffer: Buffer; bufferAt: number } {
    return { buffer: this.readExactly(at, Math.min(Math.max(atLeast, READ_CHUNK), size - at)), bufferAt: at };
  }

  private readExactly(at: number, length: number): Buffer {
    const buffer = Buffer.alloc(length);
    for (let done = 0; done < length;) {
      const read = fs.readSync(this.fd, buffer, done, length - done, at + done);
      if (read === 0) return buffer.subarray(0, done); // the file shrank meanwhile
      done += read;
    }
    return buffer;
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function writeFully(fd: number, bytes: Buffer, at: number): void {
  for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done, at + done);
}

/** The CRC-32 of a record's t (u32) and bytes: a frame's checksum, and that of LMDB's log table from format 5. */
export function recordChecksum(t: number, bytes: Uint8Array): number {
  const tBytes = Buffer.alloc(T_SIZE);
  tBytes.writeUInt32LE(t >>> 0);
  return crc32(bytes, crc32(tBytes));
}

function frameOf(record: LogRecord): Buffer[] {
  const head = Buffer.alloc(FRAME + T_SIZE);
  head.writeUInt32LE(T_SIZE + record.bytes.length, 0);
  head.writeUInt32LE(record.t, FRAME);
  head.writeUInt32LE(recordChecksum(record.t, record.bytes), 4);
  return [head, Buffer.from(record.bytes.buffer, record.bytes.byteOffset, record.bytes.byteLength)];
}

/** Flush a whole file's data to disk (a file another step wrote and closed). */
export function syncFile(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
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
