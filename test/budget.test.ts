// Query limits: a timeout stops any query promptly (query/timeout), a size limit refuses a relation
// before it exhausts the heap (query/too-large), in every form the options can be given.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { type Connection } from '../src/index.js';
import { q, explain } from '../src/query/index.js';
import { freshConn } from './helpers/tmp.js';
import { thrown } from './helpers/errors.js';
import { ROOT, cleanupTempDirs, factlog, tempDir } from './helpers/cli.js';
import { open } from '../src/index.js';

afterAll(cleanupTempDirs);

/** A rule whose answers never end: 0, 1, 2, ... */
const FOREVER_RULES = '[[(gen ?n) [(ground 0) ?n]] [(gen ?m) (gen ?n) [(inc ?n) ?m]]]';
const FOREVER = '[:find (count ?n) . :in $ % :where (gen ?n)]';
const CROSS = '[:find (count ?b) . :where [?a :p/x] [?b :p/x]]';
const SIX_THOUSAND = Array.from({ length: 6000 }, (_, i) => i);

/** `fn`'s error and how long it took to throw. */
function timed(fn: () => unknown): { error: { code?: string; message: string }; ms: number } {
  const t0 = performance.now();
  const error = thrown(fn);
  return { error, ms: performance.now() - t0 };
}

let conn: Connection;

beforeAll(async () => {
  conn = await freshConn();
  await conn.transact('[{:db/ident :p/x :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
  await conn.transact('[' + SIX_THOUSAND.map((i) => `{:p/x ${i}}`).join(' ') + ']');
});

describe('query/timeout', () => {
  it('stops a rule that generates forever, within the timeout and a margin', () => {
    const { error, ms } = timed(() => q(FOREVER, conn.db(), FOREVER_RULES, { timeout: 200 }));
    expect(error.code).toBe('query/timeout');
    expect(error.message).toMatch(/200 ms/);
    expect(ms).toBeGreaterThanOrEqual(195);
    expect(ms).toBeLessThan(200 + 150);
  });

  it('stops a large cross product promptly, whatever it is doing', () => {
    const big = Array.from({ length: 3000 }, (_, i) => i);
    const { error, ms } = timed(() => q('[:find (count ?y) . :in [?x ...] [?y ...] :where [(< ?x ?y)]]', big, big, { timeout: 100, maxValues: 0 }));
    expect(error.code).toBe('query/timeout');
    expect(ms).toBeLessThan(100 + 150);
  });

  it('takes the timeout from a query map (JS object and EDN), an options argument, and the connection', async () => {
    expect(timed(() => q({ query: FOREVER, args: [conn.db(), FOREVER_RULES], timeout: 100 })).error.code).toBe('query/timeout');
    expect(timed(() => q({ query: FOREVER, args: [conn.db(), FOREVER_RULES] }, { timeout: 100 })).error.code).toBe('query/timeout');
    const edn = `{:query ${FOREVER} :args [] :timeout 100}`;
    expect(timed(() => q(edn, conn.db(), FOREVER_RULES)).error.code).toBe('query/timeout');
    expect(timed(() => explain(FOREVER, conn.db(), FOREVER_RULES, { timeout: 100 })).error.code).toBe('query/timeout');
    const limited = await open({ path: conn.path, readOnly: true, queryTimeout: 100 } as Parameters<typeof open>[0]);
    try {
      const r = timed(() => q(FOREVER, limited.db(), FOREVER_RULES));
      expect(r.error.code).toBe('query/timeout');
      expect(r.ms).toBeLessThan(100 + 150);
      // the query's own option wins over the connection's default
      expect(timed(() => q(FOREVER, limited.db(), FOREVER_RULES, { timeout: 300 })).ms).toBeGreaterThanOrEqual(295);
    } finally {
      await limited.close();
    }
  });

  it('a nested q keeps the outer deadline', () => {
    const nested = `[:find ?c . :in $ ?rules :where [(q "${FOREVER}" $ ?rules) ?c]]`;
    const { error, ms } = timed(() => q(nested, conn.db(), FOREVER_RULES, { timeout: 150 }));
    expect(error.code).toBe('query/timeout');
    expect(ms).toBeLessThan(150 + 150);
  });

  it('refuses a timeout that is not a number of milliseconds', () => {
    expect(thrown(() => q(CROSS, conn.db(), { timeout: -1 })).code).toBe('query/invalid-option');
    expect(thrown(() => q({ query: CROSS, args: [conn.db()], timeout: 'soon' as unknown as number })).code).toBe('query/invalid-option');
  });
});

describe('query/too-large', () => {
  it('refuses a 6,000 x 6,000 cross product counted, naming the clause, and the process lives on', () => {
    const e = thrown(() => q(CROSS, conn.db(), { maxValues: 20_000_000 }));
    expect(e.code).toBe('query/too-large');
    expect(e.message).toMatch(/\[\?b :p\/x\]|\[\?a :p\/x\]/);
    const inputs = thrown(() => q('[:find (count ?y) . :in [?x ...] [?y ...]]', SIX_THOUSAND, SIX_THOUSAND));
    expect(inputs.code).toBe('query/too-large');
    expect(q('[:find (count ?a) . :where [?a :p/x]]', conn.db())).toBe(6000);
  });

  it('takes the limit from the options and the query map; 0 is no limit', () => {
    const small = Array.from({ length: 200 }, (_, i) => i);
    const cross = '[:find (count ?y) . :in [?x ...] [?y ...]]';
    expect(q(cross, small, small)).toBe(200);
    expect(thrown(() => q(cross, small, small, { maxValues: 1000 })).code).toBe('query/too-large');
    expect(thrown(() => q({ query: cross, args: [small, small], maxValues: 1000 })).code).toBe('query/too-large');
    expect(q('[:find (count ?x) . :in [?x ...] [?y ...]]', small, small, { maxValues: 0 })).toBe(200);
  });

  it('refuses a hash join that explodes on a shared value, as it grows', () => {
    const pairs = Array.from({ length: 300 }, (_, i) => ['k', i]);
    const joined = '[:find (count ?y) . :with ?x :in $a $b :where [$a ?k ?x] [$b ?k ?y]]';
    const e = thrown(() => q(joined, pairs, pairs, { maxValues: 30_000 }));
    expect(e.code).toBe('query/too-large');
    expect(e.message).toMatch(/\[\$b \?k \?y\]/);
    expect(q(joined, pairs, pairs)).toBe(90_000);
  });

  it('refuses a join exactly when its rows x columns pass the limit (property)', () => {
    const range = (n: number) => Array.from({ length: n }, (_, i) => i);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 8000 }), (a, b, limit) => {
        const run = () => q('[:find (count ?y) . :with ?x :in [?x ...] [?y ...]]', range(a), range(b), { maxValues: limit });
        if (a * b * 2 > limit) expect(thrown(run).code).toBe('query/too-large');
        else expect(run()).toBe(a * b);
      }),
      { numRuns: 200 },
    );
  });

  it('bounds what a function expands to and what rules derive', () => {
    expect(thrown(() => q('[:find (count ?x) . :where [(range 100000) [?x ...]]]', [], { maxValues: 10_000 })).code).toBe('query/too-large');
    expect(thrown(() => q(FOREVER, conn.db(), FOREVER_RULES, { maxValues: 5000, timeout: 0 })).code).toBe('query/too-large');
  });

  it('in a child process with a 256 MB heap, the default limit refuses the cross product before the heap dies', () => {
    const script = `
      import { q } from ${JSON.stringify(path.join(ROOT, 'dist/src/query/index.js'))};
      const xs = Array.from({ length: 6000 }, (_, i) => i);
      try { q('[:find (count ?y) . :with ?x :in [?x ...] [?y ...]]', xs, xs); console.log('answered'); }
      catch (e) { console.log(e.code); }
      console.log(q('[:find (count ?x) . :in [?x ...]]', xs));`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=256', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['query/too-large', '6000']);
    expect(r.status).toBe(0);
  });
});

describe('heapShare', () => {
  // any process's heap holds more than a thousandth of its limit: a share that small is always past
  const ALL = '[:find ?a ?x :where [?a :p/x ?x]]';

  it('stops a query past the share given by the options, the query map (JS and EDN) and the connection; 0 is no guard', async () => {
    const db = conn.db();
    expect(thrown(() => q(ALL, db, { heapShare: 0.001 })).code).toBe('query/too-large');
    expect(thrown(() => q(ALL, db, { heapShare: 0.001 })).message).toMatch(/filled the heap/);
    expect(thrown(() => q({ query: ALL, args: [db], heapShare: 0.001 })).code).toBe('query/too-large');
    expect(thrown(() => q(`{:query ${ALL} :args [] :heap-share 0.001}`, db)).code).toBe('query/too-large');
    expect(q(ALL, db, { heapShare: 0 })).toHaveLength(6000);
    const tight = await open({ path: conn.path, readOnly: true, heapShare: 0.001 });
    try {
      expect(thrown(() => q(ALL, tight.db())).code).toBe('query/too-large');
      // the query's own option wins over the connection's default
      expect(q(ALL, tight.db(), { heapShare: 0.8 })).toHaveLength(6000);
    } finally {
      await tight.close();
    }
    expect(q(ALL, db)).toHaveLength(6000);
  });

  it('refuses a share that is not a fraction between 0 and 1', async () => {
    expect(thrown(() => q(ALL, conn.db(), { heapShare: 1.5 })).code).toBe('query/invalid-option');
    expect(thrown(() => q(ALL, conn.db(), { heapShare: -0.1 })).code).toBe('query/invalid-option');
    await expect(open({ path: conn.path, readOnly: true, heapShare: 2 })).rejects.toMatchObject({ code: 'conn/invalid-option' });
  });
});

describe('ordinary queries', () => {
  it('answer as before under the default limits and inputs that look like options stay inputs', () => {
    expect(q('[:find (count ?a) . :where [?a :p/x ?x] [(< ?x 10)]]', conn.db())).toBe(10);
    // an object input the query asks for is an input, even with option-like keys
    expect(q('[:find ?t . :in ?o :where [(get ?o :timeout) ?t]]', { timeout: 5 })).toBe(5);
  });
});

describe('CLI query --timeout', () => {
  it('stops a runaway rule with query/timeout and a non-zero exit', async () => {
    const db = path.join(tempDir('factlog-budget-'), 'db');
    expect((await factlog(['init', '--db', db])).code).toBe(0);
    const t0 = performance.now();
    const r = await factlog(['query', '--db', db, '--timeout', '200', FOREVER, FOREVER_RULES]);
    expect(r.stderr).toMatch(/query\/timeout/);
    expect(r.code).not.toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    const bad = await factlog(['query', '--db', db, '--timeout', 'soon', '[:find ?e . :where [?e :db/ident]]']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--timeout/);
  });
});
