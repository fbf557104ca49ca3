// The workloads: for each, a factlog task, a DataScript task, and (for reads) the raw lmdb-js
// scan of the keys the query must touch. Query workloads also say how to compare answers.
import fs from 'node:fs';
import path from 'node:path';
import { open, type Connection, type Db } from '../src/index.js';
import { q } from '../src/query/index.js';
import { pull, pullMany } from '../src/pull/index.js';
import { exportLines, importFile } from '../src/cli/transfer.js';
import { TX_BASE, type RawDatom } from '../src/storage/encoding.js';
import {
  ds,
  DS_SCHEMA,
  dsDatoms,
  dsEntity,
  dsId,
  factlogEntity,
  factlogOpenOptions,
  FACTLOG_SCHEMA,
  IdMap,
  openFactlog,
  removeDir,
  tempDir,
  toDsQuery,
  type DsFixture,
  type FactlogFixture,
} from './engines.js';
import { attrValue, generatePeople, PERSON_ATTRS, type Person } from './generate.js';
import { rawScans, RawReader } from './raw.js';
import { bulkKeysOf, bulkPut, closeRawEnv, datomsOf, openRawEnv, sequentialTransactions, type BulkKeys, type RawEnv } from './raw-writes.js';
import { peakRssMB, type Task } from './stats.js';

export type Group = 'write' | 'query' | 'asof' | 'after-commit' | 'factlog' | 'scale';

/** Everything the workloads share, built once by the runner. */
export interface BenchContext {
  people: Person[];
  txLimit: number;
  runs: number;
  warmup: number;
  follows: { edges: [number, number][]; size: number; start: number };
  fl: FactlogFixture;
  dsf: DsFixture;
  /** The long-history fixture: asOf views at its middle, DataScript holds the same snapshot. */
  hist?: { fl: FactlogFixture; tMid: number; dsMid: DsFixture; dsFinal: DsFixture };
  /** A durable copy of the people for retract-5 (consumed slice by slice). */
  retractFl?: FactlogFixture;
  importDatoms: number;
  workDir: string;
}

export interface Workload {
  name: string;
  group: Group;
  description: string;
  /** Tasks by engine: factlog, ds, and optionally raw (lmdb floor) and now (factlog, current db). */
  tasks: Record<string, Task<any, any>>;
  /** For read workloads: normalised answer of each engine's first run, compared for equality. */
  normalize?: { factlog: (r: any) => string[]; ds: (r: any) => string[] };
  /** Operations per run, for a throughput figure. */
  ops?: { count: number; unit: string };
  /** Set when the DataScript side is only an analog (DataScript has no such operation). */
  dsNote?: string;
  /** Fixed number of runs (for the heavy one-shot workloads). */
  runs?: number;
  warmup?: number;
  /** Extra measurements filled in while running (peak RSS of the import...). */
  extra?: Record<string, number>;
}

// ---------------- answers ----------------

const canon = (v: unknown): string => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(6) : JSON.stringify(v));

/** Rows -> sorted strings, entity columns mapped to person indexes. */
function rowsNormalizer(ids: IdMap, entityCols: number[]) {
  return (rows: unknown[][]): string[] => rows.map((row) => row.map((v, i) => (entityCols.includes(i) ? String(ids.indexOf(v as number)) : canon(v))).join(' ')).sort();
}

/** Pull results -> sorted strings: keys without the leading colon, ids mapped to person indexes. */
function pullNormalizer(ids: IdMap) {
  const one = (m: Record<string, unknown> | null): string => {
    if (!m) return 'nil';
    const parts: string[] = [];
    for (const [k0, v] of Object.entries(m)) {
      const k = k0.startsWith(':') ? k0.slice(1) : k0;
      if (k === 'db/id') parts.push(`id=${ids.indexOf(v as number)}`);
      else if (Array.isArray(v)) {
        const vs = v.map((x) => (x && typeof x === 'object' ? String(ids.indexOf((x as any)['db/id'] ?? (x as any)[':db/id'])) : canon(x)));
        parts.push(`${k}=[${vs.sort().join(',')}]`);
      } else parts.push(`${k}=${canon(v)}`);
    }
    return parts.sort().join(' ');
  };
  return (r: unknown): string[] => (Array.isArray(r) ? r.map(one) : [one(r as Record<string, unknown> | null)]);
}

// ---------------- query workloads ----------------

export const RULES = `[[(follows ?a ?b) [?a :follows ?b]]
  [(follows ?a ?b) [?a :follows ?c] (follows ?c ?b)]]`;

interface QuerySpec {
  name: string;
  description: string;
  query: string;
  inputs?: (ids: IdMap, ctx: BenchContext) => unknown[];
  entityCols: number[];
  raw: (r: RawReader, ids: IdMap, ctx: BenchContext) => number;
  inAsOf?: boolean;
}

export const QUERIES: QuerySpec[] = [
  {
    name: 'q1',
    description: '[?e :name "Ivan"]',
    query: '[:find ?e :where [?e :name "Ivan"]]',
    entityCols: [0],
    raw: (r) => rawScans.q1(r),
  },
  {
    name: 'q2',
    description: 'q1 + [?e :age ?a]',
    query: '[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a]]',
    entityCols: [0],
    raw: (r) => rawScans.q2(r),
  },
  {
    name: 'q2-switch',
    description: 'q2, clauses reversed',
    query: '[:find ?e ?a :where [?e :age ?a] [?e :name "Ivan"]]',
    entityCols: [0],
    raw: (r) => rawScans.q2(r),
  },
  {
    name: 'q3',
    description: 'q2 + [?e :sex "male"]',
    query: '[:find ?e ?a :where [?e :name "Ivan"] [?e :age ?a] [?e :sex "male"]]',
    entityCols: [0],
    raw: (r) => rawScans.q3(r),
  },
  {
    name: 'q4',
    description: 'q3 + [?e :last-name ?l]',
    query: '[:find ?e ?l ?a :where [?e :name "Ivan"] [?e :last-name ?l] [?e :age ?a] [?e :sex "male"]]',
    entityCols: [0],
    raw: (r) => rawScans.q4(r),
  },
  {
    name: 'qpred1',
    description: '[?e :salary ?s] [(> ?s 50000)]',
    query: '[:find ?e ?s :where [?e :salary ?s] [(> ?s 50000)]]',
    entityCols: [0],
    raw: (r) => rawScans.qpred(r, 50000),
  },
  {
    name: 'qpred2',
    description: 'qpred1, bound as :in input',
    query: '[:find ?e ?s :in $ ?min_s :where [?e :salary ?s] [(> ?s ?min_s)]]',
    inputs: () => [50000],
    entityCols: [0],
    raw: (r) => rawScans.qpred(r, 50000),
  },
  {
    name: 'rule',
    description: 'recursive rule: everyone reachable over :follows',
    query: '[:find ?x :in $ % ?start :where (follows ?start ?x)]',
    inputs: (ids, ctx) => [RULES, ids.idOf(ctx.follows.start)],
    entityCols: [0],
    raw: (r, ids, ctx) => rawScans.rule(r, ids.idOf(ctx.follows.start)),
    inAsOf: false,
  },
  {
    name: 'aggregate',
    description: 'count and avg age per name',
    query: '[:find ?n (count ?e) (avg ?a) :where [?e :name ?n] [?e :age ?a]]',
    entityCols: [],
    raw: (r) => rawScans.aggregate(r),
  },
];

function pullSample(n: number): number[] {
  const k = Math.min(1000, n);
  const step = n / k;
  return Array.from({ length: k }, (_, j) => Math.floor(j * step));
}

/** A query workload against (factlog db, DataScript db), with the raw floor. */
function queryWorkload(spec: QuerySpec, ctx: BenchContext, name: string, group: Group, fl: { db: () => Db; ids: IdMap; raw: RawReader; now?: () => Db }, dsf: DsFixture): Workload {
  const dsQuery = toDsQuery(spec.query);
  const dsRules = toDsQuery(RULES);
  const flInputs = spec.inputs ? spec.inputs(fl.ids, ctx) : [];
  const dsInputs = (spec.inputs ? spec.inputs(dsf.ids, ctx) : []).map((x) => (x === RULES ? dsRules : x));
  const tasks: Record<string, Task<any, any>> = {
    factlog: { run: () => q(spec.query, fl.db(), ...flInputs) },
    ds: { run: () => ds.q(dsQuery, dsf.db, ...dsInputs) },
    raw: { run: () => spec.raw(fl.raw, fl.ids, ctx) },
  };
  if (fl.now) {
    const now = fl.now;
    tasks.now = { run: () => q(spec.query, now(), ...flInputs) };
  }
  return {
    name,
    group,
    description: spec.description,
    tasks,
    normalize: { factlog: rowsNormalizer(fl.ids, spec.entityCols), ds: rowsNormalizer(dsf.ids, spec.entityCols) },
  };
}

/**
 * One pull takes microseconds. 100 per run took about 2 ms, and one garbage collection landing in
 * a run (from the DataScript run before it) tripled it; 1,000 per run spread that over more work.
 */
const PULL_ONE_REPEAT = 1000;

/** Run `f` n times; the last result (the answer compared between engines). */
function repeat<T>(n: number, f: () => T): T {
  let r = f();
  for (let i = 1; i < n; i++) r = f();
  return r;
}

function pullWorkloads(ctx: BenchContext, prefix: string, group: Group, fl: { db: () => Db; ids: IdMap; raw: RawReader; now?: () => Db }, dsf: DsFixture): Workload[] {
  const sample = pullSample(ctx.people.length);
  const flIds = sample.map((i) => fl.ids.idOf(i));
  const dsIds = sample.map((i) => dsf.ids.idOf(i));
  const one = ctx.follows.start; // a person with :follows refs
  const mk = (name: string, description: string, f: (db: Db) => unknown, d: () => unknown, raw: () => number): Workload => {
    const tasks: Record<string, Task<any, any>> = { factlog: { run: () => f(fl.db()) }, ds: { run: d }, raw: { run: raw } };
    if (fl.now) {
      const now = fl.now;
      tasks.now = { run: () => f(now()) };
    }
    return { name: prefix + name, group, description, tasks, normalize: { factlog: pullNormalizer(fl.ids), ds: pullNormalizer(dsf.ids) } };
  };
  return [
    mk(
      'pull-one',
      `pull [*] of one entity (${PULL_ONE_REPEAT} times per run: one takes microseconds)`,
      (db) => repeat(PULL_ONE_REPEAT, () => pull(db, '[*]', fl.ids.idOf(one))),
      () => repeat(PULL_ONE_REPEAT, () => ds.pull(dsf.db, '[*]', dsf.ids.idOf(one))),
      () => repeat(PULL_ONE_REPEAT, () => rawScans.pullOne(fl.raw, fl.ids.idOf(one))),
    ),
    mk(
      'pull-many',
      `pull [*] of ${sample.length} entities`,
      (db) => pullMany(db, '[*]', flIds),
      () => ds.pull_many(dsf.db, '[*]', dsIds),
      () => rawScans.pullMany(fl.raw, flIds),
    ),
  ];
}

export function queryWorkloads(ctx: BenchContext): Workload[] {
  const db = ctx.fl.conn.db();
  const fl = { db: () => db, ids: ctx.fl.ids, raw: new RawReader(ctx.fl.conn) };
  const out = QUERIES.map((s) => queryWorkload(s, ctx, s.name, 'query', fl, ctx.dsf));
  out.splice(7, 0, ...pullWorkloads(ctx, '', 'query', fl, ctx.dsf));
  return out;
}

export function asOfWorkloads(ctx: BenchContext): Workload[] {
  const h = ctx.hist;
  if (!h) return [];
  const conn = h.fl.conn;
  const now = conn.db();
  const fl = { db: () => now.asOf(h.tMid), ids: h.fl.ids, raw: new RawReader(conn, h.tMid), now: () => now };
  const specs = QUERIES.filter((s) => s.inAsOf !== false);
  const out = specs.map((s) => {
    const w = queryWorkload(s, ctx, `asof-${s.name}`, 'asof', fl, h.dsMid);
    w.description = `${s.name} asOf t ${h.tMid}`;
    w.dsNote = 'DataScript: the same snapshot as a plain db';
    return w;
  });
  return [...out, ...pullWorkloads(ctx, 'asof-', 'asof', fl, h.dsMid)];
}

/**
 * The query workloads right after a commit: each run first transacts one unrelated datom (not
 * timed), so the query reads a new Db value, whose columns are carried over from the last one.
 */
export function afterCommitWorkloads(ctx: BenchContext): Workload[] {
  const conn = ctx.fl.conn;
  const fl = { db: () => conn.db(), ids: ctx.fl.ids, raw: new RawReader(conn) };
  let tick = 0;
  return QUERIES.filter((s) => s.name !== 'rule').map((s) => {
    const w = queryWorkload(s, ctx, `after-commit-${s.name}`, 'after-commit', fl, ctx.dsf);
    w.description = `${s.name} on a new db value, right after a commit`;
    w.tasks.factlog = { ...w.tasks.factlog, setup: () => conn.transact([[':db/add', 'tick', ':bench/tick', tick++]]) };
    delete w.tasks.raw;
    return w;
  });
}

// ---------------- write workloads ----------------

interface FreshFactlog {
  conn: Connection;
  dir: string;
}

async function freshFactlog(workDir: string, durability: 'os' | 'process' = 'os'): Promise<FreshFactlog> {
  const dir = fs.mkdtempSync(path.join(workDir, 'w-'));
  const conn = await open({ path: dir, durability, ...factlogOpenOptions });
  await conn.transact(FACTLOG_SCHEMA);
  return { conn, dir };
}

async function dropFactlog(s: FreshFactlog): Promise<void> {
  await s.conn.close();
  removeDir(s.dir);
}

export function writeWorkloads(ctx: BenchContext): Workload[] {
  const people = ctx.people;
  const nAttrs = PERSON_ATTRS.length;
  const k1 = Math.max(1, Math.min(people.length, Math.floor(ctx.txLimit / nAttrs)));
  const k5 = Math.max(1, Math.min(people.length, ctx.txLimit));
  const few1 = people.slice(0, k1);
  const few5 = people.slice(0, k5);
  const out: Workload[] = [];

  const addOneEach = (conn: Connection) => async () => {
    for (let i = 0; i < few1.length; i++) {
      const p = few1[i];
      const r = await conn.transact([[':db/add', 'p', ':name', p.name]]);
      const e = r.tempids.p;
      for (const a of PERSON_ATTRS.slice(1)) await conn.transact([[':db/add', e, ':' + a, attrValue(p, a)]]);
    }
  };
  const dsAddOneEach = {
    run: () => {
      let db = ds.empty_db(DS_SCHEMA);
      for (let i = 0; i < few1.length; i++) {
        for (const a of PERSON_ATTRS) db = ds.db_with(db, [[':db/add', dsId(i), a, attrValue(few1[i], a)]]);
      }
      return db;
    },
  };
  /** The floor of sequential transacts: the same log file append and LMDB writes by hand, one commit each. */
  const rawTransactions = (txs: RawDatom[][], noSync = false): Task<RawEnv, Promise<void>> => ({
    setup: () => openRawEnv(ctx.workDir, noSync),
    run: (r) => sequentialTransactions(r, txs),
    teardown: closeRawEnv,
  });
  const oneDatomEach = datomsOf(few1).flatMap((entity) => entity.map((d) => [d]));

  out.push({
    name: 'add-1',
    group: 'write',
    description: `one datom per tx (${k1 * nAttrs} tx, sequential, durable)`,
    ops: { count: k1 * nAttrs, unit: 'tx/s' },
    tasks: {
      factlog: {
        setup: () => freshFactlog(ctx.workDir),
        run: ({ conn }: FreshFactlog) => addOneEach(conn)(),
        teardown: dropFactlog,
      },
      ds: dsAddOneEach,
      raw: rawTransactions(oneDatomEach),
    },
  });

  out.push({
    name: 'add-1-process',
    group: 'write',
    description: `add-1 with durability 'process' (${k1 * nAttrs} tx: no fsync, a resolved transact survives a crash of the process, not of the OS)`,
    ops: { count: k1 * nAttrs, unit: 'tx/s' },
    tasks: {
      factlog: {
        setup: () => freshFactlog(ctx.workDir, 'process'),
        run: ({ conn }: FreshFactlog) => addOneEach(conn)(),
        teardown: dropFactlog,
      },
      ds: dsAddOneEach,
      raw: rawTransactions(oneDatomEach, true),
    },
  });

  // DataScript has no commits: add-5 and add-5-concurrent compare with the same one-entity-per-tx loop
  const dsAddEach = {
    run: () => {
      let db = ds.empty_db(DS_SCHEMA);
      for (let i = 0; i < few5.length; i++) db = ds.db_with(db, [dsEntity(few5[i], -1)]);
      return db;
    },
  };

  out.push({
    name: 'add-5',
    group: 'write',
    description: `one entity per tx (${k5} tx, sequential, durable)`,
    ops: { count: k5, unit: 'tx/s' },
    tasks: {
      factlog: {
        setup: () => freshFactlog(ctx.workDir),
        run: async ({ conn }: FreshFactlog) => {
          for (let i = 0; i < few5.length; i++) await conn.transact([factlogEntity(few5[i], 'p')]);
        },
        teardown: dropFactlog,
      },
      ds: dsAddEach,
      raw: rawTransactions(datomsOf(few5)),
    },
  });

  const commits = { txs: 0, commits: 0 };
  out.push({
    name: 'add-5-concurrent',
    group: 'write',
    description: `one entity per tx (${k5} tx, all in flight at once, durable: group commit)`,
    ops: { count: k5, unit: 'tx/s' },
    extra: commits,
    tasks: {
      factlog: {
        setup: () => freshFactlog(ctx.workDir),
        run: async ({ conn }: FreshFactlog) => {
          const before = conn.store.commitCount;
          await Promise.all(few5.map((p) => conn.transact([factlogEntity(p, 'p')])));
          commits.txs += few5.length;
          commits.commits += conn.store.commitCount - before;
        },
        teardown: dropFactlog,
      },
      ds: dsAddEach,
    },
  });

  const allMaps = () => people.map((p, i) => factlogEntity(p, `p${i}`));
  /** The floor of loading every person in one tx: the log record appended and flushed, then it and every key in one commit. */
  let bulk: BulkKeys | null = null;
  const rawBulk: Task<RawEnv & { bulk: BulkKeys }, void> = {
    setup: () => ({ ...openRawEnv(ctx.workDir, false), bulk: (bulk ??= bulkKeysOf(people)) }),
    run: (r) => bulkPut(r, r.bulk),
    teardown: closeRawEnv,
  };
  out.push({
    name: 'add-all',
    group: 'write',
    description: `all ${people.length} entities in one tx`,
    ops: { count: people.length * nAttrs, unit: 'datoms/s' },
    tasks: {
      factlog: {
        setup: async () => ({ ...(await freshFactlog(ctx.workDir)), tx: allMaps() }),
        run: ({ conn, tx }: FreshFactlog & { tx: unknown[] }) => conn.transact(tx),
        teardown: dropFactlog,
      },
      ds: {
        setup: () => people.map((p, i) => dsEntity(p, -(i + 1))),
        run: (tx: unknown[]) => ds.db_with(ds.empty_db(DS_SCHEMA), tx),
      },
      raw: rawBulk,
    },
  });

  out.push({
    name: 'init',
    group: 'write',
    description: `bulk load of ${people.length * nAttrs} prepared datoms (factlog: one tx of :db/add forms; DataScript: init_db)`,
    ops: { count: people.length * nAttrs, unit: 'datoms/s' },
    tasks: {
      factlog: {
        setup: async () => {
          const tx: unknown[] = [];
          people.forEach((p, i) => {
            for (const a of PERSON_ATTRS) tx.push([':db/add', `p${i}`, ':' + a, attrValue(p, a)]);
          });
          return { ...(await freshFactlog(ctx.workDir)), tx };
        },
        run: ({ conn, tx }: FreshFactlog & { tx: unknown[] }) => conn.transact(tx),
        teardown: dropFactlog,
      },
      ds: {
        setup: () => dsDatoms(people),
        run: (datoms: unknown[][]) => ds.init_db(datoms, DS_SCHEMA),
      },
      raw: rawBulk,
    },
  });

  if (ctx.retractFl) {
    const rf = ctx.retractFl;
    const rounds = ctx.runs + ctx.warmup;
    const k = Math.max(1, Math.min(Math.floor(ctx.txLimit), Math.floor(people.length / rounds)));
    let flRound = 0;
    let dsRound = 0;
    let rawRound = 0;
    let everyone: RawDatom[][] | null = null;
    out.push({
      name: 'retract-5',
      group: 'write',
      description: `retract one entity's 5 datoms per tx (${k} tx, sequential, durable)`,
      ops: { count: k, unit: 'tx/s' },
      tasks: {
        factlog: {
          setup: () => flRound++ * k,
          run: async (from: number) => {
            for (let i = from; i < from + k; i++) {
              const e = rf.ids.idOf(i);
              const p = people[i];
              await rf.conn.transact(PERSON_ATTRS.map((a) => [':db/retract', e, ':' + a, attrValue(p, a)]));
            }
          },
        },
        ds: {
          setup: () => dsRound++ * k,
          run: (from: number) => {
            let db = ctx.dsf.db;
            for (let i = from; i < from + k; i++) {
              db = ds.db_with(
                db,
                PERSON_ATTRS.map((a) => [':db/retract', dsId(i), a, attrValue(people[i], a)]),
              );
            }
            return db;
          },
        },
        raw: {
          setup: () => {
            const r = openRawEnv(ctx.workDir, false);
            bulkPut(r, (bulk ??= bulkKeysOf(people)));
            const from = rawRound++ * k;
            return { ...r, txs: (everyone ??= datomsOf(people)).slice(from, from + k) };
          },
          run: (r: RawEnv & { txs: RawDatom[][] }) => sequentialTransactions(r, r.txs, true),
          teardown: closeRawEnv,
        },
      },
    });
  }
  return out;
}

// ---------------- factlog's own ----------------

export function historyWorkload(ctx: BenchContext): Workload[] {
  const h = ctx.hist;
  if (!h) return [];
  const db = h.fl.conn.db();
  const raw = new RawReader(h.fl.conn);
  return [
    {
      name: 'history',
      group: 'factlog',
      description: 'history scan of :salary (every assertion and retraction)',
      dsNote: 'DataScript has no history: its column scans the current :salary datoms only',
      tasks: {
        factlog: { run: () => count(db.history().datoms('aevt', ':salary')) },
        ds: { run: () => ds.datoms(h.dsFinal.db, ':aevt', 'salary').length },
        raw: { run: () => rawScans.history(raw) },
      },
    },
  ];
}

function count(it: Iterable<unknown>): number {
  let n = 0;
  for (const _ of it) n++;
  return n;
}

/** The import file: the schema transaction as factlog exports it, then `datoms` datoms of people. */
export async function writeImportFile(file: string, datoms: number, workDir: string): Promise<Person[]> {
  const people = generatePeople(Math.ceil(datoms / PERSON_ATTRS.length), 4);
  const dir = tempDir('schema');
  const conn = await openFactlog(dir, true);
  await conn.transact(FACTLOG_SCHEMA);
  const lines = [...exportLines(conn, 'jsonl')];
  await conn.close();
  removeDir(dir);
  void workDir;
  const fd = fs.openSync(file, 'w');
  try {
    for (const l of lines) fs.writeSync(fd, l + '\n');
    const perTx = 200; // entities per transaction: 1,000 datoms
    let t = lines.length + 1;
    let e = 1_000_000;
    for (let o = 0; o < people.length; o += perTx) {
      const rows: unknown[] = [];
      for (let i = o; i < Math.min(people.length, o + perTx); i++, e++) {
        for (const a of PERSON_ATTRS) rows.push([e, ':' + a, attrValue(people[i], a), true]);
      }
      fs.writeSync(fd, JSON.stringify({ t, tx: TX_BASE + t, txInstant: new Date(Date.UTC(2026, 0, 1) + t).toISOString(), datoms: rows }) + '\n');
      t++;
    }
  } finally {
    fs.closeSync(fd);
  }
  return people;
}

/** Import `file` into a new database at `dir`; used in-process and by the isolated child. */
export async function runImport(file: string, dir: string): Promise<{ ms: number; tx: number; peakRssMB: number }> {
  const conn = await openFactlog(dir, false);
  const t0 = performance.now();
  const tx = await importFile(conn, file);
  const ms = performance.now() - t0;
  await conn.close();
  return { ms, tx, peakRssMB: peakRssMB() };
}

export interface ImportOutcome {
  ms: number;
  peakRssMB: number;
  isolated: boolean;
}

/**
 * import (streaming, 1M datoms by default) and open-cold (of the imported database). `importer`
 * runs the import, in a child process when the runner can (for an honest peak RSS).
 */
export function importWorkloads(ctx: BenchContext, importer: (file: string, dir: string) => Promise<ImportOutcome>): Workload[] {
  const file = path.join(ctx.workDir, 'import.jsonl');
  let people: Person[] = [];
  let dsData: unknown[][] = [];
  let dsSerialized = '';
  let importedDir = '';
  const extra: Record<string, number> = {};
  const n = ctx.importDatoms;
  const countIvans = '[:find (count ?e) . :where [?e :name "Ivan"]]';
  const importW: Workload = {
    name: 'import',
    group: 'factlog',
    description: `streaming import of ${n.toLocaleString('en')} datoms (JSONL, 1,000 datoms per tx, durable)`,
    dsNote: 'DataScript: init_db of the same datoms in memory',
    ops: { count: n, unit: 'datoms/s' },
    runs: 1,
    warmup: 0,
    extra,
    tasks: {
      factlog: {
        setup: async () => {
          if (!fs.existsSync(file)) people = await writeImportFile(file, n, ctx.workDir);
          if (importedDir) removeDir(importedDir);
          importedDir = fs.mkdtempSync(path.join(ctx.workDir, 'import-'));
          return importedDir;
        },
        // the child's own clock: process start-up is not import time
        run: async (dir: string) => {
          const r = await importer(file, dir);
          extra.importMs = r.ms;
          extra.peakRssMB = r.peakRssMB;
          extra.isolated = r.isolated ? 1 : 0;
        },
      },
      ds: {
        setup: () => {
          dsData = [];
          people.forEach((p, i) => {
            for (const a of PERSON_ATTRS) dsData.push([i + 1, a, attrValue(p, a), 536870913]);
          });
          return dsData.slice(0, n);
        },
        run: (datoms: unknown[][]) => {
          const db = ds.init_db(datoms, DS_SCHEMA);
          dsSerialized = JSON.stringify(ds.serializable(db));
          return null;
        },
      },
    },
  };
  const openW: Workload = {
    name: 'open-cold',
    group: 'factlog',
    description: `open the ${n.toLocaleString('en')}-datom database with a new connection + first query (OS cache warm)`,
    dsNote: 'DataScript: from_serializable(JSON.parse(...)) of the same db + first query',
    tasks: {
      factlog: {
        run: async () => {
          const conn = await openFactlog(importedDir, false);
          const r = q(countIvans, conn.db());
          await conn.close();
          return r;
        },
      },
      ds: {
        run: () => ds.q(toDsQuery(countIvans), ds.from_serializable(JSON.parse(dsSerialized))),
      },
    },
    normalize: { factlog: (r) => [String(r)], ds: (r) => [String(r)] },
  };
  return [importW, openW];
}

export const SEX_NOTE = ':sex is stored as a string ("male"/"female") in both engines: DataScript\'s JS API cannot create keyword values';
