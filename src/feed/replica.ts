// Read replicas: a second database directory kept identical to a primary by replaying its log,
// with the same t, tx and entity ids. A replica remembers how far it got (its own last t), so a
// stopped replica catches up from there; it refuses transactions of its own. It goes on only
// from a primary that still holds the records it copied (feed/diverged otherwise): a primary
// restored from an older backup has another history, and the replica would silently mix the two.
import path from 'node:path';
import { replayLogFile, schemaFactsOf, schemaOfStore } from '../db/log-replay.js';
import { keepsHistory } from '../db/schema.js';
import { catchUpFulltext } from '../db/fulltext.js';
import type { LogEntry } from '../storage/log.js';
import { Store, StorageError } from '../storage/store.js';
import { checkContinues, follow } from './follow.js';

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

/** Bring the replica up to date; resolves with the replica's last t when done (or aborted). */
export async function replicate(options: ReplicateOptions): Promise<number> {
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
    const fromEntry = lastT >= 0 ? store.logEntry(lastT) : undefined;
    for await (const entry of follow(source, { fromT: lastT, fromEntry, raw: true, signal: controller.signal })) {
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
 * Throws feed/diverged unless the primary holds the replica's records: its last, and a sample
 * back to t 0 (t - 1, t - 2, t - 4, ...), so a history replaced before the replica's last t but
 * ending in the same record is caught too, in a few reads.
 */
function checkSameHistory(primary: Store, replica: Store, lastT: number): void {
  for (let back = 0; lastT - back >= 0; back = back === 0 ? 1 : back * 2) {
    const mine = replica.logEntry(lastT - back);
    if (mine) checkContinues(primary, mine);
  }
}
