// Timing: warm-up, then the engines' runs interleaved (A B [C] A B [C] ...), medians.

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The median of the ratios a[i] / b[i] of runs timed side by side (round i of a paired pass):
 * each ratio compares two runs made under the same conditions, so a machine that slows down for
 * part of the pass moves both sides of a ratio, where it could move one side's median alone.
 */
export function medianOfRatios(a: number[], b: number[]): number {
  return median(a.map((x, i) => x / Math.max(b[i]!, 1e-9)));
}

/** One measured operation: optional untimed setup/teardown around a timed run. */
export interface Task<S = unknown, R = unknown> {
  setup?: () => S | Promise<S>;
  run: (state: S) => R | Promise<R>;
  teardown?: (state: S) => void | Promise<void>;
}

export interface Timing {
  /** Time per repetition of each timed run. */
  times: number[];
  /** Repetitions in each timed run (see MIN_RUN_MS). */
  repetitions: number[];
  median: number;
  min: number;
  /** Result of the first run (used for the correctness comparison). */
  first: unknown;
}

/**
 * One run of a task: setup, the timed part, teardown. The timed part of a task without setup
 * (a read) repeats until it has taken MIN_RUN_MS; its time is the time per repetition.
 */
async function once<S, R>(task: Task<S, R>, repeatToMinimum = false): Promise<{ ms: number; result: R; repetitions: number }> {
  const state = task.setup ? await task.setup() : (undefined as S);
  const repeat = repeatToMinimum && !task.setup && !task.teardown;
  const t0 = performance.now();
  let result!: R;
  let repetitions = 0;
  let elapsed: number;
  do {
    const r = task.run(state);
    result = (r instanceof Promise ? await r : r) as R;
    repetitions++;
    elapsed = performance.now() - t0;
  } while (repeat && elapsed < MIN_RUN_MS && repetitions < MAX_REPETITIONS);
  if (task.teardown) await task.teardown(state);
  return { ms: elapsed / repetitions, result, repetitions };
}

/**
 * How long a timed run of a read lasts at least. One garbage collection costs 5-25 ms here:
 * landing in a run of a 1 ms query it made that run 5-25x slower, and three such runs out of
 * seven moved the median. Spread over a longer run it costs each repetition its share, as it
 * does in an application.
 */
export const MIN_RUN_MS = 25;
const MAX_REPETITIONS = 10_000;

/**
 * The order of the tasks in timed round `round`. A run pays for the garbage the run before it
 * left (DataScript's, at 200,000 people, from a heap of a GB), so in one fixed order a task would
 * always follow the same one. The rounds follow a Williams design instead: over n rounds (2n when
 * n is odd) every task runs right after every other task equally often.
 */
export function roundOrder(names: string[], round: number): string[] {
  const n = names.length;
  const base: number[] = [0];
  for (let k = 1; base.length < n; k++) {
    base.push(k);
    if (base.length < n) base.push(n - k);
  }
  const row = base.map((x) => (x + round) % n);
  if (n % 2 === 1 && Math.floor(round / n) % 2 === 1) row.reverse();
  return row.map((i) => names[i]!);
}

/**
 * Runs `warmup` untimed rounds, then `runs` timed rounds; each round runs every task once (in
 * the order of roundOrder), so that the engines alternate and share whatever the machine is
 * doing at the time.
 */
export async function interleave(tasks: Record<string, Task<any, any>>, runs: number, warmup: number): Promise<Record<string, Timing>> {
  const names = Object.keys(tasks);
  const times: Record<string, number[]> = {};
  const first: Record<string, unknown> = {};
  for (const n of names) times[n] = [];
  const repetitions: Record<string, number[]> = {};
  for (const n of names) repetitions[n] = [];
  for (let i = 0; i < warmup; i++) {
    for (const n of names) {
      const { result } = await once(tasks[n]);
      if (i === 0) first[n] = result;
    }
  }
  for (let i = 0; i < runs; i++) {
    for (const n of roundOrder(names, i)) {
      const run = await once(tasks[n], true);
      if (!(n in first)) first[n] = run.result;
      times[n].push(run.ms);
      repetitions[n].push(run.repetitions);
    }
  }
  const out: Record<string, Timing> = {};
  for (const n of names) out[n] = { times: times[n], repetitions: repetitions[n], median: median(times[n]), min: Math.min(...times[n]), first: first[n] };
  return out;
}

export function peakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
