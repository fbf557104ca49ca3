// The benchmark in --quick mode: the report has every workload with numbers for both engines,
// and factlog answers every query workload exactly as DataScript does (the correctness guard).
import { describe, it, expect, beforeAll } from 'vitest';
import { asOfRatio, ON_REQUEST, rawRatioOf, runBenchmark, WORKLOAD_NAMES, type BenchReport } from '../../bench/runner.js';
import { formatTable } from '../../bench/report.js';
import { parseArgs } from '../../bench/args.js';
import { interleave, medianOfRatios, MIN_RUN_MS, roundOrder } from '../../bench/stats.js';
import { bulkKeysOf, bulkPut, closeRawEnv, datomsOf, openRawEnv, sequentialTransactions } from '../../bench/raw-writes.js';
import { generatePeople, PERSON_ATTRS } from '../../bench/generate.js';
import { removeDir, tempDir } from '../../bench/engines.js';
import { readKey } from '../../src/storage/key-codec.js';
import type { KeyList } from '../../src/storage/packed-index.js';

const keysOf = (list: KeyList) => Array.from(list.ends, (end, i) => readKey(list.bytes, i === 0 ? 0 : list.ends[i - 1]!, end));

let report: BenchReport;

beforeAll(async () => {
  report = await runBenchmark({ quick: true, runs: 1, warmup: 1, log: () => undefined });
}, 300_000);

describe('benchmark (quick)', () => {
  it('reports every workload with numeric medians and ratios', () => {
    const names = report.workloads.map((w) => w.name);
    const byDefault = Object.entries(WORKLOAD_NAMES).filter(([group]) => !ON_REQUEST.includes(group as never));
    expect(names.sort()).toEqual(byDefault.flatMap(([, n]) => n).sort());
    for (const w of report.workloads) {
      expect(w.repetitions.factlog!.length, w.name).toBe(w.times.factlog!.length);
      expect(Number.isFinite(w.factlogMs), `${w.name} factlog`).toBe(true);
      expect(Number.isFinite(w.dsMs), `${w.name} DataScript`).toBe(true);
      expect(w.factlogMs).toBeGreaterThanOrEqual(0);
      expect(w.dsMs).toBeGreaterThanOrEqual(0);
      expect(typeof w.ratio).toBe('number');
      expect(Number.isNaN(w.ratio)).toBe(false);
    }
  });

  it('measures the raw lmdb floor for every read workload and asOf against now', () => {
    for (const w of report.workloads.filter((x) => x.group === 'query' || x.group === 'asof' || x.name === 'history')) {
      expect(Number.isFinite(w.rawMs), w.name).toBe(true);
      expect(Number.isFinite(w.rawRatio), w.name).toBe(true);
      // and in a pass of factlog and raw alone, which the within-3x target reads
      expect(w.pairedRaw!.times.raw!.length, w.name).toBe(report.meta.runs);
      expect(rawRatioOf(w), w.name).toBeCloseTo(medianOfRatios(w.pairedRaw!.times.factlog!, w.pairedRaw!.times.raw!), 10);
    }
    expect(report.workloads.filter((w) => w.group === 'write').every((w) => w.pairedRaw === undefined)).toBe(true);
    for (const w of report.workloads.filter((x) => x.group === 'asof')) {
      expect(Number.isFinite(w.nowRatio), w.name).toBe(true);
      // and in a pass of the two alone, which the target reads
      expect(w.paired!.times.asOf!.length, w.name).toBe(report.meta.runs);
      expect(asOfRatio(w), w.name).toBeCloseTo(medianOfRatios(w.paired!.times.asOf!, w.paired!.times.now!), 10);
    }
  });

  it('measures the raw lmdb floor of the write workloads: the same LMDB writes, one commit per transaction', async () => {
    for (const n of ['add-1', 'add-1-process', 'add-5', 'add-all', 'init', 'retract-5']) {
      const w = report.workloads.find((x) => x.name === n)!;
      expect(Number.isFinite(w.rawMs), n).toBe(true);
      const target = report.targets.find((t) => t.target.includes(`(${n})`) || (n === 'add-all' && t.target.startsWith('add-all')));
      if (n !== 'init') expect(target?.detail, n).toMatch(/raw lmdb-js floor [\d,]+/);
    }
    // the bulk floor really puts every datom's key into each of the three indexes, in key order
    const people = generatePeople(50, 3);
    const workDir = tempDir('raw-floor');
    const raw = openRawEnv(workDir, true);
    try {
      const bulk = bulkKeysOf(people);
      bulkPut(raw, bulk);
      for (const index of ['eavt', 'aevt', 'avet'] as const) {
        const stored = raw.index[index].all();
        expect(stored.length, index).toBe(people.length * PERSON_ATTRS.length);
        expect(stored, index).toEqual(keysOf(bulk.keys[index]));
      }
      // retract-5's floor: 10 transactions each retract a person (5 keys to history) and add a :db/txInstant
      await sequentialTransactions(raw, datomsOf(people).slice(0, 10), true);
      for (const index of ['eavt', 'aevt', 'avet'] as const) {
        expect(raw.index[index].all().length, index).toBe((people.length - 10) * PERSON_ATTRS.length + 10);
        expect(raw.history[index].all().length, index).toBe(10 * PERSON_ATTRS.length);
      }
      expect(raw.log.get(11)).toBeDefined();
    } finally {
      await closeRawEnv(raw);
      removeDir(workDir);
    }
  });

  it('gets the same answers from factlog and DataScript for every query workload', () => {
    const read = report.workloads.filter((w) => w.group === 'query' || w.group === 'asof' || w.group === 'after-commit');
    expect(read.length).toBe(WORKLOAD_NAMES.query.length + WORKLOAD_NAMES.asof.length + WORKLOAD_NAMES['after-commit'].length);
    for (const w of read) {
      expect(w.answers, w.name).toBeDefined();
      expect(w.answers!.same, `${w.name}: ${w.answers!.firstDifference}`).toBe(true);
      expect(w.answers!.factlog, w.name).toBe(w.answers!.ds);
      expect(w.answers!.factlog, `${w.name} returns something`).toBeGreaterThan(0);
    }
    // the raw scans count the same rows as the queries (they touch the right keys)
    for (const n of ['q1', 'q2', 'q3', 'q4', 'qpred1', 'qpred2', 'rule', 'pull-many', 'asof-q1', 'asof-q4', 'asof-qpred1']) {
      const w = report.workloads.find((x) => x.name === n)!;
      expect(w.answers!.raw, n).toBe(w.answers!.factlog);
    }
    expect(report.workloads.find((w) => w.name === 'open-cold')!.answers!.same).toBe(true);
  });

  it('reports throughput, peak RSS and the targets', () => {
    for (const n of ['add-1', 'add-5', 'add-5-concurrent', 'add-all', 'init', 'retract-5', 'import']) {
      const w = report.workloads.find((x) => x.name === n)!;
      expect(w.throughput!.factlog, n).toBeGreaterThan(0);
    }
    // transactions in flight together share commits
    const concurrent = report.workloads.find((x) => x.name === 'add-5-concurrent')!;
    expect(concurrent.extra!.commits).toBeGreaterThan(0);
    expect(concurrent.extra!.commits).toBeLessThan(concurrent.extra!.txs);
    expect(report.workloads.find((w) => w.name === 'import')!.extra!.peakRssMB).toBeGreaterThan(0);
    expect(report.targets.find((t) => t.target === 'same answers as DataScript')!.met).toBe(true);
    const table = formatTable(report);
    for (const w of report.workloads) expect(table).toContain(w.name);
  });

  it('orders the tasks of each round so that every task follows every other equally often', () => {
    for (let n = 2; n <= 6; n++) {
      const names = Array.from({ length: n }, (_, i) => `t${i}`);
      const rounds = n % 2 ? 2 * n : n;
      const follows = new Map<string, number>();
      for (let r = 0; r < rounds; r++) {
        const order = roundOrder(names, r);
        expect([...order].sort(), `n=${n} round ${r}`).toEqual(names);
        for (let k = 1; k < n; k++) follows.set(`${order[k - 1]}>${order[k]}`, (follows.get(`${order[k - 1]}>${order[k]}`) ?? 0) + 1);
      }
      expect(follows.size, `n=${n}`).toBe(n * (n - 1));
      expect(new Set(follows.values()).size, `n=${n}: ${JSON.stringify([...follows])}`).toBe(1);
    }
  });

  it("a paired ratio is the median of the rounds' ratios, which a machine slowing down for part of the pass does not move", () => {
    expect(medianOfRatios([2, 6, 3], [1, 2, 3])).toBe(2);
    // asof-q4's paired runs in one 20k run: both sides slow in the first four rounds
    const asOf = [2.12, 2.13, 2.09, 2.29, 1.1, 1.28, 1.26];
    const now = [2.01, 1.97, 1.35, 1.58, 1.15, 1.17, 1.3];
    expect(medianOfRatios(asOf, now)).toBeCloseTo(2.13 / 1.97, 10);
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[3]!;
    expect(median(asOf) / median(now)).toBeGreaterThan(1.5); // the ratio of medians mixes the two halves
  });

  it('repeats a fast task within each timed run and counts the time per repetition; never a task with a setup', async () => {
    let fastCalls = 0;
    let setupCalls = 0;
    let slowCalls = 0;
    const busy = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end);
    };
    const timing = await interleave(
      {
        fast: { run: () => (fastCalls++, busy(1)) },
        withSetup: { setup: () => setupCalls++, run: () => (slowCalls++, busy(1)) },
      },
      3,
      1,
    );
    for (const n of timing.fast!.repetitions) expect(n).toBeGreaterThan(1);
    expect(fastCalls).toBe(1 + timing.fast!.repetitions.reduce((x, y) => x + y, 0));
    // the time of a run is divided among its repetitions
    expect(timing.fast!.median).toBeLessThan(MIN_RUN_MS / 2);
    expect(timing.withSetup!.repetitions).toEqual([1, 1, 1]);
    expect(slowCalls).toBe(4);
    expect(setupCalls).toBe(4);
  });

  it('parses the command line options', () => {
    expect(parseArgs(['--people', '200000', '--only', 'q1,q2', '--runs', '3', '--json', 'out.json', '--quick'])).toEqual({
      people: 200000,
      only: ['q1', 'q2'],
      runs: 3,
      json: 'out.json',
      quick: true,
    });
  });

  it('reads the scale size as 1M, 5M, 20M, 250k or a number, and refuses anything else', () => {
    expect(parseArgs(['--scale-datoms', '5M', '--scale-ds-max', '250k'])).toEqual({ scaleDatoms: 5_000_000, scaleDsMax: 250_000 });
    expect(parseArgs(['--scale-datoms', '20m']).scaleDatoms).toBe(20_000_000);
    expect(parseArgs(['--scale-datoms', '30000']).scaleDatoms).toBe(30_000);
    expect(() => parseArgs(['--scale-datoms', '5G'])).toThrow(/--scale-datoms/);
  });

  it('runs only the selected workloads', async () => {
    const r = await runBenchmark({ quick: true, runs: 1, warmup: 0, only: ['q1', 'aggregate'], log: () => undefined });
    expect(r.workloads.map((w) => w.name)).toEqual(['q1', 'aggregate']);
    expect(r.workloads.every((w) => w.answers!.same)).toBe(true);
  });
});

describe('benchmark scale group', () => {
  it('imports a small shop history in a child and reports speed, memory and disk beside raw lmdb-js and DataScript', async () => {
    const r = await runBenchmark({ quick: true, only: ['scale'], scaleDatoms: 20_000, log: () => undefined });
    const names = r.workloads.map((w) => w.name);
    expect(names[0]).toBe('scale-import');
    // the scale queries ran on the imported database, each beside DataScript's answer where it has one
    expect(names).toEqual(expect.arrayContaining(['scale-cold-start', 'scale-count-by-status', 'scale-city-sum']));
    for (const q of r.workloads.slice(1)) {
      expect(q.factlogMs, q.name).toBeGreaterThan(0);
      expect(q.dsNote ?? '', q.name).not.toMatch(/DIFFERENT/);
    }
    const [w] = r.workloads;
    expect(w!.extra!.datoms).toBeGreaterThanOrEqual(20_000);
    for (const k of ['peakRssMB', 'peakAnonMB', 'bytesPerDatom', 'rawBytesPerDatom', 'cpuMs']) expect(w!.extra![k], k).toBeGreaterThan(0);
    expect(w!.extra!.freePages).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(w!.dsMs) && Number.isFinite(w!.rawMs!)).toBe(true);
    expect(r.targets.map((t) => t.target).filter((t) => t.includes('scale') || t.includes('disk'))).toHaveLength(3);
    expect(formatTable(r)).toContain('bytes/datom in use');
  }, 300_000);
});
