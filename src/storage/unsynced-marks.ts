// While a process holds LMDB commits that LMDB has not flushed, a mark file in the database
// directory names that process and the boot it runs in. A process that dies leaves its commits
// in the OS page cache, and LMDB's file stays whole; an OS that dies first may leave the file torn
// (pages written in any order). So a mark left by an earlier boot means: rebuild the indexes from
// the log file. A mark of a dead process from this boot only means: flush, then drop it.
import { execFileSync } from 'node:child_process';
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

/** A boot time in seconds, from the kernel or worked out from the clock and the uptime. */
const BOOT_TIME = /^booted-at-(\d+)$/;
/**
 * Two processes of one boot can see boot times a little apart: an estimate rounds, and a kernel
 * moves its boot time when the clock is set. Two boots are much further apart than this.
 */
const BOOT_TIME_SLACK_SECONDS = 60;

let bootId: string | undefined;

/**
 * Names this boot of the machine for every process of it. Exact where the kernel has an id for a
 * boot (Linux's boot id, macOS's boot session UUID); else a boot time (BOOT_TIME), which
 * isThisBoot compares with slack.
 */
export function currentBootId(): string {
  return (bootId ??= readBootId());
}

function readBootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // not Linux
  }
  const session = sysctl('kern.bootsessionuuid');
  if (session) return `boot-session-${session}`;
  const boottime = /sec = (\d+)/.exec(sysctl('kern.boottime') ?? '');
  if (boottime) return `booted-at-${boottime[1]}`;
  return `booted-at-${Math.round(Date.now() / 1000 - os.uptime())}`;
}

/** Where sysctl lives (macOS, FreeBSD), whatever the PATH of the process. */
const SYSCTLS = ['/usr/sbin/sysctl', '/sbin/sysctl'];

/** A sysctl value (macOS, BSD); undefined where there is no such key or no sysctl (Windows). */
function sysctl(key: string): string | undefined {
  if (process.platform === 'win32') return undefined;
  for (const command of SYSCTLS) {
    try {
      return execFileSync(command, ['-n', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 2000 }).trim() || undefined;
    } catch {
      // not there, or no such key
    }
  }
  return undefined;
}

/**
 * Whether a mark's boot id names this boot. Boot times are compared with slack: compared
 * exactly, two processes of one boot could disagree, and then a live writer's mark would read
 * as an earlier boot's and its LMDB file be set aside.
 */
export function isThisBoot(markBoot: string, current: string = currentBootId()): boolean {
  if (markBoot === current) return true;
  const mark = BOOT_TIME.exec(markBoot);
  const now = BOOT_TIME.exec(current);
  return mark !== null && now !== null && Math.abs(Number(mark[1]) - Number(now[1])) <= BOOT_TIME_SLACK_SECONDS;
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
    if (!isThisBoot(mark, boot)) found.earlierBoot.push(file);
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
