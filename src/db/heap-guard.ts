// The heap guard: a query, pull or datom read that fills the heap past a share of its limit stops
// with a coded `<area>/too-large` error before V8 aborts the whole process.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FactlogError } from '../../query-lang/errors.js';

/**
 * The share of the old generation's limit the heap may fill before a read stops: V8 aborts the
 * process when that space is full, so a read gives up before it is. 0.8 leaves a fifth for what
 * the read's own unwinding and the rest of the process allocate meanwhile.
 */
export const DEFAULT_HEAP_SHARE = 0.8;

/** Units of work (values, entities, datoms) between two looks at the heap: ~1.3 µs a look. */
export const HEAP_CHECK_EVERY = 1024;

/**
 * What heap_size_limit counts beyond --max-old-space-size: the young generation's reserve
 * (48 MB measured from 64 MB to 4 GB, Node 20 on 64-bit), which the old generation cannot use.
 */
const YOUNG_RESERVE = 48 * 1048576;

/**
 * Bytes in use on the heap, young generation included (its survivors are promoted to the old one
 * at once, ~16 MB in one step), and the old generation's limit.
 */
function heapUse(): { used: number; limit: number } {
  const { used_heap_size: used, heap_size_limit: limit } = getHeapStatistics();
  return { used, limit: limit > 2 * YOUNG_RESERVE ? limit - YOUNG_RESERVE : limit };
}

let collector: (() => void) | null = null;

/** A full garbage collection now: V8's own `gc`, exposed for this process when it is not already. */
function collectGarbage(): void {
  if (!collector) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') collector = exposed;
    else {
      setFlagsFromString('--expose-gc');
      collector = runInNewContext('gc') as () => void;
    }
  }
  collector();
}

/**
 * The heap's use when it is past `share` of its limit, else null. What is in use counts garbage
 * not yet collected (a read just ended leaves its arrays), so past the share the heap is collected
 * once and looked at again; only what remains refuses the read. Still 90% of the share after a
 * collection counts as full too, so a read near the edge does not collect at every look.
 */
export function heapFull(share: number): { used: number; limit: number } | null {
  if (share === Infinity) return null;
  const first = heapUse();
  if (first.used <= first.limit * share) return null;
  collectGarbage();
  const after = heapUse();
  return after.used > after.limit * share * 0.9 ? after : null;
}

/** A heapShare option checked: a fraction in (0, 1], or 0 for no guard (Infinity); undefined gives `dflt`. */
export function heapShareOf(x: unknown, dflt: number, code: string): number {
  if (x === undefined || x === null) return dflt;
  if (typeof x !== 'number' || Number.isNaN(x) || x < 0 || x > 1)
    throw new FactlogError(code, `heapShare must be a fraction of the heap between 0 and 1 (0: no guard), got ${String(x)}`, { form: String(x) });
  return x === 0 ? Infinity : x;
}

/** The `<area>/too-large` error of a read that filled the heap. */
export function heapError(area: string, what: string, used: number, limit: number, share: number): FactlogError {
  const mb = (n: number) => Math.round(n / 1048576).toLocaleString('en');
  return new FactlogError(
    `${area}/too-large`,
    `${area[0]!.toUpperCase()}${area.slice(1)} too large: ${what} filled the heap to ${mb(used)} MB of its ${mb(limit)} MB (heapShare ${share}); ` +
      'narrow it, or give the process more heap (--max-old-space-size) or a larger heapShare',
  );
}

/** The read the user called (a query, a pull), whose area names a too-large error raised inside it. */
let active: { area: string; share: number } | null = null;

/** Runs `fn` as the `area` read (kept when inside another: a pull run by a query is the query's). */
export function guarded<T>(area: string, share: number, fn: () => T): T {
  if (active !== null) return fn();
  active = { area, share };
  try {
    return fn();
  } finally {
    active = null;
  }
}

let ticks = 0;

/**
 * One unit of work of a read of `db` done: every HEAP_CHECK_EVERY units, `<area>/too-large` past
 * the share (the running query's or pull's, else the one `db`'s connection gives).
 */
export function heapTick(db: unknown, area: string, what: string): void {
  if (++ticks < HEAP_CHECK_EVERY) return;
  ticks = 0;
  const share = active?.share ?? heapShareOfDb(db);
  const full = heapFull(share);
  if (full) throw heapError(active?.area ?? area, what, full.used, full.limit, share);
}

/** The items of `items` in an array, looking at the heap as it grows (`<area>/too-large`). */
export function collectGuarded<T>(items: Iterable<T>, db: unknown, area: string, what: string): T[] {
  const out: T[] = [];
  for (const x of items) {
    out.push(x);
    heapTick(db, area, what);
  }
  return out;
}

/** The heapShare a Db value's connection gives its reads (open({ heapShare })), else the default. */
export function heapShareOfDb(db: unknown): number {
  const share = (db as { ctx?: { queryLimits?: { heapShare?: number } } } | null)?.ctx?.queryLimits?.heapShare;
  return share === undefined ? DEFAULT_HEAP_SHARE : share === 0 ? Infinity : share;
}
