// Read replicas: a second database directory kept identical to a primary by replaying its log,
// with the same t, tx and entity ids. A replica remembers how far it got (its own last t), so a
// stopped replica catches up from there; it refuses transactions of its own. It goes on only
// from a primary that still holds the records it copied (feed/diverged otherwise): a primary
// restored from an older backup has another history, and the replica would silently mix the two.
// Both keep the log's hash chain (log-chain.ts): the same value at the replica's last t means the
// same history up to there, whatever t a record differs at.
import path from 'node:path';
import { replayLogFile, schemaFactsOf, schemaOfStore } from '../db/log-replay.js';
import { keepsHistory } from '../db/schema.js';
import { catchUpFulltext } from '../db/fulltext.js';
import type { LogEntry } from '../storage/log.js';
import { Store, StorageError } from '../storage/store.js';
import { FactlogError } from '../../query-lang/errors.js';
import { follow } from './follow.js';
import { applyPrimaryExcisions } from './replica-excision.js';

export interface ReplicateOptions {
  from: string;
  to: string;
  /** Keep following the primary after catching up, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Called after each batch is committed to the replica. */
  onProgress?: (t: number) => void;
}

const BATCH = 500;

/**
 * Bring the replica up to date; resolves with the replica's last t when done (or aborted). An
 * excision on the primary (feed/excised while following) is applied to the replica, which then
 * goes on from where it was (replica-excision.ts).
 */
export async function replicate(options: ReplicateOptions): Promise<number> {
  for (;;) {
    await applyPrimaryExcisions(path.resolve(options.from), options.to);
    try {
      return await replicateOnce(options);
    } catch (err) {
      if (!(err instanceof FactlogError && err.code === 'feed/excised')) throw err;
    }
  }
}

async function replicateOnce(options: ReplicateOptions): Promise<number> {
  const source = path.resolve(options.from);
  const { store } = Store.open({ path: options.to });
  try {
    // what a crash left in the replica's own log file comes before anything new
    await replayLogFile(store);
    const owner = store.replicaOf();
    const lastT = store.lastT();
    if (owner !== undefined && owner !== source) {
      throw new StorageError('storage/replica-mismatch', `${store.dir} replicates ${owner}, not ${source}`);
    }
    if (owner === undefined && lastT >= 0) {
      throw new StorageError('storage/not-a-replica', `${store.dir} is a database of its own, not a replica of ${source}`);
    }
    let schema = schemaOfStore(store);
    let batch: LogEntry[] = [];
    const flush = async () => {
      const entries = batch;
      batch = [];
      await store.writeTransaction(() => {
        if (store.replicaOf() === undefined) store.markReplicaOf(source);
        for (const entry of entries) {
          const before = schema;
          schema = schema.apply(schemaFactsOf(entry));
          store.appendLogEntries([entry], (a) => keepsHistory(a, before, schema));
        }
        catchUpFulltext(store, schema);
      });
      options.onProgress?.(entries[entries.length - 1].t);
    };
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort());
    const { store: primary } = Store.open({ path: source, create: false, readOnly: true });
    let primaryLast: number;
    try {
      primaryLast = primary.lastT();
      checkSameHistory(primary, store, lastT);
    } finally {
      await primary.close();
    }
    if (!options.follow && lastT >= primaryLast) return lastT;
    const fromChain = lastT >= 0 ? store.chainHash(lastT) : undefined;
    for await (const entry of follow(source, { fromT: lastT, fromChain, raw: true, signal: controller.signal })) {
      batch.push(entry);
      const caughtUp = entry.t >= primaryLast;
      if (batch.length >= BATCH || caughtUp) await flush();
      if (caughtUp && !options.follow) break;
      if (caughtUp) primaryLast = entry.t;
    }
    if (batch.length) await flush();
    return store.lastT();
  } finally {
    await store.close();
  }
}

/**
 * Throws feed/diverged unless the primary holds the replica's history up to its last t: the same
 * value of the chain there (one read each), naming the first t whose records differ.
 */
function checkSameHistory(primary: Store, replica: Store, lastT: number): void {
  if (lastT < 0) return;
  const primaryLast = primary.lastT();
  const left = `the replica ${replica.dir} is left at t=${lastT}: replicate into a new directory`;
  if (primaryLast < lastT) {
    throw new FactlogError('feed/diverged', `${primary.dir} is at t=${primaryLast}, behind this replica's t=${lastT}: it was restored from an older backup or replaced; ${left}`);
  }
  if (sameChainAt(primary, replica, lastT)) return;
  const first = firstDifference(primary, replica, lastT);
  throw new FactlogError(
    'feed/diverged',
    `${primary.dir} holds another history than its replica: their log records differ from t=${first} on (the records of t=0 to t=${first - 1} are the same); the primary was restored from a backup and written since, or replaced; ${left}`,
  );
}

function sameChainAt(a: Store, b: Store, t: number): boolean {
  return Buffer.from(a.chainHash(t)!).equals(b.chainHash(t)!);
}

/** The first t at which two chains differ, given that they differ at `t`: once apart they stay apart. */
function firstDifference(a: Store, b: Store, t: number): number {
  let lo = 0;
  let hi = t;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    if (sameChainAt(a, b, mid)) lo = mid + 1;
    else hi = mid;
  }
  return hi;
}
