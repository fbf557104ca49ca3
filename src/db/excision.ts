// Excision at the database level: the requests a log entry records (read back from its datoms by
// the schema), and a database rebuilt beside another from its log with the excised datoms left out.
import { decodeValue } from '../storage/encoding.js';
import { exciseEntries, type ExcisionRule } from '../storage/excision.js';
import type { LogEntry } from '../storage/log.js';
import { Store } from '../storage/store.js';
import { catchUpFulltext } from './fulltext.js';
import { schemaFactsOf } from './log-replay.js';
import { Attr, Schema, keepsHistory } from './schema.js';

const REQUEST_ATTRS: ReadonlySet<number> = new Set([Attr.excise, Attr.exciseAttrs, Attr.exciseBeforeT, Attr.exciseBefore]);

/** The excision requests an entry asserts: one per entity holding :db/excise. */
export function excisionRulesIn(entry: LogEntry, schema: Schema): ExcisionRule[] {
  const byEntity = new Map<number, Partial<ExcisionRule> & { attrs?: number[] }>();
  for (const d of entry.datoms) {
    if (!d.added || !REQUEST_ATTRS.has(d.a)) continue;
    const request = byEntity.get(d.e) ?? {};
    byEntity.set(d.e, request);
    const v = decodeValue(d.tag, d.payload);
    if (d.a === Attr.excise) request.target = v as number;
    else if (d.a === Attr.exciseAttrs) (request.attrs ??= []).push(v as number);
    else if (d.a === Attr.exciseBeforeT) request.beforeT = Number(v);
    else request.beforeMs = (v as Date).getTime();
  }
  const rules: ExcisionRule[] = [];
  for (const request of byEntity.values()) {
    if (request.target === undefined) continue; // :db.excise/... facts alone ask nothing
    rules.push({ ...request, target: request.target, targetIsAttribute: schema.attr(request.target) !== undefined, requestedAt: entry.t });
  }
  return rules;
}

/** Whether an entry records an excision request (a replica or follower must rewrite its history). */
export function requestsExcision(entry: LogEntry): boolean {
  return entry.datoms.some((d) => d.added && d.a === Attr.excise);
}

function* logThen(log: Iterable<LogEntry>, following: readonly LogEntry[]): Generator<LogEntry> {
  yield* log;
  yield* following;
}

/** Log entries per write transaction of a rebuild. */
const BATCH = 500;

/**
 * Build in the empty directory `side` the database `source` holds up to `throughT` (its last t
 * by default), then `following` (a live excision's request), with the datoms `rules` excise left
 * out: the same t, tx and entity ids, instants, replica mark and next entity id (an excised
 * entity's id is never given again). The side store is written by this process alone and
 * flushed before it is moved anywhere.
 */
export async function rebuildWithout(source: Store, side: string, rules: readonly ExcisionRule[], throughT = source.lastT(), following: readonly LogEntry[] = []): Promise<number> {
  let datomsBefore = 0;
  let datomsAfter = 0;
  const counted = function* (entries: Iterable<LogEntry>) {
    for (const entry of entries) {
      datomsBefore += entry.datoms.length;
      yield entry;
    }
  };
  const { store } = Store.open({ path: side, create: true, createFormat: source.format, durability: 'process' });
  try {
    let schema = new Schema();
    let batch: LogEntry[] = [];
    const flush = async () => {
      const entries = batch;
      batch = [];
      await store.writeTransaction(() => {
        for (const entry of entries) {
          const before = schema;
          schema = schema.apply(schemaFactsOf(entry));
          store.appendLogEntries([entry], (a) => keepsHistory(a, before, schema));
        }
        catchUpFulltext(store, schema);
      });
    };
    for (const entry of exciseEntries(counted(logThen(source.logRange(0, throughT + 1), following)), rules)) {
      datomsAfter += entry.datoms.length;
      batch.push(entry);
      if (batch.length >= BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    const { nextEid } = source.readMeta();
    const owner = source.replicaOf();
    await store.writeTransaction(() => {
      const meta = store.readMeta();
      store.putMeta({ ...meta, nextEid: Math.max(meta.nextEid, nextEid) });
      if (owner !== undefined) store.markReplicaOf(owner);
    });
    return datomsBefore - datomsAfter;
  } finally {
    await store.close();
  }
}
