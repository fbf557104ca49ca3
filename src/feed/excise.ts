// Excision, Datomic's removal of datoms for good: the database is rebuilt beside its directory
// from its log with the excised datoms left out, the request committed there as a transaction of
// its own, and the result put in place of the old files (storage/compaction.ts), so a SIGKILL at
// any step leaves the old database or the new, and no byte of an excised value stays in a file.
import { open, type OpenOptions } from '../connection.js';
import { Attr } from '../db/schema.js';
import { excisionRulesIn, rebuildWithout } from '../db/excision.js';
import type { Datom } from '../db/api.js';
import { TX_BASE } from '../storage/encoding.js';
import { compactDatabase, logFileIdentity, type CompactReport, otherProcessUsing, putInPlace, removeLeftSideDirectories, sideDirectory } from '../storage/compaction.js';
import { removeDatabaseFiles } from '../storage/database-files.js';
import { storesOpenIn } from '../storage/env-gate.js';
import { StorageError } from '../storage/store.js';
import { txError } from '../tx/errors.js';
import { prepareTx, type PreparedTx } from '../tx/transact.js';
import { TX_TEMPID } from '../tx/txdata.js';
import path from 'node:path';

export interface ExciseReport {
  /** The t of the transaction recording the request. */
  t: number;
  /** How many datoms (assertions and the retractions that ended them) left the log. */
  excisedDatoms: number;
  /** The tempids of the transaction (the request entities among them). */
  tempids: Record<string, number>;
}

/**
 * Excise what `txData`'s requests name ([:db/excise e], [:db/excise e :attrs [...]], :beforeT t,
 * :before instant, or Datomic's map form) from every t of the database at `dir`, and record the
 * requests (not the values) as a new transaction. No other process may have the database open
 * (`storage/excise-busy`); bad requests fail with a coded error and change nothing.
 */
export async function excise(dir: string, txData: unknown, options: Omit<OpenOptions, 'path'> = {}): Promise<ExciseReport> {
  const resolved = path.resolve(dir);
  removeLeftSideDirectories(resolved);
  const side = sideDirectory(resolved, 'excise');
  removeDatabaseFiles(side);
  try {
    const { excisedDatoms, before, prepared, firstNewEid } = await rebuildExcised(resolved, side, txData, options);
    const tempids = await commitRequest(side, prepared, firstNewEid, options);
    putInPlace(side, resolved, before, 'storage/excise-busy');
    return { t: prepared.t, excisedDatoms, tempids };
  } finally {
    removeDatabaseFiles(side);
  }
}

/** Check the requests against the database as it is, then rebuild it in `side` without what they excise. */
async function rebuildExcised(dir: string, side: string, txData: unknown, options: Omit<OpenOptions, 'path'>) {
  const conn = await open({ ...options, path: dir, create: false });
  try {
    const replicaOf = conn.store.replicaOf();
    if (replicaOf !== undefined) throw new StorageError('storage/excise-replica', `${dir} is a replica of ${replicaOf}: excise on the primary, and the replica follows`);
    const busy = otherProcessUsing(dir);
    if (busy !== undefined) throw new StorageError('storage/excise-busy', `process ${busy} has the database at ${dir} open; nothing was changed (excise once it is closed)`);
    if (storesOpenIn(dir) > 1) {
      throw new StorageError('storage/excise-busy', `this process has the database at ${dir} open elsewhere; nothing was changed (transact the excision on that connection instead)`);
    }
    const db = conn.db();
    const meta = conn.store.readMeta();
    const prepared = prepareTx(db, txData, {
      t: meta.lastT + 1,
      nextEid: meta.nextEid,
      lastInstant: meta.lastInstant,
      strictSchema: conn.strictSchema,
      functions: conn.functions,
      excise: 'check',
    });
    const rules = excisionRulesIn({ t: prepared.t, tx: prepared.tx, instant: prepared.instant, datoms: prepared.asserted.map((d) => ({ ...d, added: true })) }, db.schema);
    if (rules.length === 0) throw txError('tx/excise-invalid', 'the tx data holds no excision request ([:db/excise e] or {:db/excise e})');
    const before = logFileIdentity(dir);
    const excisedDatoms = await rebuildWithout(conn.store, side, rules);
    return { excisedDatoms, before, prepared, firstNewEid: meta.nextEid };
  } finally {
    await conn.close();
  }
}

/** Commit the prepared request on the rebuilt copy, its new entities as tempids (the copy has the same next id, so the same ids). */
async function commitRequest(side: string, prepared: PreparedTx, firstNewEid: number, options: Omit<OpenOptions, 'path'>): Promise<Record<string, number>> {
  const conn = await open({ ...options, path: side, create: false, durability: 'process', checkAttrPreds: false });
  try {
    conn.allowsExcision = true;
    const report = await conn.transact(asTxData(prepared, firstNewEid));
    return Object.fromEntries(Object.entries(prepared.tempids).map(([k, id]) => [k, report.tempids[tempidOf(id)] ?? id]));
  } finally {
    await conn.close();
  }
}

/** The prepared datoms as tx data for the copy: new entities as tempids, the transaction as datomic.tx (its instant is the copy's own). */
function asTxData(prepared: PreparedTx, firstNewEid: number): unknown[] {
  const entity = (e: number) => (e === prepared.tx ? TX_TEMPID : e >= firstNewEid && e < TX_BASE ? tempidOf(e) : e);
  const value = (d: Datom) => (prepared.schema.attr(d.a)?.valueType === 'ref' ? entity(d.v as number) : d.v);
  return prepared
    .txData()
    .filter((d) => !(d.e === prepared.tx && d.a === Attr.txInstant))
    .map((d) => [d.added ? ':db/add' : ':db/retract', entity(d.e), d.a, value(d)]);
}

function tempidOf(e: number): string {
  return `excise-${e}`;
}

/**
 * Reclaim LMDB's free pages (storage/compaction.ts): the file rewritten without them, so nothing
 * it freed (an excised value's old pages among them) stays. The log file is replayed first.
 */
export async function compact(dir: string): Promise<CompactReport> {
  const conn = await open({ path: dir, create: false });
  await conn.close();
  return compactDatabase(dir);
}
