#!/usr/bin/env node
// Durability soak: `node scripts/soak-durability.mjs [cycles=1000] [chains=2]` (after `npm run build`).
// Kills a writer process with SIGKILL `cycles` times (20-200 ms after it starts writing), reopening
// and checking the database after each kill: every acknowledged tx present in the log and the
// indexes, none partial, indexes equal to a replay of the log (and to a rebuild every 10 cycles).
// Exits 1 on the first problem, printing it and the database directory (kept for inspection).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '../dist/src/index.js';
import { runKillCycles } from '../test/fixtures/durability-runner.mjs';

const cycles = Number(process.argv[2] ?? 1000);
const chains = Number(process.argv[3] ?? 2);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-soak-'));
const started = Date.now();
let done = 0;
const results = await Promise.all(
  Array.from({ length: chains }, (_, i) => {
    const n = Math.floor(cycles / chains) + (i < cycles % chains ? 1 : 0);
    return runKillCycles({
      open,
      dir: path.join(root, `db${i}`),
      cycles: n,
      log: () => {
        if (++done % 50 === 0) console.log(`${done}/${cycles} kill cycles, ${Math.round((Date.now() - started) / 1000)} s`);
      },
    });
  }),
);
const problems = results.flatMap((r) => r.problems);
const acked = results.reduce((s, r) => s + r.acked, 0);
const ran = results.reduce((s, r) => s + r.cycles, 0);
const midWrite = results.flatMap((r) => r.perCycleAcks).filter((n) => n > 0).length;
console.log(`${ran} kill cycles (${midWrite} mid-write), ${acked} acknowledged txs, ${Math.round((Date.now() - started) / 1000)} s`);
if (problems.length) {
  console.error(`FAILED (databases kept in ${root}):\n${problems.join('\n')}`);
  process.exit(1);
}
fs.rmSync(root, { recursive: true, force: true });
console.log('OK: no acknowledged tx lost, none partial, indexes agree with the log');
