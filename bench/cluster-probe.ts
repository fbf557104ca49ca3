// Where a cluster's write throughput goes: the concurrent write phases of the cluster benchmark
// alone, each run several times, with per node process its messages, transactions per message,
// lost races, re-prepared transactions and where its commit loop waited, and the CPU time per
// acknowledged transaction of the node processes and the NATS servers.
// Usage: node dist/bench/cluster-probe.js [RUNS] [NODES x WRITERS ...]   e.g. 3 1x16 3x16
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, type Connection } from '../src/index.js';
import { phase } from './cluster.js';
import { NatsCluster } from './nats-cluster.js';

const SCHEMA = `[{:db/ident :bench/key :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :bench/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}]`;
const [runsArg = '3', ...shapes] = process.argv.slice(2);
const phases = (shapes.length ? shapes : ['1x16', '3x16']).map((s) => s.split('x').map(Number) as [number, number]);
const phaseMs = Number(process.env.PHASE_MS ?? 5000);

const nats = await NatsCluster.start();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-probe-cluster-'));
const cluster = { servers: nats.urls, name: `probe${process.pid}` };
const nodes: Connection[] = [];
try {
  for (const i of [0, 1, 2]) nodes.push(await open({ path: path.join(root, `node${i}`), cluster }));
  await nodes[0]!.transact(SCHEMA);
  await Promise.all(nodes.map((n) => n.sync()));
  // the cluster is 3 node processes in each phase (writers, and followers beside fewer writers), as in the bench
  let seed = nodes[0]!.path;
  for (const n of nodes.splice(0)) await n.close();
  const natsPids = [...nats.children.values()].map((c) => c.pid!);
  for (let run = 0; run < Number(runsArg); run++) {
    for (const [n, writers] of phases) {
      const r = await phase('write', n, root, cluster, phaseMs, writers, seed, natsPids, Math.max(0, 3 - n));
      seed = r.dirs[0]!;
      const cpu = r.cpuMs.nodes + r.cpuMs.nats + r.cpuMs.bench;
      const load = os.loadavg()[0]!.toFixed(2);
      console.log(
        `run ${run + 1} ${n}x${writers}: ${r.perSecond.toFixed(0)} tx/s  CPU ms/tx ${(cpu / r.count).toFixed(2)} ` +
          `(nodes ${(r.cpuMs.nodes / r.count).toFixed(2)}, nats ${(r.cpuMs.nats / r.count).toFixed(2)}, bench ${(r.cpuMs.bench / r.count).toFixed(2)})  load ${load}`,
      );
      for (const s of r.stats as {
        messages: number;
        txs: number;
        conflicts: number;
        reprepared: number;
        ms: Record<string, number>;
        follower: { commits: number; messages: number; ms: number };
      }[]) {
        const { messages: _m, txs: _t, conflicts: _c, reprepared: _r, ms: _ms, follower: _f, ...rest } = s;
        console.log('   ' + JSON.stringify(rest, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v)));
        const ms = Object.entries(s.ms)
          .map(([k, v]) => `${k} ${v.toFixed(0)}`)
          .join(', ');
        console.log(
          `   msgs ${s.messages} tx/msg ${(s.txs / Math.max(1, s.messages)).toFixed(1)} lost ${s.conflicts} reprepared ${s.reprepared}; ms: ${ms}; ` +
            `follower ${JSON.stringify(s.follower, (_, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}`,
        );
      }
    }
  }
} finally {
  for (const n of nodes) await n.close();
  await nats.shutdown();
  fs.rmSync(root, { recursive: true, force: true });
}
