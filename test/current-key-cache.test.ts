// The entity key cache by itself: keys held for one state of the indexes, a byte budget, eviction.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cachedKeys, CurrentKeyCache, keyCacheBudget } from '../src/storage/current-key-cache.js';
import type { KeyPart } from '../src/storage/encoding.js';

const keysOf = (e: number, n = 3): KeyPart[][] => Array.from({ length: n }, (_, i) => [e, 10 + i, 4, `value ${i}`, 1000]);

describe('CurrentKeyCache', () => {
  it('gives keys back only at the state they were read at; another state drops everything', () => {
    const cache = new CurrentKeyCache(1 << 20);
    const keys = keysOf(7);
    cache.put('eavt', [7], '5:0', keys);
    expect(cache.get('eavt', [7], '5:0')).toBe(keys);
    expect(cache.get('vaet', [7], '5:0')).toBeUndefined();
    expect(cache.get('eavt', [7, 10], '5:0')).toBeUndefined();
    expect(cache.get('eavt', [7], '6:0')).toBeUndefined();
    expect(cache.get('eavt', [7], '5:1')).toBeUndefined();
    cache.put('eavt', [8], '6:0', keysOf(8));
    expect(cache.get('eavt', [7], '5:0')).toBeUndefined();
    expect(cache.size().entries).toBe(1);
  });

  it('reads through: a miss reads and keeps, a hit does not read; no state or a non-entity prefix is never kept', () => {
    const cache = new CurrentKeyCache(1 << 20);
    let reads = 0;
    const read = () => (reads++, keysOf(1));
    cachedKeys(cache, 'eavt', [1], '1:0', read);
    cachedKeys(cache, 'eavt', [1], '1:0', read);
    expect(reads).toBe(1);
    cachedKeys(cache, 'eavt', [1], undefined, read);
    cachedKeys(cache, 'avet', [3, 'x'], '1:0', read);
    cachedKeys(cache, 'avet', [3, 'x'], '1:0', read);
    expect(reads).toBe(4);
    cachedKeys(new CurrentKeyCache(0), 'eavt', [1], '1:0', read);
    expect(reads).toBe(5);
  });

  it('never holds more than its budget, and keeps what is read again over what is not (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2_000, max: 50_000 }), fc.array(fc.record({ e: fc.nat(300), n: fc.integer({ min: 0, max: 40 }) }), { maxLength: 400 }), (budget, puts) => {
        const cache = new CurrentKeyCache(budget);
        for (const { e, n } of puts) {
          cache.put('eavt', [e], '1:0', keysOf(e, n));
          expect(cache.size().bytes).toBeLessThanOrEqual(budget);
        }
      }),
    );
    const cache = new CurrentKeyCache(40_000);
    cache.put('eavt', [0], '1:0', keysOf(0));
    for (let e = 1; e < 2_000; e++) {
      cache.put('eavt', [e], '1:0', keysOf(e));
      expect(cache.get('eavt', [0], '1:0')).toBeDefined();
    }
    // an entity over an eighth of the budget is not kept at all
    cache.put('eavt', [5_000], '1:0', keysOf(5_000, 100));
    expect(cache.get('eavt', [5_000], '1:0')).toBeUndefined();
  });

  it('takes a whole number of bytes as its budget, a share of the heap by default', () => {
    expect(keyCacheBudget(0)).toBe(0);
    expect(keyCacheBudget(1234)).toBe(1234);
    expect(keyCacheBudget(undefined)).toBeGreaterThan(1 << 20);
    expect(keyCacheBudget(undefined)).toBeLessThanOrEqual(64 * 2 ** 20);
    for (const bad of [-1, 0.5, NaN, '10', null]) expect(() => keyCacheBudget(bad)).toThrow(expect.objectContaining({ code: 'storage/invalid-option' }));
  });
});
