// A real JetStream cluster of nats-server processes on loopback, for tests, the benchmark and the
// demo: free ports, store dirs in a temp dir, servers stopped, killed and restarted one at a time.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';

export const NATS_INSTALL_HINT = 'apt-get install nats-server';

/** The nats-server executable on the PATH, or undefined when there is none. */
export function natsServerPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' });
  const file = found.stdout.trim();
  return found.status === 0 && file ? file : undefined;
}

interface ServerSpec {
  name: string;
  clientPort: number;
  routePort: number;
  monitorPort: number;
  storeDir: string;
  configFile: string;
  logFile: string;
}

export class NatsCluster {
  readonly children = new Map<number, ChildProcess>();

  private constructor(
    readonly dir: string,
    private readonly specs: ServerSpec[],
    private readonly executable: string,
  ) {}

  /** Start `size` servers (default 3) clustered with each other; resolves once JetStream answers. */
  static async start(options: { size?: number; dir?: string } = {}): Promise<NatsCluster> {
    const executable = natsServerPath();
    if (!executable) throw new Error(`nats-server is not on the PATH (${NATS_INSTALL_HINT})`);
    const size = options.size ?? 3;
    const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-nats-'));
    fs.mkdirSync(dir, { recursive: true });
    const ports = await freePorts(size * 3);
    const specs: ServerSpec[] = Array.from({ length: size }, (_, i) => ({
      name: `n${i + 1}`,
      clientPort: ports[i * 3]!,
      routePort: ports[i * 3 + 1]!,
      monitorPort: ports[i * 3 + 2]!,
      storeDir: path.join(dir, `n${i + 1}`),
      configFile: path.join(dir, `n${i + 1}.conf`),
      logFile: path.join(dir, `n${i + 1}.log`),
    }));
    for (const spec of specs) writeConfig(spec, specs);
    const cluster = new NatsCluster(dir, specs, executable);
    // servers outliving a process that failed would hold ports and CPU
    process.once('exit', () => cluster.children.forEach((child) => child.kill('SIGKILL')));
    for (let i = 0; i < size; i++) cluster.startServer(i);
    await cluster.waitReady();
    return cluster;
  }

  /** Client URLs of every server, running or not. */
  get urls(): string[] {
    return this.specs.map((s) => `nats://127.0.0.1:${s.clientPort}`);
  }

  get size(): number {
    return this.specs.length;
  }

  isRunning(i: number): boolean {
    return this.children.has(i);
  }

  /** Start server i again (after stop or kill), with its store dir as it was left. */
  startServer(i: number): void {
    if (this.children.has(i)) return;
    const spec = this.specs[i]!;
    fs.mkdirSync(spec.storeDir, { recursive: true });
    const child = spawn(this.executable, ['-c', spec.configFile], { stdio: 'ignore' });
    this.children.set(i, child);
    child.on('exit', () => {
      if (this.children.get(i) === child) this.children.delete(i);
    });
  }

  /** SIGKILL server i: no goodbye to its peers, no flush. */
  async kill(i: number): Promise<void> {
    await this.signal(i, 'SIGKILL');
  }

  /** Stop server i cleanly (SIGTERM). */
  async stop(i: number): Promise<void> {
    await this.signal(i, 'SIGTERM');
  }

  async restart(i: number): Promise<void> {
    await this.stop(i);
    this.startServer(i);
  }

  private async signal(i: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.children.get(i);
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  /**
   * Resolves once JetStream answers through server `via` (default: any running one): a meta leader
   * is elected. Throws after `timeoutMs`.
   */
  async waitReady(timeoutMs = 20_000, via?: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const servers = via !== undefined ? [this.urls[via]!] : this.urls.filter((_, i) => this.isRunning(i));
      try {
        const nc = await connect({ servers, timeout: 1000, reconnect: false });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 1000 });
          // a stream on every running server: the meta leader knows them all as peers
          const replicas = Math.min(3, [...this.children.keys()].length);
          const name = `ready_${process.pid}_${Date.now()}`;
          await jsm.streams.add({ name, subjects: [`${name}.x`], num_replicas: replicas, storage: StorageType.Memory });
          await jsm.streams.delete(name);
          return;
        } finally {
          await nc.close();
        }
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the NATS cluster in ${this.dir} was not ready after ${timeoutMs} ms: ${(last as Error)?.message}`);
  }

  /**
   * Resolves once server i says it is healthy (its /healthz: JetStream on, its streams and
   * consumers caught up with their peers): a server restarted is back in the cluster.
   */
  async waitHealthy(i: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const url = `http://127.0.0.1:${this.specs[i]!.monitorPort}/healthz`;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`NATS server ${i + 1} was not healthy after ${timeoutMs} ms (${url})`);
  }

  /** Stop every server and, unless `keep`, remove the store dirs. */
  async shutdown(keep = false): Promise<void> {
    await Promise.all([...this.children.keys()].map((i) => this.kill(i)));
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function writeConfig(spec: ServerSpec, all: ServerSpec[]): void {
  const routes = all.filter((s) => s !== spec).map((s) => `nats-route://127.0.0.1:${s.routePort}`);
  const config = [
    `server_name: ${spec.name}`,
    `listen: 127.0.0.1:${spec.clientPort}`,
    `http: 127.0.0.1:${spec.monitorPort}`,
    `log_file: ${JSON.stringify(spec.logFile)}`,
    `jetstream { store_dir: ${JSON.stringify(spec.storeDir)} }`,
    `cluster {`,
    `  name: factlog`,
    `  listen: 127.0.0.1:${spec.routePort}`,
    `  routes: [${routes.join(', ')}]`,
    `}`,
  ];
  fs.writeFileSync(spec.configFile, config.join('\n') + '\n');
}

/** `n` distinct ports free at the time of the call (the OS picks them). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
