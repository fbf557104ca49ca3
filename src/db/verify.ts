// Checking a database against its log: LMDB's log table (its checksums), the log file record for
// record, the log's hash chain, meta, and every index and the long values against a replay of the
// log into a scratch copy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FactlogError } from '../../query-lang/errors.js';
import { INDEXES, Store, type Meta } from '../storage/store.js';
import { LOG_FILE, LOG_FILE_START, LogFile, type LogRecord } from '../storage/log-file.js';
import { chainOf } from '../storage/log-chain.js';
import { Tag, TX_BASE, type KeyPart } from '../storage/encoding.js';
import type { LogEntry } from '../storage/log.js';
import { keepsHistory } from './schema.js';
import { schemaFactsOf, schemaOfStore } from './log-replay.js';

/** One thing found wrong: a stable code, and what and where in words. */
export interface VerifyProblem {
  code: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  problems: VerifyProblem[];
  /** Things worth knowing that are not damage (records not indexed yet, no log file). */
  notes: string[];
  transactions: number;
  logFileRecords: number;
  /** Index keys compared, current and history. */
  indexKeys: number;
}

export class VerifyError extends FactlogError {}

/** Past this many problems verify stops listing them. */
const MAX_PROBLEMS = 50;
/** Log entries replayed per LMDB transaction of the scratch copy. */
const REPLAY_BATCH = 1000;

/** Check everything a store holds against its log; reads only (the scratch copy is a temp directory). */
export async function verifyStore(store: Store): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, problems: [], notes: [], transactions: 0, logFileRecords: 0, indexKeys: 0 };
  const problem = (code: string, message: string) => {
    if (report.problems.length < MAX_PROBLEMS) report.problems.push({ code, message });
  };
  const note = (message: string) => void report.notes.push(message);
  const dataFile = path.join(store.dir, 'factlog.mdb');
  const records = checkLogTable(store, dataFile, problem);
  const tableIsWhole = report.problems.length === 0;
  report.transactions = records.length;
  report.logFileRecords = checkLogFile(store, records, problem, report.notes);
  if (tableIsWhole) checkChain(store, records, dataFile, problem, report.notes);
  const lastT = store.lastT();
  if (report.problems.length === 0) report.indexKeys = await checkAgainstReplay(store, store.logRange(), dataFile, problem, note);
  else if (!tableIsWhole && report.logFileRecords > lastT && report.problems.every((p) => p.code === 'storage/mdb-damaged')) {
    // LMDB's log is damaged but the log file whole: its records stand in for the indexes' check
    report.notes.push(`the indexes were compared with a replay of ${LOG_FILE}, LMDB's log being damaged`);
    report.indexKeys = await checkAgainstReplay(store, logFileEntries(store, lastT), dataFile, problem, note);
  } else report.notes.push('the indexes were not compared with the log, which is damaged');
  report.ok = report.problems.length === 0;
  return report;
}

/** Every record of LMDB's log (checksum and decoding), t 0 to meta's last t, and nothing else. */
function checkLogTable(store: Store, dataFile: string, problem: (code: string, message: string) => void): LogRecord[] {
  const lastT = store.lastT();
  if (!Number.isSafeInteger(lastT) || lastT < -1) {
    problem('storage/mdb-damaged', `${dataFile}: meta's last t is ${String(lastT)}, not a t`);
    return [];
  }
  const records: LogRecord[] = [];
  for (let t = 0; t <= lastT; t++) {
    try {
      const bytes = store.logRecordAt(t);
      if (bytes) records.push({ t, bytes });
      else problem('storage/mdb-damaged', `${dataFile}: the log table has no record of t=${t} (meta's last t is ${lastT})`);
    } catch (err) {
      problem(codeOf(err, 'storage/mdb-damaged'), (err as Error).message);
    }
  }
  const entries = store.stats().entries.log;
  if (entries !== lastT + 1) problem('storage/mdb-damaged', `${dataFile}: the log table holds ${entries} records, but meta's last t is ${lastT}`);
  return records;
}

/** The log file against LMDB's log, record for record; returns how many records it holds. */
function checkLogFile(store: Store, records: LogRecord[], problem: (code: string, message: string) => void, notes: string[]): number {
  const file = path.join(store.dir, LOG_FILE);
  if (!fs.existsSync(file)) {
    notes.push(`there is no ${LOG_FILE}: the next open for writing writes it from LMDB's log`);
    return 0;
  }
  let logFile: LogFile;
  try {
    logFile = LogFile.openForReading(file);
  } catch (err) {
    problem(codeOf(err, 'storage/log-damaged'), (err as Error).message);
    return 0;
  }
  const byT = new Map(records.map((r) => [r.t, r.bytes]));
  const lastT = store.lastT();
  let count = 0;
  let endOfLastT: number | undefined;
  let unindexed = 0;
  try {
    for (const { entry, bytes, end } of logFile.read(LOG_FILE_START, 0)) {
      count++;
      if (entry.t > lastT) {
        unindexed++;
        continue;
      }
      if (entry.t === lastT) endOfLastT = end;
      const stored = byT.get(entry.t);
      if (stored && !Buffer.from(stored).equals(Buffer.from(bytes))) {
        problem('storage/log-file-mismatch', `${file}: the record of t=${entry.t} (ending at byte ${end}) differs from LMDB's log`);
      }
    }
  } catch (err) {
    problem(codeOf(err, 'storage/log-damaged'), (err as Error).message);
    return count;
  } finally {
    logFile.close();
  }
  if (count === 0 && lastT >= 0) notes.push(`${LOG_FILE} holds no records: the next open for writing writes them from LMDB's log`);
  else if (count < lastT + 1) problem('storage/log-file-mismatch', `${file} ends at t=${count - 1}, LMDB's log at t=${lastT}`);
  else {
    const recorded = store.recordedLogFileEnd();
    if (recorded !== undefined && endOfLastT !== undefined && recorded !== endOfLastT) {
      problem('storage/mdb-damaged', `meta says the log file's records end at byte ${recorded}, but t=${lastT}'s ends at byte ${endOfLastT}`);
    }
  }
  if (unindexed > 0) notes.push(`${LOG_FILE} holds ${unindexed} record(s) after t=${lastT} not indexed yet: the next open for writing indexes them`);
  return count;
}

/** The chain table (log-chain.ts) against the chain of LMDB's log, recomputed; a table behind the log is only noted. */
function checkChain(store: Store, records: LogRecord[], dataFile: string, problem: (code: string, message: string) => void, notes: string[]): void {
  const expected = chainOf(records.map((r) => r.bytes));
  const { chainedTo, entries } = store.chainTable();
  const fix = 'factlog rebuild recomputes it';
  let held = 0;
  for (const { t, hash } of entries) {
    if (t >= expected.length) {
      problem('storage/mdb-damaged', `${dataFile}: the log's hash chain table holds t=${t}, past the log's last t=${expected.length - 1}; ${fix}`);
      return;
    }
    held++;
    if (!hash.equals(expected[t]!)) problem('storage/mdb-damaged', `${dataFile}: the log's hash chain table differs from the log's chain at t=${t}; ${fix}`);
  }
  if (held !== chainedTo + 1) problem('storage/mdb-damaged', `${dataFile}: the log's hash chain table holds ${held} values for t=0 to t=${chainedTo}; ${fix}`);
  if (chainedTo < expected.length - 1) {
    notes.push(`the log's hash chain table ends at t=${chainedTo}, the log at t=${expected.length - 1} (written by an older factlog): the next open for writing extends it`);
  }
}

/** Replay LMDB's log into a scratch copy and compare meta, every index and the long values; returns the keys compared. */
async function checkAgainstReplay(
  store: Store,
  log: Iterable<LogEntry>,
  dataFile: string,
  problem: (code: string, message: string) => void,
  note: (message: string) => void,
): Promise<number> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-verify-'));
  const { store: copy } = Store.open({ path: scratch, createFormat: store.format, noSync: true });
  try {
    await replayInto(copy, log);
    checkMeta(store.readMeta(), copy.readMeta(), maxEntityOf(store), dataFile, problem);
    checkCounts(store.attrCounts(), copy.attrCounts(), dataFile, problem);
    checkLongValues(store, copy, dataFile, problem);
    let keys = 0;
    for (const index of INDEXES) {
      for (const which of ['current', 'history'] as const) keys += compareIndex(store, copy, which, index, dataFile, problem, note);
    }
    return keys;
  } finally {
    await copy.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The log file's entries of t 0 to lastT (read once already: whole). */
function* logFileEntries(store: Store, lastT: number): Generator<LogEntry> {
  const logFile = LogFile.openForReading(path.join(store.dir, LOG_FILE));
  try {
    for (const { entry } of logFile.read(LOG_FILE_START, 0)) {
      if (entry.t > lastT) return;
      yield entry;
    }
  } finally {
    logFile.close();
  }
}

async function replayInto(copy: Store, entries: Iterable<LogEntry>): Promise<void> {
  let batch: LogEntry[] = [];
  const flush = async (items: LogEntry[]) =>
    copy.writeTransaction(() => {
      let schema = schemaOfStore(copy);
      for (const entry of items) {
        const before = schema;
        schema = schema.apply(schemaFactsOf(entry));
        copy.appendLogEntries([entry], (a) => keepsHistory(a, before, schema));
      }
    });
  for (const entry of entries) {
    batch.push(entry);
    if (batch.length === REPLAY_BATCH) {
      await flush(batch);
      batch = [];
    }
  }
  if (batch.length > 0) await flush(batch);
}

/** The largest entity id (not a transaction's) in the current and history EAVT. */
function maxEntityOf(store: Store): number {
  let max = -1;
  for (const which of ['current', 'history'] as const) for (const key of store.keys(which, 'eavt', [])) if ((key[0] as number) < TX_BASE && (key[0] as number) > max) max = key[0] as number;
  return max;
}

function checkMeta(meta: Meta, replayed: Meta, maxEntity: number, dataFile: string, problem: (code: string, message: string) => void): void {
  if (meta.lastInstant !== replayed.lastInstant) problem('storage/mdb-damaged', `${dataFile}: meta's last instant is ${meta.lastInstant}, the log's ${replayed.lastInstant}`);
  // transact may allocate ids it then does not use, so the next id may be past the log's; never below
  if (meta.nextEid < replayed.nextEid || meta.nextEid <= maxEntity) {
    problem('storage/mdb-damaged', `${dataFile}: meta's next entity id ${meta.nextEid} is below ids the log uses (up to ${Math.max(replayed.nextEid - 1, maxEntity)})`);
  }
}

function checkCounts(counts: Map<number, number>, replayed: Map<number, number>, dataFile: string, problem: (code: string, message: string) => void): void {
  for (const a of new Set([...counts.keys(), ...replayed.keys()])) {
    const n = counts.get(a) ?? 0;
    const expected = replayed.get(a) ?? 0;
    if (n !== expected) problem('storage/mdb-damaged', `${dataFile}: meta counts ${n} datoms of attribute ${a}, the log gives ${expected}`);
  }
}

function checkLongValues(store: Store, copy: Store, dataFile: string, problem: (code: string, message: string) => void): void {
  const expected = new Map([...copy.longValues()].map((v) => [v.hash, v.value]));
  for (const { hash, value } of store.longValues()) {
    if (!expected.has(hash)) problem('storage/mdb-damaged', `${dataFile}: the values table holds ${hash}, which no value of the log has`);
    else if (!sameStored(expected.get(hash)!, value)) problem('storage/mdb-damaged', `${dataFile}: the long value ${hash} differs from the log's`);
    expected.delete(hash);
  }
  for (const hash of expected.keys()) problem('storage/mdb-damaged', `${dataFile}: the long value ${hash} of the log is missing from the values table`);
}

/** Walk an index and the replay's in step; reports the first key where they part. Returns the keys read. */
function compareIndex(
  store: Store,
  copy: Store,
  which: 'current' | 'history',
  index: string,
  dataFile: string,
  problem: (code: string, message: string) => void,
  note: (message: string) => void,
): number {
  const name = which === 'current' ? index : `${index}.history`;
  const stored = store.keys(which, index as (typeof INDEXES)[number], []);
  const mine = (index === 'avet' ? withoutBytesKeys(stored, name, note) : stored)[Symbol.iterator]();
  const theirs = copy.keys(which, index as (typeof INDEXES)[number], [])[Symbol.iterator]();
  let n = 0;
  try {
    for (;;) {
      const a = mine.next();
      const b = theirs.next();
      if (a.done && b.done) return n;
      if (a.done || b.done || !sameKey(a.value, b.value)) {
        const show = (r: IteratorResult<KeyPart[]>) => (r.done ? 'its end' : printKey(r.value));
        problem('storage/mdb-damaged', `${dataFile}: index ${name} differs from the log's replay at its key ${n}: it holds ${show(a)}, the log gives ${show(b)}`);
        return n;
      }
      n++;
    }
  } catch (err) {
    problem(codeOf(err, 'storage/mdb-damaged'), `${dataFile}: index ${name} cannot be read past key ${n}: ${(err as Error).message}`);
    return n;
  }
}

/**
 * AVET's keys but those of bytes values, which a database written before bytes left AVET holds:
 * never read, so no damage (noted; `factlog rebuild` drops them, a retraction drops its own).
 */
function* withoutBytesKeys(keys: Iterable<KeyPart[]>, name: string, note: (message: string) => void): Generator<KeyPart[]> {
  let skipped = 0;
  for (const key of keys) {
    if (key[1] === Tag.Bytes) skipped++;
    else yield key;
  }
  if (skipped > 0) note(`${name} holds ${skipped} key(s) of :db.type/bytes values from before bytes left AVET: never read (factlog rebuild drops them)`);
}

function sameKey(a: KeyPart[], b: KeyPart[]): boolean {
  return a.length === b.length && a.every((part, i) => Object.is(part, b[i]));
}

function printKey(key: KeyPart[]): string {
  return `[${key.map((p) => (typeof p === 'string' ? JSON.stringify(p.length > 40 ? p.slice(0, 40) + '…' : p) : String(p))).join(' ')}]`;
}

function codeOf(err: unknown, fallback: string): string {
  return err instanceof FactlogError ? err.code : fallback;
}

/** Verify the database at `dir`, opened read-only (nothing is replayed, rewritten or indexed): see verifyStore. */
export async function verify(dir: string): Promise<VerifyReport> {
  const { store } = Store.open({ path: dir, readOnly: true, create: false });
  try {
    return await verifyStore(store);
  } finally {
    await store.close();
  }
}

/** Throw when the report found anything wrong: the first problem's code, every problem in the message. */
export function assertSound(report: VerifyReport): void {
  if (report.ok) return;
  const first = report.problems[0]!;
  const more =
    report.problems.length > 1
      ? ` (and ${report.problems.length - 1} more: ${report.problems
          .slice(1)
          .map((p) => p.message)
          .join('; ')})`
      : '';
  throw new VerifyError(first.code, first.message + more);
}

/** A long value as the values table holds it: a string, or WTF-8 bytes for one with a lone surrogate. */
function sameStored(a: string | Buffer, b: string | Buffer): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return a.equals(b);
}
