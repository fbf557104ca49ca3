// While a process holds LMDB commits that LMDB has not flushed, a mark file in the database
// directory names that process and the boot it runs in. A process that dies leaves its commits
// in the OS page cache, and LMDB's file stays whole; an OS that dies first may leave the file torn
// (pages written in any order). So a mark left by an earlier boot means: rebuild the indexes from
// the log file. A mark of a dead process from this boot only means: flush, then drop it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syncDirectoryOf } from './log-file.js';
import { isRunning } from './dir-claims.js';

const MARK_PREFIX = 'factlog.unsynced.';

export function isUnsyncedMark(name: string): boolean {
  return name.startsWith(MARK_PREFIX);
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

  constructor(dir: string) {
    this.file = path.join(dir, `${MARK_PREFIX}${process.pid}`);
  }

  /** Before an LMDB commit that will not be flushed: the mark must be on disk first. */
  ensure(): void {
    if (this.marked) return;
    const fd = fs.openSync(this.file, 'w');
    try {
      fs.writeSync(fd, currentBootId());
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
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
    if (!name.startsWith(MARK_PREFIX)) continue;
    const file = path.join(dir, name);
    const pid = Number(name.slice(MARK_PREFIX.length));
    if (readMark(file) !== boot) found.earlierBoot.push(file);
    else if (pid !== process.pid && !isRunning(pid)) found.deadProcesses.push(file);
  }
  return found;
}

function readMark(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

export function removeMarks(files: string[]): void {
  for (const file of files) fs.rmSync(file, { force: true });
}
