// A node's group commit: the transact calls waiting on a node, prepared in order (each against the
// db with the ones before it, as `with` does) as the records of one message, on top of the node's
// latest db and of its messages still in flight (a speculative db: see node.ts).
import { FactlogError } from '../../query-lang/errors.js';
import type { Connection } from '../connection.js';
import type { Db } from '../db/db.js';
import type { LogEntry } from '../storage/log.js';
import { Overlay } from '../db/overlay.js';
import { schemaFactsOf } from '../db/log-replay.js';
import { keyPayload, TX_BASE, type RawDatom } from '../storage/encoding.js';
import { decodeLogEntry, encodeLogRecord, toLogEntry } from '../storage/log.js';
import { chainStep } from '../storage/log-chain.js';
import { prepareTx, type PreparedTx } from '../tx/transact.js';
import { ClusterError, type LogStream, type StreamMessage } from './stream.js';

/** Transactions in one message at most (a transactBatch larger than this goes alone). */
export const MAX_BATCH = 128;

/** The db a message is prepared against: the node's latest db with the records of its messages in flight on top. */
export interface Speculation {
  /** The stored db the overlay sits on. */
  base: Db;
  overlay: Overlay | undefined;
  nextEid: number;
  lastInstant: number;
  /** The log's hash chain at the speculation's last t. */
  chain: Buffer;
}

/** One transact call (one tx) or transactBatch call (several, all in one message or none). */
export interface BatchInput {
  txDatas: readonly unknown[];
  isBatch: boolean;
}

/** The message: the calls that went in, those that failed (against this base), and where it stopped. */
export interface PreparedBatch {
  /** The t of the message's first record. */
  t: number;
  included: { index: number; prepared: PreparedTx[]; bytes: Buffer[] }[];
  failed: { index: number; error: unknown }[];
  /** The first index left for a later message (it did not fit); inputs.length when all were taken. */
  deferredFrom: number;
  /** The speculation after the included records. */
  after: Speculation;
}

/** The node's latest db, with nothing in flight. */
export function latestSpeculation(conn: Connection): Speculation {
  const base = conn.db();
  const meta = conn.store.readMeta();
  return { base, overlay: undefined, nextEid: meta.nextEid, lastInstant: meta.lastInstant, chain: conn.store.chainHash(base.basisT)! };
}

/** What a speculation needs of a transaction: a prepared one, or a record taken from the stream. */
type SpeculativeTx = Pick<PreparedTx, 't' | 'asserted' | 'retracted' | 'schema' | 'nextEid' | 'instant'>;

/** `from` with prepared transactions (of consecutive t after it) on top. */
export function speculate(from: Speculation, prepared: readonly SpeculativeTx[], chain: Buffer): Speculation {
  let { overlay, nextEid, lastInstant } = from;
  for (const p of prepared) {
    overlay = (overlay ?? Overlay.empty(from.base.basisT, from.base.schema, from.nextEid)).extend(p.t, p.asserted, p.retracted, p.schema, p.nextEid);
    [nextEid, lastInstant] = [p.nextEid, p.instant];
  }
  return { base: from.base, overlay, nextEid, lastInstant, chain };
}

/**
 * `from` (the node's latest db, no overlay) with the records of stream messages taken but not yet
 * committed locally on top, each checked to follow the one before it (t and hash chain); undefined
 * when one does not (the follower stops on it), or when no record is past `from`.
 */
export function speculateOnDelivered(from: Speculation, messages: readonly StreamMessage[]): Speculation | undefined {
  let [spec, chain, added] = [from, from.chain, 0];
  for (const record of messages.flatMap((m) => m.records)) {
    const t = dbOf(spec).basisT;
    if (record.t <= t && added === 0) continue; // committed since the follower listed it
    if (record.t !== t + 1) return undefined;
    chain = chainStep(chain, record.bytes);
    if (record.chain !== undefined && record.chain !== chain.toString('hex')) return undefined;
    spec = speculate(spec, [deliveredTx(spec, decodeLogEntry(record.t, record.bytes))], chain);
    added++;
  }
  return added > 0 ? spec : undefined;
}

/** A record as the overlay takes it: a retraction names the datom it ends (with its asserting tx), as the indexer finds it. */
function deliveredTx(on: Speculation, entry: LogEntry): SpeculativeTx {
  const [asserted, retracted] = [[] as RawDatom[], [] as RawDatom[]];
  let nextEid = on.nextEid;
  for (const d of entry.datoms) {
    const raw: RawDatom = { e: d.e, a: d.a, tag: d.tag, payload: d.payload, tx: entry.tx };
    if (d.added) asserted.push(raw);
    else retracted.push(currentRaw(on, raw) ?? raw);
    // as the store counts a record's entity ids when it appends it (store-maintenance.ts)
    if (d.e < TX_BASE && d.e >= nextEid) nextEid = d.e + 1;
  }
  const facts = schemaFactsOf(entry);
  const schema = facts.length > 0 ? dbOf(on).schema.apply(facts) : dbOf(on).schema;
  return { t: entry.t, asserted, retracted, schema, nextEid, instant: entry.instant };
}

/** The stored datom `raw` names, true at the speculation's base (one an overlaid tx asserted, the overlay finds itself). */
function currentRaw(on: Speculation, raw: RawDatom): RawDatom | undefined {
  const at = { basisT: on.base.basisT, sinceT: null, history: false };
  for (const stored of on.base.ctx.store.reader.storedDatoms('eavt', [raw.e, raw.a, raw.tag, keyPayload(raw.payload)], undefined, at)) {
    if (stored.added) return stored.raw;
  }
  return undefined;
}

export function dbOf(speculation: Speculation): Db {
  return speculation.overlay ? speculation.base.withOverlay(speculation.overlay) : speculation.base;
}

/** Prepare `inputs` in order on `from`; a call that fails leaves no trace on the ones after it. */
export function prepareBatch(conn: Connection, stream: LogStream, inputs: readonly BatchInput[], from: Speculation): PreparedBatch {
  const t = dbOf(from).basisT + 1;
  const batch: PreparedBatch = { t, included: [], failed: [], deferredFrom: inputs.length, after: from };
  let [spec, records, bytesSoFar] = [from, 0, 0];
  for (let index = 0; index < inputs.length; index++) {
    const input = inputs[index]!;
    if (records > 0 && records + input.txDatas.length > MAX_BATCH) {
      batch.deferredFrom = index;
      break;
    }
    let call: { prepared: PreparedTx[]; bytes: Buffer[]; after: Speculation };
    try {
      call = prepareCall(conn, input, spec);
    } catch (error) {
      batch.failed.push({ index, error });
      continue;
    }
    const size = call.bytes.reduce((sum, b) => sum + b.length, 0);
    if (size > stream.maxRecordBytes(call.bytes.length)) {
      batch.failed.push({ index, error: tooLarge(size, stream.maxRecordBytes(call.bytes.length), input.isBatch) });
      continue;
    }
    if (bytesSoFar + size > stream.maxRecordBytes(records + call.bytes.length)) {
      batch.deferredFrom = index;
      break;
    }
    batch.included.push({ index, prepared: call.prepared, bytes: call.bytes });
    [spec, records, bytesSoFar] = [call.after, records + call.bytes.length, bytesSoFar + size];
  }
  batch.after = spec;
  return batch;
}

/** One call's transactions, each against the db with the ones before it; a failure carries its batchIndex. */
function prepareCall(conn: Connection, input: BatchInput, from: Speculation): { prepared: PreparedTx[]; bytes: Buffer[]; after: Speculation } {
  const [prepared, bytes] = [[] as PreparedTx[], [] as Buffer[]];
  let [spec, chain] = [from, from.chain];
  for (const [batchIndex, item] of input.txDatas.entries()) {
    const db = dbOf(spec);
    try {
      const txData = input.isBatch && typeof item === 'function' ? (item as (db: Db) => unknown)(db) : item;
      const p = prepareTx(db, txData, { t: db.basisT + 1, nextEid: spec.nextEid, lastInstant: spec.lastInstant, strictSchema: conn.strictSchema, functions: conn.functions });
      const record = encodeLogRecord(toLogEntry(p));
      chain = chainStep(chain, record);
      prepared.push(p);
      bytes.push(record);
      spec = speculate(spec, [p], chain);
    } catch (err) {
      // as an embedded transactBatch says which of its transactions failed
      if (input.isBatch && err instanceof FactlogError) (err as FactlogError & { batchIndex?: number }).batchIndex = batchIndex;
      throw err;
    }
  }
  return { prepared, bytes, after: spec };
}

/** A failure of the tx data itself, which a newer db may not have: a cluster error is not one. */
export function isDataFailure(error: unknown): boolean {
  return error instanceof FactlogError && !error.code.startsWith('cluster/');
}

function tooLarge(bytes: number, max: number, isBatch: boolean): ClusterError {
  const what = isBatch ? "the batch's log records are" : "the transaction's log record is";
  return new ClusterError('cluster/tx-too-large', `${what} ${bytes} bytes, over the ${max} a NATS message holds here (max_payload): split it`);
}
