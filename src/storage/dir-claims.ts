// Who has a database directory open, told through files in it: every process that opens the
// directory leaves a presence mark (factlog.open.<pid>), and a writer whose commits LMDB does not
// flush (durability 'process', noSync) also claims the directory (factlog.unsynced-writer).
//
// Such a writer loses acknowledged commits when another process opens the LMDB environment
// meanwhile (see Store.open), so it must be the only process. Each side first writes its own
// file and then looks for the other's (a writer: its claim and its mark, then everyone's marks,
// then that the claim is still its own): whichever comes second sees the first, so two
// processes opening at the same instant cannot both get in (at worst both are refused and may
// retry). Marks and claims of processes that died are ignored and removed.
import fs from 'node:fs';
import path from 'node:path';
import { FactlogError } from '../../query-lang/errors.js';

export const UNSYNCED_WRITER_FILE = 'factlog.unsynced-writer';
const PRESENCE_PREFIX = 'factlog.open.';

export class DirectoryClaimError extends FactlogError {}

/** This process's opens of each directory: its files stay while any of them is open. */
const held = new Map<string, { presence: number; unsynced: number }>();

/** True for the files this module leaves in a database directory. */
export function isClaimFile(name: string): boolean {
  return name.startsWith(UNSYNCED_WRITER_FILE) || name.startsWith(PRESENCE_PREFIX);
}

/**
 * Register this process in `dir` before opening LMDB there, as a writer that does not flush
 * (`unsynced`) or as anything else. Throws storage/unsynced-writer when the two would meet.
 * Returns the function that withdraws the registration (call it once, on close or failed open).
 */
export function enterDirectory(dir: string, unsynced: boolean): () => void {
  const counts = held.get(dir) ?? { presence: 0, unsynced: 0 };
  const firstOpen = counts.presence === 0;
  if (unsynced && counts.unsynced === 0) claimUnsynced(dir); // throws before anything is recorded
  held.set(dir, counts);
  counts.presence++;
  if (unsynced) counts.unsynced++;
  const leaveNow = () => leave(dir, counts, unsynced);
  try {
    if (firstOpen) markPresence(dir);
    if (unsynced) {
      assertNoOtherProcess(dir);
      // a writer taking over a dead process's claim at the same instant may have replaced ours
      assertClaimIsOurs(dir);
    } else {
      // keep crashed processes' marks from piling up (a writer would remove them too)
      if (firstOpen) otherProcesses(dir);
      assertNoUnsyncedWriter(dir);
    }
  } catch (err) {
    leaveNow();
    throw err;
  }
  let left = false;
  return () => {
    if (left) return;
    left = true;
    leaveNow();
  };
}

function leave(dir: string, counts: { presence: number; unsynced: number }, unsynced: boolean): void {
  if (unsynced && --counts.unsynced === 0) removeIfOurs(path.join(dir, UNSYNCED_WRITER_FILE));
  if (--counts.presence === 0) {
    fs.rmSync(presenceFile(dir, process.pid), { force: true });
    held.delete(dir);
  }
}

function presenceFile(dir: string, pid: number): string {
  return path.join(dir, `${PRESENCE_PREFIX}${pid}`);
}

function markPresence(dir: string): void {
  try {
    fs.writeFileSync(presenceFile(dir, process.pid), '');
  } catch (err) {
    // a directory we may not write to (a read-only open of someone else's database): no writer
    // that does not flush can be working in it under our uid either, so reading is safe enough
    if (!isPermissionError(err)) throw err;
  }
}

/** Create the claim atomically; a live claim of another process refuses, a dead one is taken over. */
function claimUnsynced(dir: string): void {
  const file = path.join(dir, UNSYNCED_WRITER_FILE);
  for (;;) {
    // written aside and linked into place, so that nobody ever reads a claim without its pid
    const draft = `${file}.${process.pid}`;
    fs.writeFileSync(draft, String(process.pid));
    try {
      fs.linkSync(draft, file);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      fs.rmSync(draft, { force: true });
    }
    const owner = readPid(file);
    if (owner !== undefined && owner !== process.pid && isRunning(owner)) throw unsyncedWriterError(dir, owner);
    fs.rmSync(file, { force: true });
  }
}

function assertClaimIsOurs(dir: string): void {
  const owner = readPid(path.join(dir, UNSYNCED_WRITER_FILE));
  if (owner === process.pid) return;
  throw new DirectoryClaimError(
    'storage/unsynced-writer',
    `another process claimed ${dir} for writing at the same instant (process ${owner ?? 'unknown'}); try again`,
  );
}

function assertNoUnsyncedWriter(dir: string): void {
  const owner = readPid(path.join(dir, UNSYNCED_WRITER_FILE));
  if (owner === undefined || owner === process.pid || !isRunning(owner)) return;
  throw unsyncedWriterError(dir, owner);
}

/** Other live processes' marks in `dir`; marks of dead processes are removed on the way. */
function otherProcesses(dir: string): { pid: number; file: string }[] {
  const live: { pid: number; file: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(PRESENCE_PREFIX)) continue;
    const pid = Number(name.slice(PRESENCE_PREFIX.length));
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const file = path.join(dir, name);
    if (isRunning(pid)) live.push({ pid, file });
    else rmQuietly(file);
  }
  return live;
}

function assertNoOtherProcess(dir: string): void {
  for (const { pid, file } of otherProcesses(dir)) {
    throw new DirectoryClaimError(
      'storage/unsynced-writer',
      `${dir} is open in process ${pid}; a writer with durability 'process' (or noSync) must be the only process with the directory open, or another process's open could make it lose commits. Close the other process first, or use the default durability. (If process ${pid} is not factlog, delete ${file}.)`,
    );
  }
}

function unsyncedWriterError(dir: string, pid: number): DirectoryClaimError {
  return new DirectoryClaimError(
    'storage/unsynced-writer',
    `${dir} is open for writing by process ${pid} with durability 'process' (or noSync); another process opening it could make that writer lose commits. Close it first, or open it with the default durability.`,
  );
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function removeIfOurs(file: string): void {
  if (readPid(file) === process.pid) fs.rmSync(file, { force: true });
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function rmQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // not ours to remove (another user's directory): it is ignored all the same
  }
}

export function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS';
}
