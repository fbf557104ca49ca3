// Promise 3, parsers never crash or hang: readEdn, parseQuery, parsePull, parseRules and the tx-data
// reader (db.with and conn.transact on EDN text) get mutated real inputs and random strings; each
// input returns a result or throws a FactlogError, in under a second. Deeply nested input fails
// with a clear error instead of overflowing the stack. The long version: `node scripts/fuzz.mjs N`.
// Time is measured as this process's CPU time (process.cpuUsage), so that other processes loading
// the machine do not make the bound flaky; wall time is reported too.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePull, parseQuery, parseRules } from '../query-lang/index.js';
import { FactlogError, readEdn, type Connection } from '../src/index.js';
// @ts-expect-error plain .mjs fixture shared with scripts/fuzz.mjs
import { CORPORA, DEEP, inputArb } from './fixtures/fuzz-gen.mjs';
import { freshConn } from './helpers/tmp.js';
import { PEOPLE_SCHEMA } from './helpers/schemas.js';

const LIMIT_MS = 1000;
const SCHEMA = PEOPLE_SCHEMA;

const stats = { inputs: 0, ok: 0, errors: 0, slowestMs: 0, slowestWallMs: 0, codes: new Set<string>() };

/** CPU milliseconds (user + system) used by this process so far. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Run one input: a result or a FactlogError, within LIMIT_MS; anything else fails the property. */
function check(name: string, f: (s: string) => unknown, input: string): void {
  const t0 = start();
  let threw: unknown = null;
  try {
    f(input);
  } catch (e) {
    threw = e;
  }
  settle(name, input, t0, threw);
}

function start(): { cpu: number; wall: number } {
  return { cpu: cpuMs(), wall: performance.now() };
}

function settle(name: string, input: string, t0: { cpu: number; wall: number }, threw: unknown): void {
  const ms = cpuMs() - t0.cpu;
  stats.inputs++;
  stats.slowestMs = Math.max(stats.slowestMs, ms);
  stats.slowestWallMs = Math.max(stats.slowestWallMs, performance.now() - t0.wall);
  const shown = JSON.stringify(input.length > 300 ? input.slice(0, 300) + '…' : input);
  if (threw !== null) {
    if (!(threw instanceof FactlogError)) throw new Error(`${name} threw a non-FactlogError on ${shown}: ${(threw as Error)?.stack ?? threw}`);
    expect(typeof threw.code === 'string' && /^[a-z]+\/[a-z-]+$/.test(threw.code), `bad code ${threw.code}`).toBe(true);
    stats.codes.add(threw.code);
    stats.errors++;
  } else stats.ok++;
  if (ms > LIMIT_MS) throw new Error(`${name} took ${ms.toFixed(0)} ms of CPU on ${shown}`);
}

const PARSERS: [string, (s: string) => unknown, string[], number][] = [
  ['readEdn', readEdn, CORPORA.edn, 3000],
  ['parseQuery', parseQuery, CORPORA.query, 3000],
  ['parsePull', parsePull, CORPORA.pull, 1500],
  ['parseRules', parseRules, CORPORA.rules, 1000],
];

describe('parsers never crash or hang on random and mutated input', () => {
  for (const [name, parse, corpus, runs] of PARSERS) {
    it(`${name}: ${runs} inputs`, () => {
      fc.assert(
        fc.property(inputArb(corpus), (s: string) => check(name, parse, s)),
        { numRuns: runs },
      );
    });
  }

  it('tx-data reader: db.with(text) on 1500 inputs, conn.transact(text) on 300; failures change nothing', async () => {
    const conn: Connection = await freshConn({ noSync: true });
    await conn.transact(SCHEMA);
    await conn.transact('[{:db/id "a" :person/email "a@x" :person/name "Ann"} {:db/id "b" :person/email "b@x" :person/friend "a"}]');
    const db = conn.db();
    const txArb = inputArb([...CORPORA.tx, ...CORPORA.edn.slice(0, 2)]);
    fc.assert(
      fc.property(txArb, (s: string) => check('db.with', (x) => db.with(x), s)),
      { numRuns: 1500 },
    );
    let committed = 0;
    await fc.assert(
      fc.asyncProperty(txArb, async (s: string) => {
        const t = conn.basisT;
        const logLength = [...conn.txRange(t)].length;
        const t0 = start();
        const threw = await conn.transact(s).then(
          () => null,
          (e: unknown) => e,
        );
        settle('transact', s, t0, threw);
        if (threw === null) committed++;
        else {
          expect(conn.basisT).toBe(t);
          expect([...conn.txRange(t)].length).toBe(logLength);
        }
      }),
      { numRuns: 300 },
    );
    expect(conn.basisT).toBe(2 + committed);
  });

  it('deep nesting and huge inputs fail with a clear error (no stack overflow) or parse, each in < 1 s', () => {
    const targets: [string, (s: string) => unknown][] = [
      ['readEdn', readEdn],
      ['parseQuery', parseQuery],
      ['parsePull', parsePull],
      ['parseRules', parseRules],
    ];
    for (const input of DEEP as string[]) for (const [name, f] of targets) check(name, f, input);
    for (const [name, f] of targets) {
      let err: unknown = null;
      try {
        f('['.repeat(100_000));
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(FactlogError);
      expect((err as FactlogError).code, name).toMatch(/too-deep$/);
      expect((err as FactlogError).message).toMatch(/nested|deep/);
    }
  });

  it('deep or cyclic JS data fails with a clear error too (it is converted before it is printed)', () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const cyclic: unknown[] = ['?e', ':a'];
    cyclic.push(cyclic);
    const inputs = [deep, [':find', '?e', ':where', deep], [':find', '?e', ':where', cyclic], { find: ['?e'], where: [cyclic] }, [{ ':a': deep }], [[['r', '?a'], cyclic]]];
    for (const f of [parseQuery, parsePull, parseRules]) {
      for (const input of inputs) {
        let err: unknown = null;
        try {
          f(input as never);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(FactlogError);
      }
    }
  });

  it('deep nesting through the tx-data reader', async () => {
    const conn = await freshConn({ noSync: true });
    for (const input of DEEP as string[]) {
      const t0 = start();
      const threw = await conn.transact(input).then(
        () => null,
        (e: unknown) => e,
      );
      settle('transact', input, t0, threw);
    }
    expect(conn.basisT).toBe(0);
  });

  it('fuzzed at least 10,000 inputs in total', () => {
    expect(stats.inputs).toBeGreaterThanOrEqual(10_000);
    console.log(
      `fuzz: ${stats.inputs} inputs, ${stats.ok} parsed, ${stats.errors} FactlogErrors (${[...stats.codes].sort().join(' ')}), slowest ${stats.slowestMs.toFixed(0)} ms CPU (${stats.slowestWallMs.toFixed(0)} ms wall)`,
    );
  });
});
