// Temp database directories for tests: real LMDB environments, removed after the test file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { open, type Connection, type OpenOptions } from '../../src/index.js';

const dirs: string[] = [];
const conns: Connection[] = [];

export function tempDir(prefix = 'factlog-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** A fresh database in a temp dir, closed and removed when the test file ends. */
export async function freshConn(options: Partial<OpenOptions> = {}): Promise<Connection> {
  const conn = await open({ path: path.join(tempDir(), 'db'), ...options });
  conns.push(conn);
  return conn;
}

/** A closed database directory holding one transaction (Ann), for tests that open it themselves. */
export async function closedDatabase(prefix: string): Promise<string> {
  const dir = path.join(tempDir(prefix), 'db');
  const conn = await open({ path: dir });
  await conn.transact(`[{:db/id "a" :person/name "Ann"}]`);
  await conn.close();
  return dir;
}

afterAll(async () => {
  for (const c of conns) await c.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
