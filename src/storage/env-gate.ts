// One process at a time opens, closes or writes the LMDB environment of a directory.
//
// Why: an open of the environment in another process, during a write transaction, sets LMDB's
// shared record of the last committed transaction back when a commit lands in the middle of the
// open (lmdb-lock.ts says how); the next write transaction then overwrites that commit and fails
// (mdb_page_touch errors, MDB_BAD_TXN, SIGSEGV in mdb_txn_commit or mdb_node_add). With lmdb-js
// alone (scripts/repro-lmdb-open-close.mjs: 1,500 small transactions in one process, opens and
// closes in a loop in another) 16 of 80 rounds failed, and 0 of 80 with the writes, opens and
// closes passed through this gate. lmdb-js 2.9.4, 3.2.6 and 3.4.4 fail the same way.
//
// The gate: each process has a ticket file in the directory (factlog.gate.<pid>.<thread>) whose
// first byte says whether it is inside ('1') or not (the second: see INSIDE_ALONE). A process
// going in writes '1' into its ticket, then reads the others'; with another inside in sight it
// writes '0' again and retries a moment later. Whichever of two writes its '1' second sees the first's, so two never pass
// together. A store keeps its ticket from open to close (joinEnvironmentGate), so a pass rewrites
// one byte of a file instead of creating and removing one: creating and removing a directory
// entry on every commit made each commit's flush of the log file wait for the file system's
// journal (a durable single-datom transact took 1.5 ms instead of 0.7). Without a standing ticket
// a pass makes a ticket for itself and removes it after. Tickets of dead processes are ignored and removed.
// A live process stopped inside (SIGSTOP, Ctrl-Z) is not waited for: it may never go on, and its
// ticket is its own to remove. A read-only open goes in beside it (openThroughEnvironmentGate);
// a writer gives storage/gate-stopped naming it.
// Reads in between are not gated: in those runs only write transactions, opens and closes failed.
// Nor are read-only closes: gating the opens alone, 0 of 14 rounds failed (store.ts, closeNow).
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { FactlogError } from '../../query-lang/errors.js';
import { newestCommittedTxnid } from './file-check.js';
import { lockLayoutKnown, putRightLastCommitted } from './lmdb-lock.js';
import { isPermissionError, isRunning, processState } from './processes.js';

const TICKET_PREFIX = 'factlog.gate.';
const GIVE_UP_MS = 30_000;
const pause = new Int32Array(new SharedArrayBuffer(4));
/** Directories whose gate this thread holds: a gated action may itself pass the same gate. */
const holding = new Set<string>();

export class EnvironmentGateError extends FactlogError {}

/** True for the ticket files this module leaves in a database directory. */
export function isGateTicket(name: string): boolean {
  return name.startsWith(TICKET_PREFIX);
}

/** The process a ticket file (factlog.gate.<pid>.<thread>) belongs to; undefined for another name. */
export function ticketPid(name: string): number | undefined {
  if (!isGateTicket(name)) return undefined;
  const pid = Number(name.slice(TICKET_PREFIX.length).split('.')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether another thread of this process (a server's query worker) holds a ticket in `dir`. */
export function otherThreadInside(dir: string): boolean {
  const own = `${TICKET_PREFIX}${process.pid}.`;
  return fs.readdirSync(dir).some((name) => name.startsWith(own) && name !== `${own}${threadId}`);
}

interface Ticket {
  file: string;
  fd: number;
}

/** This thread's standing tickets, by directory, and how many stores hold each. */
const standing = new Map<string, Ticket & { holders: number }>();
// the first byte says inside or not; the second, when inside, whether a read-only open may go in
// beside this process should it be stopped: not while it moves or removes the database's files
const INSIDE = Buffer.from('1-');
const INSIDE_ALONE = Buffer.from('1x');
const OUTSIDE = Buffer.from('0-');

/**
 * Keep a ticket in `dir` until the returned function is called (a store, from open to close), so
 * that passing the gate rewrites a byte of it. Without write permission there is no ticket.
 */
export function joinEnvironmentGate(dir: string): () => void {
  let ticket = standing.get(dir);
  if (!ticket) {
    const opened = openTicket(dir);
    if (!opened) return () => {};
    ticket = { ...opened, holders: 0 };
    standing.set(dir, ticket);
  }
  ticket.holders++;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    if (--ticket.holders > 0) return;
    standing.delete(dir);
    closeTicket(ticket);
  };
}

/** How many stores of this process have `dir`'s environment open (each holds the standing ticket). */
export function storesOpenIn(dir: string): number {
  return standing.get(dir)?.holders ?? 0;
}

/**
 * Run `action` (a synchronous open, close or write transaction of the LMDB environment in `dir`)
 * with no other process in one. `alone`: an action that moves or removes the database's files, beside
 * which no read-only open may go even while this process is stopped.
 */
export function throughEnvironmentGate<T>(dir: string, action: () => T, { alone = false } = {}): T {
  return passGate(dir, action, undefined, alone ? INSIDE_ALONE : INSIDE);
}

/**
 * Run `open`, a read-only open of the LMDB environment in `dir` (data file `dataFile`), with no
 * other process in the gate, or beside processes stopped inside it: a reader does not wait on a
 * writer that may never go on. An open harms a writer only when a commit lands while it runs (see
 * lmdb-lock.ts), and a stopped process commits nothing; if it went on and committed meanwhile (the
 * newest meta page changed across the open), the lock file's last committed txnid is put right
 * before leaving, while the gate keeps every other process from beginning a write transaction.
 */
export function openThroughEnvironmentGate<T>(dir: string, dataFile: string, open: () => T): T {
  return passGate(dir, open, dataFile);
}

function passGate<T>(dir: string, action: () => T, dataFile?: string, inside = INSIDE): T {
  if (holding.has(dir)) return action();
  const ticket = standing.get(dir) ?? openTicket(dir);
  if (!ticket) return action(); // a directory we may not write to: see openTicket
  const say = (state: Buffer) => void fs.writeSync(ticket.fd, state, 0, state.length, 0);
  let beside: boolean;
  try {
    const mayPassStopped = dataFile !== undefined && lockLayoutKnown(dataFile);
    beside = waitForTurn(
      dir,
      path.basename(ticket.file),
      () => say(inside),
      () => say(OUTSIDE),
      mayPassStopped,
    );
  } catch (err) {
    if (ticket !== standing.get(dir)) closeTicket(ticket);
    throw err;
  }
  holding.add(dir);
  try {
    if (!beside || dataFile === undefined) return action();
    const before = newestCommittedTxnid(dataFile);
    const result = action();
    if (newestCommittedTxnid(dataFile) !== before) putRightLastCommitted(dataFile);
    return result;
  } finally {
    holding.delete(dir);
    if (ticket === standing.get(dir)) say(OUTSIDE);
    else closeTicket(ticket); // made for this pass alone
  }
}

/** Remove the ticket a thread of this process left in `dir` when it was ended (Worker.terminate) before closing its stores. */
export function forgetThreadTicket(dir: string, thread: number): void {
  removeTicket(path.join(dir, `${TICKET_PREFIX}${process.pid}.${thread}`));
}

/** This thread's ticket in `dir`, saying outside; undefined when we may not write there. */
function openTicket(dir: string): Ticket | undefined {
  const file = path.join(dir, `${TICKET_PREFIX}${process.pid}.${threadId}`);
  try {
    const fd = fs.openSync(file, 'w');
    fs.writeSync(fd, OUTSIDE, 0, OUTSIDE.length, 0);
    return { file, fd };
  } catch (err) {
    // a read-only open of a directory we may not write: only its owner's processes can race
    // us there, and a file of ours could not keep them out either
    if (isPermissionError(err)) return undefined;
    throw err;
  }
}

function closeTicket(ticket: Ticket): void {
  fs.closeSync(ticket.fd);
  removeTicket(ticket.file);
}

/**
 * With this thread's ticket saying inside (`goIn`), wait until no other process's does; true when
 * it goes in beside processes stopped inside (`mayPassStopped`). A process stopped inside (SIGSTOP,
 * Ctrl-Z, a debugger) may never go on: past STOPPED_GIVE_UP_MS of it stopped, storage/gate-stopped
 * names it rather than waiting for it.
 */
function waitForTurn(dir: string, own: string, goIn: () => void, stepBack: () => void, mayPassStopped: boolean): boolean {
  const started = Date.now();
  let stopped: { pid: number; since: number } | undefined;
  for (;;) {
    goIn();
    const inside = otherTicketsInside(dir, own);
    if (inside.length === 0) return false;
    if (mayPassStopped && inside.every(({ pid, alone }) => !alone && pid !== undefined && processState(pid) === 'stopped')) return true;
    const other = inside[0];
    stepBack();
    const now = Date.now();
    if (other.pid !== undefined && now - started >= CHECK_STATE_AFTER_MS) {
      if (processState(other.pid) !== 'stopped') stopped = undefined;
      else if (stopped?.pid !== other.pid) stopped = { pid: other.pid, since: now };
      else if (now - stopped.since >= STOPPED_GIVE_UP_MS) throw stoppedInside(dir, other.pid);
    }
    if (now - started > GIVE_UP_MS) throw busyInside(dir, other);
    Atomics.wait(pause, 0, 0, 0.2 + Math.random()); // random, so that two waiters drift apart
  }
}

/** Waits longer than this are told apart: is the process inside stopped? */
const CHECK_STATE_AFTER_MS = 200;
/** How long a process inside may stay stopped before a waiter gives up on it. */
const STOPPED_GIVE_UP_MS = 1000;

function stoppedInside(dir: string, pid: number): EnvironmentGateError {
  return new EnvironmentGateError(
    'storage/gate-stopped',
    `process ${pid} is stopped (a SIGSTOP, Ctrl-Z or a debugger) while opening, closing or writing the database in ${dir}, ` +
      `and no other process may do so until it goes on: resume it (kill -CONT ${pid}) or end it, then try again`,
  );
}

function busyInside(dir: string, other: { name: string; pid?: number }): EnvironmentGateError {
  const who = other.pid === undefined ? `the process of ${path.join(dir, other.name)}` : `process ${other.pid}`;
  return new EnvironmentGateError(
    'storage/gate-busy',
    `${who} has been opening, closing or writing the database in ${dir} for over ${GIVE_UP_MS / 1000} s and is still running ` +
      `(a large transaction or an index rebuild can take that long): try again once it is done`,
  );
}

/** A process stopped inside the gate of `dir` (SIGSTOP, Ctrl-Z, a debugger), if any, that a read-only open may go in beside. */
export function processStoppedInside(dir: string): number | undefined {
  if (!fs.existsSync(dir)) return undefined;
  return otherTicketsInside(dir, '').find(({ pid, alone }) => !alone && pid !== undefined && processState(pid) === 'stopped')?.pid;
}

/** The tickets of live processes that say inside; those of processes that ended are removed on the way. */
function otherTicketsInside(dir: string, own: string): { name: string; pid?: number; alone: boolean }[] {
  const inside: { name: string; pid?: number; alone: boolean }[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!isGateTicket(name) || name === own) continue;
    const file = path.join(dir, name);
    const pid = ticketPid(name);
    if (pid !== undefined && !isRunning(pid)) {
      removeTicket(file); // its process died, maybe inside the gate
      continue;
    }
    const state = ticketState(file);
    if (state?.[0] !== INSIDE[0]) continue;
    // a zombie ended inside: only its parent has not reaped it yet
    if (pid !== undefined && ['dead', 'gone'].includes(processState(pid))) removeTicket(file);
    else inside.push({ name, pid, alone: state[1] === INSIDE_ALONE[1] });
  }
  return inside;
}

function ticketState(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // it left meanwhile
    throw err;
  }
}

/** Plain unlink: rmSync's checks cost more than the unlink. */
function removeTicket(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
