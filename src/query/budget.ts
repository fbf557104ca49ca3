// The running query's limits, time (a deadline) and size (values an intermediate relation may
// hold), checked from every engine loop that can run long or grow: query/timeout, query/too-large.
import { getHeapStatistics } from 'node:v8';
import { DEFAULT_HEAP_SHARE, guarded, heapFull, heapShareOf } from '../db/heap-guard.js';
import type { Clause } from '../../query-lang/datalog/ast.js';
import { queryError } from './errors.js';
import { printClause } from './print.js';

/** Limits of one query; each also a connection default (open({ queryTimeout, queryMaxValues, heapShare })). */
export interface QueryLimits {
  /** Milliseconds the query may run; 0 or Infinity: no limit. */
  timeout?: number;
  /** Values (rows x columns) any intermediate relation may hold; 0 or Infinity: no limit. */
  maxValues?: number;
  /**
   * The share of the heap's limit (0 to 1, default 0.8) the process's heap may fill while the
   * query runs before it stops with query/too-large; 0: no guard (V8 may then abort the process).
   * maxValues bounds a query's own relations; this covers the rest (columns and caches held, the
   * host's own data, copies a step makes). Looked at every 1,024 units of work, not on entering a
   * clause: a point query pays nothing for it.
   */
  heapShare?: number;
}

/** As Datomic's client API bounds every call: long enough for any sane query, short enough to stop a runaway rule. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * A relation's row costs ~24 bytes a value plus ~50 a row, and a query holds a few copies (the
 * join's output, a filtered copy, the :find projection): a count over 9.6 million rows of 2 values
 * peaked at 3.1 GB RSS on a 4.3 GB heap. 1/300 of the heap a value (14.5 million values there,
 * 1.06 million on a 256 MB heap) leaves room for the rest of the process, attribute columns included.
 */
export const DEFAULT_MAX_VALUES = Math.max(100_000, Math.min(20_000_000, Math.floor(getHeapStatistics().heap_size_limit / 300)));

/** Work units between two looks at the clock: ~1 ms of the cheapest loop, far below the ~100 ms a timeout may overrun. */
const CHECK_EVERY = 1024;

class Budget {
  ticks = 0;
  /** The clause being evaluated, named by a too-large or timeout error. */
  clause: Clause | string = 'the query inputs';

  constructor(
    readonly timeoutMs: number,
    readonly deadline: number,
    readonly maxValues: number,
    readonly heapShare: number,
  ) {}

  /** Every CHECK_EVERY units of work: the heap, then the clock. */
  checkpoint(): void {
    const heap = heapFull(this.heapShare);
    if (heap) this.outOfHeap(heap.used, heap.limit);
    this.checkTime();
  }

  checkTime(): void {
    this.ticks = 0;
    if (performance.now() > this.deadline) {
      const where = this.where();
      throw queryError('query/timeout', `Query ran past its timeout of ${this.timeoutMs} ms (in ${where})`, typeof this.clause === 'string' ? null : this.clause, where);
    }
  }

  tooLarge(rows: number, width: number): never {
    const where = this.where();
    throw queryError(
      'query/too-large',
      `Query too large: ${where} would hold more than ${this.maxValues.toLocaleString('en')} values (${rows.toLocaleString('en')} rows of ${width} columns); ` +
        'narrow the query, or raise maxValues',
      typeof this.clause === 'string' ? null : this.clause,
      where,
    );
  }

  outOfHeap(used: number, limit: number): never {
    const where = this.where();
    const mb = (n: number) => Math.round(n / 1048576).toLocaleString('en');
    throw queryError(
      'query/too-large',
      `Query too large: ${where} filled the heap to ${mb(used)} MB of its ${mb(limit)} MB; ` +
        'narrow the query, lower maxValues, or give the process more heap (--max-old-space-size) or a larger heapShare',
      typeof this.clause === 'string' ? null : this.clause,
      where,
    );
  }

  private where(): string {
    return typeof this.clause === 'string' ? this.clause : printClause(this.clause);
  }
}

let active: Budget | null = null;

const limitOf = (x: number | undefined, dflt: number, what: string): number => {
  if (x === undefined || x === null) return dflt;
  if (typeof x !== 'number' || Number.isNaN(x) || x < 0)
    throw queryError('query/invalid-option', `${what} must be a number of ${what === 'timeout' ? 'milliseconds' : 'values'} >= 0 (0: no limit), got ${String(x)}`);
  return x === 0 ? Infinity : x;
};

/**
 * Runs `fn` under the limits (each defaulting to `defaults`, then to the built-in defaults). A
 * query run inside another (the `q` function) keeps the outer deadline when its own is later.
 */
export function withBudget<T>(limits: QueryLimits, defaults: QueryLimits, fn: () => T): T {
  const timeoutMs = limitOf(limits.timeout ?? defaults.timeout, DEFAULT_TIMEOUT_MS, 'timeout');
  const maxValues = limitOf(limits.maxValues ?? defaults.maxValues, DEFAULT_MAX_VALUES, 'maxValues');
  const heapShare = heapShareOf(limits.heapShare ?? defaults.heapShare, DEFAULT_HEAP_SHARE, 'query/invalid-option');
  const outer = active;
  let budget = new Budget(timeoutMs, performance.now() + timeoutMs, maxValues, heapShare);
  if (outer && outer.deadline < budget.deadline) budget = new Budget(outer.timeoutMs, outer.deadline, maxValues, heapShare);
  active = budget;
  try {
    // reads the query makes outside the engine's loops (pull, datomArray) look at the heap too, as the query's
    return guarded('query', heapShare, fn);
  } finally {
    active = outer;
  }
}

/** One unit of work done: every CHECK_EVERY units, query/timeout past the deadline. */
export function tick(): void {
  const b = active;
  if (b !== null && ++b.ticks >= CHECK_EVERY) b.checkpoint();
}

/** A relation being built holds `rows` rows of `width` columns: query/too-large past the limit (and a tick). */
export function growing(rows: number, width: number): void {
  const b = active;
  if (b === null) return;
  if (rows * (width || 1) > b.maxValues) b.tooLarge(rows, width);
  if (++b.ticks >= CHECK_EVERY) b.checkpoint();
}

/** query/timeout past the deadline, now: for steps whose work may not tick often (a rule's round). */
export function checkTime(): void {
  active?.checkTime();
}

/**
 * Names `clause` in the errors of the work that follows (and looks at the clock: a step can be
 * short on ticks but long); returns the clause named before, for `leaveClause`.
 */
export function enterClause(clause: Clause | string): Clause | string | null {
  const b = active;
  if (b === null) return null;
  const prev = b.clause;
  b.clause = clause;
  b.checkTime();
  return prev;
}

export function leaveClause(prev: Clause | string | null): void {
  if (active !== null && prev !== null) active.clause = prev;
}
