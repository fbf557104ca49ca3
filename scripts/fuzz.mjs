#!/usr/bin/env node
// Parser fuzz, long version: `node scripts/fuzz.mjs [N=100000] [seed]` (after `npm run build`).
// Feeds N mutated/random inputs to readEdn, parseQuery, parsePull, parseRules and the tx-data
// reader (db.with), checking each returns or throws a FactlogError within 1 s of CPU time.
// Prints the seed and counterexample of the first failure (rerun with that seed) and exits 1.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { FactlogError, open, readEdn } from '../dist/src/index.js';
import { parsePull, parseQuery, parseRules } from '../dist/query-lang/index.js';
import { CORPORA, DEEP, inputArb } from '../test/fixtures/fuzz-gen.mjs';

const N = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const LIMIT_MS = 1000;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-fuzz-'));
const conn = await open({ path: path.join(dir, 'db'), noSync: true });
await conn.transact(`[{:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);
const db = conn.db();

const targets = [
  ['readEdn', readEdn, CORPORA.edn, 0.3],
  ['parseQuery', parseQuery, CORPORA.query, 0.3],
  ['parsePull', parsePull, CORPORA.pull, 0.15],
  ['parseRules', parseRules, CORPORA.rules, 0.1],
  ['db.with', (s) => db.with(s), CORPORA.tx, 0.15],
];
let inputs = 0;
let slowest = 0;
const started = Date.now();
let failed = false;
for (const [name, f, corpus, share] of targets) {
  const runs = Math.max(1, Math.round(N * share));
  const check = (s) => {
    const t0 = cpuMs();
    try {
      f(s);
    } catch (e) {
      if (!(e instanceof FactlogError)) throw new Error(`${name} threw a non-FactlogError: ${e?.stack ?? e}`, { cause: e });
    }
    const ms = cpuMs() - t0;
    inputs++;
    slowest = Math.max(slowest, ms);
    if (ms > LIMIT_MS) throw new Error(`${name} took ${ms.toFixed(0)} ms of CPU`);
  };
  const out = fc.check(fc.property(inputArb(corpus), check), { numRuns: runs, seed });
  if (out.failed) {
    failed = true;
    console.error(`FAILED ${name} (seed ${seed}): ${JSON.stringify(out.counterexample?.[0]).slice(0, 2000)}\n${out.errorInstance}`);
    break;
  }
  for (const s of DEEP) check(s);
  console.log(`${name}: ${runs} inputs ok`);
}
await conn.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(`${inputs} inputs, slowest ${slowest.toFixed(0)} ms CPU, ${Math.round((Date.now() - started) / 1000)} s, seed ${seed}`);
process.exit(failed ? 1 : 0);
