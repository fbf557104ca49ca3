// LMDB's lock file's record of the last committed transaction: read it, and put it right after an open that may have set it back.
//
// Why: every open of an environment, read-only ones too, copies the txnid of the newest meta page
// it read into the lock file's shared "last committed" field without holding the write lock (the
// LMDB inside lmdb-js 3.5.6 lacks upstream's fix, ITS#9496: mdb_env_open2 does so only for
// MDB_PREVSNAPSHOT there). When another process commits between that read and that store, the
// field goes back a transaction, and the next write transaction, which starts from it, overwrites
// the last commit and trips over its own pages (mdb_page_touch errors, MDB_BAD_TXN, SIGSEGV;
// scripts/repro-lmdb-open-close.mjs --watch). env-gate.ts keeps opens apart from commits; where it
// lets a read-only open pass beside a stopped writer, this module puts right what that open set back.
import fs from 'node:fs';
import { newestCommittedTxnid } from './file-check.js';

// the layout of lmdb-js 3.5.6's lock file on 64-bit Linux (its liblmdb/mdb.c, MDB_txninfo)
const MAGIC_AT = 0;
const FORMAT_AT = 4;
const TXNID_AT = 8;
const LMDB_MAGIC = 0xbeefc0de;
const LOCK_VERSION = 2; // the low 12 bits of the format word
/** A repair that keeps meeting new commits gives up: only a process let on past the gate commits meanwhile. */
const REPAIR_ATTEMPTS = 100;

/**
 * Descriptors of lock files, never closed: closing any descriptor of a file drops every POSIX lock
 * this process holds on it, and LMDB's shared lock on its lock file is what stops another opener
 * from resetting the file under us.
 */
const lockFiles = new Map<string, number>();

function lockFileOf(dataFile: string): number {
  const name = `${dataFile}-lock`;
  const open = lockFiles.get(name);
  if (open !== undefined && fs.fstatSync(open).ino === fs.statSync(name).ino) return open;
  const fd = fs.openSync(name, 'r+'); // a replaced file's descriptor is left open, for the reason above
  lockFiles.set(name, fd);
  return fd;
}

/** True when `dataFile` and its lock file have the layout this module reads and writes. */
export function lockLayoutKnown(dataFile: string): boolean {
  try {
    if (newestCommittedTxnid(dataFile) === undefined) return false;
    const head = Buffer.alloc(TXNID_AT + 8);
    if (fs.readSync(lockFileOf(dataFile), head, 0, head.length, 0) < head.length) return false;
    return head.readUInt32LE(MAGIC_AT) === LMDB_MAGIC && (head.readUInt32LE(FORMAT_AT) & 0xfff) === LOCK_VERSION;
  } catch {
    return false; // no data or lock file, or one we may not write: nothing this module can put right
  }
}

/** The txnid the lock file says was committed last: the one the next write transaction starts from. */
export function lastCommittedInLockFile(dataFile: string): bigint {
  const field = Buffer.alloc(8);
  fs.readSync(lockFileOf(dataFile), field, 0, 8, TXNID_AT);
  return field.readBigUInt64LE(0);
}

/**
 * Sets the lock file's last committed txnid forward to the newest meta page's, if an open set it
 * back. Only while no other process can begin a write transaction (this process inside the gate):
 * a commit that races the store is seen by the second read of the meta pages, and the store redone.
 */
export function putRightLastCommitted(dataFile: string): void {
  for (let attempt = 0; attempt < REPAIR_ATTEMPTS; attempt++) {
    const newest = newestCommittedTxnid(dataFile);
    if (newest === undefined) return;
    if (lastCommittedInLockFile(dataFile) < newest) {
      const field = Buffer.alloc(8);
      field.writeBigUInt64LE(newest);
      fs.writeSync(lockFileOf(dataFile), field, 0, 8, TXNID_AT);
    }
    if (newestCommittedTxnid(dataFile) === newest) return;
  }
}
