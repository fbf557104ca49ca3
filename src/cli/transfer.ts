// export / import: the whole log as one line per transaction, so that importing into an empty
// database reproduces every past state (same t and :db/txInstant for every transaction).
//
// JSON lines:  {"t":3,"tx":1099511627779,"txInstant":"2026-01-02T00:00:00.000Z",
//               "datoms":[[1003,":person/age",31,true],[1003,":person/age",30,false], ...]}
// Values in tagged JSON (json-values.ts, the form every --format json prints); refs as {"#ref":1003}.
// EDN lines:   {:t 3, :tx 1099511627779, :db/txInstant #inst "...", :datoms [[1003 :person/age 31 true] ...]}
//   (refs are plain numbers there; the importer recognises them from the schema).
import fs from 'node:fs';
import path from 'node:path';
import { open, type Connection } from '../connection.js';
import type { Db } from '../db/db.js';
import { FIRST_USER_EID } from '../db/schema.js';
import { TX_BASE } from '../storage/encoding.js';
import { DATA_FILE } from '../storage/store.js';
import { LOG_FILE, syncFile } from '../storage/log-file.js';
import { removeDatabaseFiles, replaceDatabaseFiles } from '../storage/database-files.js';
import { packImportedDatabase } from '../storage/bulk-import.js';
import { SortBudget } from '../storage/external-sort.js';
import { BulkCheckFailed, type SortedDatoms } from '../storage/sorted-import.js';
import { PACKED_FORMAT } from '../storage/store-format.js';
import { throughEnvironmentGate, ticketPid } from '../storage/env-gate.js';
import { isRunning } from '../storage/processes.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { FactlogError } from '../../query-lang/errors.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { CliError, formatError, openExisting } from './common.js';
import { encodeJsonValue } from './json-values.js';
import { IdMap } from './id-map.js';
import { parseLine, type ImportedDatom, type ImportedTx, type LineImporter } from './import-lines.js';
import { SortedImporter } from './sorted-transfer.js';

// ---------------- export ----------------

/** Every transaction after the bootstrap, one line each. */
export function* exportLines(conn: Connection, format: 'jsonl' | 'edn', from = 1, to = Number.MAX_SAFE_INTEGER, keep: (instant: Date) => boolean = () => true): Generator<string> {
  const db = conn.db();
  for (const entry of conn.txRange(from, to)) {
    if (!keep(entry.instant)) continue;
    const schema = db.ctx.schemaAt(entry.t);
    const before = db.ctx.schemaAt(entry.t - 1);
    const datoms = entry.data.map((d) => {
      const attr = schema.attr(d.a) ?? before.attr(d.a);
      if (!attr) throw new CliError('cli/export', `t ${entry.t}: no attribute with id ${d.a}`);
      return { e: d.e, ident: attr.ident, v: d.v, added: d.added, isRef: attr.valueType === 'ref' };
    });
    if (format === 'jsonl') {
      yield JSON.stringify({
        t: entry.t,
        tx: entry.tx,
        txInstant: entry.instant.toISOString(),
        datoms: datoms.map((d) => [d.e, ':' + d.ident.fqn, encodeJsonValue(d.v, d.isRef), d.added]),
      });
    } else {
      const items = datoms.map((d) => `[${d.e} ${d.ident} ${printEdn(d.v)} ${d.added}]`);
      yield `{:t ${entry.t}, :tx ${entry.tx}, :db/txInstant ${printEdn(entry.instant)}, :datoms [${items.join(' ')}]}`;
    }
  }
}

/** Write lines to stdout, waiting for the pipe to drain. */
export async function writeLines(lines: Iterable<string>): Promise<number> {
  let n = 0;
  let buf = '';
  const flush = async () => {
    if (!process.stdout.write(buf)) await new Promise((resolve) => process.stdout.once('drain', resolve));
    buf = '';
  };
  for (const line of lines) {
    buf += line + '\n';
    n++;
    if (buf.length > 1 << 16) await flush();
  }
  if (buf) await flush();
  return n;
}

// ---------------- import ----------------

const DB_IDENT = Keyword.of('db/ident');
const DB_CARDINALITY = Keyword.of('db/cardinality');
const DB_VALUE_TYPE = Keyword.of('db/valueType');

/** Transacts the exported transactions in order; old entity ids are mapped to the new ones. */
export class Importer implements LineImporter {
  /** The exported entity ids mapped so far, to the ids they have here. */
  readonly ids = new IdMap();
  count = 0;

  constructor(private readonly conn: Connection) {}

  /** Import one line in its own transaction (one commit each). */
  async importLine(line: string, lineNo: number): Promise<void> {
    await this.importLines([{ line, lineNo }]);
  }

  /**
   * Import consecutive lines as one batch: one LMDB write transaction and one flush for all of
   * them (Connection.transactBatch), each line still its own transaction with its own t. If a
   * line fails, none of the batch is committed and the error names that line.
   */
  async importLines(lines: { line: string; lineNo: number }[]): Promise<void> {
    const parsed: { txIn: ImportedTx; lineNo: number }[] = [];
    for (const { line, lineNo } of lines) {
      if (!line.trim()) continue;
      const txIn = parseLine(line, lineNo);
      if (txIn.t === 0) continue; // the bootstrap: every database has it
      parsed.push({ txIn, lineNo });
    }
    if (parsed.length === 0) return;
    let implicitOf: Map<number, Keyword>[] = [];
    const builders = parsed.map(({ txIn, lineNo }, i) => (db: Db) => {
      const { forms, implicit } = this.formsOf(txIn, lineNo, db);
      implicitOf[i] = implicit;
      return forms;
    });
    try {
      await this.conn.transactBatch(builders, (report, i) => {
        for (const [key, id] of Object.entries(report.tempids)) {
          if (/^e\d+$/.test(key)) this.ids.set(Number(key.slice(1)), id);
        }
        for (const [old, ident] of implicitOf[i]) {
          const attr = report.dbAfter.attr(ident);
          if (attr) this.ids.set(old, attr.id);
        }
        implicitOf[i] = new Map();
      });
    } catch (err) {
      if (err instanceof CliError) throw err;
      const at = parsed[(err as { batchIndex?: number }).batchIndex ?? 0] ?? parsed[0];
      throw new CliError('cli/import', `line ${at.lineNo} (t ${at.txIn.t}): ${(err as Error).message}`);
    } finally {
      implicitOf = [];
    }
    this.count += parsed.length;
  }

  /** The tx data that replays one exported transaction, given the db before it. */
  private formsOf(txIn: ImportedTx, lineNo: number, db: Db): { forms: unknown[]; implicit: Map<number, Keyword> } {
    const expected = db.basisT + 1;
    if (txIn.t !== expected) {
      throw new CliError('cli/import', `line ${lineNo}: transaction t ${txIn.t} would get t ${expected} here (import needs an empty database and a complete log)`);
    }
    const oldTx = txIn.tx ?? TX_BASE + txIn.t;
    // attributes used without schema were created implicitly by their first use; let the
    // transaction create them again instead of defining and using them in one transaction
    const used = new Set(txIn.datoms.map((d) => d.attr.fqn));
    const implicit = new Map<number, Keyword>();
    const byEntity = new Map<number, ImportedDatom[]>();
    for (const d of txIn.datoms) {
      const list = byEntity.get(d.e);
      if (list) list.push(d);
      else byEntity.set(d.e, [d]);
    }
    for (const [e, ds] of byEntity) {
      const ident = ds.find((d) => d.attr === DB_IDENT && d.added)?.v;
      if (!(ident instanceof Keyword) || !used.has(ident.fqn) || this.ids.has(e)) continue;
      const schemaOnly = ds.every((d) => d.added && (d.attr === DB_IDENT || d.attr === DB_CARDINALITY));
      if (schemaOnly && !ds.some((d) => d.attr === DB_VALUE_TYPE)) implicit.set(e, ident);
    }
    const newEntities = new Set<number>();
    for (const d of txIn.datoms) if (d.e !== oldTx && d.e < TX_BASE && d.e >= FIRST_USER_EID && !this.ids.has(d.e)) newEntities.add(d.e);
    const entity = (e: number): unknown => {
      if (e === oldTx) return 'datomic.tx';
      if (e >= TX_BASE || e < FIRST_USER_EID) return e;
      const mapped = this.ids.get(e);
      if (mapped !== undefined) return mapped;
      if (newEntities.has(e) && !implicit.has(e)) return `e${e}`;
      return e;
    };
    const forms: unknown[] = [];
    for (const d of txIn.datoms) {
      if (implicit.has(d.e)) continue;
      const attr = db.attr(d.attr);
      if (attr?.tupleAttrs) continue; // a composite tuple: the transaction makes it again from its parts
      const isRef = d.ref || attr?.valueType === 'ref';
      const v = isRef && typeof d.v === 'number' ? entity(d.v) : d.v;
      forms.push([Keyword.of(d.added ? 'db/add' : 'db/retract'), entity(d.e), d.attr, v]);
    }
    return { forms, implicit };
  }
}

/**
 * The longest line import reads, in bytes (one transaction each; FACTLOG_IMPORT_MAX_LINE_BYTES
 * sets another): well under the longest string Node can make (2^29 - 24 UTF-16 units), so a
 * longer line is refused before it is made into one.
 */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

function maxLineBytes(): number {
  const text = process.env.FACTLOG_IMPORT_MAX_LINE_BYTES;
  if (text === undefined || text === '') return MAX_LINE_BYTES;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_LINE_BYTES) {
    throw new CliError('cli/invalid-argument', `FACTLOG_IMPORT_MAX_LINE_BYTES must be a number of bytes from 1 to ${MAX_LINE_BYTES}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/**
 * The lines of a stream of bytes and each one's length in bytes with its newline (a \r before the
 * newline is dropped). A line's bytes are collected, checked against `maxBytes`, and only then
 * decoded, so that no string longer than that is ever made.
 */
export async function* linesOf(stream: AsyncIterable<Buffer | string>, maxBytes: number): AsyncGenerator<{ line: string; bytes: number }> {
  let parts: Buffer[] = [];
  let length = 0;
  let lineNo = 1;
  const take = (bytes: Buffer) => {
    length += bytes.length;
    if (length > maxBytes) {
      throw new CliError('cli/line-too-long', `line ${lineNo} is longer than ${maxBytes} bytes, the most import reads (FACTLOG_IMPORT_MAX_LINE_BYTES)`);
    }
    parts.push(bytes);
  };
  const line = () => {
    const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).toString('utf8');
    const result = { line: text.endsWith('\r') ? text.slice(0, -1) : text, bytes: length + 1 };
    parts = [];
    length = 0;
    lineNo++;
    return result;
  };
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(10); nl >= 0; nl = bytes.indexOf(10, start)) {
      take(bytes.subarray(start, nl));
      yield line();
      start = nl + 1;
    }
    if (start < bytes.length) take(bytes.subarray(start));
  }
  if (length > 0) yield line();
}

const IMPORT_BATCH_LINES = 256;
const IMPORT_BATCH_BYTES = 1024 * 1024;

/** Import a file line by line; a progress bar on stderr when it is a terminal. */
export async function importFile(conn: Connection, file: string, importer: LineImporter = new Importer(conn), interruption?: Interruption): Promise<number> {
  if (conn.basisT !== 0) {
    throw new CliError('cli/import', `the database at ${conn.path} is not empty (t ${conn.basisT}); import needs a new database`);
  }
  let size = 0;
  let stream: fs.ReadStream | NodeJS.ReadableStream;
  if (file === '-') stream = process.stdin;
  else {
    try {
      size = fs.statSync(file).size;
    } catch (err) {
      throw new CliError('cli/file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    stream = fs.createReadStream(file);
  }
  interruption?.watch(stream as { destroy(): void });
  const progress = process.stderr.isTTY && size > 0;
  let read = 0;
  let lineNo = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const frac = Math.min(1, read / size);
    const width = 30;
    const filled = Math.round(frac * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${importer.count} tx`);
  };
  // Lines go in batches (one commit and fsync per batch, see Importer.importLines), bounded in
  // count and bytes so that memory stays flat however big the file is.
  let batch: { line: string; lineNo: number }[] = [];
  let batchBytes = 0;
  const flush = async () => {
    const lines = batch;
    batch = [];
    batchBytes = 0;
    await importer.importLines(lines);
    interruption?.check();
    if (progress) draw();
  };
  try {
    for await (const { line, bytes } of linesOf(stream, maxLineBytes())) {
      lineNo++;
      read += bytes;
      batch.push({ line, lineNo });
      batchBytes += bytes;
      if (batch.length >= IMPORT_BATCH_LINES || batchBytes >= IMPORT_BATCH_BYTES) await flush();
    }
    if (batch.length) await flush();
  } catch (err) {
    interruption?.check(); // a signal ends the input stream: say so rather than how it ended
    throw err;
  } finally {
    if (progress) {
      draw(true);
      process.stderr.write('\n');
    }
  }
  return importer.count;
}

// ---------------- an import is all or nothing ----------------
//
// Lines are committed in batches (one LMDB transaction holding the whole file would hold all of it
// in memory), and a process can die between two. So import writes a new database in a side
// directory next to the target (<dir>.import-<pid>, which no command opens as a database) and
// moves its files into the target only once it is complete and flushed, each file with one
// rename(2), in the order that leaves a database that opens whole at every step: the target's log
// file is removed (its LMDB file, at t 0, rewrites it), the new LMDB file replaces the old (with
// its own log table it rewrites the log file if the process dies here), then the new log file
// goes in. A killed import leaves the target as it was, at t 0; the next import removes the side
// directory it left. Import only goes into an empty database (t 0), so nothing of the target is
// lost; and it refuses when another process has the target open (its gate ticket says so) or
// wrote to it meanwhile.

/** SIGINT and SIGTERM during an import: noted, so that the import stops between batches and removes its side directory. */
export class Interruption {
  private signal: NodeJS.Signals | undefined;
  private stream: { destroy(): void } | undefined;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.signal = signal;
    this.stream?.destroy(); // a read waiting on stdin would not notice otherwise
  };

  constructor() {
    for (const signal of INTERRUPTS) process.on(signal, this.onSignal);
  }

  /** Destroy this input stream when a signal comes. */
  watch(stream: { destroy(): void }): void {
    this.stream = stream;
  }

  /** Throws when a signal came. */
  check(): void {
    if (this.signal) throw new CliError('cli/interrupted', `import interrupted by ${this.signal}; nothing imported, the database is as it was (t 0)`);
  }

  dispose(): void {
    for (const signal of INTERRUPTS) process.off(signal, this.onSignal);
  }
}

const INTERRUPTS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** What an import did: transactions, the last t, and whether its transactions after the schema were checked and indexed in bulk (sorted-transfer.ts). */
export interface ImportResult {
  count: number;
  basisT: number;
  sorted: boolean;
}

/** Import `file` into the empty database at `dir`: all of it, or (a failure, a signal, a crash) nothing. */
export async function importIntoEmpty(dir: string, file: string): Promise<ImportResult> {
  const { format, logFile } = await emptyTarget(dir);
  removeLeftSideDirectories(dir);
  const side = `${dir}.import-${process.pid}`;
  const interruption = new Interruption();
  try {
    removeDatabaseFiles(side); // an earlier process with our pid
    let imported: ImportResult;
    if (file !== '-' && format >= PACKED_FORMAT && sortMemoryBytes() > 0) {
      try {
        imported = await importIntoSide(side, format, file, interruption, true);
      } catch (err) {
        // the file holds what the transactor would not store as it is: one transaction at a time
        if (!(err instanceof BulkCheckFailed)) throw err;
        removeDatabaseFiles(side);
        imported = await importIntoSide(side, format, file, interruption, false);
      }
    } else imported = await importIntoSide(side, format, file, interruption, false);
    // from here on a signal waits: the moves take milliseconds and the import is whole
    moveIntoPlace(side, dir, logFile);
    return imported;
  } catch (err) {
    const said = err instanceof CliError && (err.code === 'cli/import-move' || err.message.includes('nothing imported'));
    if (err instanceof Error && !said) err.message += '; nothing imported, the database is as it was (t 0)';
    throw err;
  } finally {
    interruption.dispose();
    removeDatabaseFiles(side);
  }
}

/**
 * Import `file` into the new side database, and pack it. `sorted`: once its schema is in, its
 * transactions are checked and indexed in bulk (sorted-transfer.ts); throws BulkCheckFailed when
 * the transactor might have stored them otherwise.
 */
async function importIntoSide(side: string, format: number, file: string, interruption: Interruption, sorted: boolean): Promise<ImportResult> {
  const conn = await openSide(side, format);
  const budget = sorted ? new SortBudget(path.join(side, 'sort'), sortMemoryBytes()) : undefined;
  try {
    let count: number;
    let basisT: number;
    let datoms: SortedDatoms | undefined;
    try {
      const transacting = new Importer(conn);
      const importer = budget ? new SortedImporter(conn, transacting, budget) : transacting;
      count = await importFile(conn, file, importer, interruption);
      basisT = importer instanceof SortedImporter ? importer.basisT : conn.basisT;
      datoms = importer instanceof SortedImporter ? await importer.finish() : undefined;
    } finally {
      await conn.close();
    }
    interruption.check();
    await packImportedDatabase(side, datoms);
    interruption.check();
    return { count, basisT, sorted: datoms !== undefined };
  } finally {
    budget?.dispose();
  }
}

/**
 * The memory an import's sorts may hold before they spill to files (FACTLOG_IMPORT_SORT_MB sets
 * another; 0: every transaction through the transactor, as before the sorted import).
 */
export const SORT_MEMORY_BYTES = 48 * 1024 * 1024;

function sortMemoryBytes(): number {
  const text = process.env.FACTLOG_IMPORT_SORT_MB;
  if (text === undefined || text === '') return SORT_MEMORY_BYTES;
  if (!/^\d+$/.test(text)) throw new CliError('cli/invalid-argument', `FACTLOG_IMPORT_SORT_MB must be a whole number of megabytes, got ${JSON.stringify(text)}`);
  return Number(text) * 1024 * 1024;
}

/** How the target's log file looked when the import began: any commit since changes it. */
interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

function identityOf(file: string): FileIdentity | undefined {
  try {
    const { ino, size, mtimeMs } = fs.statSync(file);
    return { ino, size, mtimeMs };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The target's storage format, after checking that it is a database at t 0. */
async function emptyTarget(dir: string): Promise<{ format: number; logFile: FileIdentity | undefined }> {
  const conn = await openExisting(dir);
  const { basisT, store } = conn;
  await conn.close();
  if (basisT !== 0) throw new CliError('cli/import', `the database at ${dir} is not empty (t ${basisT}); import needs a new database`);
  return { format: store.format, logFile: identityOf(path.join(dir, LOG_FILE)) };
}

const SIDE_DIRECTORY = /\.import-(\d+)$/;

/** Remove the side directories of imports into `dir` whose process is gone (killed mid-import). */
function removeLeftSideDirectories(dir: string): void {
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.import-`;
  for (const name of fs.readdirSync(parent)) {
    const pid = name.startsWith(prefix) ? Number(SIDE_DIRECTORY.exec(name)?.[1]) : NaN;
    if (name === `${prefix}${pid}` && (pid === process.pid || !isRunning(pid))) removeDatabaseFiles(path.join(parent, name));
  }
}

async function openSide(side: string, format: number): Promise<Connection> {
  try {
    // each batch need not reach the disk: the files are flushed once, before they are moved in
    // the facts were checked against their attribute predicates when first written; none need be registered
    // keys go in one by one and are packed once at the end (packImportedDatabase)
    return await open({ path: side, create: true, createFormat: format, durability: 'process', checkAttrPreds: false, bulkLoad: true });
  } catch (err) {
    if (err instanceof FactlogError) throw err;
    throw new CliError('cli/import', `cannot make the side directory ${side} to import into: ${formatError(err)}`);
  }
}

/** Move the complete database in `side` into `dir` (see above); in the gate, so no process opens `dir` meanwhile. */
function moveIntoPlace(side: string, dir: string, logFileBefore: FileIdentity | undefined): void {
  for (const name of [DATA_FILE, LOG_FILE]) syncFile(path.join(side, name));
  throughEnvironmentGate(
    dir,
    () => {
      const user = otherProcessUsing(dir);
      if (user !== undefined) {
        throw new CliError('cli/import-busy', `process ${user} has the database at ${dir} open; nothing imported (import again once it is closed)`);
      }
      if (JSON.stringify(identityOf(path.join(dir, LOG_FILE))) !== JSON.stringify(logFileBefore)) {
        throw new CliError('cli/import-busy', `the database at ${dir} was written to while importing; nothing imported`);
      }
      try {
        replaceDatabaseFiles(side, dir);
      } catch (err) {
        // every step leaves a database that opens, at t 0 or complete: which one, only opening it tells
        throw new CliError(
          'cli/import-move',
          `moving the imported files into ${dir} failed (${formatError(err)}); the database there is either as it was (t 0) or complete: \`factlog stats\` tells which`,
        );
      }
    },
    { alone: true },
  ); // no reader may open beside it, should it be stopped: it replaces the files
}

/** The pid of another running process with a gate ticket in `dir` (a store holds one from open to close). */
function otherProcessUsing(dir: string): number | undefined {
  for (const name of fs.readdirSync(dir)) {
    const pid = ticketPid(name);
    if (pid !== undefined && pid !== process.pid && isRunning(pid)) return pid;
  }
  return undefined;
}
