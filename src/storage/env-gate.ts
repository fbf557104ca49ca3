// One process at a time opens, closes or writes the LMDB environment of a directory.
//
// Why: lmdb-js corrupts a process's write transactions when another process opens or closes the
// same environment while they run (mdb_page_touch errors, MDB_BAD_TXN, SIGSEGV in mdb_txn_commit
// or mdb_node_add), and now and then the opening process fails too (EINVAL). With lmdb-js alone
// (scripts/repro-lmdb-open-close.mjs: 1,500 small transactions in one process, opens and closes in
// a loop in another) 16 of 80 rounds failed, and 0 of 80 with the writes, opens and closes passed
// through this gate. lmdb-js 2.9.4, 3.2.6 and 3.4.4 fail the same way.
//
// The gate: a process leaves a ticket (factlog.gate.<pid>.<thread>) and then looks for others' live
// tickets; with one in sight it takes its own back and retries a moment later. Whichever of two
// writes its ticket second sees the first, so two never pass together. Tickets of dead processes
// are ignored and removed. Reads in between are not gated: in those runs only write transactions,
// opens and closes failed.
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { FactlogError } from '../../query-lang/errors.js';
import { isPermissionError, isRunning } from './dir-claims.js';

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

/** Run `action` (a synchronous open, close or write transaction of the LMDB environment in `dir`) with no other process in one. */
export function throughEnvironmentGate<T>(dir: string, action: () => T): T {
  if (holding.has(dir)) return action();
  const ticket = path.join(dir, `${TICKET_PREFIX}${process.pid}.${threadId}`);
  if (!enterGate(dir, ticket)) return action(); // a directory we may not write to: see enterGate
  holding.add(dir);
  try {
    return action();
  } finally {
    holding.delete(dir);
    removeTicket(ticket);
  }
}

/** Waits until this thread holds the gate; false when it cannot leave a ticket at all. */
function enterGate(dir: string, ticket: string): boolean {
  const giveUpAt = Date.now() + GIVE_UP_MS;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(ticket, 'w'));
    } catch (err) {
      // a read-only open of a directory we may not write: only its owner's processes can race
      // us there, and a file of ours could not keep them out either
      if (isPermissionError(err)) return false;
      throw err;
    }
    const other = liveTicketOtherThan(dir, path.basename(ticket));
    if (other === undefined) return true;
    removeTicket(ticket);
    if (Date.now() > giveUpAt) {
      throw new EnvironmentGateError(
        'storage/gate-busy',
        `another process has been opening, closing or writing the database in ${dir} for ${GIVE_UP_MS / 1000} s (${path.join(dir, other)}); if no factlog process is running there, delete that file`,
      );
    }
    Atomics.wait(pause, 0, 0, 0.2 + Math.random()); // random, so that two waiters drift apart
  }
}

function liveTicketOtherThan(dir: string, own: string): string | undefined {
  for (const name of fs.readdirSync(dir)) {
    if (!isGateTicket(name) || name === own) continue;
    const pid = Number(name.slice(TICKET_PREFIX.length).split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isRunning(pid)) {
      removeTicket(path.join(dir, name)); // its process died inside the gate
      continue;
    }
    return name;
  }
  return undefined;
}

/** Plain unlink: the gate is passed on every commit, and rmSync's checks cost more than the unlink. */
function removeTicket(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
