// Shared plumbing of the CLI: where the database is, reading EDN input, points in time, errors.
import fs from 'node:fs';
import path from 'node:path';
import { open, type Connection } from '../connection.js';
import type { Db } from '../db/db.js';
import { FactlogError } from '../../query-lang/errors.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import type { EdnValue } from '../../query-lang/edn/types.js';
import { DATA_FILE } from '../storage/store.js';
import { txToT } from '../storage/encoding.js';

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

export function hasDatabase(dir: string): boolean {
  return fs.existsSync(path.join(dir, DATA_FILE));
}

/** Open an existing database; never creates the directory. */
export async function openExisting(dir: string, options: { readOnly?: boolean } = {}): Promise<Connection> {
  if (!hasDatabase(dir)) {
    throw new CliError('cli/no-database', `no factlog database at ${dir} (run \`factlog init --db ${dir}\` first)`);
  }
  return open({ path: dir, create: false, readOnly: options.readOnly });
}

/** Run `body` with an open connection, always closing it. */
export async function withConn<T>(dir: string, body: (conn: Connection) => Promise<T> | T, options: { readOnly?: boolean } = {}): Promise<T> {
  const conn = await openExisting(dir, options);
  try {
    return await body(conn);
  } finally {
    await conn.close();
  }
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

/** Read one EDN form from user text; errors carry line:column and the offending text. */
export function readUserEdn(text: string): EdnValue {
  return readEdn(text);
}

const DATE_RE = /^\d{4}-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?)?$/;

/** A point in time as given on the command line: a t, a tx id (>= 2**40) or an ISO-8601 date. */
export function parseTimePoint(text: string): number | Date {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n)) throw new CliError('cli/invalid-time', `invalid point in time: ${text} (too large)`);
    return n;
  }
  if (DATE_RE.test(s)) {
    const d = new Date(s);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new CliError('cli/invalid-date', `invalid date: ${JSON.stringify(text)} (expected a t, a tx id or an ISO-8601 date such as 2026-01-01 or 2026-01-01T10:00:00Z)`);
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
  if (err instanceof Error) return oneLine(err.message);
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
