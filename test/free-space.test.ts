// Free pages of a database's LMDB file, and the compaction `open` runs when they are worth it.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open, q } from '../src/index.js';
import { DATA_FILE } from '../src/storage/store.js';
import { AUTO_COMPACT_DEFAULTS, worthCompacting } from '../src/storage/free-space.js';
import { tempDir } from './helpers/tmp.js';

/** A closed database whose indexes held 4,000 long values of a :db/noHistory attribute, all retracted since: its index pages are free. */
async function mostlyFree(): Promise<string> {
  const dir = path.join(tempDir(), 'db');
  const conn = await open({ path: dir, noSync: true, autoCompact: false });
  await conn.transact(`[{:db/ident :c/text :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/noHistory true}
                        {:db/ident :c/id :db/valueType :db.type/long :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`);
  for (let k = 0; k < 4; k++) {
    await conn.transact(Array.from({ length: 1000 }, (_, i) => ({ ':c/id': k * 1000 + i, ':c/text': `${'text '.repeat(60)}${k * 1000 + i}` })));
  }
  for (let k = 0; k < 4; k++) await conn.transact(Array.from({ length: 1000 }, (_, i) => [':db/retract', [':c/id', k * 1000 + i], ':c/text', `${'text '.repeat(60)}${k * 1000 + i}`]));
  expect(conn.store.freeSpace().freeBytes).toBeGreaterThan(0.3 * conn.store.freeSpace().fileBytes);
  await conn.close();
  return dir;
}

const size = (dir: string) => fs.statSync(path.join(dir, DATA_FILE)).size;
const ids = '[:find (count ?e) . :where [?e :c/id]]';

describe('compaction on open', () => {
  it('compacts a database whose file is mostly free pages as it opens, keeping every datom', async () => {
    const dir = await mostlyFree();
    const before = size(dir);
    const conn = await open({ path: dir, autoCompact: { freeShare: 0.3, minFreeBytes: 0 } });
    try {
      expect(size(dir)).toBeLessThan(0.7 * before);
      expect(conn.store.freeSpace().freeBytes).toBeLessThan(0.1 * conn.store.freeSpace().fileBytes);
      expect(q(ids, conn.db())).toBe(4000);
      expect(q('[:find ?t . :where [?e :c/id 17] [?e :c/text ?t]]', conn.db())).toBe(null);
      await conn.transact([{ ':c/id': 5000, ':c/text': 'after' }]);
      expect(q(ids, conn.db())).toBe(4001);
    } finally {
      await conn.close();
    }
  });

  it('leaves the file as it is when autoCompact is false, below the thresholds, or read-only', async () => {
    const dir = await mostlyFree();
    const before = fs.readFileSync(path.join(dir, DATA_FILE));
    for (const options of [
      { autoCompact: false as const },
      { autoCompact: { freeShare: 0.95, minFreeBytes: 0 } },
      {},
      { readOnly: true, autoCompact: { freeShare: 0.3, minFreeBytes: 0 } },
    ]) {
      const conn = await open({ path: dir, ...options });
      expect(q(ids, conn.db())).toBe(4000);
      await conn.close();
      // (the defaults ask for 64 MB free: this file is far smaller)
      expect(size(dir)).toBe(before.length);
    }
  });

  it('the default thresholds: half the file and 64 MB free', () => {
    const MB = 2 ** 20;
    expect(AUTO_COMPACT_DEFAULTS).toEqual({ freeShare: 0.5, minFreeBytes: 64 * MB });
    expect(worthCompacting({ fileBytes: 200 * MB, freeBytes: 100 * MB }, undefined)).toBe(true);
    expect(worthCompacting({ fileBytes: 200 * MB, freeBytes: 99 * MB }, undefined)).toBe(false);
    expect(worthCompacting({ fileBytes: 100 * MB, freeBytes: 60 * MB }, undefined)).toBe(false);
    expect(worthCompacting({ fileBytes: 200 * MB, freeBytes: 150 * MB }, false)).toBe(false);
    expect(worthCompacting({ fileBytes: 10 * MB, freeBytes: 2 * MB }, { freeShare: 0.1, minFreeBytes: MB })).toBe(true);
  });
});
