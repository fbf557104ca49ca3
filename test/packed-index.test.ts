// An index database with packed runs of keys (format 4; format 5 differs in its key codec only,
// tested in key-codec.test.ts and storage.test.ts; format 7 in its runs' layout, run-layout.ts,
// so every test runs in both layouts) must behave as a sorted set of keys: the model is a sorted
// array. Real LMDB in a temp dir; small runs so that a few hundred keys make
// many runs, splits, merges and runs that straddle every kind of range bound.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { open as openLmdb, type RootDatabase } from 'lmdb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyListBuilder, PackedIndex, runsFlagIn } from '../src/storage/packed-index.js';
import { KEY_CODEC, KEY_MAX_STRING, writeKey, type KeyCodec } from '../src/storage/key-codec.js';
import { DeltaRunReader, DELTA_RUNS, PLAIN_RUNS, runBytes } from '../src/storage/run-layout.js';
import { readKey } from '../src/storage/key-codec.js';
import { indexDbOptions } from '../src/storage/store.js';

/** Format 4's keys: the codec PackedIndex and KeyListBuilder use by default. */
const FORMAT_VERSION = 4;
import type { KeyPart } from '../src/storage/encoding.js';

let dir: string;
let env: RootDatabase;
let tableCount = 0;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-packed-'));
  env = openLmdb({ path: path.join(dir, 'x.mdb'), maxDbs: 30, noSync: true });
});
afterAll(async () => {
  await env.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Format 4's codec, with runs in each layout. */
const LAYOUTS: [string, KeyCodec][] = [
  ['plain runs (formats 4 to 6)', KEY_CODEC],
  ['delta runs (format 7)', { ...KEY_CODEC, deltaRuns: true }],
];

function freshTable(packSize: number, codec: KeyCodec): PackedIndex {
  const db = env.openDB(`t${tableCount++ % 20}`, indexDbOptions(FORMAT_VERSION));
  db.clearSync();
  return new PackedIndex(db, true, undefined, packSize, codec);
}

/** A table of its own, empty, for one test in one layout. */
function namedTable(name: string, codec: KeyCodec) {
  const db = env.openDB(`${name}${codec.deltaRuns ? '-delta' : ''}`, indexDbOptions(FORMAT_VERSION));
  db.clearSync();
  return db;
}

/** Keys of one arity, as an index's: [attribute, value, tx]. */
const key: fc.Arbitrary<KeyPart[]> = fc.tuple(
  fc.integer({ min: 1, max: 4 }),
  fc.oneof(
    fc.integer({ min: 0, max: 60 }),
    fc.constantFrom('a', 'b', 'ab', 'é', '\ue000', '😀'),
    fc.bigInt({ min: 0n, max: 5n }),
    fc.double({ min: -2, max: 2, noNaN: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
  ),
  fc.integer({ min: 1, max: 3 }),
);
const bound: fc.Arbitrary<KeyPart[] | undefined> = fc.option(
  fc.oneof(
    key,
    key.map((k) => k.slice(0, 1)),
    key.map((k) => k.slice(0, 2)),
    key.map((k) => [...k.slice(0, 2), KEY_MAX_STRING]),
    key.map((k) => [k[0]!, KEY_MAX_STRING]),
  ),
  { nil: undefined },
);

type Op = { kind: 'putMany'; keys: KeyPart[][] } | { kind: 'put'; key: KeyPart[] } | { kind: 'remove'; key: KeyPart[] } | { kind: 'removeStored'; pick: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('putMany' as const), keys: fc.array(key, { maxLength: 120 }) }),
  fc.record({ kind: fc.constant('put' as const), key }),
  fc.record({ kind: fc.constant('remove' as const), key }),
  fc.record({ kind: fc.constant('removeStored' as const), pick: fc.nat() }),
);

function listOf(keys: KeyPart[][]) {
  const builder = new KeyListBuilder(keys.length);
  keys.forEach((k) => builder.add(k));
  return builder.finish();
}

/** `length` letters that differ from those of any other i. */
const noise = (i: number, length: number) =>
  Array.from({ length }, (_, j) => {
    const h = Math.imul((i + 1) ^ Math.imul(j + 1, 0x85ebca6b), 0x9e3779b1);
    return String.fromCharCode(97 + (((h ^ (h >>> 15)) >>> 0) % 26));
  }).join('');

const buf = Buffer.alloc(4096);
const bytesOf = (k: KeyPart[]) => Buffer.from(buf.subarray(0, writeKey(k, buf, 0)));
const byBytes = (x: KeyPart[], y: KeyPart[]) => Buffer.compare(bytesOf(x), bytesOf(y));

class Model {
  keys: KeyPart[][] = [];
  has(k: KeyPart[]): boolean {
    return this.keys.some((m) => byBytes(m, k) === 0);
  }
  add(k: KeyPart[]): void {
    if (!this.has(k)) this.keys = [...this.keys, k].sort(byBytes);
  }
  remove(k: KeyPart[]): boolean {
    const before = this.keys.length;
    this.keys = this.keys.filter((m) => byBytes(m, k) !== 0);
    return this.keys.length < before;
  }
  range(start?: KeyPart[], end?: KeyPart[]): KeyPart[][] {
    return this.keys.filter((k) => (!start || byBytes(k, start) >= 0) && (!end || byBytes(k, end) < 0));
  }
}

function apply(table: PackedIndex, model: Model, o: Op): void {
  switch (o.kind) {
    case 'putMany':
      env.transactionSync(() => table.putMany(listOf(o.keys)));
      o.keys.forEach((k) => model.add(k));
      break;
    case 'put':
      env.transactionSync(() => table.put(o.key));
      model.add(o.key);
      break;
    case 'remove': {
      const removed = env.transactionSync(() => table.remove(o.key));
      expect(removed).toBe(model.remove(o.key));
      break;
    }
    case 'removeStored': {
      if (model.keys.length === 0) return;
      const k = model.keys[o.pick % model.keys.length]!;
      expect(env.transactionSync(() => table.remove(k))).toBe(true);
      model.remove(k);
    }
  }
}

describe.each(LAYOUTS)('packed index, %s', (_layout, codec) => {
  it('holds the same keys as a sorted set after any puts, bulk puts and removes', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), fc.constantFrom(2, 4, 8), (ops, packSize) => {
        const table = freshTable(packSize, codec);
        const model = new Model();
        for (const o of ops) {
          apply(table, model, o);
          expect(table.all()).toEqual(model.keys);
          expect(table.size()).toBe(model.keys.length);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('scans and counts any range [start, end) with any limit, and any prefix, as the model does', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.array(fc.tuple(bound, bound, fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined })), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(2, 4, 8),
        (ops, ranges, packSize) => {
          const table = freshTable(packSize, codec);
          const model = new Model();
          for (const o of ops) apply(table, model, o);
          for (const [start, end, limit] of ranges) {
            const expected = model.range(start, end);
            expect([...table.keys(start, end, limit)]).toEqual(limit === undefined ? expected : expected.slice(0, limit));
            expect(table.count(start, end)).toBe(expected.length);
            if (start) {
              const withPrefix = model.range(start, [...start, KEY_MAX_STRING]);
              expect(table.keysWithPrefix(start)).toEqual(withPrefix);
              if (limit !== undefined && limit > 0) expect(table.keysWithPrefix(start, limit)).toEqual(withPrefix.slice(0, limit));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keysIn reads a range in chunks from one read transaction, whatever is written between its steps', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 12 }),
        fc.tuple(bound, bound),
        fc.array(fc.tuple(fc.nat(60), op), { maxLength: 10 }),
        fc.constantFrom(2, 4, 8),
        fc.integer({ min: 1, max: 5 }),
        (ops, [start, end], writes, packSize, firstChunk) => {
          const table = freshTable(packSize, codec);
          const model = new Model();
          for (const o of ops) apply(table, model, o);
          const expected = model.range(start, end);
          const txn = env.useReadTransaction();
          const later = [...writes].sort((x, y) => x[0] - y[0]);
          const got: KeyPart[][] = [];
          try {
            for (const k of table.keysIn(start, end, () => txn, firstChunk)) {
              got.push(k);
              while (later.length > 0 && later[0]![0] <= got.length) {
                apply(table, model, later.shift()![1]);
                env.resetReadTxn(); // as the next turn of the event loop would: later reads see the write
              }
            }
          } finally {
            txn.done();
          }
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a bulk put of many keys writes a few runs, not one entry per key', () => {
    const db = namedTable('bulk', codec);
    const table = new PackedIndex(db, true, undefined, undefined, codec);
    const keys = Array.from({ length: 10_000 }, (_, i) => [1, i, 7]);
    env.transactionSync(() => table.putMany(listOf(keys)));
    expect((db.getStats() as { entryCount: number }).entryCount).toBeLessThan(200);
    expect(table.count([1], [1, KEY_MAX_STRING])).toBe(10_000);
    expect([...table.keys([1, 5000], [1, 5003])]).toEqual([
      [1, 5000, 7],
      [1, 5001, 7],
      [1, 5002, 7],
    ]);
  });

  it('a run stays small enough for an LMDB node: long keys make short runs, and a run grown past its bytes is split', () => {
    const db = namedTable('long-keys', codec);
    const table = new PackedIndex(db, true, undefined, undefined, codec);
    // no two alike past their number: a delta run (format 7) cannot shorten them much
    const long = (i: number) => [1, `${String(i).padStart(5, '0')}${noise(i, 100)}`, 7];
    const keys = Array.from({ length: 2000 }, (_, i) => long(2 * i));
    env.transactionSync(() => table.putMany(listOf(keys)));
    const added = Array.from({ length: 200 }, (_, i) => long(2 * i + 1));
    env.transactionSync(() => added.forEach((k) => table.put(k)));
    expect(table.all()).toEqual([...keys, ...added].sort((x, y) => (x[1]! < y[1]! ? -1 : 1)));
    const sizes = [...db.getRange({})].map(({ value }) => (value as Buffer).length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1700);
    expect(sizes.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2000 / 8);
  });

  it('a writer that has seen no run reads the runs flag again at each write: another writer may have packed runs since', () => {
    const db = namedTable('shared', codec);
    const meta = env.openDB<any, string>(`shared-meta${codec.deltaRuns ? '-delta' : ''}`, {});
    const flag = runsFlagIn(meta, 'shared');
    const mine = new PackedIndex(db, true, flag, 4, codec);
    const theirs = new PackedIndex(db, true, flag, 4, codec);
    env.transactionSync(() => mine.beginWrite());
    env.transactionSync(() => {
      theirs.beginWrite();
      theirs.putMany(listOf(Array.from({ length: 40 }, (_, i) => [1, 2 * i, 1])));
    });
    expect(meta.get('runs:shared')).toBe(true);
    env.transactionSync(() => {
      mine.beginWrite();
      mine.put([1, 7, 1]);
      expect(mine.remove([1, 8, 1])).toBe(true);
    });
    const expected = [...Array.from({ length: 40 }, (_, i) => [1, 2 * i, 1]).filter((k) => k[1] !== 8), [1, 7, 1]].sort(byBytes);
    expect(mine.all()).toEqual(expected);
  });

  it('putMany appending into an empty table: the same keys, pages filled (LMDB halves them otherwise)', () => {
    // a delta run (format 7) shortens these keys to a few bytes: noise keeps its runs about as long in bytes
    const tail = (i: number) => (codec.deltaRuns ? ` ${noise(i, 24)}` : '');
    const keys = Array.from({ length: 20_000 }, (_, i) => [1 + (i % 3), `value ${String(i).padStart(6, '0')}${tail(i)}`, 7] as KeyPart[]).sort((a, b) =>
      a[0] === b[0] ? String(a[1]).localeCompare(String(b[1])) : (a[0] as number) - (b[0] as number),
    );
    const list = (from: number, to: number) => {
      const b = new KeyListBuilder(to - from);
      for (const k of keys.slice(from, to)) b.add(k);
      return b.finish();
    };
    const [plain, appended] = [false, true].map((append) => {
      const table = freshTable(64, codec);
      // in two calls, as the bulk import writes (each call's keys after the last call's)
      env.transactionSync(() => table.putMany(list(0, 9_000), append));
      env.transactionSync(() => table.putMany(list(9_000, keys.length), append));
      return table;
    });
    expect(appended.all()).toEqual(plain.all());
    expect(appended.all()).toHaveLength(keys.length);
    const leafPages = (t: PackedIndex) => (t as unknown as { db: { getStats(): { treeLeafPageCount: number } } }).db.getStats().treeLeafPageCount;
    expect(leafPages(appended)).toBeLessThan(leafPages(plain) * 0.8);
  });
});

describe('run layouts', () => {
  /** Keys' bytes, distinct and sorted as a run's are; long shared prefixes and suffixes (past one byte's 255) too. */
  const byteKeys = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.string({ maxLength: 6 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 41 })), { minLength: 1, maxLength: 80 })
    .map((parts) => {
      const keys = parts.map(([a, text, long, tx]) => bytesOf([a, long ? `${'y'.repeat(300)}${text}${'z'.repeat(280)}` : text, tx]));
      return [...new Set(keys.map((k) => k.toString('hex')))].sort().map((h) => Buffer.from(h, 'hex'));
    });
  const listOfBytes = (keys: Uint8Array[]) => {
    const b = new KeyListBuilder(keys.length);
    keys.forEach((k) => b.add(k));
    return b.finish();
  };

  it('a run of any keys reads back as the same keys in the plain layout, and its bytes are what runBytes says at most', () => {
    fc.assert(
      fc.property(byteKeys, fc.nat(), (keys, cut) => {
        const list = listOfBytes(keys);
        const from = cut % keys.length;
        for (const layout of [PLAIN_RUNS, DELTA_RUNS]) {
          const value = layout.encode(list, from, keys.length);
          expect(value.length).toBeLessThanOrEqual(runBytes(layout, list, from, keys.length));
          expect(value.length).toBeGreaterThanOrEqual(runBytes(layout, list, from, keys.length) - 3);
          expect(layout.plain(value)).toEqual(PLAIN_RUNS.encode(list, from, keys.length));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a delta run read in place gives each key, in any order, and the lower bound of any bytes, as the plain layout does', () => {
    const bytesKey = fc.uint8Array({ maxLength: 20 });
    fc.assert(
      fc.property(byteKeys, fc.array(fc.nat(), { maxLength: 30 }), fc.array(bytesKey, { maxLength: 10 }), (keys, picks, bounds) => {
        const list = listOfBytes(keys);
        const reader = new DeltaRunReader(DELTA_RUNS.encode(list, 0, keys.length));
        expect(reader.count).toBe(keys.length);
        const want = (i: number) => readKey(keys[i]!, 0, keys[i]!.length);
        keys.forEach((_, i) => expect(reader.key(i)).toEqual(want(i)));
        for (const p of picks) expect(reader.key(p % keys.length)).toEqual(want(p % keys.length));
        for (const bound of [...bounds, ...keys.map((k) => k.subarray(0, k.length >> 1))]) {
          const expected = keys.findIndex((k) => Buffer.compare(Buffer.from(k), Buffer.from(bound)) >= 0);
          expect(reader.lowerBoundOf(bound as never, KEY_CODEC)).toBe(expected === -1 ? keys.length : expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('delta runs of index-like keys take well under the plain bytes', () => {
    // [e, a, tx] of 16 entities of 4 attributes each, 4 entities made by each transaction
    const keys = Array.from({ length: 64 }, (_, i) => [100_000 + (i >> 2), 10 + (i & 3), 2 ** 40 + 5_000 + (i >> 4)]);
    const list = listOf(keys);
    expect(DELTA_RUNS.encode(list, 0, 64).length).toBeLessThan(0.5 * PLAIN_RUNS.encode(list, 0, 64).length);
  });
});
