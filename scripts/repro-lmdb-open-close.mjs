// Reproduces, with lmdb-js alone, the failure that src/storage/env-gate.ts works around: a process
// writing small synchronous transactions fails (mdb_page_touch error, MDB_BAD_TXN, SIGSEGV) while
// another process opens and closes the same environment over and over; now and then an open fails
// too (EINVAL).
//
//   node scripts/repro-lmdb-open-close.mjs [rounds=20] [--gate [--beside [--no-repair]]] [--nosync] [--watch]
//
// --nosync opens both sides with noSync (as factlog opens LMDB: its log file makes commits
// durable): then a writer that finishes may also have lost committed transactions, which each
// round checks.
// Prints each failed round and "failed F of R rounds". With --gate the writer's transactions and
// the other process's opens and closes pass through factlog's gate (needs `npm run build`).
// Measured on the project machine, two copies of 40 rounds at once plus a busy loop: 16 of 80
// rounds failed without the gate (15 writers, one open), 0 of 80 with it. With --nosync, 15 rounds
// each, no extra load (an earlier form of this check): 6 finished writers had lost 30-61
// committed transactions and 2 crashed without the gate; with it, none lost any or failed. Two
// copies at once, --nosync: 30 of 40 rounds failed without the gate (20 rounds each), 0 of 80
// with it (40 rounds each). Which side does the harm: with --gate --gate-opens-only (read-only
// closes outside the gate) 0 of 14 rounds failed (about 13,000 closes); with --gate
// --gate-closes-only (opens outside) 5 of 8 failed: one writer crashed, four finished having lost
// 1-2 committed transactions. So an open harms a writer, a read-only close does not.
//
// Why an open harms a writer (the cause): lmdb-js's LMDB (dependencies/lmdb/libraries/liblmdb/
// mdb.c, mdb_env_open2) copies the txnid of the newest meta page the opener read into the lock
// file's shared "last committed" txnid (mti_txnid) on every open, read-only ones too, without the
// write lock. Upstream LMDB does so only when opening with MDB_PREVSNAPSHOT, since ITS#9496 (LMDB
// 0.9.29): "if a process tries to open an env while another process is committing a write txn,
// it's possible for the committed txn to get lost/overwritten by the new opener". A commit landing
// between the opener's read of the meta pages and that store sets the field back; the writer's
// next transaction starts from it (mdb_txn_renew0: txnid = mti_txnid, meta = metas[txnid & 1]),
// so it builds on the meta page before the last commit, overwrites that commit, and, having the
// same txnid as the lost one, takes its pages for its own dirty ones (mdb_page_touch errors, or a
// write into the read-only map: SIGSEGV). strace of the opener shows no other write: it never gets
// LMDB's exclusive lock (so never resets the lock file), writes nothing to the data file, and
// truncates nothing.
// --watch shows it: inside each write transaction (holding the write lock, so with no commit of
// anyone else under way) the writer compares the lock file's txnid with the newest meta page's,
// and each round prints how many transactions started from a stale one. 10 rounds, --nosync:
// every one of the 5 failed rounds had 1-7 stale starts (3 finished losing 2-4 transactions, 2
// hit mdb_page_touch errors), the 2 rounds with none did not fail, and 3 rounds with 2-6 did not
// either (a store that lands after the writer's transaction began is only seen, not harmful: its
// commit writes the field anew); with --gate, 8 of 8 rounds had no stale start and none failed.
// --gate --beside, --nosync (the other process's opens go in beside the running writer, as a
// read-only open goes in beside a stopped one, and put the txnid right when a commit landed
// meanwhile): 223 opens saw a commit land in 25 rounds, and no round failed; with --no-repair as
// well, 4 of 6 rounds failed (55 opens saw a commit land). A later run of 8 rounds: in one, after
// 365 opens, an open of this process failed with EINVAL starting its read transaction (as opens
// racing commits did before the gate, above), and so did the round's check after it (lmdb-js
// hands a later open of the same file the failed one's environment); that writer lost nothing.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';

const OPTIONS = { maxDbs: 16, mapSize: 64 * 1024 ** 3, overlappingSync: false, noSync: process.argv.includes('--nosync') };
// --gate-opens-only / --gate-closes-only (with --gate): the other side's closes or opens pass outside it
const gateOnly = process.argv.includes('--gate-opens-only') ? 'opens' : process.argv.includes('--gate-closes-only') ? 'closes' : undefined;
// --beside (with --gate): the other process's opens go in beside the writer, whatever it is doing
// (as a read-only open goes in beside a process stopped inside the gate), and put right what they
// set back (env-gate.ts, openThroughEnvironmentGate); its closes pass outside the gate.
// --no-repair (with --beside): they only count what they would put right
const beside = process.argv.includes('--beside');
const repair = !process.argv.includes('--no-repair');
let besideRepairs = 0;
async function openBeside(dir, file, openReader) {
  const { newestCommittedTxnid } = await import('../dist/src/storage/file-check.js');
  const { putRightLastCommitted } = await import('../dist/src/storage/lmdb-lock.js');
  const ticket = fs.openSync(path.join(dir, `factlog.gate.${process.pid}.0`), 'w');
  fs.writeSync(ticket, '1', 0);
  try {
    const before = newestCommittedTxnid(file);
    const reader = openReader();
    if (newestCommittedTxnid(file) !== before) {
      besideRepairs++;
      if (repair) putRightLastCommitted(file);
    }
    return reader;
  } finally {
    fs.writeSync(ticket, '0', 0);
    fs.closeSync(ticket);
  }
}
const gate = process.argv.includes('--gate') ? (await import('../dist/src/storage/env-gate.js')).throughEnvironmentGate : (_dir, action) => action();

const watch = process.argv.includes('--watch');

/**
 * --watch: does the lock file's last committed txnid (what a write transaction starts from) agree
 * with the newest meta page? Asked inside a write transaction, so while holding LMDB's write lock,
 * when no commit of another process can be under way. Offsets are those of lmdb-js 3.5.6's LMDB
 * on 64-bit Linux: the lock file's txnid at 8; a meta page's txnid at 152 of pages 0 and 1. The
 * descriptors stay open: closing one on the lock file would drop this process's locks on it.
 */
const descriptors = new Map();
function txnidAgrees(file) {
  const read = (name, offset) => {
    if (!descriptors.has(name)) descriptors.set(name, fs.openSync(name, 'r'));
    const buffer = Buffer.alloc(8);
    fs.readSync(descriptors.get(name), buffer, 0, 8, offset);
    return buffer.readBigUInt64LE(0);
  };
  const pageSize = Number(read(file, 48) & 0xffffffffn);
  const newest = [read(file, 152), read(file, pageSize + 152)].reduce((a, b) => (a > b ? a : b));
  return read(`${file}-lock`, 8) === newest;
}

if (process.argv[2] === 'writer') {
  const [file, count] = process.argv.slice(3);
  const dir = path.dirname(file);
  const env = gate(dir, () => open({ path: file, ...OPTIONS }));
  const keys = env.openDB('keys', { encoding: 'binary' });
  const log = env.openDB('log', { keyEncoding: 'uint32' });
  process.stdout.write('ready\n');
  const key = (n) => Buffer.from(`k${n % 100000}`.padStart(12, '0'));
  let staleBegins = 0;
  for (let i = 0; i < Number(count); i++) {
    gate(dir, () =>
      env.transactionSync(() => {
        if (watch && !txnidAgrees(file)) process.stdout.write(`stale ${++staleBegins}\n`);
        log.putSync(i, Buffer.alloc(60, i & 255));
        for (let k = 0; k < 8; k++) keys.putSync(key(i * 7919 + k * 104729), Buffer.alloc(0));
        if (i % 3 === 0) keys.removeSync(key(i * 31));
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
  }
  gate(dir, () => env.close());
} else {
  const TRANSACTIONS = 1500;
  const rounds = Number(process.argv[2] ?? 20) || 20;
  let failed = 0;
  for (let round = 0; round < rounds; round++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lmdb-repro-'));
    const file = path.join(dir, 'data.mdb');
    const created = open({ path: file, ...OPTIONS });
    created.openDB('keys', { encoding: 'binary' });
    created.openDB('log', { keyEncoding: 'uint32' });
    await created.close();
    const args = [process.argv[1], 'writer', file, String(TRANSACTIONS), ...process.argv.slice(3)];
    const writer = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    writer.stderr.on('data', (chunk) => (stderr += chunk));
    await new Promise((resolve) => writer.stdout.once('data', resolve));
    writer.stdout.on('data', (chunk) => (stdout += chunk));
    let writing = true;
    const exited = new Promise((resolve) => writer.on('close', (code, signal) => ((writing = false), resolve([code, signal]))));
    let opens = 0;
    let openFailure;
    while (writing && !openFailure) {
      try {
        const openReader = () => open({ path: file, ...OPTIONS, readOnly: true });
        const reader = beside ? await openBeside(dir, file, openReader) : gateOnly === 'closes' ? openReader() : gate(dir, openReader);
        await (gateOnly === 'opens' || beside ? reader.close() : gate(dir, () => reader.close()));
        opens++;
      } catch (err) {
        openFailure = err; // this side fails too (EINVAL starting the open's read transaction)
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const [code, signal] = await exited;
    const stale = stdout.match(/stale \d+/g)?.length ?? 0;
    if (watch) console.log(`round ${round}: ${stale} of the writer's transactions started from a stale txnid`);
    if (code !== 0 || openFailure) {
      failed++;
      const writerError = stderr.split('\n').find((l) => l.includes('Error') || l.includes('error')) ?? '';
      console.log(`round ${round}: writer exited ${code ?? signal}${code ? ` (${writerError})` : ''}; ${opens} opens${openFailure ? `, then an open failed: ${openFailure.message}` : ''}`);
    }
    const check = open({ path: file, ...OPTIONS, readOnly: true });
    const logged = check.openDB('log', { keyEncoding: 'uint32' }).getKeysCount();
    await check.close();
    if (code === 0 && logged !== TRANSACTIONS) {
      failed++;
      console.log(`round ${round}: the writer finished, but the log holds ${logged} of its ${TRANSACTIONS} committed transactions`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (beside) console.log(`${besideRepairs} opens saw a commit land meanwhile${repair ? ", and put right the lock file's txnid" : ''}`);
  console.log(`failed ${failed} of ${rounds} rounds`);
}
