// The web console in a real browser: Debian's chromium, headless, driven by playwright-core, against
// a real `factlog serve` child process on the demo database. Saves a screenshot of each view in
// .tmp/screenshots/, or where FACTLOG_SCREENSHOTS says (`npm run screenshots` refreshes docs/screenshots/,
// two of which are in the README): a plain test run leaves the tracked pictures alone.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BIN, ROOT, cleanupTempDirs, factlog, tempDir } from '../helpers/cli.js';

/** Debian's chromium from the PATH (the package names its binary chromium; some distributions chromium-browser). */
const CHROMIUM = (process.env.PATH ?? '')
  .split(path.delimiter)
  .flatMap((dir) => ['chromium', 'chromium-browser'].map((name) => path.join(dir, name)))
  .find((file) => fs.existsSync(file));
const SHOTS = path.resolve(ROOT, process.env.FACTLOG_SCREENSHOTS ?? path.join('.tmp', 'screenshots'));
if (!CHROMIUM) console.warn('console browser tests skipped: chromium is not installed (apt-get install chromium)');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** `factlog serve` on a free port; resolves once it says where it listens. */
async function serve(db: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--db', db, '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes(`:${port}`)) resolve();
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`factlog serve exited with ${code}: ${out}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

async function api(url: string, route: string, body: unknown): Promise<any> {
  const res = await fetch(url + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return res.json();
}

describe.skipIf(!CHROMIUM)('web console in chromium', () => {
  let server: { child: ChildProcess; url: string };
  let context: BrowserContext;
  let page: Page;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    const dir = path.join(tempDir('factlog-console-'), 'demo');
    const made = await factlog(['demo', '--db', dir]);
    expect(made.code, made.stderr).toBe(0);
    server = await serve(dir);
    const people = await api(server.url, '/api/query', { query: '[:find ?e ?n :where [?e :person/name ?n]]' });
    for (const [e, n] of people.result) ids[n] = e;
    const accounts = await api(server.url, '/api/query', { query: '[:find ?e ?id :where [?e :account/id ?id]]' });
    for (const [e, id] of accounts.result) ids[id] = e;
    context = await chromium.launchPersistentContext(tempDir('factlog-chromium-'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 860 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    fs.mkdirSync(SHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    server?.child.kill('SIGTERM');
    cleanupTempDirs();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const open = async (hash: string) => {
    await page.goto(`${server.url}/${hash}`);
    await page.waitForSelector('[data-testid="time-t"]');
  };

  it('runs a query, shows rows as a table, exports CSV, explains the plan, and follows the time control', async () => {
    await open('#/query');
    await expect.poll(() => page.textContent('[data-testid="time-t"]')).toBe('now (t 6)');
    await page.fill('textarea[aria-label="query"]', '[:find ?name ?balance :where [?p :person/name ?name] [?a :account/owner ?p] [?a :account/balance ?balance]]');
    await page.click('button:has-text("Run")');
    await page.waitForSelector('.result-table tbody tr');
    expect(await page.textContent('[data-testid="row-count"]')).toBe('3 rows');
    const rows = await page.$$eval('.result-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).sort());
    expect(rows).toEqual([
      ['"Alice"', '600'],
      ['"Bob"', '650'],
      ['"Carol"', '500'],
    ]);
    expect(await page.$$eval('.result-table th', (ths) => ths.map((th) => th.textContent))).toEqual(['?name', '?balance']);

    await page.click('button:has-text("Copy CSV")');
    const csv = await page.textContent('[data-testid="export"]');
    expect(csv!.split('\r\n')[0]).toBe('?name,?balance');
    expect(csv).toContain('Alice,600');

    // highlighting: keywords and variables are marked; the caret after `]` marks both brackets
    expect(await page.locator('.editor-highlight .tok-keyword').count()).toBeGreaterThan(3);
    expect(await page.locator('.editor-highlight .tok-variable').first().textContent()).toBe('?name');
    await page.focus('textarea[aria-label="query"]');
    await page.keyboard.press('End');
    await page.keyboard.press('Control+End');
    await expect.poll(() => page.locator('.editor-highlight .bracket-match').count()).toBe(2);

    await page.click('button:has-text("Explain")');
    await page.waitForSelector('.plan-step');
    expect(await page.locator('.plan-step').count()).toBe(3);
    expect(await page.textContent('.plan')).toContain(':account/balance');
    await shot('query');

    // the time control: t 3 is after the rent (Alice paid Bob 200); the result reruns there
    await page.click('button:has-text("Run")');
    await page.locator('.time-slider').fill('2');
    await expect.poll(() => page.textContent('[data-testid="time-t"]')).toBe('t 3');
    await expect.poll(() => page.textContent('.result-table')).toContain('800');
    expect(await page.textContent('.result-table')).toContain('700');
    await page.click('button.now');
    await expect.poll(() => page.textContent('[data-testid="time-t"]')).toBe('now (t 6)');

    // the history keeps the query
    expect(await page.textContent('.history')).toContain(':account/balance ?balance');
  });

  it('shows the answer of the latest run when an earlier one answers later', async () => {
    await open('#/query');
    await page.fill('textarea[aria-label="query"]', '[:find ?balance . :where [?a :account/id "A-1"] [?a :account/balance ?balance]]');
    // the run at now answers late; the rerun at t 3 (the time control) answers at once
    let delayed = false;
    await page.route('**/api/query', async (route) => {
      if (!delayed && !JSON.parse(route.request().postData() ?? '{}').asOf) {
        delayed = true;
        const response = await route.fetch();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        return route.fulfill({ response });
      }
      return route.continue();
    });
    try {
      await page.click('button:has-text("Run")');
      await page.evaluate(() => (location.hash = '#/query?t=3'));
      await expect.poll(() => page.textContent('.result-table tbody')).toBe('800');
      await page.waitForTimeout(2000); // the late answer (600, as of now) has arrived by now
      expect(await page.textContent('.result-table tbody')).toBe('800');
    } finally {
      await page.unroute('**/api/query');
    }
  });

  it('shows an entity: attributes, refs as links, reverse refs, its history and a chart of its balance', async () => {
    const a1 = ids['A-1']!;
    await open(`#/entity/${a1}`);
    await page.waitForSelector('.attrs tr');
    expect(await page.textContent('.attrs')).toContain('"A-1"');
    expect(await page.textContent('.attrs')).toContain('600');
    const ownerLink = page.locator('.attrs a.entity-link');
    expect(await ownerLink.textContent()).toBe(String(ids['Alice']));
    // transfers refer to the account: two from it, one to it
    expect(await page.locator('.reverse li').count()).toBe(3);
    // history: every transaction that touched it, with instant and metadata
    const heads = await page.$$eval('.tl-tx .tl-head', (hs) => hs.map((h) => h.textContent));
    expect(heads.length).toBe(4);
    expect(heads[1]).toContain('2025-02-01');
    expect(heads[1]).toContain('"rent"');
    expect(await page.locator('.tl-tx .op-retract').count()).toBe(3);
    // the balance chart: one point per assertion (1000, 800, 900, 600)
    expect(await page.locator('.chart[data-attr="account/balance"] circle').count()).toBe(4);
    await shot('entity');

    // the date picker: as of 2025-02-10 the balance was 800 and the chart has two points
    await page.fill('input[aria-label="date (UTC)"]', '2025-02-10T00:00');
    await page.click('.time-date button');
    await expect.poll(() => page.textContent('[data-testid="time-t"]')).toBe('t 3');
    await expect.poll(() => page.locator('.chart circle').count()).toBe(2);
    expect(await page.textContent('.attrs')).toContain('800');

    await ownerLink.click();
    await expect.poll(() => page.textContent('[data-testid="entity-id"]')).toBe(String(ids['Alice']));
    expect(page.url()).toContain('?t=3');
    await page.waitForSelector('.attrs tr');
    expect(await page.textContent('.attrs')).toContain('"alice@example.com"');
    expect(await page.textContent('.reverse')).toContain(':account/owner');

    // the header's entity field takes a lookup ref too
    await page.fill('input[aria-label="go to entity"]', '[:account/id "B-1"]');
    await page.press('input[aria-label="go to entity"]', 'Enter');
    await expect.poll(() => page.textContent('[data-testid="entity-id"]')).toBe(String(ids['B-1']));
  });

  it('browses the log newest first and filters it by tx metadata, attribute and entity', async () => {
    await open('#/log');
    await page.waitForSelector('article.tx');
    const ts = await page.$$eval('article.tx', (as) => as.map((a) => a.getAttribute('data-t')));
    expect(ts).toEqual(['6', '5', '4', '3', '2', '1']);
    expect(await page.textContent('article.tx[data-t="6"] header')).toContain('"car repair"');
    // a ref's value links to its entity; a long transaction opens in full on request
    const owners = await page.$$eval('article.tx[data-t="2"] tr', (trs) =>
      trs.filter((tr) => tr.textContent!.includes(':account/owner')).map((tr) => tr.querySelector('td:nth-child(4) a')?.textContent),
    );
    expect(owners[0]).toBe(String(ids['Alice']));
    expect(await page.locator('article.tx[data-t="2"] tr').count()).toBe(12);
    await page.click('article.tx[data-t="2"] button.more');
    expect(await page.locator('article.tx[data-t="2"] tr').count()).toBe(17);
    await shot('log');

    await page.fill('input[name="meta"]', 'rent');
    await page.click('button:has-text("Filter")');
    await expect.poll(() => page.$$eval('article.tx', (as) => as.map((a) => a.getAttribute('data-t')))).toEqual(['3']);
    await page.fill('input[name="meta"]', '');
    await page.fill('input[name="entity"]', String(ids['B-1']));
    await page.click('button:has-text("Filter")');
    await expect.poll(() => page.$$eval('article.tx', (as) => as.map((a) => a.getAttribute('data-t')))).toEqual(['4', '3', '2']);
    await page.fill('input[name="entity"]', '');
    await page.fill('input[name="attr"]', ':person/email');
    await page.click('button:has-text("Filter")');
    await expect.poll(() => page.$$eval('article.tx', (as) => as.map((a) => a.getAttribute('data-t')))).toEqual(['2']);
  });

  it('diffs two points in time', async () => {
    await open('#/diff');
    // to now (t 6), from the transaction before: the car repair moved 300 from A-1 to C-1
    await expect.poll(() => page.textContent('[data-testid="diff-summary"]')).toBe('6 added, 2 retracted');
    const retracted = await page.$$eval('table.diff tr.op-retract', (trs) => trs.map((tr) => tr.textContent));
    expect(retracted.sort()).toEqual([`−${ids['A-1']}:account/balance9006`, `−${ids['C-1']}:account/balance2006`]);
    // from the opening balances: four transfers (3 datoms and a note each), three balances changed
    await page.selectOption('select[aria-label="from"]', '2');
    await expect.poll(() => page.textContent('[data-testid="diff-summary"]')).toBe('19 added, 3 retracted');
    await shot('diff');
  });

  it('lists the schema with datom counts, as of the time control', async () => {
    await open('#/schema');
    await page.waitForSelector('tr[data-attr="account/balance"]');
    expect(await page.textContent('tr[data-attr="account/balance"] .count')).toBe('3');
    expect(await page.textContent('tr[data-attr="transfer/amount"] .count')).toBe('4');
    expect(await page.textContent('tr[data-attr="person/email"]')).toContain('identity');
    expect(await page.locator('tr[data-attr="db/txInstant"]').count()).toBe(0);
    await shot('schema');
    await page.check('.schema-view input[type="checkbox"]');
    expect(await page.textContent('tr[data-attr="db/txInstant"] .count')).toBe('7');
    await page.locator('.time-slider').fill('1');
    await expect.poll(() => page.textContent('tr[data-attr="transfer/amount"] .count')).toBe('0');
  });

  it('asks for a token on a server with tokens, and shows only what the token may see', async () => {
    const dir = path.join(tempDir('factlog-console-tokens-'), 'demo');
    expect((await factlog(['demo', '--db', dir])).code).toBe(0);
    const made = await factlog(['token', 'create', '--db', dir, '--hide', ':account/balance']);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    const guarded = await serve(dir);
    try {
      await page.goto(`${guarded.url}/#/schema`);
      await page.waitForSelector('form.token');
      await page.fill('input[aria-label="token"]', token);
      await page.click('form.token button');
      await page.waitForSelector('tr[data-attr="account/id"]');
      expect(await page.locator('form.token').count()).toBe(0);
      expect(await page.locator('tr[data-attr="account/balance"]').count()).toBe(0);
      await page.goto(`${guarded.url}/#/entity/${ids['A-1']}`);
      await page.waitForSelector('.attrs tr');
      expect(await page.textContent('.attrs')).toContain('"A-1"');
      expect(await page.textContent('.entity-view')).not.toContain(':account/balance');
      expect(await page.locator('.chart').count()).toBe(0);
    } finally {
      guarded.child.kill('SIGTERM');
    }
  });

  it('shows a new transaction as it commits while at now, and not while in the past', async () => {
    await open('#/log');
    await page.waitForSelector('article.tx[data-t="6"]');
    const report = await api(server.url, '/api/transact', {
      txData: '[{:transfer/from [:account/id "B-1"] :transfer/to [:account/id "A-1"] :transfer/amount 5} {:db/id "datomic.tx" :tx/note "live from the test"}]',
    });
    expect(report.t).toBe(7);
    await page.waitForSelector('article.tx[data-t="7"].tx-live', { timeout: 10_000 });
    expect(await page.textContent('article.tx[data-t="7"]')).toContain('"live from the test"');
    expect(await page.textContent('[data-testid="time-t"]')).toBe('now (t 7)');

    await page.locator('.time-slider').fill('5');
    await expect.poll(() => page.textContent('[data-testid="time-t"]')).toBe('t 6');
    await api(server.url, '/api/transact', { txData: '[{:db/id "datomic.tx" :tx/note "while paused"}]' });
    await expect.poll(() => page.locator('.live-last').textContent()).toBe(' t 8');
    expect(await page.locator('article.tx[data-t="8"]').count()).toBe(0);
    expect(await page.$$eval('article.tx', (as) => as[0]!.getAttribute('data-t'))).toBe('6');
  });
});
