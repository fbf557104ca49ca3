// The log's hash chain (src/storage/log-chain.ts): a changed record changes every later value and
// none before; the same history gives the same chain in every database that holds it (a replica,
// a restored backup, a rebuild, a copy rebuilt from the log file, other formats); a table missing
// or behind is computed by read-only opens and caught up by the next open for writing.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { describe, expect, it } from 'vitest';
import { backup, open, replicate, restore } from '../src/index.js';
import { CHAIN_DB, CHAIN_START, chainOf, chainStep } from '../src/storage/log-chain.js';
import { DATA_FILE, FORMAT_VERSION } from '../src/storage/store.js';
import { tempDir } from './helpers/tmp.js';

const instantOf = (t: number) => new Date(Date.UTC(2020, 0, 1) + t * 1000).toISOString();

/** A closed database of `n` transactions with fixed instants (the same records in any database that writes them). */
async function fixedHistory(n: number, createFormat?: number): Promise<string> {
  const dir = path.join(tempDir(), 'db');
  const conn = await open({ path: dir, createFormat, noSync: true });
  await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "${instantOf(1)}"}
                        {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}]`);
  for (let t = 2; t <= n; t++) {
    const retract = t % 3 === 0 && t > 4 ? `[:db/retract [:p/name "name ${t - 4}"] :p/name "name ${t - 4}"]` : '';
    await conn.transact(`[{:db/id "datomic.tx" :db/txInstant #inst "${instantOf(t)}"} {:p/name "name ${t}"} ${retract}]`);
  }
  await conn.close();
  return dir;
}

/** The chain of every t of the database at `dir`, read through a read-only open; and how far its table goes. */
async function chainIn(dir: string): Promise<{ hashes: string[]; chainedTo: number }> {
  const conn = await open({ path: dir, readOnly: true });
  try {
    const hashes: string[] = [];
    for (let t = 0; t <= conn.basisT; t++) hashes.push(conn.store.chainHash(t)!.toString('hex'));
    expect(conn.store.chainHash(conn.basisT + 1)).toBeUndefined();
    return { hashes, chainedTo: conn.store.chainTable().chainedTo };
  } finally {
    await conn.close();
  }
}

/** Change a database's LMDB file directly: the chain table dropped (as an older factlog made it) or cut to t 0..keep. */
async function withChainTable(dir: string, change: (table: any) => void): Promise<void> {
  const env = openLmdb({ path: path.join(dir, DATA_FILE), maxDbs: 16 });
  change(env.openDB(CHAIN_DB, { keyEncoding: 'uint32', encoding: 'binary' }));
  await env.close();
}

const cutTo = (keep: number) => (table: any) => {
  for (const t of [...table.getKeys({ start: keep + 1 })]) table.removeSync(t);
};

describe('the chain function', () => {
  it('a record changed at t changes the chain at t and after, and nowhere before', () => {
    const recordArb = fc.uint8Array({ minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(fc.array(recordArb, { minLength: 1, maxLength: 30 }), fc.nat(), recordArb, (records, at, other) => {
        const t = at % records.length;
        fc.pre(!Buffer.from(other).equals(Buffer.from(records[t]!)));
        const changed = records.slice();
        changed[t] = other;
        const a = chainOf(records);
        const b = chainOf(changed);
        for (let k = 0; k < records.length; k++) expect(a[k]!.equals(b[k]!), `t ${k}, changed at ${t}`).toBe(k < t);
      }),
    );
  });

  it('starts from a fixed constant and is SHA-256 of the previous value and the record', () => {
    expect(CHAIN_START.length).toBe(32);
    expect(chainOf([Buffer.from('a'), Buffer.from('b')])[1]).toEqual(chainStep(chainStep(CHAIN_START, Buffer.from('a')), Buffer.from('b')));
  });
});

describe('the chain table', () => {
  it('the same history has the same chain in the writer, a replica, a restored backup, a rebuild and a copy rebuilt from the log file', async () => {
    const dir = await fixedHistory(30);
    const expected = await chainIn(dir);
    expect(expected.chainedTo).toBe(30);
    expect(new Set(expected.hashes).size).toBe(31);

    const replica = path.join(tempDir(), 'replica');
    await replicate({ from: dir, to: replica });
    expect(await chainIn(replica)).toEqual(expected);

    const copy = path.join(tempDir(), 'backup');
    await backup(dir, copy);
    const restored = path.join(tempDir(), 'restored');
    await restore(copy, restored);
    expect(await chainIn(restored)).toEqual(expected);

    const conn = await open({ path: restored });
    await conn.rebuildIndexes();
    await conn.close();
    expect(await chainIn(restored)).toEqual(expected);

    fs.rmSync(path.join(restored, DATA_FILE));
    await (await open({ path: restored })).close();
    expect(await chainIn(restored)).toEqual(expected);
  });

  it("a restored backup written since has the backup's chain up to its t and another after", async () => {
    const dir = await fixedHistory(12);
    const copy = path.join(tempDir(), 'backup');
    await backup(dir, copy);
    const restored = path.join(tempDir(), 'restored');
    await restore(copy, restored);
    const conn = await open({ path: restored });
    await conn.transact('[{:p/name "other"}]');
    await conn.close();
    const original = await chainIn(dir);
    const after = await chainIn(restored);
    expect(after.hashes.slice(0, 13)).toEqual(original.hashes);
    expect(after.hashes).toHaveLength(14);
  });

  for (const format of [1, 2, 3, 4]) {
    it(`format ${format}: the same chain as format ${FORMAT_VERSION}; a table dropped (an older factlog's database) is computed read-only and caught up on open for writing`, async () => {
      const expected = await chainIn(await fixedHistory(20));
      const dir = await fixedHistory(20, format);
      expect(await chainIn(dir)).toEqual(expected);
      await withChainTable(dir, (table) => table.dropSync());
      expect(await chainIn(dir)).toEqual({ ...expected, chainedTo: -1 });
      await (await open({ path: dir })).close();
      expect(await chainIn(dir)).toEqual(expected);
    });
  }

  it('a table left behind by a writer that did not keep it: read-only opens compute the rest, the next open for writing catches it up, and commits go on from there', async () => {
    const dir = await fixedHistory(300);
    const expected = await chainIn(dir);
    await withChainTable(dir, cutTo(9));
    expect(await chainIn(dir)).toEqual({ ...expected, chainedTo: 9 });
    const conn = await open({ path: dir });
    expect(conn.store.chainTable().chainedTo).toBe(300);
    await conn.transact('[{:p/name "next"}]');
    const next = conn.store.chainHash(301)!;
    expect(next).toEqual(chainStep(Buffer.from(expected.hashes[300]!, 'hex'), conn.store.logRecordAt(301)!));
    await conn.close();
    expect((await chainIn(dir)).hashes).toEqual([...expected.hashes, next.toString('hex')]);
  });

  it('read-only: any t asked in any order past the table is the same as the table would give', async () => {
    const dir = await fixedHistory(520);
    const expected = await chainIn(dir);
    await withChainTable(dir, (table) => table.dropSync());
    const conn = await open({ path: dir, readOnly: true });
    try {
      for (const t of [500, 3, 256, 520, 511, 0, 519, 257, 512]) expect(conn.store.chainHash(t)!.toString('hex'), `t ${t}`).toBe(expected.hashes[t]);
    } finally {
      await conn.close();
    }
  });
});

describe('the chain step', () => {
  it('is SHA-256 of the previous value and the record, for records small and past the reused buffer', () => {
    const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.oneof(bytes(300), bytes(70_000)), (previous, record) => {
        const expected = createHash('sha256').update(previous).update(record).digest();
        expect(chainStep(previous, record).equals(expected)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
