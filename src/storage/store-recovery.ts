// Recovering a database directory before its environment opens: what the directory holds, and
// after an OS crash (an earlier boot's marks), LMDB's file set aside to be rebuilt from the log file.
import fs from 'node:fs';
import path from 'node:path';
import type { RootDatabase } from 'lmdb';
import { isGateTicket, throughEnvironmentGate } from './env-gate.js';
import { dataFileProblem } from './file-check.js';
import { LOG_FILE, LOG_FILE_START, LogFile } from './log-file.js';
import type { PackedIndex } from './packed-index.js';
import { DATA_FILE, DB_NAMES, StorageError, type StoreOptions } from './store-format.js';
import { findMarks, isUnsyncedMark, removeMarks } from './unsynced-marks.js';

/**
 * The directory of `options.path` made ready to open: checked to be a database (or empty, to
 * create one), torn data set aside after an earlier boot. The marks found there are returned.
 */
export function prepareDirectory(options: StoreOptions): { dir: string; dataFile: string; hasData: boolean; marks: { earlierBoot: string[]; deadProcesses: string[] } } {
  const dir = path.resolve(options.path);
  const exists = fs.existsSync(dir);
  if (exists && !fs.statSync(dir).isDirectory()) {
    throw new StorageError('storage/not-a-database', `${dir} is a file, not a factlog database directory`);
  }
  const dataFile = path.join(dir, DATA_FILE);
  const hasLogFile = fs.existsSync(path.join(dir, LOG_FILE));
  // in the gate: of two processes opening after a reboot, only the first sets LMDB's file aside
  const inspectMarks = () => {
    const found = findMarks(dir);
    if (found.earlierBoot.length > 0 && hasLogFile) setAsideTornData(dir, options.readOnly ?? false, found.earlierBoot);
    return found;
  };
  // a reader sets nothing aside, so it need not wait for a writer to look
  const marks = !exists ? { earlierBoot: [], deadProcesses: [] } : options.readOnly ? inspectMarks() : throughEnvironmentGate(dir, inspectMarks, { alone: true });
  const hasData = fs.existsSync(dataFile);
  if (!hasData && hasLogFile && options.readOnly) {
    throw new StorageError('storage/needs-recovery', `${dir} has a log file but no indexes: open it for writing once to rebuild them`);
  }
  if (!hasData && hasLogFile) assertLogFileReplayable(dir);
  if (!hasData && !hasLogFile) {
    const empty = !exists || fs.readdirSync(dir).every((name) => isGateTicket(name) || isUnsyncedMark(name));
    if (!empty) {
      throw new StorageError('storage/not-a-database', `${dir} is not a factlog database (no ${DATA_FILE} in it)`);
    }
    if (options.create === false || options.readOnly) {
      throw new StorageError('storage/no-database', `no factlog database at ${dir}`);
    }
    fs.mkdirSync(dir, { recursive: true });
  }
  const problem = hasData ? dataFileProblem(dataFile, options.readOnly ?? false, DB_NAMES) : undefined;
  if (problem) throw new StorageError(problem.code, problem.message);
  return { dir, dataFile, hasData, marks };
}

/**
 * An earlier boot left marks: LMDB's file may be torn, so it is moved aside (kept, for a person
 * to look at) and the connection rebuilds the indexes from the log file.
 */
function setAsideTornData(dir: string, readOnly: boolean, marks: string[]): void {
  if (readOnly) {
    throw new StorageError('storage/needs-recovery', `${dir} was being written when the machine stopped: open it for writing once to rebuild its indexes from the log file`);
  }
  assertLogFileReplayable(dir);
  const dataFile = path.join(dir, DATA_FILE);
  if (fs.existsSync(dataFile)) fs.renameSync(dataFile, `${dataFile}.torn`);
  fs.rmSync(`${dataFile}-lock`, { force: true });
  removeMarks(marks);
}

/**
 * Before rebuilding the indexes from the log file alone: every record reads back, up to a torn
 * tail (LogFile.read throws storage/log-damaged on damage), so a damaged file changes nothing.
 */
export function assertLogFileReplayable(dir: string): void {
  const logFile = LogFile.open(path.join(dir, LOG_FILE));
  try {
    logFile.validEnd(LOG_FILE_START, 0);
  } finally {
    logFile.close();
  }
}

/**
 * True for a file created but never bootstrapped: our named databases hold nothing and the main
 * database holds nothing but their names (an LMDB file written by anything else is not empty).
 */
export function neverBootstrapped(env: RootDatabase, tables: { isEmpty(): boolean }[], indexes: PackedIndex[]): boolean {
  const names = new Set(DB_NAMES);
  for (const key of env.getKeys()) if (!names.has(String(key))) return false;
  const isEmpty = (keys: Iterable<unknown>) => {
    for (const _ of keys) return false;
    return true;
  };
  return tables.every((table) => table.isEmpty()) && indexes.every((index) => isEmpty(index.keys(undefined, undefined, 1)));
}
