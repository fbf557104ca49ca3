// `factlog serve` over real HTTP on a free port: every endpoint, JSON and EDN, coded errors, each
// limit, access control (every refusal), and a graceful SIGTERM of a real child process.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { open } from '../../src/index.js';
import { createToken } from '../../src/server/index.js';
import { QueryPool } from '../../src/server/query-pool.js';
import { feedEvents, serveProcess, startServer, type TestServer } from '../helpers/server.js';
import { cleanupTempDirs, factlog, tempDir as cliTempDir } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

afterAll(cleanupTempDirs);

const SCHEMA = `[
 {:db/ident :user/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :user/password-hash :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :user/manager :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
 {:db/ident :user/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :user/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :tx/who :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01"}]`;

async function fixture(conn: Connection): Promise<void> {
  await conn.transact(SCHEMA);
  await conn.transact(`[{:db/id "ann" :user/name "Ann" :user/age 30 :user/password-hash "h-ann" :user/tags [:admin :ops]}
    {:user/name "Bob" :user/manager "ann" :user/password-hash "h-bob"}
    {:db/id "datomic.tx" :db/txInstant #inst "2025-02-01" :tx/who "alice" :user/password-hash "h-tx"}]`);
  await conn.transact(`[{:user/name "Ann" :user/age 31} {:db/id "datomic.tx" :db/txInstant #inst "2025-03-01"}]`);
}

const AGES = '[:find ?n ?a :where [?e :user/name ?n] [?e :user/age ?a]]';

describe('the endpoints', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer({ setup: fixture });
  });

  it('health and stats', async () => {
    expect((await s.call('GET', '/api/health')).body).toEqual({ status: 'ok', t: 3 });
    const stats = (await s.call('GET', '/api/stats')).body;
    expect(stats.t).toBe(3);
    expect(stats.transactions).toBe(4);
    expect(stats.firstInstant).toEqual({ '#inst': '2025-01-01T00:00:00.000Z' });
    expect(stats.lastInstant).toEqual({ '#inst': '2025-03-01T00:00:00.000Z' });
    expect(stats.attributes['user/name']).toBe(2);
  });

  it('schema: attributes with their properties and datom counts, as of a t', async () => {
    const now = (await s.call('GET', '/api/schema')).body;
    const age = now.attributes.find((a: any) => a.ident['#kw'] === 'user/age');
    expect(age).toMatchObject({ valueType: { '#kw': 'db.type/long' }, cardinality: { '#kw': 'db.cardinality/one' }, unique: null, count: 1 });
    const atOne = (await s.call('GET', '/api/schema?asOf=1')).body;
    expect(atOne.attributes.find((a: any) => a.ident['#kw'] === 'user/name').count).toBe(0);
  });

  it('query: as of a t, a tx id and an instant; since; history; inputs', async () => {
    expect((await s.call('POST', '/api/query', { query: AGES })).body).toEqual({ result: [['Ann', 31]] });
    for (const asOf of [2, 2 + 2 ** 40, '2025-02-15']) expect((await s.call('POST', '/api/query', { query: AGES, asOf })).body, String(asOf)).toEqual({ result: [['Ann', 30]] });
    expect((await s.call('POST', '/api/query', { query: AGES, since: 2 })).body.result).toEqual([]);
    const history = (await s.call('POST', '/api/query', { query: '[:find ?a ?added :where [_ :user/age ?a _ ?added]]', history: true })).body.result;
    expect(history.sort()).toEqual([
      [30, false],
      [30, true],
      [31, true],
    ]);
    const withInputs = await s.call('POST', '/api/query', { query: '[:find [?t ...] :in $ ?n :where [?e :user/name ?n] [?e :user/tags ?t]]', args: ['Ann'] });
    expect(withInputs.body.result.sort((a: any, b: any) => a['#kw'].localeCompare(b['#kw']))).toEqual([{ '#kw': 'admin' }, { '#kw': 'ops' }]);
    const collection = await s.call('POST', '/api/query', { query: '[:find ?n :in $ [?n ...] :where [?e :user/name ?n]]', args: [['Ann', 'Zed']] });
    expect(collection.body.result).toEqual([['Ann']]);
    const lookup = await s.call('POST', '/api/query', { query: '[:find ?m . :in $ ?e :where [?e :user/manager ?x] [?x :user/name ?m]]', args: [[{ '#kw': 'user/name' }, 'Bob']] });
    expect(lookup.body.result).toBe('Ann');
  });

  it('query and explain in EDN, by content type and Accept', async () => {
    const edn = await s.call('POST', '/api/query', `{:query ${AGES} :asOf 2}`, { accept: 'application/edn' });
    expect(edn.headers.get('content-type')).toMatch(/application\/edn/);
    expect(edn.text).toBe('{:result [["Ann" 30]]}');
    const json = await s.call('POST', '/api/query', `{:query [:find ?n . :in $ ?t :where [?e :user/tags ?t] [?e :user/name ?n]] :args [:ops]}`);
    expect(json.body).toEqual({ result: 'Ann' });
    const plan = (await s.call('POST', '/api/explain', { query: AGES })).body;
    expect(plan.result).toEqual([['Ann', 31]]);
    expect(plan.plan.steps.length).toBe(2);
    expect(plan.plan.text).toMatch(/^query: /);
  });

  it('transact: EDN text and JSON data, tempids and datoms; a conflict is 409 and writes nothing', async () => {
    const edn = await s.call('POST', '/api/transact', { txData: '[{:db/id "c" :user/name "Cy" :user/age 40}]' });
    expect(edn.status).toBe(200);
    expect(edn.body.t).toBe(4);
    const cy = edn.body.tempids.c;
    expect(edn.body.txData).toContainEqual([cy, { '#kw': 'user/age' }, 40, edn.body.tx, true]);
    const json = await s.call('POST', '/api/transact', { txData: [{ 'db/id': 'd', 'user/name': 'Di', 'user/tags': [{ '#kw': 'x' }] }, ['db/add', cy, 'user/age', 41]] });
    expect(json.status).toBe(200);
    expect((await s.call('POST', '/api/query', { query: '[:find ?a . :in $ ?n :where [?e :user/name ?n] [?e :user/age ?a]]', args: ['Cy'] })).body.result).toBe(41);
    const ednBody = await s.call('POST', '/api/transact', '{:txData [[:db/add [:user/name "Cy"] :user/tags :edn]]}', { accept: 'application/edn' });
    expect(ednBody.text).toMatch(/^\{:t 6, :tx \d+, :tempids \{\}, :txData \[\[\d+ :user\/tags :edn \d+ true\]/);
    const conflict = await s.call('POST', '/api/transact', { txData: `[[:db/cas [:user/name "Cy"] :user/age 1 2]]` });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('tx/cas-failed');
    const bad = await s.call('POST', '/api/transact', { txData: '[{:user/name' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('edn/syntax');
    expect((await s.call('GET', '/api/health')).body.t).toBe(6);
  });

  it('pull, pull-many and entity (with reverse refs and history)', async () => {
    const ann = (await s.call('POST', '/api/pull', { pattern: '[:user/name {:user/_manager [:user/name]}]', eid: '[:user/name "Ann"]' })).body.result;
    expect(ann).toEqual({ 'user/name': 'Ann', 'user/_manager': [{ 'user/name': 'Bob' }] });
    const old = (await s.call('POST', '/api/pull', { pattern: '[:user/age]', eid: '[:user/name "Ann"]', asOf: 2 })).body.result;
    expect(old).toEqual({ 'user/age': 30 });
    const many = (await s.call('POST', '/api/pull-many', { pattern: '[:user/name]', eids: ['[:user/name "Bob"]', '[:user/name "Nobody"]'] })).body.result;
    expect(many).toEqual([{ 'user/name': 'Bob' }, null]);
    const entity = (await s.call('GET', `/api/entity/${encodeURIComponent('[:user/name "Ann"]')}?history=true`)).body;
    expect(entity.entity['user/age']).toBe(31);
    expect(entity.reverse).toEqual([[expect.any(Number), { '#kw': 'user/manager' }]]);
    const ages = entity.history.filter((h: any) => h.a['#kw'] === 'user/age').map((h: any) => [h.t, h.added, h.v]);
    expect(ages).toEqual([
      [2, true, 30],
      [3, false, 30],
      [3, true, 31],
    ]);
    expect(entity.history[0].meta['tx/who']).toBe('alice');
    const missing = await s.call('GET', '/api/entity/999999');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('server/no-entity');
  });

  it('datoms: leading components, limit and more; an unknown index is refused', async () => {
    const all = (await s.call('POST', '/api/datoms', { index: 'aevt', components: [':user/name'] })).body;
    expect(all.datoms.map((d: any) => d[2])).toEqual(['Ann', 'Bob', 'Cy', 'Di']);
    const one = (await s.call('POST', '/api/datoms', { index: 'aevt', components: [':user/name'], limit: 1 })).body;
    expect(one).toMatchObject({ more: true, datoms: [[expect.any(Number), { '#kw': 'user/name' }, 'Ann', expect.any(Number), true]] });
    const bad = await s.call('POST', '/api/datoms', { index: 'xyz' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'server/invalid-index']);
  });

  it("index-range: an attribute's AVET datoms between two values; unknown attributes refused", async () => {
    const names = (await s.call('POST', '/api/index-range', { attr: ':user/name', start: 'B', end: 'D' })).body;
    expect([names.datoms.map((d: any) => d[2]), names.more]).toEqual([['Bob', 'Cy'], false]);
    const capped = (await s.call('POST', '/api/index-range', { attr: ':user/name', limit: 3 })).body;
    expect([capped.datoms.length, capped.more]).toEqual([3, true]);
    const then = (await s.call('POST', '/api/index-range', { attr: ':user/age', asOf: 2 })).body.datoms;
    expect(then.map((d: any) => d[2])).toEqual([30]);
    const bad = await s.call('POST', '/api/index-range', { attr: ':user/nope' });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'server/unknown-attribute']);
  });

  it('log and timeline, paged', async () => {
    const page = (await s.call('GET', '/api/log?from=2&limit=1')).body;
    expect(page.next).toBe(3);
    expect(page.txs[0]).toMatchObject({ t: 2, instant: { '#inst': '2025-02-01T00:00:00.000Z' }, meta: { 'tx/who': 'alice' } });
    const dated = (await s.call('GET', '/api/log?from=2025-02-15&to=4')).body;
    expect(dated.txs.map((t: any) => t.t)).toEqual([3]);
    const timeline = (await s.call('GET', '/api/timeline?limit=2')).body;
    expect(timeline.points).toEqual([
      { t: 0, instant: { '#inst': '1970-01-01T00:00:00.000Z' } },
      { t: 1, instant: { '#inst': '2025-01-01T00:00:00.000Z' } },
    ]);
    expect(timeline.next).toBe(2);
  });

  it('feed: from a t, then live, and resumed with Last-Event-ID', async () => {
    const reading = feedEvents(`${s.url}/api/feed?from=3`, 5);
    await new Promise((r) => setTimeout(r, 200));
    await s.call('POST', '/api/transact', { txData: '[{:user/name "Eve"}]' });
    const { events } = await reading;
    expect(events.map((e) => Number(e.id))).toEqual([3, 4, 5, 6, 7]);
    expect(events.at(-1)!.data.datoms.some((d: any) => d[2] === 'Eve')).toBe(true);
    const resumed = await feedEvents(`${s.url}/api/feed`, 1, { 'last-event-id': '6' });
    expect(resumed.events.map((e) => e.id)).toEqual(['7']);
  });

  it('errors: unknown route 404, malformed JSON 400, missing field 400, bad time 400', async () => {
    expect((await s.call('GET', '/api/nothing')).body.error.code).toBe('server/not-found');
    const malformed = await fetch(`${s.url}/api/query`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect([malformed.status, ((await malformed.json()) as any).error.code]).toEqual([400, 'server/invalid-json']);
    expect((await s.call('POST', '/api/query', {})).body.error.code).toBe('server/missing-field');
    expect((await s.call('POST', '/api/query', { query: AGES, asOf: '2025-02-30' })).body.error.code).toBe('server/invalid-time');
    const missing = await s.call('POST', '/api/query', { query: '[:find ?e :in $ ?n :where [?e :user/name ?n]]' });
    expect([missing.status, missing.body.error.code]).toEqual([400, 'server/missing-input']);
    const extra = await s.call('POST', '/api/query', { query: AGES, args: ['x'] });
    expect([extra.status, extra.body.error.code, extra.body.error.message]).toEqual([400, 'server/extra-input', 'the query takes 0 input(s) besides $ but "args" has 1']);
    const syntax = await s.call('POST', '/api/query', { query: '[:find ?x :where [?x :a' });
    expect([syntax.status, syntax.body.error.code]).toEqual([400, 'edn/syntax']);
  });

  it('static: a plain page when the console is not built', async () => {
    const page = await s.call('GET', '/');
    expect(page.text).toMatch(/console is not built/);
  });
});

describe('datoms components in a JSON body', () => {
  it("a string value is a string even when it starts with ':' or '['; a keyword value is {\"#kw\": ...}", async () => {
    const s = await startServer({
      setup: async (conn) => {
        await conn.transact(SCHEMA);
        await conn.transact('[{:user/name ":colon" :user/tags [:colon :other]} {:user/name "[bracket"} {:user/name "colon"}]');
      },
    });
    const values = async (components: unknown[], index = 'avet') => (await s.call('POST', '/api/datoms', { index, components })).body.datoms.map((d: any) => d[2]);
    expect(await values([':user/name', ':colon'])).toEqual([':colon']);
    expect(await values([':user/name', '[bracket'])).toEqual(['[bracket']);
    expect(await values([{ '#kw': 'user/name' }, 'colon'])).toEqual(['colon']);
    // entity positions still take EDN text (an ident, a lookup ref), as the embedded db.datoms does
    expect(await values(['[:user/name ":colon"]', ':user/tags', { '#kw': 'colon' }], 'eavt')).toEqual([{ '#kw': 'colon' }]);
    expect(await values([[{ '#kw': 'user/name' }, ':colon'], ':user/tags'], 'eavt')).toEqual([{ '#kw': 'colon' }, { '#kw': 'other' }]);
  });
});

describe('the console files', () => {
  it('are served from the console directory, never from outside it', async () => {
    // the console directory inside a temp dir of its own, so the file beside it is removed with it
    const dir = path.join(tempDir('factlog-console-'), 'console');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'index.html'), '<title>console</title>');
    fs.writeFileSync(path.join(dir, 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(path.dirname(dir), 'secret.txt'), 'secret');
    const s = await startServer({ consoleDir: dir });
    expect((await s.call('GET', '/')).text).toBe('<title>console</title>');
    const js = await s.call('GET', '/app.js');
    expect([js.text, js.headers.get('content-type')]).toEqual(['console.log(1)', 'text/javascript; charset=utf-8']);
    // a route of the single-page app
    expect((await s.call('GET', '/entity/17')).text).toBe('<title>console</title>');
    expect((await s.call('GET', '/..%2fsecret.txt')).text).not.toMatch(/secret/);
  });
});

describe('limits', () => {
  it('a body larger than the limit is refused with 413 and writes nothing', async () => {
    const s = await startServer({ limits: { bodyBytes: 1000 }, setup: fixture });
    const big = await s.call('POST', '/api/transact', { txData: `[{:user/name "${'x'.repeat(2000)}"}]` });
    expect([big.status, big.body.error.code]).toEqual([413, 'server/body-too-large']);
    expect((await s.call('GET', '/api/health')).body.t).toBe(3);
  });

  it("a query's default timeout, and a longer one asked for capped at the maximum", async () => {
    const s = await startServer({ limits: { queryTimeoutMs: 200, maxQueryTimeoutMs: 400 } });
    const forever = { query: '[:find (count ?n) . :in $ % :where (gen ?n)]', args: ['[[(gen ?n) [(ground 0) ?n]] [(gen ?m) (gen ?n) [(inc ?n) ?m]]]'] };
    let t0 = performance.now();
    const timedOut = await s.call('POST', '/api/query', forever);
    expect([timedOut.status, timedOut.body.error.code]).toEqual([504, 'query/timeout']);
    expect(performance.now() - t0).toBeLessThan(3000);
    t0 = performance.now();
    const capped = await s.call('POST', '/api/query', { ...forever, timeout: 0 });
    expect(capped.body.error.code).toBe('query/timeout');
    expect(performance.now() - t0).toBeLessThan(3000);
  });

  it('queries beyond the concurrent limit get 503 server/busy while one runs (a server in another process)', async () => {
    const dir = path.join(cliTempDir(), 'db');
    await factlog(['init', '--db', dir]);
    const server = await serveProcess(['--db', dir, '--max-queries', '1', '--query-timeout', '3000', '--query-workers', '2']);
    const call = async (method: string, url: string, body?: string): Promise<[number, string | undefined]> => {
      const response = await fetch(server.url + url, { method, headers: { 'content-type': 'application/json' }, body });
      return [response.status, ((await response.json()) as { error?: { code: string } }).error?.code];
    };
    try {
      const forever = JSON.stringify({ query: '[:find (count ?n) . :in $ % :where (gen ?n)]', args: ['[[(gen ?n) [(ground 0) ?n]] [(gen ?m) (gen ?n) [(inc ?n) ?m]]]'] });
      let firstDone = false;
      const first = call('POST', '/api/query', forever).finally(() => (firstDone = true));
      await new Promise((r) => setTimeout(r, 300)); // it arrives first
      // the first runs in a worker and the server's loop stays free: the next reads are refused at once
      let refused: [number, string | undefined];
      do refused = await call('POST', '/api/query', forever);
      while (refused[0] !== 503 && !firstDone);
      expect(refused).toEqual([503, 'server/busy']);
      expect(await call('POST', '/api/pull', JSON.stringify({ pattern: '[*]', eid: 0 }))).toEqual([503, 'server/busy']);
      expect(await call('GET', '/api/health')).toEqual([200, undefined]);
      expect(firstDone).toBe(false);
      expect(await first).toEqual([504, 'query/timeout']);
      // and once it is done the server answers again
      expect(await call('POST', '/api/query', JSON.stringify({ query: '[:find ?e . :where [?e :db/ident :db/ident]]' }))).toEqual([200, undefined]);
    } finally {
      await server.stop();
    }
  }, 120_000);

  it('feed streams beyond the cap get 503; pages are capped', async () => {
    const s = await startServer({ limits: { feeds: 1, pageSize: 2 }, setup: fixture });
    const first = feedEvents(`${s.url}/api/feed?from=0`, 100, {}, 1500);
    await new Promise((r) => setTimeout(r, 300));
    const second = await feedEvents(`${s.url}/api/feed?from=0`, 1);
    expect([second.status, second.body.error.code]).toEqual([503, 'server/busy']);
    expect((await first).events.length).toBe(4);
    const page = (await s.call('GET', '/api/log?from=0&limit=100')).body;
    expect([page.txs.length, page.next]).toEqual([2, 2]);
    expect((await s.call('POST', '/api/datoms', { index: 'eavt', limit: 100 })).body.datoms.length).toBe(2);
  });
});

describe('query workers', () => {
  const FOREVER = { query: '[:find (count ?n) . :in $ % :where (gen ?n)]', args: ['[[(gen ?n) [(ground 0) ?n]] [(gen ?m) (gen ?n) [(inc ?n) ?m]]]'] };
  const until = async (done: () => boolean) => {
    while (!done()) await new Promise((r) => setTimeout(r, 10));
  };

  it('while a slow query runs, a fast query, a transaction and health all answer before it ends', async () => {
    const s = await startServer({ queryWorkers: 2, limits: { queryTimeoutMs: 8000 }, setup: fixture });
    const order: string[] = [];
    const slow = s.call('POST', '/api/query', FOREVER).then((r) => (order.push('slow'), r));
    await until(() => s.queries!.running === 1);
    await Promise.all([
      s.call('POST', '/api/query', { query: AGES }).then((r) => (expect(r.body.result).toEqual([['Ann', 31]]), order.push('query'))),
      s.call('POST', '/api/transact', { txData: '[{:user/name "Zed"}]' }).then((r) => (expect(r.body.t).toBe(4), order.push('transact'))),
      s.call('GET', '/api/health').then((r) => (expect(r.body.status).toBe('ok'), order.push('health'))),
    ]);
    // the slow one is still in its worker
    expect([order.length, s.queries!.running]).toEqual([3, 1]);
    const slowAnswer = await slow;
    expect([slowAnswer.status, slowAnswer.body.error.code]).toEqual([504, 'query/timeout']);
    expect(order.at(-1)).toBe('slow');
  }, 60_000);

  it('a query past its timeout has its worker ended and replaced; the next query answers', async () => {
    const s = await startServer({ queryWorkers: 1, limits: { queryTimeoutMs: 300 }, setup: fixture });
    const [before] = s.queries!.threadIds();
    const timedOut = await s.call('POST', '/api/query', FOREVER);
    expect([timedOut.status, timedOut.body.error.code]).toEqual([504, 'query/timeout']);
    // a new thread's first query is slow on a busy machine: not this test's point
    expect((await s.call('POST', '/api/query', { query: AGES, timeout: 30_000 })).body).toEqual({ result: [['Ann', 31]] });
    expect(s.queries!.threadIds()).not.toContain(before);
    expect(s.queries!.replaced).toBe(1);
    // the ended thread's gate ticket is gone with it
    expect(fs.readdirSync(s.dir).filter((f) => f.startsWith('factlog.gate.') && f.endsWith(`.${before}`))).toEqual([]);
  });

  it('a worker answers as of the t the server fixed, and without the attributes a token hides', async () => {
    const s = await startServer({ queryWorkers: 1, setup: fixture });
    await s.conn.transact('[{:user/name "Ann" :user/age 32}]');
    const ask = async (t: number, query: string, access: { hide: string[] } | null = null) =>
      JSON.parse((await s.queries!.run({ kind: 'query', t, access, fields: { query }, params: {}, pageSize: 100, replyEdn: false }, 10_000)).toString('utf8'));
    expect(await ask(2, AGES)).toEqual({ result: [['Ann', 30]] });
    expect(await ask(3, AGES)).toEqual({ result: [['Ann', 31]] });
    expect(await ask(4, AGES)).toEqual({ result: [['Ann', 32]] });
    const hashes = '[:find ?h :where [_ :user/password-hash ?h]]';
    expect((await ask(4, hashes)).result.length).toBe(3);
    expect(await ask(4, hashes, { hide: ['user/password-hash'] })).toEqual({ result: [] });
    expect(await ask(4, '[:find ?a :where [_ ?a "h-ann"]]', { hide: ['user/*'] })).toEqual({ result: [] });
  });

  it('workers that cannot start are not restarted over and over; the pool says none is available', async () => {
    const pool = new QueryPool(tempDir('factlog-pool-'), 2, new URL('file:///nonexistent/query-worker.js'));
    await pool.ready();
    expect([pool.available, pool.replaced]).toEqual([false, 0]);
    await expect(pool.run({ kind: 'query', t: 0, access: null, fields: { query: AGES }, params: {}, pageSize: 1, replyEdn: false }, 1000)).rejects.toMatchObject({
      code: 'server/no-workers',
    });
    await pool.close();
  });

  it('answers equal the main thread (no workers) for queries with asOf, since, history and inputs', async () => {
    const withWorkers = await startServer({ queryWorkers: 2, setup: fixture });
    const onLoop = await startServer({ queryWorkers: 0, setup: fixture });
    expect([withWorkers.queries!.size, onLoop.queries]).toEqual([2, null]);
    const queries: [string, unknown[]][] = [
      [AGES, []],
      ['[:find ?n ?a ?added :where [?e :user/name ?n] [?e :user/age ?a _ ?added]]', []],
      ['[:find ?n (count ?t) :where [?e :user/name ?n] [?e :user/tags ?t]]', []],
      ['[:find [?t ...] :in $ ?n :where [?e :user/name ?n] [?e :user/tags ?t]]', ['Ann']],
      ['[:find ?m . :in $ ?e :where [?e :user/manager ?x] [?x :user/name ?m]]', [[{ '#kw': 'user/name' }, 'Bob']]],
      ['[:find (pull ?e [* {:user/_manager [:user/name]}]) :where [?e :user/name "Ann"]]', []],
      ['[:find ?n :in $ % :where (managed ?n)]', ['[[(managed ?n) [?e :user/manager _] [?e :user/name ?n]]]']],
      ['[:find ?who ?t :where [?tx :tx/who ?who] [(tx->t ?tx) ?t]]', []],
    ];
    const times: Record<string, unknown>[] = [{}, { asOf: 2 }, { asOf: '2025-02-15' }, { since: 2 }, { history: true }, { asOf: 2, history: true }];
    let compared = 0;
    for (const [query, args] of queries) {
      for (const time of times) {
        const body = { query, args, ...time };
        const [a, b] = await Promise.all([withWorkers.call('POST', '/api/query', body), onLoop.call('POST', '/api/query', body)]);
        expect(a.status, `${query} ${JSON.stringify(time)}`).toBe(b.status);
        expect(sortedRows(a.body), `${query} ${JSON.stringify(time)}`).toEqual(sortedRows(b.body));
        if (a.status === 200 && JSON.stringify(a.body.result) !== '[]') compared++;
        const edn = await Promise.all([withWorkers, onLoop].map((s) => s.call('POST', '/api/explain', body, { accept: 'application/edn' })));
        expect(edn[0]!.status).toBe(edn[1]!.status);
      }
    }
    expect(compared).toBeGreaterThan(25);
  });
});

/** A query answer with a relation's rows in one order (a worker and the loop may find them in different orders). */
function sortedRows(body: any): unknown {
  if (!Array.isArray(body?.result)) return body;
  return { ...body, result: [...body.result].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))) };
}

describe('access control', () => {
  let s: TestServer;
  let write: string;
  let read: string;
  let hidden: string;
  let only: string;
  beforeAll(async () => {
    const file = path.join(tempDir('factlog-tokens-'), 'tokens');
    write = createToken(file, { role: 'write' }).token;
    read = createToken(file, { role: 'read' }).token;
    hidden = createToken(file, { role: 'read', hide: [':user/password-hash'] }).token;
    only = createToken(file, { role: 'read', only: [':user/name'] }).token;
    s = await startServer({ tokensFile: file, setup: fixture, queryWorkers: 2 });
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });

  it('tokens are stored hashed', () => {
    const file = path.join(tempDir('factlog-tokens-'), 'tokens');
    const { token } = createToken(file, { role: 'read' });
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain(token);
    expect(text).toMatch(/"sha256": "[0-9a-f]{64}"/);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('401 without a token or with a wrong one, on every endpoint but health', async () => {
    for (const [method, url, body] of [
      ['POST', '/api/query', { query: AGES }],
      ['POST', '/api/transact', { txData: '[{:user/name "X"}]' }],
      ['GET', '/api/schema'],
      ['GET', '/api/log'],
      ['GET', '/api/entity/1'],
      ['POST', '/api/datoms', { index: 'eavt' }],
    ] as const) {
      const none = await s.call(method, url, body);
      expect([none.status, none.body.error.code], url).toEqual([401, 'auth/unauthorized']);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const wrong = await s.call(method, url, body, as('fl_not-a-token'));
      expect([wrong.status, wrong.body.error.code], url).toEqual([401, 'auth/unauthorized']);
    }
    expect((await feedEvents(`${s.url}/api/feed?from=0`, 1)).status).toBe(401);
    expect((await s.call('GET', '/api/health')).status).toBe(200);
    expect((await s.call('GET', '/api/health')).body.t).toBe(3);
  });

  it('403 for a read token that transacts; nothing is written', async () => {
    const refused = await s.call('POST', '/api/transact', { txData: '[{:user/name "X"}]' }, as(read));
    expect([refused.status, refused.body.error.code]).toEqual([403, 'auth/forbidden']);
    expect((await s.call('GET', '/api/health')).body.t).toBe(3);
    expect((await s.call('POST', '/api/transact', { txData: '[{:user/name "W"}]' }, as(write))).status).toBe(200);
    expect((await s.call('POST', '/api/query', { query: '[:find ?h . :where [_ :user/password-hash ?h]]' }, as(read))).body.result).toEqual(expect.any(String));
    // a token as ?token= (an EventSource cannot set headers)
    expect((await s.call('GET', `/api/schema?token=${read}`)).status).toBe(200);
  });

  it('a hidden attribute does not exist: queries, rules, pull (reverse refs too), entity, datoms, schema', async () => {
    expect(s.queries!.size).toBe(2); // these reads are answered by query workers
    const h = as(hidden);
    expect((await s.call('POST', '/api/query', { query: '[:find ?h :where [_ :user/password-hash ?h]]' }, h)).body.result).toEqual([]);
    const rule = '[[(secret ?e ?h) [?e :user/password-hash ?h]]]';
    expect((await s.call('POST', '/api/query', { query: '[:find ?h :in $ % :where (secret ?e ?h)]', args: [rule] }, h)).body.result).toEqual([]);
    expect((await s.call('POST', '/api/query', { query: '[:find ?a :where [_ ?a "h-ann"]]' }, h)).body.result).toEqual([]);
    const pulled = (await s.call('POST', '/api/pull', { pattern: '[* {:user/_manager [*]}]', eid: '[:user/name "Ann"]' }, h)).body.result;
    expect(JSON.stringify(pulled)).not.toMatch(/h-ann|h-bob|password/);
    expect(pulled['user/_manager'][0]['user/name']).toBe('Bob');
    const pulledQuery = (await s.call('POST', '/api/query', { query: '[:find (pull ?e [*]) :where [?e :user/name "Bob"]]' }, h)).body.result;
    expect(JSON.stringify(pulledQuery)).not.toMatch(/h-bob/);
    const entity = (await s.call('GET', `/api/entity/${encodeURIComponent('[:user/name "Ann"]')}?history=true`, undefined, h)).body;
    expect(JSON.stringify(entity)).not.toMatch(/h-ann|h-tx|password/);
    const datoms = (await s.call('POST', '/api/datoms', { index: 'eavt', limit: 10000 }, h)).body.datoms;
    expect(JSON.stringify(datoms)).not.toMatch(/h-ann|h-bob|h-tx|password/);
    expect(datoms.length).toBeGreaterThan(10);
    const byValue = (await s.call('POST', '/api/datoms', { index: 'aevt', components: [':user/password-hash'] }, h)).body.datoms;
    expect(byValue).toEqual([]);
    const ranged = await s.call('POST', '/api/index-range', { attr: ':user/password-hash' }, h);
    expect([ranged.status, ranged.body.datoms]).toEqual([200, []]);
    const schema = (await s.call('GET', '/api/schema', undefined, h)).body;
    expect(schema.attributes.map((a: any) => a.ident['#kw'])).not.toContain('user/password-hash');
    expect(JSON.stringify((await s.call('GET', '/api/stats', undefined, h)).body)).not.toMatch(/password/);
  });

  it("a hidden attribute is not in the log's tx-data nor in the feed", async () => {
    const log = (await s.call('GET', '/api/log?from=0', undefined, as(hidden))).body;
    expect(JSON.stringify(log)).not.toMatch(/h-ann|h-bob|h-tx|password/);
    expect(log.txs.find((t: any) => t.t === 2).meta).toEqual({ 'tx/who': 'alice' });
    const feed = await feedEvents(`${s.url}/api/feed?from=0`, 5, as(hidden));
    expect(feed.events.length).toBe(5);
    expect(JSON.stringify(feed.events)).not.toMatch(/h-ann|h-bob|h-tx|password/);
    const full = await feedEvents(`${s.url}/api/feed?from=2`, 1, as(read));
    expect(JSON.stringify(full.events)).toMatch(/h-ann/);
  });

  it('a token restricted to some attributes sees only those (and the database own)', async () => {
    const o = as(only);
    expect((await s.call('POST', '/api/query', { query: '[:find ?n ?a :where [?e :user/name ?n] [?e :user/age ?a]]' }, o)).body.result).toEqual([]);
    expect((await s.call('POST', '/api/query', { query: '[:find [?n ...] :where [_ :user/name ?n]]' }, o)).body.result.sort()).toEqual(['Ann', 'Bob', 'W']);
    const schema = (await s.call('GET', '/api/schema', undefined, o)).body.attributes.map((a: any) => a.ident['#kw']);
    expect(schema).toContain('user/name');
    expect(schema).not.toContain('user/age');
  });
});

describe('factlog serve and factlog token, as processes', () => {
  it('token create prints a token that serve accepts, and a wrong role is refused', async () => {
    const dir = path.join(cliTempDir(), 'db');
    expect((await factlog(['init', '--db', dir])).code).toBe(0);
    const made = await factlog(['token', 'create', '--db', dir, '--role', 'read', '--hide', ':user/password-hash', '--label', 'ci']);
    expect(made.code).toBe(0);
    expect(made.stdout.trim()).toMatch(/^fl_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/hides user\/password-hash/);
    const listed = await factlog(['token', 'list', '--db', dir]);
    expect(listed.stdout).toMatch(/read .* ci {2}hide: user\/password-hash/);
    const refused = await factlog(['token', 'create', '--db', dir, '--role', 'write', '--hide', ':user/x']);
    expect(refused.stderr).toMatch(/auth\/restricted-write/);
    const noTokens = path.join(cliTempDir(), 'db2');
    await factlog(['init', '--db', noTokens]);
    const open0 = await factlog(['serve', '--db', noTokens, '--host', '0.0.0.0', '--port', '0']);
    expect(open0.stderr).toMatch(/cli\/no-tokens/);
  });

  it('SIGTERM lets a transaction in flight finish, answers it, closes the query workers and exits 0 with it committed', async () => {
    const dir = path.join(cliTempDir(), 'db');
    await factlog(['init', '--db', dir]);
    // a transaction function that marks its start, then holds the transaction (and the event loop)
    // a while: SIGTERM surely arrives while the transaction is in flight, whatever the machine's load
    const started = path.join(path.dirname(dir), 'started');
    const fns = path.join(path.dirname(dir), 'fns.mjs');
    fs.writeFileSync(
      fns,
      `import fs from 'node:fs';
export default { txFns: { 'test/hold': () => { fs.writeFileSync(${JSON.stringify(started)}, ''); const until = Date.now() + 1500; while (Date.now() < until); return []; } } };`,
    );
    const server = await serveProcess(['--db', dir, '--tx-fns', fns, '--query-workers', '2']);
    expect(server.output()).toMatch(/2 query workers/);
    const url = server.url;
    const txData = '[[:test/hold] ' + Array.from({ length: 5000 }, (_, i) => `{:n/i ${i} :n/s "value ${i}"}`).join(' ') + ']';
    const answer = fetch(`${url}/api/transact`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ txData }) });
    while (!fs.existsSync(started)) await new Promise((r) => setTimeout(r, 10));
    server.child.kill('SIGTERM');
    const response = await answer;
    expect(response.status).toBe(200);
    const report = (await response.json()) as { t: number };
    expect(report.t).toBe(1);
    expect(await server.exited).toBe(0);
    expect(server.output()).toMatch(/stopped/);
    // each worker closed its connection: no thread's gate ticket is left behind
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('factlog.gate.'))).toEqual([]);
    const conn = await open({ path: dir, create: false });
    expect(conn.basisT).toBe(1);
    expect(conn.db().stats().attrs['n/i']!.count).toBe(5000);
    await conn.close();
  }, 180_000);
});

describe('excision through the transact endpoint (a live connection)', () => {
  it('an excision request is transacted like any other: the datoms leave every file, later transactions go on', async () => {
    const s = await startServer({ setup: fixture });
    const ann = (await s.call('POST', '/api/query', { query: '[:find ?e . :where [?e :user/name "Ann"]]' })).body.result;
    const holds = (text: string) => fs.readdirSync(s.dir).some((f) => fs.statSync(path.join(s.dir, f)).isFile() && fs.readFileSync(path.join(s.dir, f)).includes(Buffer.from(text)));
    expect(holds('h-bob')).toBe(true);
    const edn = await s.call('POST', '/api/transact', { txData: '[[:db/excise [:user/name "Bob"]] {:db/id "datomic.tx" :tx/who "dpo"}]' });
    expect(edn.status).toBe(200);
    expect(edn.body.t).toBe(4);
    expect(holds('h-bob')).toBe(false);
    const json = await s.call('POST', '/api/transact', { txData: [{ 'db/excise': ann, 'db.excise/attrs': [{ '#kw': 'user/age' }] }] });
    expect(json.status).toBe(200);
    const after = await s.call('POST', '/api/query', { query: '[:find ?n ?a :where [?e :user/name ?n] [?e :user/age ?a]]' });
    expect(after.body.result).toEqual([]);
    expect((await s.call('POST', '/api/query', { query: '[:find ?e . :where [?e :user/name "Bob"]]' })).body.result).toBeNull();
    expect((await s.call('POST', '/api/transact', { txData: '[{:user/name "Cy"}]' })).body.t).toBe(6);
    expect((await s.call('GET', '/api/health')).body.t).toBe(6);
  });
});
