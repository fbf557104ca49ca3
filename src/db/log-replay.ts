// Indexing log entries that LMDB does not hold yet, in t order, with the schema each one was
// written under: a replica following its primary, and a database catching up with its own log
// file after a crash (or rebuilding from it after an OS crash tore LMDB's file).
import { Attr, LAST_SCHEMA_ATTR, Schema, bootstrapFacts, isSchemaAttr, keepsHistory } from './schema.js';
import { decodeValue } from '../storage/encoding.js';
import type { LogEntry } from '../storage/log.js';
import type { Store } from '../storage/store.js';

/** Records indexed per LMDB transaction while replaying the log file. */
const REPLAY_BATCH = 1000;

/** The schema facts an entry asserts or retracts. */
export function schemaFactsOf(entry: LogEntry) {
  return entry.datoms.filter((d) => isSchemaAttr(d.a)).map((d) => ({ e: d.e, a: d.a, v: decodeValue(d.tag, d.payload), added: d.added }));
}

/** The schema in force at the store's last t, read from its current schema datoms. */
export function schemaOfStore(store: Store): Schema {
  const facts = bootstrapFacts().map(([e, a, v]) => ({ e, a, v, added: true }));
  const now = { basisT: store.lastT(), sinceT: null, history: false };
  for (let a = Attr.ident; a <= LAST_SCHEMA_ATTR; a++) {
    if (!isSchemaAttr(a)) continue;
    for (const d of store.reader.datoms('aevt', [a], undefined, now)) facts.push({ e: d.e, a, v: d.v, added: true });
  }
  return new Schema().apply(facts);
}

/**
 * Index the log file's records past what LMDB holds: commits whose records reached the log
 * file but whose LMDB commit did not happen. Returns how many were indexed.
 *
 * The records are read inside the write transaction: outside it, another process's commit in
 * flight (its records appended, its LMDB commit not yet made) would look the same.
 */
export async function replayLogFile(store: Store): Promise<number> {
  if (!mayHoldUnindexedRecords(store)) return 0; // the common case, without a write
  let replayed = 0;
  for (;;) {
    const indexed = await store.writeTransaction(() => indexUnindexedRecords(store, REPLAY_BATCH));
    replayed += indexed;
    if (indexed < REPLAY_BATCH) return replayed;
  }
}

/**
 * Outside the write transaction, a look that may be wrong only towards "yes": a record another
 * process is appending at this moment can read as zeroed or garbled with its whole neighbour after
 * it, which under the lock would be damage. Only the read inside the transaction decides.
 */
function mayHoldUnindexedRecords(store: Store): boolean {
  try {
    return !store.unindexedLogRecords().next().done;
  } catch (err) {
    if ((err as { code?: string }).code === 'storage/log-damaged') return true;
    throw err;
  }
}

/** Inside a write transaction: index up to `limit` of the records LMDB does not hold yet. */
function indexUnindexedRecords(store: Store, limit: number): number {
  let schema = schemaOfStore(store);
  let indexed = 0;
  for (const record of store.unindexedLogRecords()) {
    const before = schema;
    schema = schema.apply(schemaFactsOf(record.entry));
    store.indexLogRecords([record], (a) => keepsHistory(a, before, schema));
    if (++indexed === limit) break;
  }
  return indexed;
}
