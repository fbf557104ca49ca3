// The files of a database directory as a whole: removing a database, and putting one made
// elsewhere in the place of another (import), each step leaving a database that opens.
import fs from 'node:fs';
import path from 'node:path';
import { LOG_FILE, syncDirectoryOf } from './log-file.js';
import { DATA_FILE } from './store-format.js';

/** Remove the database at `dir`, its directory and all in it (a side or scratch database no process has open). */
export function removeDatabaseFiles(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * Move the complete, flushed database in `from` into `dir`, one rename(2) a file, in the order that
 * leaves a database that opens at every step: the log file of `dir` goes first (its LMDB file
 * rewrites it), then the new LMDB file replaces the old (with its own log table, it rewrites the
 * log file if the process dies here), then the new log file goes in. The caller holds the
 * environment gate of `dir`, so no process opens it meanwhile.
 */
export function replaceDatabaseFiles(from: string, dir: string): void {
  fs.rmSync(path.join(dir, LOG_FILE), { force: true });
  fs.rmSync(path.join(dir, `${DATA_FILE}-lock`), { force: true });
  syncDirectoryOf(path.join(dir, LOG_FILE));
  fs.renameSync(path.join(from, DATA_FILE), path.join(dir, DATA_FILE));
  syncDirectoryOf(path.join(dir, DATA_FILE));
  fs.renameSync(path.join(from, LOG_FILE), path.join(dir, LOG_FILE));
  syncDirectoryOf(path.join(dir, LOG_FILE));
}
