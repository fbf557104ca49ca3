// Memory is bounded, never fatal: the scale queries, pulls, datom reads and an export in a process
// with a small heap, on data big enough to overflow it, either answer or fail with a coded error,
// and the process lives on.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open } from '../../src/index.js';
import { cleanupTempDirs, factlog, tempDir } from '../helpers/cli.js';
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
  const child = spawn(process.execPath, [`--max-old-space-size=${heapMb}`, '--expose-gc', path.join(FIXTURES, 'scale-queries.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
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

  it('every query, pull, datom read and the export answers or fails with a coded error, and the process lives (128 MB heap)', async () => {
    const { lines, code, stderr } = await runSmallHeap(dir, 128);
    expect(stderr).not.toMatch(/heap out of memory|FatalProcessOutOfMemory/);
    expect(code).toBe(0);
    expect(lines.at(-1)).toEqual({ done: true });
    const results = lines.slice(0, -1).filter((r) => r.name !== 'export-heap');
    expect(results.map((r) => r.name)).toEqual([
      ...['count-by-status', 'count-all', 'city-sum', 'all-orders'].flatMap((n) => [n, n]),
      'pull',
      'pull-many-orders-deep',
      'pull-many-people-reverse',
      'datom-array',
      'export',
      'follow-up',
    ]);
    for (const r of results) {
      if (!r.answered) expect(r.code, JSON.stringify(r)).toMatch(/^(query|pull|db)\/too-large$/);
    }
    const answer = (name: string, view = 'db') => results.find((r) => r.name === name && r.view === view);
    // whole-attribute aggregates run in bounded memory: they answer
    expect(answer('count-by-status')).toMatchObject({ answered: true, size: 5 });
    expect(answer('count-all')).toMatchObject({ answered: true, size: ORDERS });
    expect(answer('pull')).toMatchObject({ answered: true, size: 1000 });
    // every order with its customer and the customer's orders (4.2 million maps) does not fit in
    // 128 MB: refused, not fatal (before the guard in pull, V8 aborted the process here)
    expect(answer('pull-many-orders-deep')).toMatchObject({ answered: false, code: 'pull/too-large' });
    // the export streams: every transaction written (schema, people, orders), the heap flat meanwhile
    expect(answer('export')).toMatchObject({ answered: true, size: 2 + ORDERS / 5000 });
    const heap = lines.find((r) => r.name === 'export-heap') as { keptMb: number; exportMb: number };
    expect(heap.exportMb).toBeGreaterThan(20);
    expect(heap.keptMb).toBeLessThan(10);
    expect(answer('follow-up')).toMatchObject({ answered: true, size: 5 });
  }, 300_000);

  it('factlog query --heap-share stops a query at that share, with a coded error and exit 1', async () => {
    const text = '[:find ?o ?t :where [?o :order/total ?t]]';
    const refused = await factlog(['query', '--db', dir, '--heap-share', '0.001', '--limit', '1', text]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/query\/too-large/);
    const bad = await factlog(['query', '--db', dir, '--heap-share', '1.5', text]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--heap-share.*cli\/invalid-number/);
    const roomy = await factlog(['query', '--db', dir, '--heap-share', '0.9', '[:find (count ?o) . :where [?o :order/total]]']);
    expect(roomy.code, roomy.stderr).toBe(0);
    expect(roomy.stdout).toMatch(/200000/);
    // factlog datoms holds its rows to align them: refused past the share, not fatal
    const listed = await factlog(['datoms', '--db', dir, '--heap-share', '0.001', 'aevt', ':order/total']);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toMatch(/db\/too-large/);
  }, 60_000);
});
