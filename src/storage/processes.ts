// What the files other processes leave in a database directory need: is their process alive, and
// may we write here at all.
import fs from 'node:fs';

/** True while a process with this pid runs (EPERM: it runs, as another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** An error that says we may not write here (a read-only directory or file system). */
export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}

/**
 * What a live process is doing, as far as this system tells (Linux's /proc): 'stopped' by a
 * signal (SIGSTOP, Ctrl-Z) or a debugger, 'dead' (a zombie: it ended, its parent has not reaped
 * it yet), 'gone' (no such process), else 'live'; 'unknown' where there is no /proc.
 */
export type ProcessState = 'live' | 'stopped' | 'dead' | 'gone' | 'unknown';

export function processState(pid: number): ProcessState {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return fs.existsSync('/proc/self/stat') ? 'gone' : isRunning(pid) ? 'unknown' : 'gone';
    return 'unknown';
  }
  // "pid (command) state ...": the command may hold spaces and parentheses, the state follows the last ')'
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'T' || state === 't') return 'stopped';
  if (state === 'Z' || state === 'X') return 'dead';
  return 'live';
}
