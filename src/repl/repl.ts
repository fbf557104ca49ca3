// `factlog repl`: an interactive Datalog shell on node:readline. Works on a terminal (prompt,
// history, completion, Ctrl-C) and on piped stdin (no prompt; one entry after another; no history
// file; the exit code says whether every entry succeeded).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Connection } from '../connection.js';
import type { Db } from '../db/db.js';
import { q, explain, toQuery, compareValues, DEFAULT_TIMEOUT_MS } from '../query/index.js';
import { pull } from '../pull/index.js';
import { readAllEdn } from '../../query-lang/edn/reader.js';
import type { EdnValue } from '../../query-lang/edn/types.js';
import { CliError, formatError, openExisting, parseCount, parseTimePoint, tOf } from '../cli/common.js';
import { edn, plural, renderResult, renderTable, tempidEntries } from '../cli/format.js';
import { complete, inputState, variablesIn } from './input.js';
import type { FunctionOptions } from '../tx/tx-functions.js';
import { excise, type ExciseReport } from '../feed/excise.js';

export interface ReplOptions {
  dir: string;
  input?: Readable;
  output?: Writable;
  errorOutput?: Writable;
  /** History file of interactive sessions; default $FACTLOG_HISTORY, else ~/.factlog_history. */
  historyFile?: string;
  /** Transaction functions and predicates `.tx` may call (`--tx-fns FILE`). */
  functions?: FunctionOptions;
}

const COMMANDS: Record<string, string> = {
  '.as-of': '.as-of T|DATE     query the database as of a t, tx id or ISO-8601 date',
  '.since': '.since T|DATE     only datoms added after a point in time',
  '.history': '.history          query the history view (assertions and retractions)',
  '.now': '.now              back to the current database',
  '.tx': '.tx EDN           transact tx data',
  '.excise': '.excise EDN       excise datoms for good ([:db/excise e :attrs [...]]); closes and reopens the database',
  '.pull': '.pull PATTERN ENTITY   pull a pattern for an entity (id, ident or lookup ref)',
  '.explain': '.explain QUERY    run a query and show its plan',
  '.schema': '.schema           the attributes',
  '.timing': '.timing           toggle elapsed times',
  '.timeout': '.timeout [MS]     stop queries after MS milliseconds (0: never); alone, show it',
  '.help': '.help             this help',
  '.exit': '.exit             leave (also Ctrl-D)',
};

const HISTORY_MAX = 1000;

type TimePoint = number | Date;

export class Repl {
  private asOf: { point: TimePoint; t: number } | null = null;
  private since: { point: TimePoint; t: number } | null = null;
  private history = false;
  private timing = true;
  /** Milliseconds a query may run (query/timeout); undefined: the connection's default. */
  private timeout: number | undefined;
  private buffer = '';
  private idents: string[] = [];
  private exiting = false;
  private lastSigint = 0;
  private readonly rl: readline.Interface;
  private readonly tty: boolean;
  private chain: Promise<void> = Promise.resolve();
  private readonly historyFile: string;
  /** Entries that failed (errors, unbalanced or unfinished input). */
  failures = 0;
  readonly done: Promise<void>;

  constructor(
    /** Reopened after an excision, which rewrites the database's files. */
    public conn: Connection,
    private readonly options: ReplOptions,
  ) {
    const input = options.input ?? process.stdin;
    const output = options.output ?? process.stdout;
    this.tty = Boolean((input as NodeJS.ReadStream).isTTY && (output as NodeJS.WriteStream).isTTY);
    this.historyFile = options.historyFile ?? process.env.FACTLOG_HISTORY ?? path.join(os.homedir(), '.factlog_history');
    this.refreshIdents();
    this.rl = readline.createInterface({
      input,
      output: this.tty ? output : undefined,
      terminal: this.tty,
      history: this.tty ? this.loadHistory() : [],
      historySize: HISTORY_MAX,
      removeHistoryDuplicates: true,
      completer: (line: string) =>
        complete(line, {
          commands: Object.keys(COMMANDS),
          idents: this.idents,
          variables: variablesIn(this.buffer + '\n' + line),
        }),
      crlfDelay: Infinity,
    });
    this.rl.on('line', (line) => {
      this.chain = this.chain.then(() => this.onLine(line));
    });
    this.rl.on('SIGINT', () => this.onSigint());
    this.done = new Promise((resolve) => {
      this.rl.on('close', () => {
        this.chain = this.chain.then(async () => {
          if (this.buffer.trim() && !this.exiting) this.fail(`incomplete input discarded: ${oneLine(this.buffer).slice(0, 60)}`);
          if (this.tty) this.print('');
          resolve();
        });
      });
    });
  }

  /** A terminal session (prompt, history file), rather than piped input. */
  get interactive(): boolean {
    return this.tty;
  }

  start(): void {
    if (this.tty) {
      const readOnly = this.conn.store.readOnly ? ', read-only' : '';
      this.print(`factlog repl — ${this.conn.path} (t ${this.conn.basisT}${readOnly}). Type .help for commands, .exit or Ctrl-D to leave.`);
      this.prompt();
    }
  }

  // ---------------- input ----------------

  private async onLine(line: string): Promise<void> {
    if (this.exiting) return;
    this.buffer = this.buffer ? this.buffer + '\n' + line : line;
    const state = inputState(this.buffer);
    if (state === 'incomplete') {
      this.prompt(true);
      return;
    }
    const entry = this.buffer.trim();
    this.buffer = '';
    if (entry) {
      this.remember(entry);
      if (state === 'unbalanced') this.fail('error: unbalanced input: a closing bracket has no opening one [repl/unbalanced]');
      else await this.run(entry);
    }
    if (!this.exiting) this.prompt();
  }

  private onSigint(): void {
    const typing = this.buffer !== '' || this.rl.line !== '';
    if (typing) {
      this.buffer = '';
      this.lastSigint = 0;
      (this.rl as unknown as { line: string }).line = '';
      this.print('^C');
      this.prompt();
      return;
    }
    const now = Date.now();
    if (now - this.lastSigint < 2000) {
      this.rl.close();
      return;
    }
    this.lastSigint = now;
    this.print('(press Ctrl-C again to leave, or type .exit / Ctrl-D)');
    this.prompt();
  }

  private prompt(continuation = false): void {
    if (!this.tty) return;
    const p = this.promptText();
    this.rl.setPrompt(continuation ? '.'.repeat(p.length - 2).padStart(p.length - 2) + '> ' : p);
    this.rl.prompt();
  }

  promptText(): string {
    const t = this.asOf ? this.asOf.t : this.conn.basisT;
    const ctx = [this.asOf ? 'as-of' : '', this.since ? `since t${this.since.t}` : '', this.history ? 'history' : ''].filter(Boolean);
    return `factlog@t${t}${ctx.length ? ' ' + ctx.join(' ') : ''}> `;
  }

  // ---------------- history file ----------------

  private loadHistory(): string[] {
    try {
      const lines = fs.readFileSync(this.historyFile, 'utf8').split('\n').filter(Boolean);
      return lines.slice(-HISTORY_MAX).reverse();
    } catch {
      return [];
    }
  }

  /** Append an entry to the history file: interactive sessions only, a script is not history. */
  private remember(entry: string): void {
    if (!this.tty) return;
    try {
      fs.appendFileSync(this.historyFile, oneLine(entry) + '\n');
    } catch {
      // a read-only home is no reason to stop
    }
  }

  // ---------------- output ----------------

  private print(text: string): void {
    (this.options.output ?? process.stdout).write(text + '\n');
  }

  private err(text: string): void {
    (this.options.errorOutput ?? process.stderr).write(text + '\n');
  }

  /** Report an entry that failed. */
  private fail(text: string): void {
    this.failures++;
    this.err(text);
  }

  private elapsed(ms: number): string {
    return this.timing ? ` (${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms)` : '';
  }

  // ---------------- evaluation ----------------

  private db(): Db {
    let db = this.conn.db();
    if (this.asOf) db = db.asOf(this.asOf.t);
    if (this.since) db = db.since(this.since.t);
    if (this.history) db = db.history();
    return db;
  }

  private refreshIdents(): void {
    this.idents = this.conn
      .db()
      .attrs()
      .map((a) => a.ident.toString())
      .sort();
  }

  async run(entry: string): Promise<void> {
    try {
      if (entry.startsWith('.')) await this.command(entry);
      else this.queries(entry);
    } catch (e) {
      this.fail(`error: ${formatError(e, entry.startsWith('.') ? entry.replace(/^\.[a-z-]+\s*/, '') : entry)}`);
    }
  }

  /**
   * The forms of an entry, run in order: none (only comments or #_ discards) is like a blank
   * line; several on one line each run and report on their own.
   */
  private queries(text: string): void {
    const forms = readAllEdn(text);
    if (forms.length <= 1) {
      if (forms.length === 1) this.query(text);
      return;
    }
    for (const form of forms) {
      try {
        this.query(form);
      } catch (e) {
        this.fail(`error: ${formatError(e, edn(form))}`);
      }
    }
  }

  private query(text: string | EdnValue): void {
    const t0 = performance.now();
    const query = toQuery(text);
    const extra = query.in.filter((b) => !(b.kind === 'src' && b.name === '$'));
    if (extra.length) throw new CliError('repl/inputs', 'queries with :in inputs other than $ need the CLI (factlog query QUERY INPUTS...)');
    const result = q({ query, args: [this.db()], timeout: this.timeout });
    const ms = performance.now() - t0;
    const sorted = Array.isArray(result) && query.find.kind === 'find-rel' ? sortRows(result as unknown[][]) : result;
    const r = renderResult(query, sorted, 'table');
    this.print(r.text);
    this.print(plural(r.count, 'row') + this.elapsed(ms));
  }

  /** An excision needs the database to itself: this session's connection is closed for it and opened again. */
  private async excise(txData: string): Promise<void> {
    if (!txData) throw new CliError('repl/usage', '.excise needs a request, e.g. .excise [[:db/excise [:person/email "a@b.c"]]]');
    const dir = this.conn.path;
    await this.conn.close();
    let report: ExciseReport;
    try {
      report = await excise(dir, txData, this.options.functions ?? {});
    } finally {
      this.conn = await openExisting(dir, { forReading: true, functions: this.options.functions });
    }
    this.print(`excised ${plural(report.excisedDatoms, 'datom')}; the request is t ${report.t}`);
    this.refreshIdents();
  }

  private async command(entry: string): Promise<void> {
    const m = entry.match(/^(\.[a-z-]+)\s*([\s\S]*)$/);
    const name = m?.[1] ?? entry;
    const rest = (m?.[2] ?? '').trim();
    switch (name) {
      case '.exit':
      case '.quit':
        this.exiting = true;
        this.rl.close();
        return;
      case '.help':
        this.print(Object.values(COMMANDS).join('\n') + '\nAnything else is read as a query: [:find ... :where ...] (multi-line until brackets balance).');
        return;
      case '.timeout':
        if (rest) this.timeout = parseCount(rest, '.timeout');
        this.print(`query timeout: ${this.timeout === 0 ? 'none' : `${(this.timeout ?? DEFAULT_TIMEOUT_MS).toLocaleString('en')} ms`}`);
        return;
      case '.timing':
        this.timing = !this.timing;
        this.print(`timing ${this.timing ? 'on' : 'off'}`);
        return;
      case '.now':
        this.asOf = null;
        this.since = null;
        this.history = false;
        this.print(`now: t ${this.conn.basisT}`);
        return;
      case '.history':
        this.history = true;
        this.print('history view: queries see every assertion and retraction (bind the 5th term to tell them apart)');
        return;
      case '.as-of':
      case '.since': {
        if (!rest) throw new CliError('repl/usage', `${name} needs a t, a tx id or an ISO-8601 date`);
        const point = parseTimePoint(rest);
        const now = this.conn.db();
        const t = Math.min(tOf(now, point), now.basisT);
        if (name === '.as-of') this.asOf = { point, t };
        else this.since = { point, t };
        const entryAt = this.conn.store.logEntry(Math.max(t, 0));
        this.print(`${name.slice(1)} t ${t}${entryAt ? ` (tx ${entryAt.tx}, ${new Date(entryAt.instant).toISOString()})` : ''}`);
        return;
      }
      case '.tx': {
        if (!rest) throw new CliError('repl/usage', '.tx needs tx data, e.g. .tx [{:person/name "Ann"}]');
        const t0 = performance.now();
        const report = await this.conn.transact(rest);
        const tempids = tempidEntries(report.tempids);
        this.print(`{:t ${report.t}, :tx ${report.tx}, :tempids {${tempids.join(', ')}}}`);
        this.print(plural(report.txData.length, 'datom') + this.elapsed(performance.now() - t0));
        this.refreshIdents();
        if (this.asOf) this.print(`(the view is still as of t ${this.asOf.t}; .now to see the new data)`);
        return;
      }
      case '.excise':
        await this.excise(rest);
        return;
      case '.pull': {
        const forms = readAllEdn(rest);
        if (forms.length !== 2) throw new CliError('repl/usage', '.pull takes a pattern and an entity: .pull [*] [:person/email "a@b.c"]');
        const db = this.db();
        const eid = db.entid(forms[1]);
        if (eid === null) throw new CliError('repl/no-entity', `no entity matches ${edn(forms[1])}`);
        const t0 = performance.now();
        const result = pull(db, forms[0]!, eid);
        this.print(edn(result));
        if (this.timing) this.print(this.elapsed(performance.now() - t0).trim());
        return;
      }
      case '.explain': {
        if (!rest) throw new CliError('repl/usage', '.explain needs a query');
        this.print(explain({ query: rest, args: [this.db()], timeout: this.timeout }).toString());
        return;
      }
      case '.schema': {
        const attrs = this.conn
          .db()
          .attrs()
          .filter((a) => !a.ident.ns?.startsWith('db'))
          .sort((x, y) => x.ident.fqn.localeCompare(y.ident.fqn));
        const rows = attrs.map((a) => [
          a.ident,
          a.valueType ?? '-',
          a.cardinality,
          a.unique ?? '',
          [a.isComponent && 'component', a.index && 'index', a.noHistory && 'noHistory', a.fulltext && 'fulltext'].filter(Boolean).join(' '),
          a.doc ?? '',
        ]);
        this.print(renderTable(['ident', 'type', 'cardinality', 'unique', 'flags', 'doc'], rows));
        this.print(plural(rows.length, 'attribute'));
        return;
      }
      default:
        throw new CliError('repl/unknown-command', `unknown command ${name} (.help lists them)`);
    }
  }
}

function sortRows(rows: unknown[][]): unknown[][] {
  return [...rows].sort((a, b) => {
    for (let i = 0; i < a.length; i++) {
      let c: number;
      try {
        c = compareValues(a[i], b[i]);
      } catch {
        c = edn(a[i]).localeCompare(edn(b[i]));
      }
      if (c !== 0) return c;
    }
    return 0;
  });
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

/** Run a session to its end; a database this process may not write is opened read-only. */
export async function startRepl(options: ReplOptions): Promise<{ failures: number; interactive: boolean }> {
  const conn = await openExisting(options.dir, { forReading: true, functions: options.functions });
  let repl: Repl | undefined;
  try {
    repl = new Repl(conn, options);
    repl.start();
    await repl.done;
    return { failures: repl.failures, interactive: repl.interactive };
  } finally {
    await (repl?.conn ?? conn).close();
  }
}
