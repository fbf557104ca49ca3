// Shared plumbing of the CLI: where the database is, reading EDN input, points in time, errors.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Connection } from '../connection.js';
import { open, type ClusterOptions } from '../cluster/index.js';
import type { Db } from '../db/db.js';
import { FactlogError } from '../../query-lang/errors.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import type { EdnValue } from '../../query-lang/edn/types.js';
import { DATA_FILE } from '../storage/store.js';
import { processStoppedInside } from '../storage/env-gate.js';
import { LOG_FILE } from '../storage/log-file.js';
import { txToT } from '../storage/encoding.js';
import type { FunctionOptions } from '../tx/tx-functions.js';

export const DEFAULT_DB_DIR = './factlog-data';

/** An error meant for the user: printed as one line, exit code 1. */
export class CliError extends FactlogError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}

/** `--db DIR`, else $FACTLOG_DB, else ./factlog-data. */
export function dbDir(option: string | undefined): string {
  return path.resolve(option ?? process.env.FACTLOG_DB ?? DEFAULT_DB_DIR);
}

/**
 * Whether `dir` holds a factlog database: its indexes (factlog.mdb), or only its log (factlog.log),
 * whose indexes are rebuilt from it when it is opened for writing.
 */
export function hasDatabase(dir: string): boolean {
  return fs.existsSync(path.join(dir, DATA_FILE)) || fs.existsSync(path.join(dir, LOG_FILE));
}

/** The log is there, the indexes are not (deleted, or never copied). */
export function indexesMissing(dir: string): boolean {
  return !fs.existsSync(path.join(dir, DATA_FILE)) && fs.existsSync(path.join(dir, LOG_FILE));
}

export interface OpenMode {
  /** Open read-only, whatever the permissions. */
  readOnly?: boolean;
  /**
   * The command only reads: open read-only when this process may not write the directory or its
   * files (LMDB sets up its lock table even to read, unless it opens read-only). A writable
   * database is opened for writing as usual, so that a log left by a crash is replayed first.
   */
  forReading?: boolean;
  /** Transaction functions and predicates its transactions may call (`--tx-fns FILE`). */
  functions?: FunctionOptions;
}

/** The cluster database the CLI's commands work on (`--cluster URL[,URL] --name N`), if any. */
let clusterTarget: ClusterOptions | undefined;

/** From a command's options: `--cluster` makes `--db` (or the default directory) a node of cluster database `--name`. */
export function setClusterTarget(opts: { cluster?: string; name?: string }): void {
  if (opts.cluster === undefined) return;
  if (!opts.name) throw new CliError('cli/cluster-name', '--cluster needs --name NAME: the cluster database to open a node of');
  clusterTarget = { servers: opts.cluster.split(',').filter(Boolean), name: opts.name };
}

/** The share of the heap a query, pull or datom read may fill (`--heap-share F`), when given. */
let heapShare: { heapShare?: number } = {};

/** From a command's options: `--heap-share F`, a fraction between 0 and 1 (0: no guard). */
export function setHeapShare(opts: { heapShare?: string }): void {
  if (opts.heapShare === undefined) return;
  const share = Number(opts.heapShare);
  if (opts.heapShare.trim() === '' || !(share >= 0 && share <= 1))
    throw new CliError('cli/invalid-number', `--heap-share must be a fraction of the heap between 0 and 1 (0: no guard), got ${JSON.stringify(opts.heapShare)}`);
  heapShare = { heapShare: share };
}

/** A node of the --cluster database in `dir` (made when missing), caught up with the stream. */
async function openNode(dir: string, cluster: ClusterOptions, mode: OpenMode): Promise<Connection> {
  const conn = await open({ path: dir, cluster, ...mode.functions, ...heapShare });
  try {
    await conn.sync();
  } catch (err) {
    await conn.close();
    throw err;
  }
  return conn;
}

/**
 * Open an existing database; never creates the directory (a cluster node's is made: it catches up from the stream). A database whose indexes are missing
 * gets them rebuilt from its log (as any open for writing does), with a note on stderr.
 */
export async function openExisting(dir: string, mode: OpenMode = {}): Promise<Connection> {
  if (clusterTarget) return openNode(dir, clusterTarget, mode);
  if (!hasDatabase(dir)) {
    throw new CliError('cli/no-database', `no factlog database at ${dir} (run \`factlog init --db ${dir}\` first)`);
  }
  // a writer stopped mid-transaction holds the gate; only a read-only open goes on beside it, and
  // that writer, being live, has replayed any log left by a crash
  const readOnly = mode.readOnly || (mode.forReading === true && (!mayWrite(dir) || processStoppedInside(dir) !== undefined));
  const rebuilding = indexesMissing(dir);
  const conn = await open({ path: dir, create: false, readOnly, ...mode.functions, ...heapShare })
    .catch((err) => {
      if (mode.forReading && !readOnly && (err as { code?: string }).code === 'storage/gate-stopped')
        return open({ path: dir, create: false, readOnly: true, ...mode.functions, ...heapShare });
      throw err;
    })
    .catch((err) => {
      throw inCliTerms(err, dir);
    });
  if (rebuilding) process.stderr.write(`${DATA_FILE} was missing: rebuilt the indexes of ${dir} from ${LOG_FILE} (t ${conn.basisT})\n`);
  return conn;
}

/**
 * The library's advice names library calls ("open it for writing"): for these codes a CLI user is
 * told what to run instead. The code stays the same.
 */
const CLI_WORDING: Record<string, (dir: string) => string> = {
  'storage/needs-recovery': (dir) =>
    `the indexes of ${dir} (${DATA_FILE}) are missing or were set aside after a crash; opening it for writing rebuilds them from ${LOG_FILE}: run \`factlog rebuild --db ${dir}\` (as a user who may write ${dir})`,
  'storage/log-not-replayed': (dir) =>
    `${path.join(dir, LOG_FILE)} holds transactions that are not in the indexes and could not be read back into them (is the log damaged?); nothing was written. Keep a copy of ${dir} before changing anything in it`,
};

/** `err` as a CLI user should read it (see CLI_WORDING); other errors unchanged. */
export function inCliTerms(err: unknown, dir: string): unknown {
  const wording = err instanceof FactlogError ? CLI_WORDING[err.code] : undefined;
  return wording ? new CliError((err as FactlogError).code, wording(dir)) : err;
}

/** Whether this process may write the database directory and the files LMDB and the log keep there. */
export function mayWrite(dir: string): boolean {
  for (const file of [dir, path.join(dir, DATA_FILE), path.join(dir, `${DATA_FILE}-lock`), path.join(dir, LOG_FILE)]) {
    try {
      fs.accessSync(file, fs.constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false; // EACCES, EROFS, EPERM
    }
  }
  return true;
}

/** Run `body` with an open connection, always closing it. */
export async function withConn<T>(dir: string, body: (conn: Connection) => Promise<T> | T, options: OpenMode = {}): Promise<T> {
  const conn = await openExisting(dir, options);
  try {
    return await body(conn);
  } catch (err) {
    throw inCliTerms(err, dir);
  } finally {
    await conn.close();
  }
}

/**
 * The transaction functions and predicates of `--tx-fns FILE`: an ES module whose default export
 * is `{ txFns: { 'ns/name': fn }, predicates: { 'ns/name?': fn } }`, as `open` takes them (named
 * exports `txFns` and `predicates` do too).
 */
export async function loadFunctions(file: string | undefined): Promise<FunctionOptions | undefined> {
  if (file === undefined) return undefined;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(path.resolve(file)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError('cli/tx-fns', `cannot load --tx-fns ${file}: ${(err as Error).message ?? String(err)}`);
  }
  const given = (mod.default ?? mod) as FunctionOptions | null;
  if (typeof given !== 'object' || given === null || (given.txFns === undefined && given.predicates === undefined)) {
    throw new CliError('cli/tx-fns', `--tx-fns ${file} exports no txFns or predicates (export default { txFns: { 'ns/name': (db, ...args) => txData }, predicates: {...} })`);
  }
  return { txFns: given.txFns, predicates: given.predicates };
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** The last EDN text read from the user, to quote the offending line in error messages. */
let lastSource: string | undefined;

export function setSource(text: string | undefined): void {
  lastSource = text;
}

/** EDN text from an argument, `-f FILE`, or stdin (`-`, or nothing given with stdin piped). */
export async function inputText(arg: string | undefined, file: string | undefined, what: string): Promise<string> {
  const text = await rawInputText(arg, file, what);
  lastSource = text;
  return text;
}

async function rawInputText(arg: string | undefined, file: string | undefined, what: string): Promise<string> {
  if (file !== undefined) {
    if (file === '-') return readStdin();
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new CliError('cli/file', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  if (arg === '-' || (arg === undefined && !process.stdin.isTTY)) return readStdin();
  if (arg === undefined) throw new CliError('cli/missing-input', `missing ${what} (give it as an argument, with -f FILE, or on stdin with -)`);
  return arg;
}

/**
 * One EDN form from a command-line argument other than the main EDN text (`what`: "input 1 (for ?x)",
 * "pattern", "entity"...): a syntax error names that argument and quotes it, not the query.
 */
export function readArgument(text: string, what: string): EdnValue {
  try {
    return readEdn(text);
  } catch (err) {
    if (!(err instanceof FactlogError)) throw err;
    throw new FactlogError(err.code, `${what} ${JSON.stringify(clip(text))}: ${err.message}`);
  }
}

// year-month[-day[Thh:mm[:ss[.fraction]][zone]]]
const DATE_RE = /^(\d{4})-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?)?$/;

/** A point in time as given on the command line: a t, a tx id (>= 2**40) or an ISO-8601 date. */
export function parseTimePoint(text: string): number | Date {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new CliError('cli/invalid-time', `invalid point in time: ${text} (too large)`);
    return n;
  }
  const m = DATE_RE.exec(s);
  if (m) {
    const impossible = impossibleDatePart(m);
    if (impossible) throw new CliError('cli/invalid-date', `invalid date: ${JSON.stringify(text)} (${impossible})`);
    // a time without a zone is UTC, as in an EDN #inst (JavaScript would read it in local time)
    const d = new Date(m[4] !== undefined && m[8] === undefined ? s + 'Z' : s);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new CliError('cli/invalid-date', `invalid date: ${JSON.stringify(text)} (expected a t, a tx id or an ISO-8601 date such as 2026-01-01 or 2026-01-01T10:00:00Z)`);
}

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/**
 * Why a date matching DATE_RE names no real moment, or undefined. JavaScript would roll the
 * excess over (February 30 becoming March 2, 24:00 the next day); a typo should not move a query.
 */
function impossibleDatePart(m: RegExpExecArray): string | undefined {
  const [, year, month, day, hour, minute, second, , zone] = m;
  if (+month! < 1 || +month! > 12) return `there is no month ${month}`;
  if (day !== undefined) {
    const days = daysInMonth(+year!, +month!);
    if (+day < 1 || +day > days) return `${year}-${month} has ${days} days`;
  }
  if (hour !== undefined && +hour > 23) return 'hours go from 00 to 23';
  if (minute !== undefined && +minute > 59) return 'minutes go from 00 to 59';
  if (second !== undefined && +second > 59) return 'seconds go from 00 to 59';
  const offset = zone && zone !== 'Z' ? /^[+-](\d{2}):?(\d{2})$/.exec(zone) : null;
  if (offset && (+offset[1]! > 23 || +offset[2]! > 59)) return `the zone offset ${zone} is out of range`;
  return undefined;
}

/** The t a point in time stands for in this database (a date: the last tx at or before it; -1 before the first). */
export function tOf(db: Db, point: number | Date): number {
  if (point instanceof Date) {
    const t = db.ctx.tAtInstant(point);
    // tAtInstant clamps to 0; before the bootstrap instant (1970) nothing exists
    return t;
  }
  return txToT(point);
}

export interface TimeOptions {
  asOf?: string;
  since?: string;
  history?: boolean;
}

/** Apply --as-of / --since / --history to the current db value. */
export function viewOf(db: Db, opts: TimeOptions): Db {
  let v = db;
  if (opts.asOf !== undefined) v = v.asOf(parseTimePoint(opts.asOf));
  if (opts.since !== undefined) v = v.since(parseTimePoint(opts.since));
  if (opts.history) v = v.history();
  return v;
}

/** One line for the user: the message, the offending form when not already in it, and the code. */
export function formatError(err: unknown, source: string | undefined = lastSource): string {
  if (err instanceof FactlogError) {
    let msg = err.message;
    if (err.form && !msg.includes(err.form)) msg += ` in ${err.form}`;
    else if (!err.form && err.pos && source !== undefined) {
      const line = source.split('\n')[err.pos.line - 1];
      if (line !== undefined && line.trim()) msg += ` near ${JSON.stringify(clip(line.trim()))}`;
    }
    return `${oneLine(msg)} [${err.code}]`;
  }
  if (err instanceof Error) {
    // a system error not wrapped on purpose: its errno code is still stable
    const code = (err as NodeJS.ErrnoException).code;
    return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? `${oneLine(err.message)} [sys/${code}]` : oneLine(err.message);
  }
  return oneLine(String(err));
}

function clip(s: string): string {
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

/** A non-negative integer option. */
export function parseCount(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new CliError('cli/invalid-number', `${what} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}
