// A real `factlog serve` HTTP server for tests: in this process on a free port, over a temp database.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll } from 'vitest';
import { open, type Connection } from '../../src/index.js';
import { serve, type Serving, type ServerLimits } from '../../src/server/index.js';
import { tempDir } from './tmp.js';
import { BIN } from './cli.js';

const running: Serving[] = [];

afterAll(async () => {
  for (const s of running.splice(0)) await s.stop();
});

export interface TestServer extends Serving {
  conn: Connection;
  dir: string;
  /** fetch against the server: a JSON body is sent as JSON; the answer's status, headers and parsed body. */
  call(method: string, url: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; text: string; headers: Headers }>;
}

export async function startServer(
  options: { limits?: Partial<ServerLimits>; tokensFile?: string; consoleDir?: string; queryWorkers?: number; setup?: (conn: Connection) => Promise<void> } = {},
): Promise<TestServer> {
  const dir = path.join(tempDir('factlog-server-'), 'db');
  const conn = await open({ path: dir });
  await options.setup?.(conn);
  const serving = await serve(conn, {
    port: 0,
    limits: options.limits,
    tokensFile: options.tokensFile,
    queryWorkers: options.queryWorkers,
    consoleDir: options.consoleDir ?? path.join(dir, 'no-console'),
  });
  running.push(serving);
  const call: TestServer['call'] = async (method, url, body, headers = {}) => {
    const isText = typeof body === 'string';
    const response = await fetch(serving.url + url, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': isText ? 'application/edn' : 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : isText ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // EDN or HTML: the text is there
    }
    return { status: response.status, body: parsed, text, headers: response.headers };
  };
  return { ...serving, conn, dir, call };
}

/** Server-Sent Events read from a stream until `count` tx events or the timeout. */
export async function feedEvents(
  url: string,
  count: number,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
): Promise<{ status: number; events: { id: string; data: any }[]; body?: any }> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const response = await fetch(url, { headers, signal: abort.signal });
  if (!response.ok) {
    clearTimeout(timer);
    return { status: response.status, events: [], body: await response.json() };
  }
  const events: { id: string; data: any }[] = [];
  let buffer = '';
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += Buffer.from(chunk).toString('utf8');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((l) => !l.startsWith(':') && l.includes(':'))
            .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
        );
        if (fields.event === 'tx') events.push({ id: fields.id!, data: JSON.parse(fields.data!) });
      }
      if (events.length >= count) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return { status: response.status, events };
}

/** `factlog serve ARGS --port 0` in a child process, once it listens. */
export async function serveProcess(args: string[]): Promise<{ url: string; child: ReturnType<typeof spawn>; exited: Promise<number | null>; output(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    const check = setInterval(() => {
      const m = /at (http:\/\/[^\s]+) /.exec(out);
      if (m) {
        clearInterval(check);
        resolve(m[1]!);
      }
    }, 20);
    void exited.then(() => {
      clearInterval(check);
      reject(new Error(`serve exited: ${out}`));
    });
  });
  return {
    url,
    child,
    exited,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
