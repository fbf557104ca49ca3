// The published package: `npm pack` makes a tarball that installs into a fresh project, where
// `import('factlog')` opens, writes and queries a database and `npx factlog` runs.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the npm package', () => {
  it('packs dist/ and bin/ (not tests or sources), installs from the tarball, imports and runs', () => {
    const dir = tempDir('factlog-pack-');
    // dist/ is already built by the test run's setup; the package's prepare script would rebuild it
    run(NPM, ['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
    const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    const listing = run('tar', ['-tzf', path.join(dir, tarball)], dir).split('\n');
    expect(listing).toContain('package/dist/src/index.js');
    expect(listing).toContain('package/dist/src/index.d.ts');
    expect(listing).toContain('package/bin/factlog.js');
    expect(listing.some((f) => f.startsWith('package/test/') || f.startsWith('package/src/') || f.startsWith('package/dist/bench/'))).toBe(false);

    const app = path.join(dir, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
    run(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, tarball)], app);
    fs.writeFileSync(
      path.join(app, 'use.mjs'),
      `import { open, q } from 'factlog';
const conn = await open({ path: 'data' });
await conn.transact('[{:db/ident :n/v :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]');
await conn.transact('[{:n/v 41} {:n/v 1}]');
console.log(q('[:find (sum ?v) . :where [_ :n/v ?v]]', conn.db()));
await conn.close();
`,
    );
    expect(run(process.execPath, ['use.mjs'], app).trim()).toBe('42');
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;
    expect(run(process.platform === 'win32' ? 'npx.cmd' : 'npx', ['--no-install', 'factlog', '--version'], app).trim()).toBe(version);
    expect(run(process.execPath, [path.join(app, 'node_modules/.bin/factlog'), 'query', '--db', 'data', '[:find ?v :where [_ :n/v ?v]]', '--format', 'edn'], app)).toMatch(/41/);
  }, 180_000);
});
