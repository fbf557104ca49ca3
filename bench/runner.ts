// Builds the fixtures the selected workloads need, runs them interleaved, compares answers and
// returns the report. `runBenchmark` is what both the CLI (run.ts) and the test call.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDs, buildFactlog, factlogOpenOptions, openFactlog, removeDir, tempDir } from './engines.js';
import { generateFollows, generateHistory, generatePeople, peopleAfter } from './generate.js';
import { runScale, scaleTargets } from './scale.js';
import { interleave, medianOfRatios, type Task, type Timing } from './stats.js';
import {
  asOfWorkloads,
  afterCommitWorkloads,
  historyWorkload,
  importWorkloads,
  queryWorkloads,
  runImport,
  writeWorkloads,
  SEX_NOTE,
  type BenchContext,
  type Group,
  type ImportOutcome,
  type Workload,
} from './workloads.js';

export interface BenchOptions {
  people: number;
  /** Workload or group names (write, query, asof, factlog); null = all. */
  only: string[] | null;
  runs: number;
  warmup: number;
  json: string | null;
  quick: boolean;
  /** Cap on the number of sequential durable transactions per run of add-1/add-5/retract-5. */
  txLimit: number;
  importDatoms: number;
  historyRounds: number;
  /** Updates per history transaction. */
  historyBatch: number;
  seed: number;
  /** Size of the scale group's history, in datoms. */
  scaleDatoms: number;
  /** DataScript takes the scale history only up to this many datoms. */
  scaleDsMax: number;
  /** columnDatoms of every factlog connection (undefined: the default). */
  columnDatoms?: number;
  /** Progress lines go here (stderr by default). */
  log: (msg: string) => void;
}

export function defaultOptions(overrides: Partial<BenchOptions> = {}): BenchOptions {
  const quick = overrides.quick ?? false;
  return {
    people: quick ? 300 : 20_000,
    only: null,
    runs: quick ? 3 : 7,
    warmup: quick ? 1 : 2,
    json: null,
    quick,
    txLimit: quick ? 20 : 2_000,
    importDatoms: quick ? 5_000 : 1_000_000,
    historyRounds: 5,
    historyBatch: quick ? 10 : 1,
    scaleDatoms: quick ? 20_000 : 1_000_000,
    scaleDsMax: 2_000_000,
    seed: 1,
    log: (msg) => process.stderr.write(msg + '\n'),
    ...overrides,
  };
}

export const WORKLOAD_NAMES: Record<Group, string[]> = {
  write: ['add-1', 'add-1-process', 'add-5', 'add-5-concurrent', 'add-all', 'init', 'retract-5'],
  query: ['q1', 'q2', 'q2-switch', 'q3', 'q4', 'qpred1', 'qpred2', 'pull-one', 'pull-many', 'rule', 'aggregate'],
  'after-commit': ['q1', 'q2', 'q2-switch', 'q3', 'q4', 'qpred1', 'qpred2', 'aggregate'].map((n) => `after-commit-${n}`),
  asof: ['q1', 'q2', 'q2-switch', 'q3', 'q4', 'qpred1', 'qpred2', 'pull-one', 'pull-many', 'aggregate'].map((n) => `asof-${n}`),
  factlog: ['history', 'import', 'open-cold'],
  scale: ['scale-import'],
};

/** Groups only run when named in --only (they take minutes to hours). */
export const ON_REQUEST: Group[] = ['scale'];

export interface WorkloadReport {
  name: string;
  group: Group;
  description: string;
  dsNote?: string;
  factlogMs: number;
  dsMs: number;
  /** Raw lmdb-js scan of the keys the query must touch. */
  rawMs: number | null;
  /** asOf workloads: the same query on the current db of the same (long-history) database. */
  nowMs: number | null;
  /**
   * asOf workloads: the asOf query and the same query now, timed in a pass of their own (the two
   * alternating, nothing else in between); ratio is the median of its rounds' asOf/now, which
   * the asOf target reads (nowRatio is the ratio in the rounds with DataScript).
   */
  paired?: { asOfMs: number; nowMs: number; ratio: number; times: Record<string, number[]> };
  /**
   * Reads with a raw column: factlog and raw lmdb-js timed in a pass of their own (the two
   * alternating); ratio is the median of its rounds' factlog/raw, which the within-3x-of-raw
   * target reads.
   */
  pairedRaw?: { factlogMs: number; rawMs: number; ratio: number; times: Record<string, number[]> };
  ratio: number;
  rawRatio: number | null;
  nowRatio: number | null;
  throughput?: { unit: string; factlog: number; ds: number };
  answers?: { factlog: number; ds: number; raw?: number; same: boolean; firstDifference?: string };
  extra?: Record<string, number>;
  /** Per engine: each timed run's time per repetition, and its repetitions (stats.ts MIN_RUN_MS). */
  times: Record<string, number[]>;
  repetitions: Record<string, number[]>;
}

export interface TargetCheck {
  target: string;
  met: boolean;
  detail: string;
}

export interface BenchReport {
  meta: {
    people: number;
    datoms: number;
    runs: number;
    warmup: number;
    quick: boolean;
    txLimit: number;
    importDatoms: number;
    history: { rounds: number; batch: number; transactions: number; asOfT: number } | null;
    node: string;
    platform: string;
    date: string;
    notes: string[];
  };
  workloads: WorkloadReport[];
  targets: TargetCheck[];
}

function selected(options: BenchOptions): Set<string> {
  const all = Object.values(WORKLOAD_NAMES).flat();
  if (!options.only) return new Set(all.filter((n) => !ON_REQUEST.some((g) => WORKLOAD_NAMES[g].includes(n))));
  const out = new Set<string>();
  for (const name of options.only) {
    if (name in WORKLOAD_NAMES) WORKLOAD_NAMES[name as Group].forEach((n) => out.add(n));
    else if (all.includes(name)) out.add(name);
    else throw new Error(`unknown workload ${name} (known: ${all.join(', ')}, or a group: ${Object.keys(WORKLOAD_NAMES).join(', ')})`);
  }
  // open-cold opens the database the import wrote
  if (out.has('open-cold')) out.add('import');
  return out;
}

/** Runs the import in a child process when running compiled (honest peak RSS), else in-process. */
function defaultImporter(): (file: string, dir: string) => Promise<ImportOutcome> {
  const here = fileURLToPath(import.meta.url);
  const child = path.join(path.dirname(here), 'import-child.js');
  if (!here.endsWith('.js') || !fs.existsSync(child)) {
    return async (file, dir) => ({ ...(await runImport(file, dir)), isolated: false });
  }
  return (file, dir) =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [child, file, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (b) => (out += b));
      p.on('error', reject);
      p.on('exit', (code) => {
        if (code !== 0) return reject(new Error(`import child exited with ${code}`));
        const r = JSON.parse(out.trim().split('\n').pop()!);
        resolve({ ms: r.ms, peakRssMB: r.peakRssMB, isolated: true });
      });
    });
}

export async function runBenchmark(partial: Partial<BenchOptions> = {}): Promise<BenchReport> {
  const options = defaultOptions(partial);
  const log = options.log;
  factlogOpenOptions.columnDatoms = options.columnDatoms;
  const want = selected(options);
  const wants = (g: Group) => WORKLOAD_NAMES[g].some((n) => want.has(n));
  const workDir = tempDir('run');
  const people = generatePeople(options.people, options.seed);
  const follows = generateFollows(people.length, options.seed + 1);
  const ctx: BenchContext = {
    people,
    txLimit: options.txLimit,
    runs: options.runs,
    warmup: options.warmup,
    follows,
    fl: undefined as never,
    dsf: undefined as never,
    importDatoms: options.importDatoms,
    workDir,
  };
  const toClose: { conn: { close(): Promise<void> }; dir: string }[] = [];
  let historyMeta: BenchReport['meta']['history'] = null;
  const reports: WorkloadReport[] = [];
  try {
    const needMain = wants('query') || wants('after-commit') || want.has('retract-5');
    if (needMain) {
      let t0 = performance.now();
      ctx.fl = await buildFactlog(people, { follows: follows.edges, dir: path.join(workDir, 'main') });
      toClose.push(ctx.fl);
      log(`factlog fixture: ${people.length} people + ${follows.edges.length} :follows in ${(performance.now() - t0).toFixed(0)} ms`);
      t0 = performance.now();
      ctx.dsf = buildDs(people, follows.edges);
      log(`DataScript fixture in ${(performance.now() - t0).toFixed(0)} ms`);
    }
    if (want.has('retract-5')) {
      const rounds = options.runs + options.warmup;
      const n = Math.min(people.length, Math.max(1, Math.min(options.txLimit, Math.floor(people.length / rounds))) * rounds);
      const built = await buildFactlog(people.slice(0, n), { dir: path.join(workDir, 'retract') });
      await built.conn.close();
      // reopened durable: retract-5 measures durable transactions
      ctx.retractFl = { ...built, conn: await openFactlog(built.dir, false) };
      toClose.push(ctx.retractFl);
    }
    if (wants('asof') || want.has('history')) {
      const t0 = performance.now();
      const { txs, mid } = generateHistory(people, options.historyRounds, options.historyBatch, options.seed + 2);
      const fl = await buildFactlog(people, { history: txs, dir: path.join(workDir, 'history') });
      toClose.push(fl);
      const tMid = fl.historyT[mid - 1] ?? fl.conn.basisT;
      ctx.hist = { fl, tMid, dsMid: buildDs(peopleAfter(people, txs, mid)), dsFinal: buildDs(peopleAfter(people, txs, txs.length)) };
      historyMeta = { rounds: options.historyRounds, batch: options.historyBatch, transactions: txs.length, asOfT: tMid };
      log(`history fixture: ${txs.length} update transactions (${txs.length * options.historyBatch} entity updates) in ${(performance.now() - t0).toFixed(0)} ms; asOf t ${tMid}`);
    }

    const workloads: Workload[] = [];
    if (wants('write')) workloads.push(...writeWorkloads(ctx));
    if (wants('query')) workloads.push(...queryWorkloads(ctx));
    if (wants('asof')) workloads.push(...asOfWorkloads(ctx));
    if (wants('after-commit')) workloads.push(...afterCommitWorkloads(ctx));
    if (want.has('history')) workloads.push(...historyWorkload(ctx));
    if (want.has('import')) workloads.push(...importWorkloads(ctx, defaultImporter()));

    for (const w of workloads) {
      if (!want.has(w.name)) continue;
      log(`running ${w.name} ...`);
      const timing = await interleave(w.tasks, w.runs ?? options.runs, w.warmup ?? options.warmup);
      const report = toReport(w, timing);
      if (w.tasks.now) report.paired = await pairedWithNow(w, options.runs);
      if (w.tasks.raw && READ_GROUPS.includes(w.group)) report.pairedRaw = await pairedWithRaw(w, options.runs);
      reports.push(report);
    }
    if (want.has('scale-import')) {
      log('running scale ...');
      reports.push(...(await runScale({ datoms: options.scaleDatoms, seed: options.seed, dsMaxDatoms: options.scaleDsMax, workDir, log })));
    }
  } finally {
    for (const f of toClose) await f.conn.close().catch(() => undefined);
    removeDir(workDir);
  }
  const report: BenchReport = {
    meta: {
      people: options.people,
      datoms: options.people * 5,
      runs: options.runs,
      warmup: options.warmup,
      quick: options.quick,
      txLimit: options.txLimit,
      importDatoms: options.importDatoms,
      history: historyMeta,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      date: new Date().toISOString(),
      notes: [
        SEX_NOTE,
        'DataScript attributes are JS strings ("name"); queries are the same text with :attr written as "attr".',
        'DataScript schema indexes (:db/index) every scalar attribute, so both engines have AVET.',
        "write workloads on factlog are durable (each commit's log records fdatasynced to the log file; LMDB's file is flushed in the background) but add-1-process (durability 'process'); fixtures are built with noSync.",
        "raw lmdb ms of a write workload: the writes factlog's store makes, by hand: the log record appended to a log file and fdatasynced (not for add-1-process), then in a fresh lmdb-js environment the log record, EAVT/AEVT/AVET keys of each datom and of the tx's :db/txInstant (add-all and init: packed into runs, as the store packs a big transaction's keys), history keys of retractions and meta, one commit per transaction; nothing else.",
      ],
    },
    workloads: reports,
    targets: [],
  };
  report.targets = checkTargets(report);
  if (options.json) fs.writeFileSync(options.json, JSON.stringify(report, null, 2) + '\n');
  return report;
}

/** A write workload's throughput, and raw lmdb-js's on the same commits and keys (the floor). */
function withFloor(w: WorkloadReport): string {
  const { unit, factlog } = w.throughput!;
  const rate = (x: number) => `${Math.round(x).toLocaleString('en')} ${unit}`;
  if (w.rawMs === null) return rate(factlog);
  return `${rate(factlog)}; raw lmdb-js floor ${rate((factlog * w.factlogMs) / w.rawMs)}`;
}

/** asOf / now of an asOf workload: from its paired pass when it had one. */
export function asOfRatio(w: WorkloadReport): number {
  return w.paired ? w.paired.ratio : w.nowRatio!;
}

/** The groups whose raw column is lmdb-js scanning the keys a read must touch (for writes it is a floor). */
const READ_GROUPS: Group[] = ['query', 'asof', 'factlog'];

/** factlog / raw of a read: from its paired pass when it had one. */
export function rawRatioOf(w: WorkloadReport): number | null {
  return w.pairedRaw ? w.pairedRaw.ratio : w.rawRatio;
}

/**
 * The within-3x-of-raw target compares factlog with raw lmdb-js, so, like the asOf target, it is
 * measured in a pass of the two alone. In the rounds with DataScript, a run that paid for the
 * garbage DataScript's run left behind took several times its usual time: in one full 20k run
 * `rule`'s seven factlog runs took 0.38-0.46 ms in three and 1.27-1.62 ms in four, against
 * 0.28-0.47 for raw (fl/raw 3.46, over the target, on a median that is a garbage collection).
 */
async function pairedWithRaw(w: Workload, runs: number): Promise<WorkloadReport['pairedRaw']> {
  const { medians, times } = await timedAlone({ factlog: w.tasks.factlog!, raw: w.tasks.raw! }, runs);
  return { factlogMs: medians.factlog!, rawMs: medians.raw!, ratio: medianOfRatios(times.factlog!, times.raw!), times };
}

/** Tasks timed in a pass of their own (alternating, one warm-up round): each one's median and run times. */
async function timedAlone(tasks: Record<string, Task<any, any>>, runs: number) {
  const timing = await interleave(tasks, runs, 1);
  const medians: Record<string, number> = {};
  const times: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(timing)) {
    medians[name] = t.median;
    times[name] = t.times;
  }
  return { medians, times };
}

/**
 * The asOf target compares factlog with itself, so it is measured in a pass of the two alone:
 * in the rounds with DataScript, whichever factlog task ran right after DataScript paid for its
 * garbage, and one row in each 20k run landed at 1.5-1.7x by that alone (the same queries timed
 * alone, now and as of t alternating, stay within 0.93-1.11x of each other). The ratio is the
 * median of the rounds' ratios (medianOfRatios): in one 20k run, asof-q4's first four rounds ran
 * at 1.4-2.3 ms on both sides and the last three at 1.1-1.3, and the ratio of the two medians
 * (2.09 against 1.35 ms: 1.55) compared runs from the two halves; its rounds' ratios were
 * 0.96-1.55, their median 1.08.
 */
async function pairedWithNow(w: Workload, runs: number): Promise<WorkloadReport['paired']> {
  const { medians, times } = await timedAlone({ asOf: w.tasks.factlog!, now: w.tasks.now! }, runs);
  return { asOfMs: medians.asOf!, nowMs: medians.now!, ratio: medianOfRatios(times.asOf!, times.now!), times };
}

function toReport(w: Workload, timing: Record<string, Timing>): WorkloadReport {
  const factlogMs = w.extra?.importMs ?? timing.factlog.median;
  const dsMs = timing.ds.median;
  const rawMs = timing.raw ? timing.raw.median : null;
  const nowMs = timing.now ? timing.now.median : null;
  const r: WorkloadReport = {
    name: w.name,
    group: w.group,
    description: w.description,
    dsNote: w.dsNote,
    factlogMs,
    dsMs,
    rawMs,
    nowMs,
    ratio: factlogMs / dsMs,
    rawRatio: rawMs === null ? null : factlogMs / Math.max(rawMs, 1e-6),
    nowRatio: nowMs === null ? null : factlogMs / Math.max(nowMs, 1e-6),
    times: Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, v.times])),
    repetitions: Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, v.repetitions])),
  };
  if (w.extra?.importMs !== undefined) r.times.factlog = [w.extra.importMs];
  if (w.ops) r.throughput = { unit: w.ops.unit, factlog: w.ops.count / (factlogMs / 1000), ds: w.ops.count / (dsMs / 1000) };
  if (w.extra) r.extra = { ...w.extra };
  if (w.normalize) {
    const a = w.normalize.factlog(timing.factlog.first);
    const b = w.normalize.ds(timing.ds.first);
    let firstDifference: string | undefined;
    const same = a.length === b.length && a.every((x, i) => x === b[i]);
    if (!same) {
      const i = a.findIndex((x, j) => x !== b[j]);
      firstDifference = `#${i}: factlog ${a[i] ?? '(none)'} vs DataScript ${b[i] ?? '(none)'}`;
    }
    r.answers = { factlog: a.length, ds: b.length, same, firstDifference };
    if (timing.raw && typeof timing.raw.first === 'number') r.answers.raw = timing.raw.first;
  }
  return r;
}

export function checkTargets(report: BenchReport): TargetCheck[] {
  const out: TargetCheck[] = [];
  const byName = new Map(report.workloads.map((w) => [w.name, w]));
  const queries = report.workloads.filter((w) => w.group === 'query' || w.group === 'asof');
  if (queries.length) {
    const bad = queries.filter((w) => w.ratio > 0.5);
    out.push({
      target: 'every query (now and asOf): factlog/DataScript <= 0.5',
      met: bad.length === 0,
      detail: bad.length ? `over: ${bad.map((w) => `${w.name} ${w.ratio.toFixed(2)}`).join(', ')}` : 'all within',
    });
  }
  for (const n of ['qpred1', 'qpred2']) {
    const w = byName.get(n);
    if (w) out.push({ target: `${n}: factlog/DataScript <= 0.25`, met: w.ratio <= 0.25, detail: w.ratio.toFixed(2) });
  }
  const asof = report.workloads.filter((w) => w.group === 'asof' && w.nowRatio !== null);
  if (asof.length) {
    const bad = asof.filter((w) => asOfRatio(w) > 1.3);
    out.push({
      target: 'asOf query <= 1.3x the same query on the current db (paired pass)',
      met: bad.length === 0,
      detail: bad.length ? `over: ${bad.map((w) => `${w.name} ${asOfRatio(w).toFixed(2)}x`).join(', ')}` : 'all within',
    });
  }
  const withRaw = report.workloads.filter((w) => READ_GROUPS.includes(w.group) && rawRatioOf(w) !== null);
  if (withRaw.length) {
    const bad = withRaw.filter((w) => rawRatioOf(w)! > 3);
    out.push({
      target: 'factlog within 3x of raw lmdb-js scanning the same keys (paired pass)',
      met: bad.length === 0,
      detail: bad.length ? `over: ${bad.map((w) => `${w.name} ${rawRatioOf(w)!.toFixed(1)}x`).join(', ')}` : 'all within',
    });
  }
  const addAll = byName.get('add-all');
  if (addAll?.throughput) {
    out.push({ target: 'add-all >= 250,000 datoms/s', met: addAll.throughput.factlog >= 250_000, detail: withFloor(addAll) });
  }
  for (const n of ['add-5', 'add-1', 'retract-5', 'add-1-process']) {
    const w = byName.get(n);
    if (w?.throughput) {
      const what = n === 'add-1-process' ? `sequential transact, durability 'process' (${n})` : `sequential durable transact (${n})`;
      out.push({ target: `${what} >= 1,500 tx/s`, met: w.throughput.factlog >= 1500, detail: withFloor(w) });
    }
  }
  const conc = byName.get('add-5-concurrent');
  if (conc?.throughput && conc.extra?.commits) {
    out.push({
      target: 'concurrent transacts group-committed',
      met: conc.extra.commits < conc.extra.txs,
      detail: `${conc.extra.txs} tx in ${conc.extra.commits} commits, ${Math.round(conc.throughput.factlog).toLocaleString('en')} tx/s`,
    });
  }
  const imp = byName.get('import');
  if (imp?.extra?.peakRssMB !== undefined) {
    out.push({
      target: `import peak RSS < 400 MB`,
      met: imp.extra.peakRssMB < 400,
      detail: `${imp.extra.peakRssMB.toFixed(0)} MB${imp.extra.isolated ? '' : ' (in-process, not isolated)'}, ${Math.round(imp.throughput?.factlog ?? 0).toLocaleString('en')} datoms/s`,
    });
  }
  const scale = byName.get('scale-import');
  if (scale) out.push(...scaleTargets(scale));
  const wrong = report.workloads.filter((w) => w.answers && !w.answers.same);
  const compared = report.workloads.filter((w) => w.answers);
  if (compared.length > 0)
    out.push({
      target: 'same answers as DataScript',
      met: wrong.length === 0,
      detail: wrong.length ? wrong.map((w) => w.name).join(', ') : `all ${compared.length} compared workloads agree`,
    });
  return out;
}
