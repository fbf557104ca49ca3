// lmdb-lock.ts: the lock file's last committed txnid, set back as an open racing a commit sets it, is put right, and nothing is lost.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open, q } from '../src/index.js';
import { newestCommittedTxnid } from '../src/storage/file-check.js';
import { lastCommittedInLockFile, lockLayoutKnown, putRightLastCommitted } from '../src/storage/lmdb-lock.js';
import { closedDatabase, tempDir } from './helpers/tmp.js';

const names = (conn: Awaited<ReturnType<typeof open>>) =>
  q(`[:find ?n :where [_ :person/name ?n]]`, conn.db())
    .map((row: unknown[]) => String(row[0]))
    .sort();

/**
 * Writes `txnid` into the lock file's last committed field from another process, as a racing
 * open does: this process must not open and close the lock file, which would drop LMDB's locks on it.
 */
function setLockFileTxnid(dataFile: string, txnid: bigint): void {
  const script = `const fs = require('node:fs'); const b = Buffer.alloc(8); b.writeBigUInt64LE(${txnid}n);
    const fd = fs.openSync(${JSON.stringify(`${dataFile}-lock`)}, 'r+'); fs.writeSync(fd, b, 0, 8, 8); fs.closeSync(fd);`;
  expect(spawnSync(process.execPath, ['-e', script]).status).toBe(0);
}

describe('the lock file of LMDB', () => {
  it('knows the layout of a factlog database, and not that of a missing file', async () => {
    const dir = await closedDatabase('factlog-lock-');
    const conn = await open({ path: dir });
    const dataFile = path.join(dir, 'factlog.mdb');
    expect(lockLayoutKnown(dataFile)).toBe(true);
    expect(lastCommittedInLockFile(dataFile)).toBe(newestCommittedTxnid(dataFile));
    expect(lockLayoutKnown(path.join(tempDir('factlog-lock-'), 'none.mdb'))).toBe(false);
    await conn.close();
  });

  it('a last committed txnid set back is put right, and the next transaction keeps the commit it would have overwritten', async () => {
    const dir = await closedDatabase('factlog-lock-');
    const dataFile = path.join(dir, 'factlog.mdb');
    const conn = await open({ path: dir });
    await conn.transact(`[{:db/id "b" :person/name "Bo"}]`);
    const newest = newestCommittedTxnid(dataFile)!;
    expect(lastCommittedInLockFile(dataFile)).toBe(newest);
    setLockFileTxnid(dataFile, newest - 1n);
    expect(lastCommittedInLockFile(dataFile)).toBe(newest - 1n);
    putRightLastCommitted(dataFile);
    expect(lastCommittedInLockFile(dataFile)).toBe(newest);
    await conn.transact(`[{:db/id "c" :person/name "Cy"}]`);
    expect(names(conn)).toEqual(['Ann', 'Bo', 'Cy']);
    await conn.close();
    const again = await open({ path: dir, readOnly: true });
    expect(names(again)).toEqual(['Ann', 'Bo', 'Cy']);
    await again.close();
  });

  it('leaves a txnid that is not behind alone', async () => {
    const dir = await closedDatabase('factlog-lock-');
    const dataFile = path.join(dir, 'factlog.mdb');
    const conn = await open({ path: dir });
    const newest = newestCommittedTxnid(dataFile)!;
    setLockFileTxnid(dataFile, newest + 1n); // ahead: nothing an open does, and not for this module to move back
    putRightLastCommitted(dataFile);
    expect(lastCommittedInLockFile(dataFile)).toBe(newest + 1n);
    setLockFileTxnid(dataFile, newest);
    await conn.close();
  });
});
