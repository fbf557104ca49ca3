// The `scale` group: a realistic shop history of a size given on the command line
// (--scale-datoms), imported with `factlog import` in a process of its own, against raw lmdb-js
// writing the same keys and DataScript holding the same history (where it fits in memory).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { PackedIndex } from '../src/storage/packed-index.js';
import { DATA_FILE, DB_NAMES, environmentOptions, indexDbOptions, keyCodecOf, logDbOptions, PACKED_FORMAT } from '../src/storage/store-format.js';
import type { KeyPart } from '../src/storage/encoding.js';
import { ds, removeDir } from './engines.js';
import { describeTables, diskUsage, type DiskUsage } from './disk-usage.js';
import { dsTxDataOf, SHOP_DS_SCHEMA, shopHistory, writeShopExport, type ShopOptions } from './scale-history.js';
import type { ScaleImportResult } from './scale-import-child.js';
import type { TargetCheck, WorkloadReport } from './runner.js';
import { runScaleQueries } from './scale-queries.js';

export interface ScaleOptions {
  datoms: number;
  seed: number;
  /** DataScript takes the same history only up to this many datoms (it holds it all in the heap). */
  dsMaxDatoms: number;
  workDir: string;
  log: (msg: string) => void;
}

/** "1M", "5m", "20M", "250k" or a plain number of datoms. */
export function parseDatoms(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new Error(`--scale-datoms needs a number of datoms such as 1M, 5M, 20M or 250000, got ${text}`);
  const n = Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6);
  if (!Number.isInteger(n) || n < 1000) throw new Error(`--scale-datoms needs at least 1000 datoms, got ${text}`);
  return n;
}

/** The scale group's reports: the import (and, once the query half lands, the scale queries). */
export async function runScale(o: ScaleOptions): Promise<WorkloadReport[]> {
  const history: ShopOptions = { datoms: o.datoms, seed: o.seed };
  const file = path.join(o.workDir, 'shop.jsonl');
  let t0 = performance.now();
  const written = await writeShopExport(file, history);
  o.log(
    `scale: ${written.datoms.toLocaleString('en')} datoms in ${written.transactions.toLocaleString('en')} transactions, ${(written.bytes / 2 ** 20).toFixed(0)} MB of export, written in ${(performance.now() - t0).toFixed(0)} ms`,
  );
  const dir = path.join(o.workDir, 'shop-db');
  o.log('scale: factlog import ...');
  const imported = await importInChild(file, dir);
  fs.rmSync(file, { force: true });
  const disk = diskUsage(dir);
  o.log(`scale: disk in use by table: ${describeTables(disk)}; log file ${(disk.logFileBytes / 2 ** 20).toFixed(1)} MB`);
  o.log('scale: raw lmdb-js floor ...');
  t0 = performance.now();
  const raw = rawFloor(dir, o.workDir);
  o.log(`scale: raw floor ${raw.ms.toFixed(0)} ms of writes (${(performance.now() - t0).toFixed(0)} ms with reading the keys)`);
  const dsResult = o.datoms <= o.dsMaxDatoms ? dataScriptLoad(history) : null;
  const queries = await scaleQueries(dir, o, dsResult?.db);
  removeDir(dir);
  return [importReport(o, written.datoms, imported, disk, raw, dsResult), ...queries];
}

/** The scale queries (bench/scale-queries.ts) on the imported database, as rows of the report. */
async function scaleQueries(dir: string, o: ScaleOptions, dsDb: unknown): Promise<WorkloadReport[]> {
  const reports = await runScaleQueries(dir, { runs: 3, dsDb, log: o.log });
  return reports.map((r) => ({
    name: `scale-${r.name}`,
    group: 'scale',
    description: `${r.description} (${r.answer}; target: ${r.target})`,
    dsNote: r.dsMs === null ? 'DataScript: not run at this size or for this task' : r.sameAsDs === false ? 'DataScript: a DIFFERENT answer' : undefined,
    factlogMs: r.factlogMs,
    dsMs: r.dsMs ?? NaN,
    rawMs: r.rawMs,
    nowMs: null,
    ratio: r.dsMs === null ? NaN : r.factlogMs / r.dsMs,
    rawRatio: r.rawMs === null ? null : r.factlogMs / Math.max(r.rawMs, 1e-6),
    nowRatio: null,
    times: { factlog: [r.factlogMs], ...(r.dsMs === null ? {} : { ds: [r.dsMs] }), ...(r.rawMs === null ? {} : { raw: [r.rawMs] }) },
    repetitions: { factlog: [1] },
  }));
}

function importInChild(file: string, dir: string): Promise<ScaleImportResult> {
  // run from source (the tests), the child is the compiled one
  const here = fileURLToPath(import.meta.url);
  const child = here.endsWith('.js') ? path.join(path.dirname(here), 'scale-import-child.js') : path.join(path.dirname(here), '..', 'dist', 'bench', 'scale-import-child.js');
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, file, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`scale import child exited with ${code}`));
      resolve(JSON.parse(out.trim().split('\n').pop()!) as ScaleImportResult);
    });
  });
}

/**
 * The floor of the import: every key of every index of the imported database (runs unpacked:
 * one LMDB entry per key, in each index's own key encoding) and every log record, put with
 * lmdb-js in key order into a fresh environment, 50,000 per write transaction. Only the writes
 * are timed, not reading the keys out of factlog's file.
 */
function rawFloor(dir: string, workDir: string): { ms: number; keys: number; usedBytes: number } {
  const source = openLmdb({ ...environmentOptions(path.join(dir, DATA_FILE), { readOnly: true }), maxDbs: 32 });
  const rawDir = fs.mkdtempSync(path.join(workDir, 'raw-floor-'));
  const target = openLmdb({ ...environmentOptions(path.join(rawDir, DATA_FILE), {}), maxDbs: 32 });
  let ms = 0;
  let keys = 0;
  const put = (batch: [unknown, unknown][], db: { putSync(k: unknown, v: unknown): void }) => {
    const t0 = performance.now();
    target.transactionSync(() => {
      for (const [k, v] of batch) db.putSync(k, v);
    });
    ms += performance.now() - t0;
    keys += batch.length;
    batch.length = 0;
  };
  try {
    const format = source.openDB<unknown, string>('meta', {}).get('formatVersion') as number;
    const logFrom = source.openDB<Buffer, number>('log', logDbOptions(format));
    const logTo = target.openDB<Buffer, number>('log', logDbOptions(format));
    let batch: [unknown, unknown][] = [];
    for (const { key, value } of logFrom.getRange({})) {
      batch.push([key, Buffer.from(value as Buffer)]);
      if (batch.length === 50_000) put(batch, logTo);
    }
    put(batch, logTo);
    const empty = Buffer.alloc(0);
    for (const name of DB_NAMES.filter((n) => /^(eavt|aevt|avet|vaet)/.test(n))) {
      const from = new PackedIndex(source.openDB<Buffer, any>(name, indexDbOptions(format)), format >= PACKED_FORMAT, undefined, undefined, keyCodecOf(format));
      const to = target.openDB<Buffer, any>(name, indexDbOptions(format));
      batch = [];
      for (const key of from.keys(undefined, undefined)) {
        batch.push([key as KeyPart[], empty]);
        if (batch.length === 50_000) put(batch, to);
      }
      put(batch, to);
    }
  } finally {
    source.close();
    void target.close();
  }
  const usage = diskUsage(rawDir, false);
  removeDir(rawDir);
  return { ms, keys, usedBytes: usage.usedPages * usage.pageSize };
}

/** DataScript: a connection taking the same transactions one by one (it keeps no history). */
function dataScriptLoad(history: ShopOptions): { ms: number; heapMB: number; db: unknown } {
  const conn = ds.conn_from_db(ds.empty_db(SHOP_DS_SCHEMA));
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (const tx of shopHistory(history)) ds.transact(conn, dsTxDataOf(tx));
  const ms = performance.now() - t0;
  const heapMB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  return { ms, heapMB, db: ds.db(conn) };
}

function importReport(
  o: ScaleOptions,
  datoms: number,
  r: ScaleImportResult,
  disk: DiskUsage,
  raw: { ms: number; keys: number; usedBytes: number },
  dsResult: { ms: number; heapMB: number } | null,
): WorkloadReport {
  const usedBytes = disk.usedPages * disk.pageSize;
  const extra: Record<string, number> = {
    datoms,
    transactions: r.transactions,
    cpuMs: r.cpuUserMs + r.cpuSystemMs,
    peakRssMB: r.peakRssMB,
    peakAnonMB: r.peakAnonMB,
    isolated: 1,
    bytesPerDatom: usedBytes / datoms,
    usedMB: usedBytes / 2 ** 20,
    freePages: disk.freePages,
    freeShare: disk.freePages / disk.filePages,
    logFileMB: disk.logFileBytes / 2 ** 20,
    rawKeys: raw.keys,
    rawBytesPerDatom: raw.usedBytes / datoms,
  };
  for (const [name, t] of Object.entries(disk.tables)) if (t.pages) extra[`MB:${name}`] = (t.pages * disk.pageSize) / 2 ** 20;
  if (dsResult) extra.dsHeapMB = dsResult.heapMB;
  return {
    name: 'scale-import',
    group: 'scale',
    description: `factlog import of a ${o.datoms.toLocaleString('en')}-datom shop history (seed ${o.seed})`,
    dsNote: dsResult
      ? 'DataScript: the same transactions into a connection, in memory, no history'
      : `DataScript: not run above ${o.dsMaxDatoms.toLocaleString('en')} datoms (--scale-ds-max)`,
    factlogMs: r.ms,
    dsMs: dsResult?.ms ?? NaN,
    rawMs: raw.ms,
    nowMs: null,
    ratio: dsResult ? r.ms / dsResult.ms : NaN,
    rawRatio: r.ms / Math.max(raw.ms, 1e-6),
    nowRatio: null,
    throughput: { unit: 'datoms/s', factlog: datoms / (r.ms / 1000), ds: dsResult ? datoms / (dsResult.ms / 1000) : NaN },
    extra,
    times: { factlog: [r.ms], ...(dsResult ? { ds: [dsResult.ms] } : {}), raw: [raw.ms] },
    repetitions: { factlog: [1] },
  };
}

/** The import and disk targets, for the scale-import row. */
export function scaleTargets(w: WorkloadReport): TargetCheck[] {
  const e = w.extra!;
  const rate = w.throughput!.factlog;
  return [
    {
      target: 'scale import >= 150,000 datoms/s (issue 26: at 20M)',
      met: rate >= 150_000,
      detail: `${Math.round(rate).toLocaleString('en')} datoms/s at ${e.datoms!.toLocaleString('en')} datoms; ${e.cpuMs!.toFixed(0)} ms CPU`,
    },
    { target: 'scale import anonymous memory <= 400 MB', met: e.peakAnonMB! <= 400, detail: `${e.peakAnonMB!.toFixed(0)} MB anonymous, ${e.peakRssMB!.toFixed(0)} MB peak RSS` },
    {
      target: 'disk <= 100 bytes per datom in use (issue 26: at 20M)',
      met: e.bytesPerDatom! <= 100,
      detail: `${e.bytesPerDatom!.toFixed(0)} bytes/datom (raw lmdb-js, one entry per key: ${e.rawBytesPerDatom!.toFixed(0)}); ${e.freePages!.toLocaleString('en')} free pages (${(100 * e.freeShare!).toFixed(0)}% of the file)`,
    },
  ];
}
