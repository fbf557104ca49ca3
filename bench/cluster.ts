// `npm run bench -- --only cluster`: cluster nodes over 3 NATS servers on loopback (replicas 3):
// acknowledged tx/s with 1 and 3 writing node processes, sequential tx/s, the time from a
// transaction's acknowledgment on one node to its visibility on the others, and queries/s on 3
// node processes against 1.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { backup, open, type Connection } from '../src/index.js';
import { NatsCluster } from './nats-cluster.js';

const WORKER = path.join(import.meta.dirname, 'cluster-worker.js');
/** Transactions a writing node process keeps in flight in the concurrent phases. */
const CONCURRENT_WRITERS = 16;
const SCHEMA = `[{:db/ident :bench/key :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :bench/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/index true}]`;

export interface ClusterBenchOptions {
  /** How long each timed phase runs (ms). */
  phaseMs: number;
  /** Sequential transactions timed for ack-to-visibility. */
  visibilityTxs: number;
}

export async function runClusterBench(options: ClusterBenchOptions = { phaseMs: 5000, visibilityTxs: 300 }): Promise<string> {
  const nats = await NatsCluster.start();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-bench-cluster-'));
  const name = `bench${process.pid}`;
  const cluster = { servers: nats.urls, name };
  const nodes: Connection[] = [];
  try {
    for (const i of [0, 1, 2]) nodes.push(await open({ path: path.join(root, `node${i}`), cluster }));
    await nodes[0]!.transact(SCHEMA);
    const lines: string[] = [];
    const seq = await sequential(nodes[0]!, options.phaseMs);
    lines.push(`sequential tx/s, 1 node (in process)      ${seq.toFixed(0)}`);
    const visibility = await ackToVisibility(nodes, options.visibilityTxs);
    lines.push(`ack to visibility on 2 other nodes (ms)   p50 ${visibility.p50.toFixed(1)}  p99 ${visibility.p99.toFixed(1)}`);
    // from here the cluster is 3 node processes (writing, or following beside 1 writer): this
    // process's nodes close, as 3 more nodes indexing every message would share the 2 cores too
    let seedDir = nodes[0]!.path;
    for (const n of nodes.splice(0)) await n.close();
    const natsPids = [...nats.children.values()].map((c) => c.pid!);
    const run = async (mode: 'write' | 'query', n: number, concurrency: number) => {
      const r = await phase(mode, n, root, cluster, options.phaseMs, concurrency, seedDir, natsPids, mode === 'write' ? 3 - n : 0);
      seedDir = r.dirs[0]!; // the next phase's nodes start from this one's: less to catch up
      return r;
    };
    const one = await run('write', 1, 1);
    lines.push(`acknowledged tx/s, 1 writing node         ${one.perSecond.toFixed(0)}`);
    const three = await run('write', 3, 1);
    lines.push(`acknowledged tx/s, 3 writing nodes        ${three.perSecond.toFixed(0)} (total)`);
    const cpuPerTx = (r: PhaseResult) => ((r.cpuMs.nodes + r.cpuMs.nats + r.cpuMs.bench) / r.count).toFixed(2);
    const oneConcurrent = await run('write', 1, CONCURRENT_WRITERS);
    lines.push(`acknowledged tx/s, 1 node, ${CONCURRENT_WRITERS} writers each   ${oneConcurrent.perSecond.toFixed(0)} (CPU ms/tx ${cpuPerTx(oneConcurrent)})`);
    const threeConcurrent = await run('write', 3, CONCURRENT_WRITERS);
    lines.push(`acknowledged tx/s, 3 nodes, ${CONCURRENT_WRITERS} writers each  ${threeConcurrent.perSecond.toFixed(0)} (total; CPU ms/tx ${cpuPerTx(threeConcurrent)})`);
    lines.push(`  (write phases: 3 node processes, the writers and 2 followers beside 1 writer; CPU ms/tx: node processes and NATS servers, per acknowledged tx)`);
    const read1 = (await run('query', 1, 1)).perSecond;
    const read3 = (await run('query', 3, 1)).perSecond;
    lines.push(`queries/s, 1 node                         ${read1.toFixed(0)}`);
    lines.push(`queries/s, 3 nodes                        ${read3.toFixed(0)} (total; ${os.cpus().length} cores)`);
    return lines.join('\n');
  } finally {
    for (const n of nodes) await n.close();
    await nats.shutdown();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

async function sequential(conn: Connection, ms: number): Promise<number> {
  const until = Date.now() + ms;
  const started = Date.now();
  let count = 0;
  while (Date.now() < until) await conn.transact([{ 'bench/key': `seq-${count}`, 'bench/n': count++ }]);
  return (count * 1000) / (Date.now() - started);
}

/** Per transaction of node 0: from its acknowledgment to its report on each other node. */
async function ackToVisibility(nodes: Connection[], txs: number): Promise<{ p50: number; p99: number }> {
  const seen = new Map<number, number[]>();
  const unlisten = nodes.slice(1).map((n) => n.listen((r) => seen.set(r.t, [...(seen.get(r.t) ?? []), performance.now()])));
  const acked = new Map<number, number>();
  for (let i = 0; i < txs; i++) {
    const report = await nodes[0]!.transact([{ 'bench/key': `vis-${i}`, 'bench/n': i }]);
    acked.set(report.t, performance.now());
  }
  await Promise.all(nodes.map((n) => n.sync()));
  await new Promise((r) => setTimeout(r, 50));
  unlisten.forEach((u) => u());
  const delays: number[] = [];
  for (const [t, at] of acked) for (const visible of seen.get(t) ?? []) delays.push(Math.max(0, visible - at));
  delays.sort((a, b) => a - b);
  const pick = (p: number) => delays[Math.min(delays.length - 1, Math.floor(p * delays.length))] ?? NaN;
  return { p50: pick(0.5), p99: pick(0.99) };
}

/** What the node processes of one phase did: their total per second, and for writes where it went. */
export interface PhaseResult {
  perSecond: number;
  /** Operations done (acknowledged transactions when writing). */
  count: number;
  /** CPU time of the node processes, of the NATS servers and of this process (its nodes follow too) over the phase (ms). */
  cpuMs: { nodes: number; nats: number; bench: number };
  /** Per node process: its write path's counts and times (see ClusterNode.stats). */
  stats: unknown[];
  /** The node processes' directories (closed, caught up to the phase's end). */
  dirs: string[];
}

/**
 * `n` node processes doing `mode` at once for `ms` (and `followers` more that only follow), with
 * the CPU they and the NATS servers (`natsPids`) spent.
 */
export async function phase(
  mode: 'write' | 'query',
  n: number,
  root: string,
  cluster: { servers: string[]; name: string },
  ms: number,
  concurrency = 1,
  from?: Connection | string,
  natsPids: number[] = [],
  followers = 0,
): Promise<PhaseResult> {
  const modes = [...Array<'write' | 'query' | 'follow'>(n).fill(mode), ...Array<'follow'>(followers).fill('follow')];
  const dirs = modes.map((m, i) => path.join(root, `${m}${n}x${concurrency}-${i}-${Date.now()}`));
  // a new node starts from a backup of a node and catches up from the stream's tail, not from its start
  if (from) for (const dir of dirs) await backup(typeof from === 'string' ? from : from.path, dir);
  const children = dirs.map((dir, i) => {
    const child = spawn(process.execPath, [...workerNodeArgs(), WORKER, modes[i]!, dir, cluster.servers.join(','), cluster.name, String(ms), String(concurrency)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const ready = new Promise<void>((resolve) => child.stdout.on('data', () => out.includes('ready') && resolve()));
    const done = new Promise<WorkerResult>((resolve, reject) =>
      child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult) : reject(new Error(`cluster bench worker exited with ${code}`)))),
    );
    return { child, ready, done };
  });
  await Promise.all(children.map((c) => c.ready));
  const [natsBefore, benchBefore] = [natsPids.map(cpuMsOf), process.cpuUsage()];
  for (const c of children) c.child.stdin.end('go\n');
  const results = await Promise.all(children.map((c) => c.done));
  const bench = process.cpuUsage(benchBefore);
  return {
    perSecond: results.reduce((sum, r) => sum + (r.count * 1000) / r.ms, 0),
    count: results.reduce((sum, r) => sum + r.count, 0),
    cpuMs: {
      nodes: results.reduce((sum, r) => sum + r.cpuMs, 0),
      nats: natsPids.reduce((sum, pid, i) => sum + cpuMsOf(pid) - natsBefore[i]!, 0),
      bench: (bench.user + bench.system) / 1000,
    },
    stats: results.slice(0, n).map((r) => r.stats),
    dirs,
  };
}

/** Node options for the worker processes (e.g. `--cpu-prof`), from FACTLOG_CLUSTER_WORKER_ARGS. */
function workerNodeArgs(): string[] {
  return (process.env.FACTLOG_CLUSTER_WORKER_ARGS ?? '').split(' ').filter(Boolean);
}

interface WorkerResult {
  count: number;
  ms: number;
  cpuMs: number;
  stats: unknown;
}

/** CPU time (user + system) a process has spent so far (ms), from /proc; 0 where there is none. */
export function cpuMsOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return 0;
  }
}
