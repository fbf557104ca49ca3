// Measures the log feed: follow() latency from another process, and replica catch-up speed.
// Usage: node scripts/measure-feed.mjs [TXS=5000]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, replicate } from '../dist/src/index.js';

const txs = Number(process.argv[2] ?? 5000);
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-feed-'));
const primaryDir = path.join(root, 'primary');

// 1. latency: a follower process prints the time it received each transaction
const conn = await open({ path: primaryDir });
const follower = spawn(process.execPath, [path.resolve('test/fixtures/feed-follower.mjs'), primaryDir, '0', '201'], { stdio: ['ignore', 'pipe', 'inherit'] });
let out = '';
follower.stdout.on('data', (d) => (out += d));
await conn.transact([{ 'feed/name': 'warm-up' }]);
while (!out.includes('warm-up')) await new Promise((r) => setTimeout(r, 10));
const acked = new Map();
for (let i = 0; i < 200; i++) {
  const { t } = await conn.transact([{ 'feed/name': `n${i}`, 'feed/i': i }]);
  acked.set(t, Date.now());
  await new Promise((r) => setTimeout(r, 2));
}
await new Promise((r) => follower.on('close', r));
const lat = out
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
  .filter((x) => acked.has(x.t))
  .map((x) => x.at - acked.get(x.t))
  .sort((a, b) => a - b);
console.log(
  `follow latency after acknowledgement (200 txs, separate process): median ${lat[lat.length >> 1]} ms, p95 ${lat[Math.floor(lat.length * 0.95)]} ms, max ${lat[lat.length - 1]} ms`,
);

// 2. replica catch-up: a primary with `txs` more transactions, replayed into an empty replica
const batch = [];
for (let i = 0; i < txs; i++) batch.push(conn.transact([{ 'feed/name': `m${i % 100}`, 'feed/i': i }]));
await Promise.all(batch);
const total = conn.basisT;
await conn.close();
const started = performance.now();
await replicate({ from: primaryDir, to: path.join(root, 'replica') });
const secs = (performance.now() - started) / 1000;
console.log(`replica catch-up: ${total} transactions in ${secs.toFixed(2)} s = ${Math.round(total / secs)} tx/s`);
fs.rmSync(root, { recursive: true, force: true });
