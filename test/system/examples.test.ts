// The examples are documentation that runs: each must run with plain node against the built package.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const run = (example: string) => execFileSync(process.execPath, [path.resolve('examples', example), path.join(tempDir(), 'db')], { encoding: 'utf8' });

describe('examples', () => {
  it('quickstart shows now, asOf, history, pull and with', () => {
    const out = run('quickstart.mjs');
    expect(out).toContain(`now       [ 'Anna', 'Bob' ]`);
    expect(out).toContain(`as of t 2 [ 'Ann', 'Bob' ]`);
    expect(out).toContain(`"person/friend":[{"person/name":"Anna"}]`);
    expect(out).toContain('3 names speculatively, 2 stored');
  });

  it('account-balances: the materialized view agrees with as-of queries at every t', () => {
    expect(run('account-balances.mjs')).toContain('view agrees with queries at every t');
  });

  it('bank: concurrent transfers from two processes through a tx function conserve the total', () => {
    const out = run('bank.mjs');
    expect(out).toMatch(/transfers: \d+ committed, \d+ refused as overdrafts \(two processes\)/);
    expect(out).toContain('total conserved: 1000, no balance below zero');
  });
});
