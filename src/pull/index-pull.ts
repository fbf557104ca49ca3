// index-pull, as Datomic's: pull the entities of an attribute's AVET or AEVT datoms in index order.
import type { EdnValue } from '../../query-lang/edn/types.js';
import type { PullPattern } from '../../query-lang/datalog/ast.js';
import type { Datom, DbView } from '../db/api.js';
import { heapTick } from '../db/heap-guard.js';
import { pullMany, PullError, toPullPattern, type PullResult } from './pull.js';

export interface IndexPullOptions {
  /** 'avet' walks the attribute's values in order, 'aevt' its entities. */
  index: 'avet' | 'aevt';
  selector: string | EdnValue | PullPattern;
  /** `[attr]`, or `[attr value]` (avet) / `[attr entity]` (aevt) to start from there. */
  start: unknown[];
  /** Walk backwards: from the start position (or the attribute's end) down. */
  reverse?: boolean;
  /** Datoms to skip first. */
  offset?: number;
  /** How many entities to pull at most (default: all). */
  limit?: number;
}

function refuse(message: string, form?: unknown): never {
  throw new PullError('pull/invalid-index-pull', message, form === undefined ? {} : { form: String(form) });
}

/** Each datom of the attribute from the start position onward (or backward), in index order. */
function* walk(db: DbView, opts: IndexPullOptions, attr: number): Generator<Datom> {
  const hasFrom = opts.start.length > 1;
  const from = opts.start[1];
  if (!opts.reverse) {
    const seek = hasFrom ? db.seekDatoms(opts.index, attr, from) : db.datoms(opts.index, attr);
    for (const d of seek) {
      if (d.a !== attr) return;
      yield d;
    }
    return;
  }
  // the indexes are read forwards only: the part before the start is gathered, then walked back
  const before: Datom[] = [];
  if (opts.index === 'avet') {
    for (const d of db.indexRange(attr, undefined, hasFrom ? from : undefined, true)) {
      before.push(d);
      heapTick(db, 'pull', 'an index-pull');
    }
  } else {
    const e = hasFrom ? db.entid(from) : null;
    for (const d of db.datoms('aevt', attr)) {
      if (e !== null && d.e > e) break;
      before.push(d);
      heapTick(db, 'pull', 'an index-pull');
    }
  }
  for (let i = before.length - 1; i >= 0; i--) yield before[i]!;
}

/**
 * The entities of an attribute's datoms pulled with `selector`, in AVET (value) or AEVT (entity)
 * order, lazily: `{ index: 'avet', selector: '[:name]', start: [':person/age', 30], limit: 10 }`.
 * An entity with several values comes once per datom, as the index holds it.
 */
export function* indexPull(db: DbView, opts: IndexPullOptions): Generator<PullResult> {
  if (opts.index !== 'avet' && opts.index !== 'aevt') refuse(`index-pull reads :avet or :aevt, not ${String(opts.index)}`, opts.index);
  if (!Array.isArray(opts.start) || opts.start.length < 1 || opts.start.length > 2) refuse('index-pull :start is [attr] or [attr value]', opts.start);
  for (const [name, n] of [
    ['offset', opts.offset],
    ['limit', opts.limit],
  ] as const) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) refuse(`index-pull :${name} is a whole number, not ${String(n)}`, n);
  }
  const info = db.attr(opts.start[0] as string);
  if (!info) refuse(`index-pull: ${String(opts.start[0])} is not an attribute`, opts.start[0]);
  const pattern = toPullPattern(opts.selector);
  let skip = opts.offset ?? 0;
  let left = opts.limit ?? Infinity;
  if (left === 0) return;
  for (const d of walk(db, opts, info.id)) {
    if (skip > 0) {
      skip--;
      continue;
    }
    yield pullMany(db, pattern, [d.e])[0] ?? { 'db/id': d.e };
    if (--left === 0) return;
  }
}
