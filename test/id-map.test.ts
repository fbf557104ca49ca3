// The import's id map (src/cli/id-map.ts) against a JS Map as the model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdMap } from '../src/cli/id-map.js';

describe('IdMap', () => {
  it('answers get, has and size as a Map does, through growth', () => {
    const id = fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constantFrom(2 ** 40 + 1, 2 ** 32, 2 ** 32 + 4096));
    fc.assert(
      fc.property(fc.array(fc.tuple(id, id), { maxLength: 3000 }), fc.array(id, { maxLength: 200 }), (sets, probes) => {
        const map = new IdMap();
        const model = new Map<number, number>();
        for (const [k, v] of sets) {
          map.set(k, v);
          model.set(k, v);
        }
        expect(map.size).toBe(model.size);
        for (const k of [...model.keys(), ...probes]) {
          expect(map.get(k)).toBe(model.get(k));
          expect(map.has(k)).toBe(model.has(k));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('answers as a Map does when ids come in runs of consecutive ids, as an export gives them', () => {
    const run = fc.tuple(fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 1, max: 300 }));
    fc.assert(
      fc.property(fc.array(run, { maxLength: 40 }), fc.array(fc.integer({ min: 0, max: 6000 }), { maxLength: 200 }), (runs, probes) => {
        const map = new IdMap();
        const model = new Map<number, number>();
        for (const [from, to, length] of runs) {
          for (let i = 0; i < length; i++) {
            map.set(from + i, to + i);
            model.set(from + i, to + i);
          }
        }
        expect(map.size).toBe(model.size);
        for (const k of [...model.keys(), ...probes]) {
          expect(map.get(k)).toBe(model.get(k));
          expect(map.has(k)).toBe(model.has(k));
        }
      }),
      { numRuns: 100 },
    );
  });
});
