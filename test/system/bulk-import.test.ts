// An import (side database with keys put one by one, packed at the end: src/storage/bulk-import.ts)
// gives the same database as importing the same file one transaction at a time the ordinary way.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { open, verify, type Connection } from '../../src/index.js';
import { Importer, importIntoEmpty } from '../../src/cli/transfer.js';
import { writeShopExport } from '../../bench/scale-history.js';
import { tempDir } from '../helpers/tmp.js';

const INDEXES = ['eavt', 'aevt', 'avet', 'vaet'] as const;

/** Every datom of every index (current and history) and every log entry, as plain data. */
function contents(conn: Connection): unknown {
  const db = conn.db();
  const rows = (it: Iterable<{ e: number; a: number; v: unknown; tx: number; added: boolean }>) => [...it].map((d) => [d.e, d.a, String(d.v), d.tx, d.added]);
  return {
    current: Object.fromEntries(INDEXES.map((i) => [i, rows(db.datoms(i))])),
    history: Object.fromEntries(INDEXES.map((i) => [i, rows(db.history().datoms(i))])),
    log: [...conn.txRange(0)].map((e) => ({ t: e.t, tx: e.tx, instant: e.instant.getTime(), data: e.data.map((d) => [d.e, d.a, String(d.v), d.added]) })),
  };
}

async function importedInBulk(file: string, format?: number): Promise<string> {
  const dir = path.join(tempDir('bulk-import-'), 'db');
  await (await open({ path: dir, createFormat: format })).close();
  await importIntoEmpty(dir, file);
  return dir;
}

/** The same file, each line transacted on its own by an ordinary connection. */
async function importedLineByLine(file: string, format?: number): Promise<string> {
  const dir = path.join(tempDir('line-import-'), 'db');
  const conn = await open({ path: dir, createFormat: format, noSync: true });
  const importer = new Importer(conn);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i]) await importer.importLine(lines[i]!, i + 1);
  await conn.close();
  return dir;
}

async function openedContents(dir: string): Promise<unknown> {
  const conn = await open({ path: dir });
  try {
    // a small transaction after the import: into the packed runs of the bulk-imported one
    await conn.transact('[[:db/add [:item/sku "SKU-000001"] :item/price 5] {:person/email "new@shop.example" :person/city "Riga"} {:db/id "datomic.tx" :db/txInstant #inst "2024-01-01"}]');
    return contents(conn);
  } finally {
    await conn.close();
  }
}

describe('bulk import', () => {
  const file = path.join(tempDir('shop-'), 'shop.jsonl');

  it('a shop history with updates and retractions: the same datoms in every index, the same log, verify sound', async () => {
    const written = await writeShopExport(file, { datoms: 20_000, seed: 7 });
    expect(written.transactions).toBeGreaterThan(150);
    expect(fs.readFileSync(file, 'utf8')).toContain(',false]');
    const bulk = await importedInBulk(file);
    const lineByLine = await importedLineByLine(file);
    for (const dir of [bulk, lineByLine]) {
      const report = await verify(dir);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    }
    expect(await openedContents(bulk)).toEqual(await openedContents(lineByLine));
  }, 120_000);

  it('an older format without runs (3) imports as before', async () => {
    await writeShopExport(file, { datoms: 5_000, seed: 8 });
    const bulk = await importedInBulk(file, 3);
    expect((await verify(bulk)).ok).toBe(true);
    expect(await openedContents(bulk)).toEqual(await openedContents(await importedLineByLine(file, 3)));
  }, 120_000);
});
