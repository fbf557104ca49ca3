// While a process holds LMDB commits that LMDB has not flushed, a mark file in the database
// directory names that process and the boot it runs in. A process that dies leaves its commits
// in the OS page cache, and LMDB's file stays whole; an OS that dies first may leave the file torn
// (pages written in any order). So a mark left by an earlier boot means: rebuild the indexes from
// the log file. A mark of a dead process from this boot only means: flush, then drop it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncDirectoryOf } from './log-file.js';
import { isRunning } from './processes.js';

const MARK_PREFIX = 'factlog.unsynced.';
/** A mark being written: renamed to its MARK_PREFIX name once whole and flushed. */
const NEW_MARK_PREFIX = 'factlog.unsynced-new.';

/** True for marks, and for marks a process died while writing. */
export function isUnsyncedMark(name: string): boolean {
  return name.startsWith(MARK_PREFIX) || name.startsWith(NEW_MARK_PREFIX);
}

/** Differs between two boots of the machine (Linux: the kernel's boot id; elsewhere the boot minute). */
export function currentBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return `booted-${Math.round((Date.now() / 1000 - os.uptime()) / 60)}`;
  }
}

/** This process's mark, written before its first unflushed commit and removed after a flush. */
export class UnsyncedMark {
  private marked = false;
  readonly file: string;
  private readonly newFile: string;

  constructor(dir: string) {
    this.file = path.join(dir, `${MARK_PREFIX}${process.pid}`);
    this.newFile = path.join(dir, `${NEW_MARK_PREFIX}${process.pid}`);
  }

  /**
   * Before an LMDB commit that will not be flushed: the mark must be on disk first. It is
   * written under another name and renamed, so that another process's findMarks never reads it
   * half written (an empty mark counts as an earlier boot's, and moves LMDB's file aside).
   */
  ensure(): void {
    if (this.marked) return;
    const fd = fs.openSync(this.newFile, 'w');
    try {
      fs.writeSync(fd, currentBootId());
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(this.newFile, this.file);
    syncDirectoryOf(this.file);
    this.marked = true;
  }

  /** After a flush that covers every commit this process made. */
  clear(): void {
    if (!this.marked) return;
    fs.rmSync(this.file, { force: true });
    this.marked = false;
  }
}

export interface FoundMarks {
  /** Left by a boot before this one: LMDB's file may be torn. */
  earlierBoot: string[];
  /** Left by processes of this boot that are no longer running: a flush makes them moot. */
  deadProcesses: string[];
}

export function findMarks(dir: string): FoundMarks {
  const found: FoundMarks = { earlierBoot: [], deadProcesses: [] };
  if (!fs.existsSync(dir)) return found;
  const boot = currentBootId();
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (name.startsWith(NEW_MARK_PREFIX)) {
      // never renamed: its process died before its first unflushed commit
      if (!isRunning(Number(name.slice(NEW_MARK_PREFIX.length)))) fs.rmSync(file, { force: true });
      continue;
    }
    if (!name.startsWith(MARK_PREFIX)) continue;
    const pid = Number(name.slice(MARK_PREFIX.length));
    const mark = readMark(file);
    if (mark === undefined) continue; // removed meanwhile: its process flushed
    if (mark !== boot) found.earlierBoot.push(file);
    else if (pid !== process.pid && !isRunning(pid)) found.deadProcesses.push(file);
  }
  return found;
}

/** A mark's boot id; undefined when the file is gone. */
function readMark(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export function removeMarks(files: string[]): void {
  for (const file of files) fs.rmSync(file, { force: true });
}
