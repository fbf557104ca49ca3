// Child processes for tests that need a second process.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');

export interface Running {
  child: ChildProcess;
  /** Resolves with stdout lines and the exit code when the process ends. */
  done: Promise<{ lines: string[]; code: number | null; stderr: string }>;
  /** Lines so far. */
  lines: string[];
  /** Resolves when a line matching `pred` has been printed. */
  waitForLine(pred: (line: string) => boolean): Promise<string>;
}

export function runFixture(script: string, args: string[]): Running {
  const child = spawn(process.execPath, [path.join(FIXTURES, script), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters])
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = new Promise<{ lines: string[]; code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ lines, code, stderr })));
  return {
    child,
    done,
    lines,
    waitForLine: (pred) => {
      const hit = lines.find(pred);
      return hit !== undefined ? Promise.resolve(hit) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/** What test/fixtures/open-probe.mjs prints: whether its open succeeded, and the basis t or the error code. */
export interface OpenOutcome {
  opened: boolean;
  basisT?: number;
  code?: string;
}

/** `n` processes opening `dir` for writing at once (open-probe.mjs): each one's outcome. */
export function openAtOnce(dir: string, n: number): Promise<OpenOutcome[]> {
  const probes = Array.from({ length: n }, () => runFixture('open-probe.mjs', [dir]));
  return Promise.all(probes.map(async (probe) => JSON.parse((await probe.done).lines[0]!) as OpenOutcome));
}
