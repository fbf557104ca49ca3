// Rewriting a database directory whole: a copy made beside it (compacted, or rebuilt without
// excised datoms) put in its place, so a SIGKILL at any step leaves the old database or the new.
import fs from 'node:fs';
import path from 'node:path';
import { removeDatabaseFiles, replaceDatabaseFiles } from './database-files.js';
import { otherThreadInside, throughEnvironmentGate, ticketPid } from './env-gate.js';
import { LOG_FILE, syncFile } from './log-file.js';
import { isRunning } from './processes.js';
import { DATA_FILE, StorageError } from './store-format.js';
import { Store } from './store.js';

/** How a database's log file looked before a rewrite began: any commit since changes it. */
export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export function logFileIdentity(dir: string): FileIdentity | undefined {
  try {
    const { ino, size, mtimeMs } = fs.statSync(path.join(dir, LOG_FILE));
    return { ino, size, mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The side directory a rewrite of `dir` builds in (beside it: the same file system, so renames are atomic). */
export function sideDirectory(dir: string, job: 'excise' | 'compact'): string {
  return `${path.resolve(dir)}.${job}-${process.pid}`;
}

const SIDE = /\.(excise|compact)-(\d+)$/;

/** Side directories of rewrites of `dir` whose process is gone (killed midway): the database is the old one. */
export function removeLeftSideDirectories(dir: string): void {
  const resolved = path.resolve(dir);
  const parent = path.dirname(resolved);
  const base = path.basename(resolved);
  for (const name of fs.readdirSync(parent)) {
    if (!name.startsWith(`${base}.`)) continue;
    const match = SIDE.exec(name.slice(base.length));
    const pid = match ? Number(match[2]) : NaN;
    if (match && `.${match[1]}-${pid}` === name.slice(base.length) && (pid === process.pid || !isRunning(pid))) removeDatabaseFiles(path.join(parent, name));
  }
}

/**
 * Put the complete database in `side` in the place of `dir`'s, in the gate and alone, refusing
 * (code `busy`) when another process has `dir` open or it was written since `before` was taken.
 * A set-aside torn LMDB file (store-recovery.ts) goes too: it holds the old bytes.
 */
export function putInPlace(side: string, dir: string, before: FileIdentity | undefined, busy: string): void {
  for (const name of [DATA_FILE, LOG_FILE]) syncFile(path.join(side, name));
  throughEnvironmentGate(
    dir,
    () => {
      const user = otherProcessUsing(dir);
      if (user !== undefined) throw new StorageError(busy, `process ${user} has the database at ${dir} open; nothing was changed (run it again once it is closed)`);
      if (JSON.stringify(logFileIdentity(dir)) !== JSON.stringify(before)) {
        throw new StorageError(busy, `the database at ${dir} was written to meanwhile; nothing was changed`);
      }
      replaceDatabaseFiles(side, dir);
      fs.rmSync(path.join(dir, `${DATA_FILE}.torn`), { force: true });
    },
    { alone: true },
  );
}

/**
 * The pid of another running process, or of this one when another of its threads, with a gate
 * ticket in `dir` (a store holds one from open to close): files replaced under it would be read
 * as the new database by some pages and the old by others.
 */
export function otherProcessUsing(dir: string): number | undefined {
  for (const name of fs.readdirSync(dir)) {
    const pid = ticketPid(name);
    if (pid !== undefined && pid !== process.pid && isRunning(pid)) return pid;
  }
  return otherThreadInside(dir) ? process.pid : undefined;
}

export interface CompactReport {
  bytesBefore: number;
  bytesAfter: number;
}

/**
 * Rewrite LMDB's file without its free pages (LMDB's compacting copy), so that nothing it once
 * held and freed stays in the file; the log file is copied as it is. No other process may have
 * the database open (`storage/compact-busy`).
 */
export async function compactDatabase(dir: string): Promise<CompactReport> {
  const resolved = path.resolve(dir);
  removeLeftSideDirectories(resolved);
  const side = sideDirectory(resolved, 'compact');
  removeDatabaseFiles(side);
  const before = logFileIdentity(resolved);
  const bytesBefore = fs.statSync(path.join(resolved, DATA_FILE)).size;
  try {
    const busy = otherProcessUsing(resolved);
    if (busy !== undefined) throw new StorageError('storage/compact-busy', `process ${busy} has the database at ${resolved} open; nothing was changed (compact once it is closed)`);
    const { store } = Store.open({ path: resolved, create: false, readOnly: true });
    try {
      await store.backup(side, true);
    } finally {
      await store.close();
    }
    fs.copyFileSync(path.join(resolved, LOG_FILE), path.join(side, LOG_FILE));
    putInPlace(side, resolved, before, 'storage/compact-busy');
    return { bytesBefore, bytesAfter: fs.statSync(path.join(resolved, DATA_FILE)).size };
  } finally {
    removeDatabaseFiles(side);
  }
}
