// Memory is bounded, never fatal: the scale queries in a process with a small heap, on data big
// enough to overflow it, either answer or fail with a coded error, and the process lives on.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { cleanupTempDirs, tempDir } from '../helpers/cli.js';
import { FIXTURES } from '../helpers/proc.js';

afterAll(cleanupTempDirs);

const ORDERS = 200_000;
const PEOPLE = 10_000;
const STATUSES = [':pending', ':paid', ':shipped', ':delivered', ':cancelled'];

/** People with cities, and orders with a customer, a status and a total: ~620,000 datoms. */
async function shop(dir: string): Promise<void> {
  const conn = await open({ path: dir });
  try {
    await conn.transact(`[{:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
      {:db/ident :person/city :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
      {:db/ident :order/customer :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
      {:db/ident :order/status :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
      {:db/ident :order/total :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
    const people = Array.from({ length: PEOPLE }, (_, i) => ({ 'person/email': `p${i}@example.com`, 'person/city': `city ${i % 50}` }));
    const { tempids } = await conn.transact(people.map((p, i) => ({ 'db/id': `p${i}`, ...p })));
    for (let o = 0; o < ORDERS; o += 5000) {
      const batch = [];
      for (let i = o; i < o + 5000; i++) batch.push({ 'order/customer': tempids[`p${i % PEOPLE}`], 'order/status': STATUSES[i % 5], 'order/total': (i * 7919) % 1000 });
      await conn.transact(batch);
    }
  } finally {
    await conn.close();
  }
}

function runSmallHeap(dir: string, heapMb: number): Promise<{ lines: Record<string, unknown>[]; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, path.join(FIXTURES, 'scale-queries.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (stderr += c));
  return new Promise((resolve) =>
    child.on('close', (code) =>
      resolve({
        lines: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
        code,
        stderr,
      }),
    ),
  );
}

describe('scale queries on a small heap', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(tempDir('factlog-scale-'), 'db');
    await shop(dir);
  }, 120_000);

  it('every query answers or fails with a coded error, and the process lives (128 MB heap)', async () => {
    const { lines, code, stderr } = await runSmallHeap(dir, 128);
    expect(stderr).not.toMatch(/heap out of memory|FatalProcessOutOfMemory/);
    expect(code).toBe(0);
    expect(lines.at(-1)).toEqual({ done: true });
    const results = lines.slice(0, -1);
    expect(results).toHaveLength(9);
    for (const r of results) {
      if (!r.answered) expect(r.code, JSON.stringify(r)).toBe('query/too-large');
    }
    // whole-attribute aggregates run in bounded memory: they answer
    const answer = (name: string, view: string) => results.find((r) => r.name === name && r.view === view);
    expect(answer('count-by-status', 'db')).toMatchObject({ answered: true, size: 5 });
    expect(answer('count-all', 'db')).toMatchObject({ answered: true, size: ORDERS });
    expect(answer('pull', 'db')).toMatchObject({ answered: true, size: 1000 });
  }, 120_000);
});
