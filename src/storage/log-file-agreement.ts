// Making the log file and LMDB agree when a writer opens: a torn last record cut off, an LMDB
// log copied into a missing log file, another database's file refused; and a chain table behind
// the log caught up.
import type { RootDatabase } from 'lmdb';
import type { Checkpoints } from './checkpoints.js';
import { throughEnvironmentGate } from './env-gate.js';
import { LOG_FILE_START, type LogFile, type LogRecord } from './log-file.js';
import type { LogTable } from './log-table.js';
import { BINARY_LOG_FORMAT, StorageError } from './store-format.js';
import type { StoreMeta } from './store-meta.js';

/** What agreeing needs of a store open for writing. */
export interface AgreementTarget {
  readonly dir: string;
  readonly env: RootDatabase;
  readonly format: number;
  readonly meta: StoreMeta;
  readonly log: LogTable;
  readonly logFile: LogFile;
  readonly checkpoints: Checkpoints;
  lastT(): number;
}

/**
 * Make the log file agree with LMDB: cut off a torn last record, or, when there was no log file
 * (a database made before it, or restored from a backup, which copies LMDB's file), write LMDB's
 * log into it. Records after LMDB's last t stay for the connection to index (replayLogFile).
 */
export function agreeLogFile(target: AgreementTarget): void {
  const { logFile, meta } = target;
  assertLogFileEndsAsLmdb(target);
  // No records in the log file while LMDB has a log (a database made before the log file, or
  // restored from a backup of LMDB's file): it is written from LMDB's log table.
  const needsCopy = () => target.lastT() >= 0 && logFile.endsAt(LOG_FILE_START);
  const looksOff = () => {
    const e = meta.logFileEnd();
    if (e === undefined) return target.lastT() >= 0;
    return needsCopy() || logFile.size() < e || !logFile.endsAt(logFile.validEnd(e, target.lastT() + 1));
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
  throughEnvironmentGate(target.dir, () =>
    target.env.transactionSync(() => {
      if (!looksOff()) return;
      target.checkpoints.beforeCommit();
      const e = meta.logFileEnd();
      if (needsCopy()) copyLogToFile(target);
      else if (e === undefined) {
        // records, but LMDB has a log of its own and does not know of them
        throw new StorageError('storage/log-file-mismatch', `${logFile.file} holds records the indexes do not know of; move it away to have it rewritten from them`);
      } else if (logFile.size() < e) {
        throw new StorageError('storage/log-file-damaged', `${logFile.file} is shorter than the indexes say it was (${logFile.size()} < ${e} bytes)`);
      } else logFile.truncate(logFile.validEnd(e, target.lastT() + 1));
    }),
  );
  target.checkpoints.committed();
}

/**
 * Where LMDB says the log file's records end, the last one must be LMDB's last transaction:
 * else the file is another database's or an older copy, and appending after it would mix the
 * two. (Formats 1 and 2 are not checked: their records are re-encoded, not the file's bytes.)
 */
function assertLogFileEndsAsLmdb(target: AgreementTarget): void {
  const { logFile } = target;
  const end = target.meta.logFileEnd();
  const lastT = target.lastT();
  if (end === undefined || lastT < 0 || target.format < BINARY_LOG_FORMAT || logFile.size() < end) return;
  const bytes = target.log.recordAt(lastT);
  if (bytes && !logFile.holdsRecordEndingAt(end, { t: lastT, bytes })) {
    throw new StorageError(
      'storage/log-file-mismatch',
      `${logFile.file} does not end with the indexes' last transaction (t=${lastT}) at byte ${end}: it is another database's, or another state of this one; nothing was changed`,
    );
  }
}

/** Write every entry of LMDB's log table to an empty log file. */
function copyLogToFile(target: AgreementTarget): void {
  const { logFile } = target;
  let records: LogRecord[] = [];
  let end = LOG_FILE_START;
  for (const record of target.log.records()) {
    records.push(record);
    if (records.length === 1000) {
      end = logFile.append(records, false, end).end;
      records = [];
    }
  }
  if (records.length > 0) end = logFile.append(records, false, end).end;
  logFile.flush();
  target.meta.setLogFileEnd(end);
}

/**
 * A chain table behind the log (a database of an older factlog) is caught up in a commit of its
 * own. A log record that does not read leaves it behind: the damage is reported where the record
 * is read, as before.
 */
export function catchUpChain(target: AgreementTarget): void {
  const chain = target.log.chain;
  if (chain.chainedTo() >= target.lastT()) return;
  try {
    throughEnvironmentGate(target.dir, () =>
      target.env.transactionSync(() => {
        target.checkpoints.beforeCommit();
        chain.catchUp(target.lastT());
      }),
    );
  } catch (err) {
    if ((err as { code?: string }).code !== 'storage/mdb-damaged') throw err;
  }
  target.checkpoints.committed();
}

/**
 * Inside a write transaction: where the log file's records end, as of the last commit by any
 * process. Before a database's first record there must be none (unindexed ones are replayed by
 * replayLogFile, which a writer runs before writing).
 */
export function logFileEndIn(meta: StoreMeta, logFile: LogFile): number {
  const end = meta.logFileEnd();
  if (end !== undefined) return end;
  if (!logFile.endsAt(LOG_FILE_START)) {
    throw new StorageError('storage/log-not-replayed', `${logFile.file} holds records not indexed yet; open the database with open() to index them`);
  }
  return LOG_FILE_START;
}
