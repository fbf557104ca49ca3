// The actions behind each CLI command. Each returns once its output is written; errors propagate
// to main, which prints them as one line and sets the exit code.
import fs from 'node:fs';
import path from 'node:path';
import { open } from '../connection.js';
import type { Db } from '../db/db.js';
import type { Datom, IndexName, Value } from '../db/api.js';
import { q, explain, toQuery } from '../query/index.js';
import { pull } from '../pull/index.js';
import { placeInputs } from '../query/place-inputs.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import { FactlogError } from '../../query-lang/errors.js';
import type { Binding } from '../../query-lang/datalog/ast.js';
import { txToT } from '../storage/encoding.js';
import { DATA_FILE } from '../storage/store.js';
import { LOG_FILE } from '../storage/log-file.js';
import { CliError, dbDir, hasDatabase, indexesMissing, inputText, loadFunctions, parseCount, parseTimePoint, readArgument, tOf, viewOf, withConn, type TimeOptions } from './common.js';
import { defaultFormat, edn, plural, renderResult, renderRows, tempidEntries, toJsonValue } from './format.js';
import { exportLines, importIntoEmpty, writeLines } from './transfer.js';
import { assertSound, verify } from '../db/verify.js';
import { heapTick } from '../db/heap-guard.js';

/** A line of output; empty text (no rows in EDN or JSON) prints nothing. */
function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
}

function blankLine(): void {
  process.stdout.write('\n');
}

/** Read commands open a database they may not write read-only (see OpenMode.forReading). */
const READING = { forReading: true } as const;

function note(text: string): void {
  process.stderr.write(text + '\n');
}

interface DbOpt {
  db?: string;
}

// ---------------- init ----------------

export async function initCommand(opts: DbOpt & { schema?: string }): Promise<void> {
  const dir = dbDir(opts.db);
  if (hasDatabase(dir) && !isEmptyDataFile(dir)) {
    // Idempotent: an existing database is left as it is (exit 0), so scripts can always run init;
    // what only looks like one (another program's files, a damaged file) is an error
    const state = await existingDatabaseState(dir);
    const schemaHint = opts.schema ? ` (use \`factlog transact -f ${opts.schema}\` to add schema)` : '';
    if (state === 'whole') note(`database already exists at ${dir}; nothing done${schemaHint}`);
    else note(`a factlog database already exists at ${dir}: ${indexesMissingAdvice(dir)}; nothing done${schemaHint}. To start a new database, use another directory`);
    return;
  }
  let schemaText: string | undefined;
  if (opts.schema !== undefined) schemaText = await inputText(undefined, opts.schema, 'schema');
  if (schemaText !== undefined) readEdn(schemaText); // malformed schema: fail before creating anything
  const made = whatInitMakes(dir);
  let conn;
  try {
    conn = await open({ path: dir, create: true });
  } catch (err) {
    if (err instanceof FactlogError) throw err;
    throw new CliError('cli/cannot-create', `cannot create a database at ${dir}: ${(err as Error).message}`);
  }
  try {
    if (schemaText !== undefined) {
      const report = await conn.transact(schemaText);
      out(`created database at ${dir} (schema: ${plural(report.txData.length - 1, 'datom')} at t ${report.t})`);
    } else out(`created database at ${dir}`);
  } catch (err) {
    // a schema that parses but does not transact: leave nothing behind, so that init can be rerun
    await conn.close();
    made.undo();
    if (err instanceof Error) err.message = `schema not transacted, no database created: ${err.message}`;
    throw err;
  }
  await conn.close();
}

function indexesMissingAdvice(dir: string): string {
  return `its log (${LOG_FILE}) is there but its indexes (${DATA_FILE}) are missing; the next command that may write ${dir} rebuilds them from the log (\`factlog rebuild --db ${dir}\` does just that)`;
}

/** A factlog.mdb of zero bytes and no log: a create that died before writing anything; init makes it anew. */
function isEmptyDataFile(dir: string): boolean {
  const file = path.join(dir, DATA_FILE);
  return !fs.existsSync(path.join(dir, LOG_FILE)) && fs.existsSync(file) && fs.statSync(file).size === 0;
}

/**
 * Whether the database init found at `dir` is whole, or only its log is there; throws (coded) when
 * its files are not a factlog database's or are damaged. Opens it read-only: init rebuilds nothing.
 */
async function existingDatabaseState(dir: string): Promise<'whole' | 'log only'> {
  if (indexesMissing(dir)) return 'log only';
  try {
    await (await open({ path: dir, create: false, readOnly: true })).close();
  } catch (err) {
    // set aside after a crash: the log is whole, the indexes are rebuilt when next opened for writing
    if (err instanceof FactlogError && err.code === 'storage/needs-recovery') return 'log only';
    throw err;
  }
  return 'whole';
}

/** What creating a database at `dir` adds, and how to take exactly that away again. */
function whatInitMakes(dir: string): { undo(): void } {
  let topNew: string | undefined; // the outermost directory that does not exist yet
  for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) topNew = d;
  if (topNew !== undefined) {
    const top = topNew;
    return { undo: () => fs.rmSync(top, { recursive: true, force: true }) };
  }
  const before = new Set(fs.readdirSync(dir));
  return {
    undo: () => {
      for (const name of fs.readdirSync(dir)) if (!before.has(name)) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    },
  };
}

// ---------------- transact ----------------

export async function transactCommand(edn: string | undefined, opts: DbOpt & { file?: string; format?: string; txFns?: string }): Promise<void> {
  const functions = await loadFunctions(opts.txFns);
  const text = await inputText(edn, opts.file, 'tx data');
  const format = defaultFormat(opts.format, ['edn', 'json']);
  await withConn(
    dbDir(opts.db),
    async (conn) => {
      const report = await conn.transact(text);
      if (format === 'json') {
        out(JSON.stringify({ t: report.t, tx: report.tx, tempids: report.tempids, datoms: report.txData.length }));
      } else {
        const tempids = tempidEntries(report.tempids);
        out(`{:t ${report.t}, :tx ${report.tx}, :tempids {${tempids.join(', ')}}, :datoms ${report.txData.length}}`);
      }
    },
    { functions },
  );
}

// ---------------- query ----------------

export interface QueryOptions extends DbOpt, TimeOptions {
  file?: string;
  format?: string;
  explain?: boolean;
  limit?: string;
  timeout?: string;
}

/** Inputs in :in order: `$` is the database, every other binding takes the next EDN argument. */
export function queryInputs(ins: Binding[], db: Db, args: string[]): unknown[] {
  return placeInputs(ins, db, args, {
    read: (arg, position, b) => readArgument(arg, `input ${position + 1} (for ${bindingName(b)})`),
    missing: (b) => new CliError('cli/missing-input', `the query expects an input for ${bindingName(b)} (give it as an EDN argument after the query)`),
    extra: (taken, given) => new CliError('cli/extra-input', `the query takes ${taken} input(s) besides $ but ${given} were given`),
  });
}

function bindingName(b: Binding): string {
  return 'name' in b ? String((b as { name: string }).name) : b.kind;
}

export async function queryCommand(queryArg: string | undefined, args: string[], opts: QueryOptions): Promise<void> {
  const rest = [...args];
  let text: string;
  if (opts.file !== undefined) {
    if (queryArg !== undefined) rest.unshift(queryArg);
    text = await inputText(undefined, opts.file, 'query');
  } else text = await inputText(queryArg, undefined, 'query');
  const limit = opts.limit === undefined ? undefined : parseCount(opts.limit, '--limit');
  const limits = opts.timeout === undefined ? {} : { timeout: parseCount(opts.timeout, '--timeout') };
  const format = defaultFormat(opts.format);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = viewOf(conn.db(), opts);
      const query = toQuery(text);
      if (limit !== undefined) assertLimitApplies(query);
      const inputs = queryInputs(query.in, db, rest);
      if (opts.explain) {
        const ex = explain({ query, args: inputs, ...limits });
        out(ex.toString());
        return;
      }
      const result = q({ query, args: inputs, ...limits });
      const r = renderResult(query, result, format, limit);
      out(r.text);
      if (format === 'table') out(r.count < r.total ? `${r.count} of ${plural(r.total, 'row')}` : plural(r.count, 'row'));
      else if (r.count < r.total) note(`(showing ${r.count} of ${r.total} rows)`);
    },
    READING,
  );
}

/** --limit keeps rows: a find of one value or one tuple has none to drop, so it is refused. */
function assertLimitApplies(query: ReturnType<typeof toQuery>): void {
  const kind = query.find.kind;
  if (kind === 'find-scalar' || kind === 'find-tuple') {
    throw new CliError(
      'cli/limit-not-applicable',
      `--limit applies to queries that return rows ([:find ?a ?b ...] or [:find [?a ...]]); this one returns ${kind === 'find-scalar' ? 'a single value (?x .)' : 'a single tuple ([?a ?b])'}`,
    );
  }
}

// ---------------- pull / entity ----------------

/** An entity on the command line: an id, an ident, or a lookup ref in EDN. */
export function resolveEntity(db: Db, text: string): number {
  const ref = readArgument(text, 'entity');
  const ok = typeof ref === 'number' || ref instanceof Keyword || (Array.isArray(ref) && ref.length === 2);
  if (!ok) throw new CliError('cli/invalid-entity', `${text} is not an entity id, ident or lookup ref [:attr value]`);
  const id = db.entid(ref);
  if (id === null) throw new CliError('cli/no-entity', `no entity matches ${edn(ref)}`);
  return id;
}

export async function pullCommand(pattern: string, entity: string, opts: DbOpt & TimeOptions & { format?: string }): Promise<void> {
  const format = defaultFormat(opts.format, ['edn', 'json']);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = viewOf(conn.db(), opts);
      const eid = resolveEntity(db, entity);
      const result = pull(db, readArgument(pattern, 'pattern'), eid);
      out(format === 'json' ? JSON.stringify(toJsonValue(result)) : edn(result));
    },
    READING,
  );
}

export async function entityCommand(entity: string, opts: DbOpt & TimeOptions & { format?: string }): Promise<void> {
  const format = defaultFormat(opts.format, ['edn', 'json']);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = viewOf(conn.db(), opts);
      const eid = resolveEntity(db, entity);
      const result = db.entity(eid)!.toJSON();
      out(format === 'json' ? JSON.stringify(toJsonValue(result)) : edn(result));
    },
    READING,
  );
}

// ---------------- history ----------------

/** A value for display: refs to entities with an ident show the ident. */
function shown(db: Db, a: number, v: Value): unknown {
  if (db.attr(a)?.valueType === 'ref' && typeof v === 'number') return db.ident(v) ?? v;
  return v;
}

/** :db/txInstant and the other attributes of a transaction entity. */
function txInfo(db: Db, tx: number, cache: Map<number, { instant: Date | null; meta: Record<string, unknown> }>) {
  let info = cache.get(tx);
  if (!info) {
    let instant: Date | null = null;
    const meta: Record<string, unknown> = {};
    for (const d of db.datoms('eavt', tx)) {
      const ident = db.ident(d.a)?.fqn ?? String(d.a);
      if (ident === 'db/txInstant') instant = d.v as Date;
      else meta[ident] = shown(db, d.a, d.v);
    }
    info = { instant, meta };
    cache.set(tx, info);
  }
  return info;
}

export async function historyCommand(entity: string, opts: DbOpt & { attr?: string; format?: string }): Promise<void> {
  const format = defaultFormat(opts.format);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = conn.db();
      const eid = resolveEntity(db.history(), entity);
      let attr: number | undefined;
      if (opts.attr !== undefined) {
        const info = db.attr(opts.attr.startsWith(':') ? opts.attr : ':' + opts.attr);
        if (!info) throw new CliError('cli/unknown-attribute', `unknown attribute ${opts.attr}`);
        attr = info.id;
      }
      const datoms = [...(attr === undefined ? db.history().datoms('eavt', eid) : db.history().datoms('eavt', eid, attr))];
      datoms.sort((x, y) => x.tx - y.tx || Number(x.added) - Number(y.added) || x.a - y.a);
      const cache = new Map();
      const rows = datoms.map((d) => {
        const info = txInfo(db, d.tx, cache);
        const meta = Object.keys(info.meta).length ? info.meta : null;
        return [txToT(d.tx), info.instant, d.added ? 'assert' : 'retract', db.ident(d.a) ?? d.a, shown(db, d.a, d.v), meta];
      });
      out(renderRows(['t', 'instant', 'op', 'attr', 'value', 'tx-meta'], rows, format));
    },
    READING,
  );
}

// ---------------- diff ----------------

export async function diffCommand(from: string, to: string, opts: DbOpt & { format?: string }): Promise<void> {
  const format = defaultFormat(opts.format);
  const p1 = parseTimePoint(from);
  const p2 = parseTimePoint(to);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const now = conn.db();
      const t1 = Math.min(tOf(now, p1), now.basisT);
      const t2 = Math.min(tOf(now, p2), now.basisT);
      const db1 = now.asOf(Math.max(t1, 0));
      const db2 = now.asOf(Math.max(t2, 0));
      // every fact touched between the two points, then compared in both values
      const touched = new Map<string, Datom>();
      for (const entry of conn.txRange(Math.min(t1, t2) + 1, Math.max(t1, t2) + 1)) {
        for (const d of entry.data) {
          if (d.e === entry.tx && now.ident(d.a)?.fqn === 'db/txInstant') continue;
          touched.set(`${d.e}|${d.a}|${edn(d.v)}`, d);
        }
      }
      const present = (db: Db, d: Datom) => {
        for (const x of db.datoms('eavt', d.e, d.a, d.v)) return x;
        return null;
      };
      const rows: unknown[][] = [];
      for (const d of touched.values()) {
        const before = present(db1, d);
        const after = present(db2, d);
        if (!before && after) rows.push(['+', d.e, now.ident(d.a) ?? d.a, shown(now, d.a, d.v), txToT(after.tx)]);
        else if (before && !after) rows.push(['-', d.e, now.ident(d.a) ?? d.a, shown(now, d.a, d.v), txToT(before.tx)]);
      }
      rows.sort((x, y) => (x[1] as number) - (y[1] as number) || String(x[2]).localeCompare(String(y[2])) || String(y[0]).localeCompare(String(x[0])));
      note(`diff t ${t1} -> t ${t2}: ${rows.filter((r) => r[0] === '+').length} added, ${rows.filter((r) => r[0] === '-').length} retracted`);
      out(renderRows(['op', 'e', 'attr', 'value', 't'], rows, format));
    },
    READING,
  );
}

// ---------------- log ----------------

export async function logCommand(opts: DbOpt & { from?: string; to?: string; format?: string }): Promise<void> {
  const format = defaultFormat(opts.format ?? 'edn', ['edn', 'json']);
  const from = opts.from === undefined ? 1 : parseTimePoint(opts.from);
  const to = opts.to === undefined ? undefined : parseTimePoint(opts.to);
  await withConn(
    dbDir(opts.db),
    async (conn) => {
      const fromT = from instanceof Date ? 0 : txToT(from);
      const toT = to === undefined || to instanceof Date ? Number.MAX_SAFE_INTEGER - 1 : txToT(to);
      const lines = exportLines(conn, format === 'json' ? 'jsonl' : 'edn', fromT, toT + 1, (instant) => {
        if (from instanceof Date && instant < from) return false;
        if (to instanceof Date && instant > to) return false;
        return true;
      });
      await writeLines(lines);
    },
    READING,
  );
}

// ---------------- datoms ----------------

const INDEXES = ['eavt', 'aevt', 'avet', 'vaet'];

export async function datomsCommand(index: string, components: string[], opts: DbOpt & TimeOptions & { format?: string; limit?: string }): Promise<void> {
  const ix = index.toLowerCase();
  if (!INDEXES.includes(ix)) throw new CliError('cli/invalid-index', `unknown index ${index} (one of ${INDEXES.join(', ')})`);
  const format = defaultFormat(opts.format);
  const limit = opts.limit === undefined ? Infinity : parseCount(opts.limit, '--limit');
  const comps = components.map((c, i) => readArgument(c, `component ${i + 1}`));
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = viewOf(conn.db(), opts);
      const rows: unknown[][] = [];
      for (const d of db.datoms(ix as IndexName, ...comps)) {
        if (rows.length >= limit) break;
        rows.push([d.e, db.ident(d.a) ?? d.a, d.v, d.tx, d.added]);
        // the rows are held to align the table: past the heap's share, db/too-large (--limit, --heap-share)
        heapTick(db, 'db', 'the datoms listed');
      }
      out(renderRows(['e', 'a', 'v', 'tx', 'added'], rows, format));
      if (format === 'table') out(plural(rows.length, 'datom'));
    },
    READING,
  );
}

// ---------------- export / import ----------------

export async function exportCommand(opts: DbOpt & { format?: string }): Promise<void> {
  const format = opts.format ?? 'jsonl';
  if (format !== 'jsonl' && format !== 'edn') throw new CliError('cli/invalid-format', `unknown export format ${JSON.stringify(format)} (jsonl or edn)`);
  await withConn(
    dbDir(opts.db),
    async (conn) => {
      const n = await writeLines(exportLines(conn, format));
      note(`exported ${plural(n, 'transaction')}`);
    },
    READING,
  );
}

export async function importCommand(file: string, opts: DbOpt): Promise<void> {
  const t0 = performance.now();
  const { count, basisT } = await importIntoEmpty(dbDir(opts.db), file);
  note(`imported ${plural(count, 'transaction')} in ${((performance.now() - t0) / 1000).toFixed(2)} s (t ${basisT})`);
}

// ---------------- stats / rebuild ----------------

export async function statsCommand(opts: DbOpt & { format?: string }): Promise<void> {
  const format = defaultFormat(opts.format);
  await withConn(
    dbDir(opts.db),
    (conn) => {
      const db = conn.db();
      const stats = conn.store.stats();
      const first = conn.store.logEntry(1);
      const last = conn.store.logEntry(conn.basisT);
      const attrs = db
        .attrs()
        .map((a) => ({ ident: a.ident, count: db.ctx.store.attrCount(a.id) }))
        .filter((a) => a.count > 0)
        .sort((x, y) => y.count - x.count || x.ident.fqn.localeCompare(y.ident.fqn));
      const summary = {
        path: conn.path,
        'basis-t': conn.basisT,
        transactions: stats.entries.log ?? 0,
        'first-tx-instant': first ? new Date(first.instant) : null,
        'last-tx-instant': last && conn.basisT > 0 ? new Date(last.instant) : null,
        'size-bytes': stats.sizeBytes,
        'log-file-bytes': stats.logFileBytes,
        'storage-format': conn.store.format,
      };
      const indexes: Record<string, number> = {};
      for (const [k, v] of Object.entries(stats.entries)) if (k !== 'log') indexes[k] = v;
      if (format === 'json') {
        out(JSON.stringify(toJsonValue({ ...summary, indexes, attributes: Object.fromEntries(attrs.map((a) => [a.ident.toString(), a.count])) })));
        return;
      }
      if (format === 'edn') {
        const m = new Map<unknown, unknown>(Object.entries(summary).map(([k, v]) => [Keyword.of(k), v]));
        m.set(Keyword.of('indexes'), new Map(Object.entries(indexes).map(([k, v]) => [Keyword.of(k), v])));
        m.set(Keyword.of('attributes'), new Map(attrs.map((a) => [a.ident, a.count])));
        out(edn(m));
        return;
      }
      out(renderRows(['property', 'value'], Object.entries(summary), 'table'));
      blankLine();
      out(renderRows(['index', 'datoms'], Object.entries(indexes), 'table'));
      blankLine();
      out(
        renderRows(
          ['attribute', 'datoms'],
          attrs.map((a) => [a.ident, a.count]),
          'table',
        ),
      );
    },
    READING,
  );
}

export async function rebuildCommand(opts: DbOpt): Promise<void> {
  await withConn(dbDir(opts.db), async (conn) => {
    const t0 = performance.now();
    await conn.rebuildIndexes();
    out(`rebuilt indexes from ${plural(conn.basisT + 1, 'transaction')} in ${(performance.now() - t0).toFixed(0)} ms`);
  });
}

/** Check the database against its log, read-only: a summary and exit 0 when sound, else every problem and exit 1. */
export async function verifyCommand(opts: DbOpt): Promise<void> {
  const dir = dbDir(opts.db);
  if (!hasDatabase(dir)) throw new CliError('cli/no-database', `no factlog database at ${dir}`);
  const report = await verify(dir);
  for (const text of report.notes) note(`note: ${text}`);
  for (const problem of report.problems.slice(1)) note(`problem: ${problem.message} [${problem.code}]`);
  assertSound(report);
  out(
    `sound: ${plural(report.transactions, 'transaction')} in the log (checksums checked), ${plural(report.logFileRecords, 'record')} in factlog.log, ` +
      `${plural(report.indexKeys, 'index key')} equal to the log's replay`,
  );
}
