#!/usr/bin/env node
// Durability soak: `node scripts/soak-durability.mjs [cycles=1000] [chains=2] [durability=os]`
// (after `npm run build`). Kills a writer process with SIGKILL `cycles` times (20-200 ms after it
// starts writing), reopening and checking the database after each kill: every acknowledged tx
// present in the log and the indexes, none partial, indexes equal to a replay of the log (and to a
// rebuild every 10 cycles). Exits 1 on the first problem, printing it and the database directory
// (kept for inspection).
// - Each chain runs in its own worker thread: a chain's check of its database takes seconds and,
//   in a shared event loop, held up the other chain's kill timer, so its writer ran for seconds.
// - Each chain starts a new database every FRESH_EVERY cycles: each check reads the whole
//   database, so one database for the whole soak made it quadratic.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const FRESH_EVERY = 50;

if (!isMainThread) {
  const { open } = await import('../dist/src/index.js');
  const { runKillCycles } = await import('../test/fixtures/durability-runner.mjs');
  const stats = await runKillCycles({ open, ...workerData, freshEvery: FRESH_EVERY, log: () => parentPort.postMessage({ cycle: true }) });
  parentPort.postMessage({ stats });
} else {
  const cycles = Number(process.argv[2] ?? 1000);
  const chains = Number(process.argv[3] ?? 2);
  const durability = process.argv[4] ?? 'os';
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-soak-'));
  const started = Date.now();
  let done = 0;
  const chain = (i) =>
    new Promise((resolve, reject) => {
      const n = Math.floor(cycles / chains) + (i < cycles % chains ? 1 : 0);
      const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { dir: path.join(root, `db${i}`), cycles: n, durability } });
      worker.on('message', (m) => {
        if (m.stats) resolve(m.stats);
        else if (++done % 50 === 0) console.log(`${done}/${cycles} kill cycles, ${Math.round((Date.now() - started) / 1000)} s`);
      });
      worker.on('error', reject);
    });
  const results = await Promise.all(Array.from({ length: chains }, (_, i) => chain(i)));
  const problems = results.flatMap((r) => r.problems);
  const acked = results.reduce((s, r) => s + r.acked, 0);
  const ran = results.reduce((s, r) => s + r.cycles, 0);
  const midWrite = results.flatMap((r) => r.perCycleAcks).filter((n) => n > 0).length;
  console.log(`${ran} kill cycles (${midWrite} mid-write), ${acked} acknowledged txs, durability '${durability}', ${Math.round((Date.now() - started) / 1000)} s`);
  if (problems.length) {
    console.error(`FAILED (databases kept in ${root}):\n${problems.join('\n')}`);
    process.exit(1);
  }
  fs.rmSync(root, { recursive: true, force: true });
  console.log('OK: no acknowledged tx lost, none partial, indexes agree with the log');
}
