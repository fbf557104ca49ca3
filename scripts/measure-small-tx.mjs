#!/usr/bin/env node
// CPU time of a small transaction: `npm run measure:small-tx [N=6000] [rounds=5]` (builds first).
// N concurrent 3-datom conn.transact calls (noSync, one process), a few rounds; prints the
// median µs of CPU (user + system) and of wall time per transaction.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from '../dist/src/index.js';

const N = Number(process.argv[2] ?? 6000);
const ROUNDS = Number(process.argv[3] ?? 5);
const SCHEMA = `[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :person/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]`;

const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-small-tx-'));
try {
  const conn = await open({ path: path.join(dir, 'db'), noSync: true });
  await conn.transact(SCHEMA);
  const cpu = [];
  const wall = [];
  let next = 0;
  // the first round warms the JIT and is not counted
  for (let round = 0; round <= ROUNDS; round++) {
    const cpuStart = cpuMicros();
    const wallStart = performance.now();
    const txs = [];
    for (let i = 0; i < N; i++, next++) {
      txs.push(conn.transact([{ 'person/name': `p${next}`, 'person/age': next % 90, 'person/email': `p${next}@example.org` }]));
    }
    await Promise.all(txs);
    if (round === 0) continue;
    cpu.push((cpuMicros() - cpuStart) / N);
    wall.push(((performance.now() - wallStart) * 1000) / N);
  }
  await conn.close();
  console.log(`${N} concurrent 3-datom transacts, ${ROUNDS} rounds (median): ${median(cpu).toFixed(1)} µs CPU, ${median(wall).toFixed(1)} µs wall per tx`);
  console.log(`rounds, µs CPU per tx: ${cpu.map((x) => x.toFixed(1)).join(' ')}`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
