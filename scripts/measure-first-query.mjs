#!/usr/bin/env node
// What the benchmark's medians hide: the first queries on a connection with nothing in memory.
// `node scripts/measure-first-query.mjs [people=200000]` (after `npm run build`).
// Loads the benchmark's people into a new database, then for each query opens a new connection
// (no attribute columns held; the OS page cache stays warm) and times the query three times,
// beside DataScript's time for the same query on a database it already holds.
import fs from 'node:fs';
import { open, q } from '../dist/src/index.js';
import { buildDs, buildFactlog, ds, removeDir, toDsQuery } from '../dist/bench/engines.js';
import { generatePeople } from '../dist/bench/generate.js';

const people = Number(process.argv[2] ?? 200000);
const QUERIES = {
  q1: '[:find ?e :where [?e :name "Ivan"]]',
  q2: '[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]',
  q3: '[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex "male"]]',
  q4: '[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex "male"]]',
  qpred1: '[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]',
};

const generated = generatePeople(people, 1);
const fixture = await buildFactlog(generated);
await fixture.conn.close();
const dsf = buildDs(generated);
const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
console.log(`${people.toLocaleString('en')} people; each factlog query on a new connection (ms: 1st, 2nd, 3rd run), DataScript's median of 5`);
for (const [name, text] of Object.entries(QUERIES)) {
  const conn = await open({ path: fixture.dir });
  const runs = [0, 1, 2].map(() => time(() => q(text, conn.db())));
  await conn.close();
  const dsRuns = [0, 1, 2, 3, 4].map(() => time(() => ds.q(toDsQuery(text), dsf.db))).sort((a, b) => a - b);
  console.log(
    `${name.padEnd(7)} factlog ${runs
      .map((ms) => ms.toFixed(1))
      .join(', ')
      .padEnd(22)} DataScript ${dsRuns[2].toFixed(1)}`,
  );
}
removeDir(fixture.dir);
if (fs.existsSync(fixture.dir)) process.exitCode = 1;
