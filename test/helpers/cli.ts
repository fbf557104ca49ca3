// Run the real `factlog` executable in a child process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'factlog.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to stdin (stdin is closed either way, so nothing waits for a terminal). */
  input?: string;
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** A command that runs node for us, e.g. setpriv as another user: ['setpriv', '--reuid=65534', ...]. */
  via?: string[];
  /** Another copy of bin/factlog.js to run (a copy another user can reach). */
  bin?: string;
}

/** `node bin/factlog.js ...args`; resolves with exit code and output. */
export function factlog(args: string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, FACTLOG_DB: undefined, NO_COLOR: '1', ...options.env };
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
    const [cmd, ...before] = [...(options.via ?? []), process.execPath];
    const child = spawn(cmd!, [...before, options.bin ?? BIN, ...args], { cwd: options.cwd ?? path.dirname(path.dirname(options.bin ?? BIN)), env: env as NodeJS.ProcessEnv, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

const dirs: string[] = [];

/** A fresh temp directory (removed by cleanupTempDirs). */
export function tempDir(prefix = 'factlog-cli-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}
