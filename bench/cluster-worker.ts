// A benchmark node in its own process: writes (sequential transactions) or reads (a query in a
// loop) for a while, then prints how many it did as one JSON line. CONCURRENCY writers (default 1)
// transact at once in the one process, which lets the node group their transactions.
// Usage: node dist/bench/cluster-worker.js write|query|follow DIR SERVERS NAME MS [CONCURRENCY]
import { open, q } from '../src/index.js';
import { ClusterNode } from '../src/cluster/node.js';

const [mode, dir, servers, name, ms, concurrency = '1'] = process.argv.slice(2);
const conn = await open({ path: dir!, cluster: { servers: servers!.split(','), name: name! } });
await conn.sync();
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const until = Date.now() + Number(ms);
let count = 0;
const started = Date.now();
const cpuBefore = process.cpuUsage();
if (mode === 'write') {
  const writer = async () => {
    while (Date.now() < until) {
      const n = count++;
      await conn.transact([{ 'bench/key': `${process.pid}-${n}`, 'bench/n': n }]);
    }
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, writer));
} else if (mode === 'follow') {
  // a node of the cluster that only follows (indexes every message) while others write
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())));
} else {
  const query = '[:find (count ?e) . :where [?e :bench/n ?n] [(< ?n 100)]]';
  while (Date.now() < until) {
    q(query, conn.db());
    count++;
  }
}
const elapsed = Date.now() - started;
const cpu = process.cpuUsage(cpuBefore);
const node = conn.writer instanceof ClusterNode ? conn.writer : undefined;
const stats = node && { ...node.stats, cpuMs: (cpu.user + cpu.system) / 1000, follower: node.follower.stats };
process.stdout.write(JSON.stringify({ count, ms: elapsed, cpuMs: (cpu.user + cpu.system) / 1000, stats }) + '\n');
await conn.close();
