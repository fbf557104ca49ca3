// The console's time control arithmetic and its diff of two points in time (console/time.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chartPath, diffFromLog, tAtDate, type LogTx } from '../console/time.js';

const timeline = [
  { t: 1, instant: '2025-01-01T09:00:00.000Z' },
  { t: 2, instant: '2025-01-05T10:00:00.000Z' },
  { t: 3, instant: '2025-02-01T12:00:00.000Z' },
];

describe('tAtDate', () => {
  it('is the last transaction at or before the date, 0 before the first', () => {
    expect(tAtDate(timeline, new Date('2024-12-31'))).toBe(0);
    expect(tAtDate(timeline, new Date('2025-01-05T10:00:00.000Z'))).toBe(2);
    expect(tAtDate(timeline, new Date('2025-01-20'))).toBe(2);
    expect(tAtDate(timeline, new Date('2030-01-01'))).toBe(3);
  });
});

describe('diffFromLog', () => {
  const txs: LogTx[] = [
    { t: 1, data: [{ e: 10, a: ':x/n', v: 1, added: true }] },
    {
      t: 2,
      data: [
        { e: 10, a: ':x/n', v: 1, added: false },
        { e: 10, a: ':x/n', v: 2, added: true },
        { e: 11, a: ':x/s', v: 'a', added: true },
      ],
    },
    {
      t: 3,
      data: [
        { e: 11, a: ':x/s', v: 'a', added: false },
        { e: 10, a: ':x/n', v: 2, added: false },
        { e: 10, a: ':x/n', v: 1, added: true },
      ],
    },
  ];

  it('lists what was added and retracted between two points, in either order', () => {
    expect(diffFromLog(txs, 1, 2)).toEqual([
      { op: '-', e: 10, a: ':x/n', v: 1, t: 2 },
      { op: '+', e: 10, a: ':x/n', v: 2, t: 2 },
      { op: '+', e: 11, a: ':x/s', v: 'a', t: 2 },
    ]);
    expect(diffFromLog(txs, 2, 1).map((c) => c.op + c.v)).toEqual(['-2', '+1', '-a']);
    // retracted and asserted again in between: no change
    expect(diffFromLog(txs, 1, 3)).toEqual([]);
    expect(diffFromLog(txs, 0, 3)).toEqual([{ op: '+', e: 10, a: ':x/n', v: 1, t: 3 }]);
  });

  it('agrees with replaying the log to each point and comparing the sets (model)', () => {
    // a random valid log: each op asserts an absent fact or retracts a present one
    const ops = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(ops, fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), (pairs, a, b) => {
        const present = new Set<string>();
        const log: LogTx[] = [];
        pairs.forEach(([e, v], i) => {
          const key = `${e}|${v}`;
          const added = !present.has(key);
          added ? present.add(key) : present.delete(key);
          const t = Math.floor(i / 3) + 1;
          if (!log[t - 1]) log[t - 1] = { t, data: [] };
          log[t - 1]!.data.push({ e, a: ':k/v', v, added });
        });
        const at = (t: number) => {
          const s = new Set<string>();
          for (const tx of log) if (tx.t <= t) for (const d of tx.data) d.added ? s.add(`${d.e}|${d.v}`) : s.delete(`${d.e}|${d.v}`);
          return s;
        };
        const [before, after] = [at(a), at(b)];
        const expected = [...[...after].filter((k) => !before.has(k)).map((k) => '+' + k), ...[...before].filter((k) => !after.has(k)).map((k) => '-' + k)].sort();
        expect(
          diffFromLog(log, a, b)
            .map((c) => `${c.op}${c.e}|${c.v}`)
            .sort(),
        ).toEqual(expected);
      }),
    );
  });
});

describe('chartPath', () => {
  it('draws steps from the first point to the right edge, scaled into the box', () => {
    expect(
      chartPath(
        [
          { time: 0, value: 10 },
          { time: 50, value: 5 },
        ],
        100,
        10,
        100,
      ),
    ).toBe('M0.0,0.0 H50.0 V5.0 H100.0');
    expect(chartPath([], 100, 10, 0)).toBe('');
  });
});
