// Issue 26's memory test at scale: every scale query (bench/scale-queries.ts), a pull-many of every
// order, a datom array and an export, in one child process with a small heap, on a shop history
// imported into DIR; each answers or fails with a coded error, and the child lives on to answer a
// follow-up query. Not in npm test: building 5M datoms takes minutes.
// Usage: npm run build && node scripts/scale-memory.mjs DIR [DATOMS=5M] [HEAP_MB=256]
//   (DIR is made by generating DATOMS of shop history and importing it when it does not exist)
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { open } from '../dist/src/index.js';
import { q } from '../dist/src/query/index.js';
import { pull, pullMany } from '../dist/src/pull/index.js';
import { importIntoEmpty, exportLines } from '../dist/src/cli/transfer.js';
import { writeShopExport } from '../dist/bench/scale-history.js';
import { SCALE_QUERIES, PULL_PATTERN } from '../dist/bench/scale-queries.js';

/** One field of /proc/self/status, in MB. */
function procStatusMB(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

/** The tasks the child runs in order, each by name: the scale queries first. */
function tasks(conn) {
  const db = conn.db();
  const emails = [];
  const orders = [];
  for (const d of db.datoms('aevt', ':person/email')) if (emails.push(d.v) >= 1000) break;
  for (const d of db.datoms('aevt', ':order/status')) orders.push(d.e);
  return [
    ['count-by-status', SCALE_QUERIES.countByStatus, () => q(SCALE_QUERIES.countByStatus, db)],
    ['city-sum', SCALE_QUERIES.citySum, () => q(SCALE_QUERIES.citySum, db)],
    ['city-sum-history', 'the same on db.history()', () => q(SCALE_QUERIES.citySum, db.history())],
    ['lookup-by-unique', `q ${SCALE_QUERIES.byEmail} x 1000`, () => emails.map((m) => q(SCALE_QUERIES.byEmail, db, m))],
    ['pull-100-orders', `pull ${PULL_PATTERN} of 100 orders`, () => orders.slice(0, 100).map((o) => pull(db, PULL_PATTERN, o))],
    ['all-orders', '[:find ?o ?s :where [?o :order/status ?s]] (every order as a row)', () => q('[:find ?o ?s :where [?o :order/status ?s]]', db)],
    ['pull-many-orders', `pull-many ${PULL_PATTERN} of every order`, () => pullMany(db, PULL_PATTERN, orders)],
    ['datom-array', "db.datomArray('aevt', ':order/status')", () => db.datomArray('aevt', ':order/status')],
    ['export', 'every transaction as JSON lines (streamed, counted)', () => exportCount(conn)],
    ['follow-up', 'count-by-status again, after the rest', () => q(SCALE_QUERIES.countByStatus, db)],
  ];
}

/** Lines of the export, and the most the heap grew while writing them out. */
function exportCount(conn) {
  const start = process.memoryUsage().heapUsed;
  let peak = start;
  let lines = 0;
  for (const line of exportLines(conn, 'jsonl')) {
    lines += line.length > 0 ? 1 : 0;
    if (lines % 100 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed);
  }
  return `${lines} lines, heap +${Math.round((peak - start) / 1048576)} MB`;
}

async function child(dir) {
  const conn = await open({ path: dir, readOnly: true });
  for (const [name, what, fn] of tasks(conn)) {
    const t0 = performance.now();
    let line;
    try {
      const r = fn();
      line = { name, what, answer: typeof r === 'string' ? r : Array.isArray(r) ? `${r.length} rows` : String(r) };
    } catch (e) {
      line = { name, what, code: e?.code ?? null, message: String(e?.message).slice(0, 160) };
    }
    line.ms = Math.round(performance.now() - t0);
    line.anonMB = procStatusMB('RssAnon');
    process.stdout.write(JSON.stringify(line) + '\n');
  }
  await conn.close();
  process.stdout.write(JSON.stringify({ done: true, peakRssMB: procStatusMB('VmHWM') }) + '\n');
}

async function build(dir, datoms) {
  const file = `${dir}.jsonl`;
  let t0 = performance.now();
  const written = await writeShopExport(file, { datoms, seed: 26 });
  console.error(`generated ${written.datoms} datoms in ${written.transactions} transactions in ${(performance.now() - t0).toFixed(0)} ms`);
  await (await open({ path: dir, create: true })).close();
  t0 = performance.now();
  await importIntoEmpty(dir, file);
  console.error(`imported in ${(performance.now() - t0).toFixed(0)} ms`);
  fs.rmSync(file, { force: true });
}

async function main(dir, datomsText = '5M', heapText = '256') {
  const datoms = Number(datomsText.replace(/[mM]$/, '000000').replace(/[kK]$/, '000'));
  if (!fs.existsSync(dir)) await build(dir, datoms);
  const self = fileURLToPath(import.meta.url);
  const p = spawn(process.execPath, [`--max-old-space-size=${heapText}`, self, 'child', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (b) => (out += b));
  p.stderr.on('data', (b) => (err += b));
  const code = await new Promise((resolve) => p.on('close', resolve));
  const lines = out
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  console.log(`${datomsText} datoms, a --max-old-space-size=${heapText} child: exit ${code}${/out of memory/i.test(err) ? ' (V8 OUT OF MEMORY)' : ''}`);
  console.log('| task | what | outcome | ms | RssAnon MB after |');
  console.log('|---|---|---|---|---|');
  for (const l of lines.filter((x) => !x.done)) console.log(`| ${l.name} | ${l.what} | ${l.code ? `\`${l.code}\`` : l.answer} | ${l.ms} | ${l.anonMB} |`);
  const done = lines.find((x) => x.done);
  console.log(done ? `the child lived to the end (peak RSS ${done.peakRssMB} MB)` : `the child DIED: ${err.slice(-400)}`);
  if (code !== 0 || !done) process.exitCode = 1;
}

const [first, second, third] = process.argv.slice(2);
if (first === 'child') await child(second);
else if (first) await main(first, second, third);
else {
  console.error('usage: node scripts/scale-memory.mjs DIR [DATOMS=5M] [HEAP_MB=256]');
  process.exit(2);
}
