// The log's hash chain: chain(t) = SHA-256(chain(t - 1) || the record of t), a derived table that
// tells in one read whether two databases hold the same history up to t.
//
// "The record" is its canonical bytes, encodeLogRecord's (what formats 3 on store; formats 1 and 2
// store msgpack, re-encoded here), so a replica, a backup, a copy rebuilt from the log file and a
// database of another format holding the same transactions have the same chain, and a record that
// differs anywhere changes every later value. The table is written with each commit, in the same
// LMDB transaction; a database whose table is missing or behind (made by an older factlog, or by
// one that did not keep it) is caught up on the next open for writing, and a read-only store
// computes the part it lacks in memory from the log.
import crypto, { createHash } from 'node:crypto';
import type { Database, RootDatabase } from 'lmdb';
import { FactlogError } from '../../query-lang/errors.js';

/** The named database: t (uint32) -> 32 bytes. Its last key is how far it is chained. */
export const CHAIN_DB = 'chain';

/** What chain(-1) is, before any record: a fixed constant, so every database starts alike. */
export const CHAIN_START: Buffer = createHash('sha256').update('factlog log chain 1').digest();

/**
 * node:crypto's one-shot hash (Node 20.12 on): one call into OpenSSL instead of a Hash object and
 * three calls, about a third cheaper for a small transaction's record.
 */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash;
/** Records up to this size are hashed from one reused buffer (previous value, then the record). */
const SCRATCH_LIMIT = 64 * 1024;
let scratch = Buffer.allocUnsafe(4096);

/** chain(t) from chain(t - 1) and the canonical bytes of the record of t: SHA-256 of the two. */
export function chainStep(previous: Uint8Array, record: Uint8Array): Buffer {
  const length = previous.length + record.length;
  if (!oneShotHash || length > SCRATCH_LIMIT) return createHash('sha256').update(previous).update(record).digest();
  if (scratch.length < length) scratch = Buffer.allocUnsafe(SCRATCH_LIMIT);
  scratch.set(previous, 0);
  scratch.set(record, previous.length);
  return oneShotHash('sha256', scratch.subarray(0, length), 'buffer');
}

/** The chain of a whole list of records, t 0 on: one value per record. */
export function chainOf(records: Iterable<Uint8Array>): Buffer[] {
  const out: Buffer[] = [];
  let previous: Uint8Array = CHAIN_START;
  for (const record of records) out.push((previous = chainStep(previous, record)));
  return out;
}

/** How far apart the values computed in memory are kept. */
const CHECKPOINT = 256;

/** What the chain needs from its store: the canonical bytes of the log record of t. */
export type RecordAt = (t: number) => Uint8Array | undefined;

export class LogChain {
  /** undefined in a read-only environment whose file has no chain table yet. */
  private readonly table: Database<Buffer, number> | undefined;
  /**
   * Values past the table's end computed from the log (read-only stores, or a writer another
   * process wrote past): every CHECKPOINT-th t, and the last one computed, so memory stays small
   * and a later t costs the records after the nearest of them.
   */
  private readonly computed = new Map<number, Buffer>();
  private lastComputed = -1;

  constructor(
    env: RootDatabase,
    private readonly recordAt: RecordAt,
  ) {
    this.table = env.openDB<Buffer, number>(CHAIN_DB, { keyEncoding: 'uint32', encoding: 'binary' });
  }

  /** The last t the table holds (-1 when it holds none). */
  chainedTo(): number {
    if (!this.table) return -1;
    for (const key of this.table.getKeys({ reverse: true, limit: 1 })) return key as number;
    // lmdb-js 3.5.6 never yields the uint32 key 0 in a reverse scan: a table of t=0 alone looks empty
    return this.table.doesExist(0) ? 0 : -1;
  }

  /** chain(t) as stored; undefined past the table's end. */
  stored(t: number): Buffer | undefined {
    if (t < 0) return CHAIN_START;
    const value = this.table?.get(t);
    return value === undefined ? undefined : Buffer.from(value);
  }

  /**
   * chain(t) of a t the log holds: from the table, else computed on from the nearest value known
   * before it. undefined when the log has no record of t or of a t before it.
   */
  hashAt(t: number): Buffer | undefined {
    const stored = this.stored(t);
    if (stored) return stored;
    const from = this.nearestKnownBefore(t);
    let hash = this.computed.get(from) ?? (from < 0 ? CHAIN_START : this.stored(from)!);
    for (let k = from + 1; k <= t; k++) {
      const record = this.recordAt(k);
      if (!record) return undefined;
      hash = chainStep(hash, record);
      if (k % CHECKPOINT === 0) this.computed.set(k, hash);
    }
    if (this.lastComputed % CHECKPOINT !== 0) this.computed.delete(this.lastComputed);
    this.computed.set(t, hash);
    this.lastComputed = t;
    return hash;
  }

  /** The greatest t below `t` whose value is known: the table's end, the last computed or a checkpoint. */
  private nearestKnownBefore(t: number): number {
    const tableEnd = this.chainedTo();
    // a hole in the table (damage: verify reports it) is stepped over, from the log's start
    let best = tableEnd < t ? tableEnd : -1;
    if (this.lastComputed < t && this.lastComputed > best) best = this.lastComputed;
    for (let k = Math.floor((t - 1) / CHECKPOINT) * CHECKPOINT; k > best; k -= CHECKPOINT) if (this.computed.has(k)) return k;
    return best;
  }

  /**
   * Inside a write transaction, once the record of t is in the log table: chain(t) into the
   * table, after catching the table up to t - 1 when it is behind.
   */
  extend(t: number, record: Uint8Array): void {
    const table = this.table!;
    let previous = this.stored(t - 1);
    if (!previous) {
      this.catchUp(t - 1);
      previous = this.stored(t - 1);
    }
    if (!previous) throw new FactlogError('storage/mdb-damaged', `the log's hash chain table has no value at t=${t - 1} before its end (damaged; factlog rebuild recomputes it)`);
    table.putSync(t, chainStep(previous, record));
  }

  /** Inside a write transaction: the table up to `lastT`, computed from the log where it is behind. Returns how many values it wrote. */
  catchUp(lastT: number): number {
    const table = this.table!;
    let t = this.chainedTo();
    let previous = this.stored(t)!;
    let written = 0;
    while (t < lastT) {
      t++;
      const record = this.recordAt(t);
      if (!record) throw new FactlogError('storage/mdb-damaged', `the log table has no record of t=${t}, before its last t=${lastT}`);
      previous = chainStep(previous, record);
      table.putSync(t, previous);
      written++;
    }
    this.computed.clear();
    this.lastComputed = -1;
    return written;
  }

  /** Inside a write transaction: the table recomputed from the log, t 0 to `lastT` (a rebuild). */
  rebuild(lastT: number): void {
    this.table!.clearSync();
    this.catchUp(lastT);
  }

  /** Every stored value, t 0 on, for verify. */
  *entries(): Generator<{ t: number; hash: Buffer }> {
    if (!this.table) return;
    for (const { key, value } of this.table.getRange({})) yield { t: key as number, hash: Buffer.from(value) };
  }
}
