// Temporary: the scale queries (bench/scale-queries.ts) on a shop history imported once into DIR,
// for measuring the query half of issue 26 without the whole `scale` bench group.
// Usage: npm run build && node scripts/measure-scale-queries.mjs DIR DATOMS [runs]
//   (DIR is made by generating DATOMS of shop history and importing it when it does not exist)
import fs from 'node:fs';
import path from 'node:path';
import { open } from '../dist/src/index.js';
import { importIntoEmpty } from '../dist/src/cli/transfer.js';
import { writeShopExport, shopHistory, dsTxDataOf, SHOP_DS_SCHEMA } from '../dist/bench/scale-history.js';
import { ds } from '../dist/bench/engines.js';
import { runScaleQueries, printScaleQueries } from '../dist/bench/scale-queries.js';

const [dir, datomsText, runsText] = process.argv.slice(2);
if (!dir || !datomsText) {
  console.error('usage: node scripts/measure-scale-queries.mjs DIR DATOMS [runs]');
  process.exit(2);
}
const datoms = Number(datomsText.replace(/[mM]$/, '000000').replace(/[kK]$/, '000'));
if (!fs.existsSync(dir)) {
  const file = `${dir}.jsonl`;
  let t0 = performance.now();
  const written = await writeShopExport(file, { datoms, seed: 26 });
  console.log(`generated ${written.datoms} datoms in ${(performance.now() - t0).toFixed(0)} ms`);
  (await open({ path: dir, create: true })).close();
  t0 = performance.now();
  await importIntoEmpty(dir, file);
  console.log(`imported in ${(performance.now() - t0).toFixed(0)} ms`);
  fs.rmSync(file, { force: true });
}
// DataScript holds the whole history in the heap: only up to 1M datoms
let dsDb;
if (datoms <= 1_000_000 && process.env.NO_DS !== '1') {
  const t0 = performance.now();
  const conn = ds.conn_from_db(ds.empty_db(SHOP_DS_SCHEMA));
  for (const tx of shopHistory({ datoms, seed: 26 })) ds.transact(conn, dsTxDataOf(tx));
  dsDb = ds.db(conn);
  console.log(`DataScript loaded in ${(performance.now() - t0).toFixed(0)} ms`);
}
const reports = await runScaleQueries(path.resolve(dir), { runs: Number(runsText ?? 3), dsDb, log: (m) => console.log(m) });
printScaleQueries(reports, (m) => console.log(m));
