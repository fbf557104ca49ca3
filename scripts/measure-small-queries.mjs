// The small queries of issue 26 on a shop database made by measure-scale-queries.mjs: a lookup by
// unique value through q against db.entid, and a pull of 100 nested orders against DataScript,
// each timed in alternating rounds (the machine is shared: medians of interleaved runs).
// Usage: npm run build && node scripts/measure-small-queries.mjs DIR DATOMS [rounds]
//   NO_DS=1 leaves DataScript out. To compare two builds, run each in turn, several times.
import { open } from '../dist/src/index.js';
import { q } from '../dist/src/query/index.js';
import { pull } from '../dist/src/pull/index.js';
import { shopHistory, dsTxDataOf, SHOP_DS_SCHEMA } from '../dist/bench/scale-history.js';
import { ds } from '../dist/bench/engines.js';

const [dir, datomsText, roundsText] = process.argv.slice(2);
if (!dir || !datomsText) {
  console.error('usage: node scripts/measure-small-queries.mjs DIR DATOMS [rounds]');
  process.exit(2);
}
const datoms = Number(datomsText.replace(/[mM]$/, '000000').replace(/[kK]$/, '000'));
const rounds = Number(roundsText ?? 15);
const BY_EMAIL = '[:find ?e . :in $ ?email :where [?e :person/email ?email]]';
const PATTERN = '[* {:order/customer [*] :order/item [*]}]';
const DS_PATTERN = PATTERN.replace(/:([a-z]+\/[a-z-]+)/g, '"$1"');

const conn = await open({ path: dir, readOnly: true });
const db = conn.db();
const emails = [];
const orders = [];
let i = 0;
for (const d of db.datoms('aevt', ':person/email')) if (i++ % 7 === 0 && emails.length < 1000) emails.push(d.v);
i = 0;
for (const d of db.datoms('aevt', ':order/status')) if (i++ % 97 === 0 && orders.length < 100) orders.push(d.e);

let dsDb = null;
if (process.env.NO_DS !== '1') {
  const c = ds.conn_from_db(ds.empty_db(SHOP_DS_SCHEMA));
  for (const tx of shopHistory({ datoms, seed: 26 })) ds.transact(c, dsTxDataOf(tx));
  dsDb = ds.db(c);
}

const tasks = {
  'q lookup (per call)': () => emails.map((m) => q(BY_EMAIL, db, m)),
  'db.entid (per call)': () => emails.map((m) => db.entid([':person/email', m])),
  'pull 100 orders': () => orders.map((o) => pull(db, PATTERN, o)),
  ...(dsDb ? { 'DataScript pull 100 orders': () => orders.map((o) => ds.pull(dsDb, DS_PATTERN, o)) } : {}),
};
const perCall = { 'q lookup (per call)': emails.length, 'db.entid (per call)': emails.length };
const times = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
// CPU time as well as wall time: on a shared machine, waiting for a core inflates the wall time alone
const cpu = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
for (const fn of Object.values(tasks)) for (let w = 0; w < 3; w++) fn();
const entries = Object.entries(tasks);
for (let r = 0; r < rounds; r++) {
  // each round starts at another task: whichever runs first pays for what the last one left (garbage)
  for (const [name, fn] of [...entries.slice(r % entries.length), ...entries.slice(0, r % entries.length)]) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    times[name].push((performance.now() - t0) / (perCall[name] ?? 1));
    cpu[name].push((c.user + c.system) / 1000 / (perCall[name] ?? 1));
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// the fastest round: what the code costs when nothing else on the machine got in the way
const fastest = (xs) => Math.min(...xs);
const show = (v) => (v < 1 ? `${(v * 1000).toFixed(1)} us` : `${v.toFixed(2)} ms`);
const report = (label, series, pick) => {
  const m = Object.fromEntries(Object.entries(series).map(([k, xs]) => [k, pick(xs)]));
  console.log(`${label}:`);
  for (const [k, v] of Object.entries(m)) console.log(`  ${k.padEnd(28)} ${show(v)}`);
  console.log(`  q / entid: ${(m['q lookup (per call)'] / m['db.entid (per call)']).toFixed(2)}`);
  if (dsDb) console.log(`  pull / DataScript: ${(m['pull 100 orders'] / m['DataScript pull 100 orders']).toFixed(2)}`);
};
report('wall time (median)', times, median);
report('CPU time (median)', cpu, median);
report('CPU time (fastest round)', cpu, fastest);
await conn.close();
