import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SortBudget, sortRecords } from '../src/storage/external-sort.js';
import { tempDir } from './helpers/tmp.js';

/** Byte strings as latin1 JS strings: JS string order is then byte order. */
const byteString = (maxLength: number) => fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((bytes) => String.fromCharCode(...bytes));
/** Few distinct bytes and long common prefixes: the radix sort's deep and equal ranges. */
const prefixed = fc
  .tuple(fc.constantFrom('', 'a'.repeat(30), 'a'.repeat(60), '\u0000\u0001'), fc.array(fc.constantFrom(0, 1, 255), { maxLength: 8 }))
  .map(([p, tail]) => p + String.fromCharCode(...tail));
const strings = fc.array(fc.oneof(byteString(40), prefixed), { maxLength: 400 });
const jsOrder = (items: string[]) => [...items].sort();

describe('StringSorter', () => {
  it('gives every string added in byte order, in memory and spilled to runs', () => {
    fc.assert(
      fc.property(strings, fc.constantFrom(0, 200, 1 << 20), fc.boolean(), (items, maxBytes, asBytes) => {
        const dir = path.join(tempDir('factlog-sort-'), 'runs');
        const budget = new SortBudget(dir, maxBytes);
        const sorter = budget.sorter();
        items.forEach((s, i) => {
          if (i % 97 === 96) sorter.spill();
          if (asBytes) sorter.addBytes(Buffer.from(s, 'latin1'), s.length);
          else sorter.add(s);
        });
        expect([...sorter.sorted()]).toEqual(jsOrder(items));
        budget.dispose();
      }),
      { numRuns: 150 },
    );
  });

  it('shares its budget: past it, the biggest sorter spills, and its runs are removed once read', () => {
    const dir = path.join(tempDir('factlog-sort-'), 'runs');
    const budget = new SortBudget(dir, 1 << 20);
    const big = budget.sorter();
    const small = budget.sorter();
    const items = Array.from({ length: 60_000 }, (_, i) => `key-${(i * 7919) % 60_000}`);
    for (const s of items) big.add(s);
    small.add('z');
    expect(fs.readdirSync(dir).length).toBeGreaterThan(0);
    expect(budget.used).toBeLessThanOrEqual(1 << 20);
    expect([...big.sorted()]).toEqual(jsOrder(items));
    expect(fs.readdirSync(dir)).toEqual([]);
    expect([...small.sorted()]).toEqual(['z']);
  });

  it('gives its share of the budget to the other sorters once it is being read', () => {
    const dir = path.join(tempDir('factlog-sort-'), 'runs');
    const budget = new SortBudget(dir, 2 << 20);
    const read = budget.sorter();
    const filling = budget.sorter();
    const items = (prefix: string) => Array.from({ length: 40_000 }, (_, i) => `${prefix}-${String(i).padStart(20, '0')}`);
    for (const s of items('a')) read.add(s);
    const reading = read.sorted();
    expect(reading.next().value).toBe('a-00000000000000000000');
    for (const s of items('b')) filling.add(s);
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
    expect([...reading].length).toBe(39_999);
    expect([...filling.sorted()]).toEqual(items('b'));
  });
});

describe('sortRecords', () => {
  it('orders records by their bytes, a shorter record before the longer ones it begins', () => {
    fc.assert(
      fc.property(strings, (items) => {
        const arena = Buffer.alloc(items.reduce((n, s) => n + 2 + s.length, 0));
        const starts: number[] = [];
        let pos = 0;
        for (const s of items) {
          starts.push(pos);
          arena.writeUInt16LE(s.length, pos);
          pos += 2 + arena.write(s, pos + 2, 'latin1');
        }
        const order = Uint32Array.from(starts);
        sortRecords(arena, order);
        const got = [...order].map((at) => arena.toString('latin1', at + 2, at + 2 + arena.readUInt16LE(at)));
        expect(got).toEqual(jsOrder(items));
      }),
      { numRuns: 200 },
    );
  });
});
