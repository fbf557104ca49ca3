// An import (side database with keys put one by one, packed at the end: src/storage/bulk-import.ts)
// gives the same database as importing the same file one transaction at a time the ordinary way.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { open, q, verify, type Connection } from '../../src/index.js';
import { exportLines, Importer, importIntoEmpty } from '../../src/cli/transfer.js';
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

async function importedInBulk(file: string, format?: number, sorted?: boolean): Promise<string> {
  const dir = path.join(tempDir('bulk-import-'), 'db');
  await (await open({ path: dir, createFormat: format })).close();
  const result = await importIntoEmpty(dir, file);
  if (sorted !== undefined) expect(result.sorted).toBe(sorted);
  return dir;
}

/** The error of importing `file` (undefined when it imports). */
async function importError(run: () => Promise<unknown>): Promise<{ code: unknown; message: string } | undefined> {
  try {
    await run();
    return undefined;
  } catch (err) {
    return { code: (err as { code?: unknown }).code, message: (err as Error).message };
  }
}

/** `file` with one more transaction (the next t, a minute after the last) of these datoms, in the export's ids. */
function withTransaction(file: string, datoms: unknown[][]): string {
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  const last = JSON.parse(lines[lines.length - 1]!) as { t: number; txInstant: string };
  const t = last.t + 1;
  const tx = 2 ** 40 + t;
  const txInstant = new Date(Date.parse(last.txInstant) + 60_000).toISOString();
  const line = { t, tx, txInstant, datoms: [[tx, ':db/txInstant', { '#inst': txInstant }, true], ...datoms] };
  const out = path.join(tempDir('bad-export-'), 'export.jsonl');
  fs.writeFileSync(out, [...lines, JSON.stringify(line)].join('\n') + '\n');
  return out;
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
    const bulk = await importedInBulk(file, undefined, true);
    const lineByLine = await importedLineByLine(file);
    for (const dir of [bulk, lineByLine]) {
      const report = await verify(dir);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    }
    expect(await openedContents(bulk)).toEqual(await openedContents(lineByLine));
  }, 120_000);

  it('sorts that spill to run files (1 MB for them) give the same database', async () => {
    await writeShopExport(file, { datoms: 20_000, seed: 11 });
    process.env.FACTLOG_IMPORT_SORT_MB = '1';
    let bulk: string;
    try {
      bulk = await importedInBulk(file, undefined, true);
    } finally {
      delete process.env.FACTLOG_IMPORT_SORT_MB;
    }
    expect((await verify(bulk)).ok).toBe(true);
    expect(await openedContents(bulk)).toEqual(await openedContents(await importedLineByLine(file)));
  }, 120_000);

  it('long values (kept in the values table, their keys holding a hash) import in bulk as one by one', async () => {
    await writeShopExport(file, { datoms: 5_000, seed: 5 });
    const long = 'a long name \u00e9 '.repeat(400);
    const withLong = withTransaction(file, [
      [9_000_000, ':item/name', long, true],
      [9_000_000, ':item/sku', 'SKU-LONG', true],
    ]);
    const bulk = await importedInBulk(withLong, undefined, true);
    expect((await verify(bulk)).ok).toBe(true);
    const conn = await open({ path: bulk });
    try {
      expect(q('[:find ?n . :where [?e :item/sku "SKU-LONG"] [?e :item/name ?n]]', conn.db())).toBe(long);
    } finally {
      await conn.close();
    }
    expect(await openedContents(bulk)).toEqual(await openedContents(await importedLineByLine(withLong)));
  }, 120_000);

  it('an export the transactor would store otherwise (a retraction of a datom that does not hold, a second value without retracting the first) imports as one by one', async () => {
    await writeShopExport(file, { datoms: 5_000, seed: 9 });
    const unheld = withTransaction(file, [[1_000_000, ':item/name', 'no such name', false]]);
    const replaced = withTransaction(file, [[1_000_002, ':item/price', 1, true]]);
    for (const bad of [unheld, replaced]) {
      const bulk = await importedInBulk(bad, undefined, false);
      expect((await verify(bulk)).ok).toBe(true);
      expect(await openedContents(bulk)).toEqual(await openedContents(await importedLineByLine(bad)));
    }
  }, 120_000);

  it('an export the transactor refuses (a unique value on two entities) fails with its error and leaves the database empty', async () => {
    await writeShopExport(file, { datoms: 5_000, seed: 10 });
    const bad = withTransaction(file, [
      [1_000_001, ':item/sku', 'SKU-000001', false],
      [1_000_001, ':item/sku', 'SKU-000000', true],
    ]);
    const dir = path.join(tempDir('bulk-bad-'), 'db');
    await (await open({ path: dir })).close();
    const bulk = await importError(() => importIntoEmpty(dir, bad));
    const oneByOne = await importError(() => importedLineByLine(bad));
    expect(oneByOne?.message).toMatch(/SKU-000000 already belongs to entity/);
    expect(bulk).toEqual({ code: oneByOne!.code, message: `${oneByOne!.message}; nothing imported, the database is as it was (t 0)` });
    const conn = await open({ path: dir });
    expect(conn.basisT).toBe(0);
    await conn.close();
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['db']);
  }, 120_000);

  it('an older format without runs (3) imports as before', async () => {
    await writeShopExport(file, { datoms: 5_000, seed: 8 });
    const bulk = await importedInBulk(file, 3);
    expect((await verify(bulk)).ok).toBe(true);
    expect(await openedContents(bulk)).toEqual(await openedContents(await importedLineByLine(file, 3)));
  }, 120_000);

  it('property: random histories (updates, retractions, many, unique, refs) import in bulk as they were transacted', async () => {
    // a history passing a unique value from one entity to another in one transaction is left to
    // the transactor by design (storage/sorted-import.ts checkUnique): the same contents, not in bulk
    let runs = 0;
    let inBulk = 0;
    await fc.assert(
      fc.asyncProperty(historyArb, async (history) => {
        const source = path.join(tempDir('bulk-prop-src-'), 'db');
        const conn = await open({ path: source, noSync: true });
        try {
          await transactHistory(conn, history);
          const exportFile = path.join(tempDir('bulk-prop-file-'), 'export.jsonl');
          fs.writeFileSync(exportFile, [...exportLines(conn, 'jsonl')].map((line) => line + '\n').join(''));
          const expected = contents(conn);
          const bulk = path.join(tempDir('bulk-import-'), 'db');
          await (await open({ path: bulk })).close();
          runs++;
          if ((await importIntoEmpty(bulk, exportFile)).sorted) inBulk++;
          expect((await verify(bulk)).ok).toBe(true);
          const imported = await open({ path: bulk });
          try {
            expect(contents(imported)).toEqual(expected);
          } finally {
            await imported.close();
          }
        } finally {
          await conn.close();
        }
      }),
      { numRuns: 15 },
    );
    expect(inBulk, `${inBulk} of ${runs} random histories imported in bulk`).toBeGreaterThanOrEqual(Math.ceil(runs * 0.6));
  }, 300_000);
});

// ---------------- random histories for the property ----------------

const PROPERTY_SCHEMA = `[
  {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :p/code :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/value}
  {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
  {:db/ident :p/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
  {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
  {:db/ident :p/best :db/valueType :db.type/ref :db/cardinality :db.cardinality/one}
  {:db/id "datomic.tx" :db/txInstant #inst "2023-12-31"}]`;

type OpKind = 'new' | 'age' | 'unage' | 'code' | 'tag' | 'untag' | 'friend' | 'unfriend' | 'best';
/** One operation: `who` and `other` pick existing people, `value` a small value, `count` how many new people. */
interface Op {
  kind: OpKind;
  who: number;
  other: number;
  value: number;
  count: number;
}

const opArb: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom<OpKind>('new', 'age', 'unage', 'code', 'tag', 'untag', 'friend', 'unfriend', 'best'),
  who: fc.nat(1000),
  other: fc.nat(1000),
  value: fc.nat(5),
  count: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 20, max: 40 })),
});
/** Transactions of a few operations each; a new entity's count above SORT_THRESHOLD / 4 makes a big transaction. */
const historyArb = fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 25 });

/** Transact each generated transaction; one the transactor refuses (a unique clash, a datom both added and retracted) is left out, as from a log. */
async function transactHistory(conn: Connection, history: Op[][]): Promise<void> {
  await conn.transact(PROPERTY_SCHEMA);
  let people = 0;
  for (const [i, ops] of history.entries()) {
    const forms: string[] = [`{:db/id "datomic.tx" :db/txInstant #inst "${new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString()}"}`];
    const existing = (n: number) => `[:p/email "p${n % Math.max(people, 1)}@x"]`;
    let made = people;
    for (const op of ops) {
      if (op.kind === 'new') {
        for (let k = 0; k < op.count; k++, made++) forms.push(`{:p/email "p${made}@x" :p/age ${made % 7} :p/tag "t${made % 3}"}`);
        continue;
      }
      if (people === 0) continue;
      const e = existing(op.who);
      if (op.kind === 'age') forms.push(`[:db/add ${e} :p/age ${op.value}]`);
      else if (op.kind === 'unage') forms.push(`[:db/retract ${e} :p/age]`);
      else if (op.kind === 'code') forms.push(`[:db/add ${e} :p/code "c${op.value}"]`);
      else if (op.kind === 'tag') forms.push(`[:db/add ${e} :p/tag "t${op.value}"]`);
      else if (op.kind === 'untag') forms.push(`[:db/retract ${e} :p/tag "t${op.value}"]`);
      else forms.push(`[${op.kind === 'unfriend' ? ':db/retract' : ':db/add'} ${e} ${op.kind === 'best' ? ':p/best' : ':p/friend'} ${existing(op.other)}]`);
    }
    try {
      await conn.transact(`[${forms.join(' ')}]`);
      people = made;
    } catch (err) {
      if (!String((err as { code?: unknown }).code).startsWith('tx/')) throw err;
    }
  }
}
