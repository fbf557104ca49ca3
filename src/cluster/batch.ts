// A node's group commit: the transactions waiting on a node, prepared in order against its latest
// db (each against the db with the ones before it, as `with` does) as the records of one message.
import { FactlogError } from '../../query-lang/errors.js';
import type { Connection } from '../connection.js';
import type { Db } from '../db/db.js';
import { Overlay } from '../db/overlay.js';
import { encodeLogRecord, toLogEntry } from '../storage/log.js';
import { chainStep } from '../storage/log-chain.js';
import { prepareTx, type PreparedTx } from '../tx/transact.js';
import { ClusterError, type LogStream } from './stream.js';

/** Transactions in one message at most. */
export const MAX_BATCH = 128;

/** The batch as a message: what went in, what failed (against this base), and where it stopped. */
export interface PreparedBatch {
  basisT: number;
  included: { index: number; prepared: PreparedTx; bytes: Buffer }[];
  failed: { index: number; error: unknown }[];
  /** The first index left for a later message (it did not fit); txDatas.length when all were taken. */
  deferredFrom: number;
  /** The log's hash chain after the included records. */
  chain: string;
}

/** Prepare `txDatas` in order against the node's latest db; a tx that fails leaves no trace on the ones after it. */
export function prepareBatch(conn: Connection, stream: LogStream, txDatas: readonly unknown[]): PreparedBatch {
  const base = conn.db();
  const meta = conn.store.readMeta();
  const batch: PreparedBatch = { basisT: base.basisT, included: [], failed: [], deferredFrom: txDatas.length, chain: '' };
  let db: Db = base;
  let overlay: Overlay | undefined;
  let [nextEid, lastInstant, bytesSoFar] = [meta.nextEid, meta.lastInstant, 0];
  let chain = conn.store.chainHash(base.basisT)!;
  for (let index = 0; index < txDatas.length; index++) {
    if (batch.included.length === MAX_BATCH) {
      batch.deferredFrom = index;
      break;
    }
    let prepared: PreparedTx;
    try {
      prepared = prepareTx(db, txDatas[index], { t: db.basisT + 1, nextEid, lastInstant, strictSchema: conn.strictSchema, functions: conn.functions });
    } catch (error) {
      batch.failed.push({ index, error });
      continue;
    }
    const bytes = encodeLogRecord(toLogEntry(prepared));
    if (bytes.length > stream.maxRecordBytes(1)) {
      batch.failed.push({ index, error: tooLarge(bytes.length, stream.maxRecordBytes(1)) });
      continue;
    }
    if (bytesSoFar + bytes.length > stream.maxRecordBytes(batch.included.length + 1)) {
      batch.deferredFrom = index;
      break;
    }
    batch.included.push({ index, prepared, bytes });
    bytesSoFar += bytes.length;
    chain = chainStep(chain, bytes);
    [nextEid, lastInstant] = [prepared.nextEid, prepared.instant];
    overlay = (overlay ?? Overlay.empty(base.basisT, base.schema, meta.nextEid)).extend(prepared.t, prepared.asserted, prepared.retracted, prepared.schema, prepared.nextEid);
    db = base.withOverlay(overlay);
  }
  batch.chain = chain.toString('hex');
  return batch;
}

/** A failure of the tx data itself, which a newer db may not have: a cluster error is not one. */
export function isDataFailure(error: unknown): boolean {
  return error instanceof FactlogError && !error.code.startsWith('cluster/');
}

function tooLarge(bytes: number, max: number): ClusterError {
  return new ClusterError('cluster/tx-too-large', `the transaction's log record is ${bytes} bytes, over the ${max} a NATS message holds here (max_payload): split it`);
}
