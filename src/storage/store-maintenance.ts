// Whole-store jobs beside commits: rebuilding the indexes from the log, appending log entries
// written elsewhere (a replica, the log file's unindexed records), and backups.
import fs from 'node:fs';
import path from 'node:path';
import type { RootDatabase } from 'lmdb';
import { TX_BASE, type IndexName } from './encoding.js';
import type { FulltextIndex } from './fulltext-index.js';
import type { IndexWrites } from './index-writes.js';
import { encodeLogRecord, type LogEntry } from './log.js';
import type { LogRecord } from './log-file.js';
import type { LogTable } from './log-table.js';
import type { PackedIndex } from './packed-index.js';
import { DATA_FILE, INDEXES, StorageError } from './store-format.js';
import type { StoreMeta } from './store-meta.js';

export type KeepHistory = (a: number, entry: LogEntry) => boolean;

/** What these jobs need of a store. */
export interface MaintenanceTarget {
  readonly format: number;
  readonly meta: StoreMeta;
  readonly log: LogTable;
  readonly current: Record<IndexName, PackedIndex>;
  readonly history: Record<IndexName, PackedIndex>;
  readonly fulltext: FulltextIndex;
  readonly indexWrites: IndexWrites;
  /** Log records of the commit being built, for the log file. */
  readonly pendingRecords: LogRecord[];
}

/** Inside a write transaction: drop every index and rebuild it from the log alone. */
export function rebuildIndexes(target: MaintenanceTarget, keepHistory: KeepHistory): void {
  for (const index of INDEXES) {
    target.current[index].clear();
    target.history[index].clear();
  }
  target.meta.clearCounts();
  target.meta.bumpIndexEpoch();
  target.fulltext.clear();
  for (const entry of target.log.range(0, Number.MAX_SAFE_INTEGER)) target.indexWrites.indexLogEntry(entry, keepHistory);
  target.log.chain.rebuild(target.meta.read().lastT);
}

/**
 * Inside a write transaction: log entries written elsewhere appended and indexed, keeping their
 * t, tx and entity ids; into the log file with this commit when `toLogFile` (not when they came
 * from there).
 */
export function appendEntries(target: MaintenanceTarget, entries: LogEntry[], keepHistory: KeepHistory, toLogFile: boolean): void {
  let meta = target.meta.read();
  for (const entry of entries) {
    if (entry.t !== meta.lastT + 1) {
      throw new StorageError('storage/log-gap', `log entry t=${entry.t} does not follow t=${meta.lastT}`);
    }
    const record = encodeLogRecord(entry);
    target.log.put(entry.t, record, () => entry);
    if (toLogFile) target.pendingRecords.push({ t: entry.t, bytes: record });
    target.indexWrites.indexLogEntry(entry, keepHistory);
    let nextEid = meta.nextEid;
    for (const d of entry.datoms) if (d.e < TX_BASE && d.e >= nextEid) nextEid = d.e + 1;
    meta = { lastT: entry.t, nextEid, lastInstant: entry.instant };
  }
  target.meta.put(meta, target.format);
}

/** A consistent copy of the whole database (taken from one read snapshot) into an empty directory. */
export async function backupEnvironment(env: RootDatabase, targetDir: string, compact: boolean): Promise<void> {
  const target = path.resolve(targetDir);
  if (fs.existsSync(target) && fs.readdirSync(target).length > 0) {
    throw new StorageError('storage/target-not-empty', `backup target ${target} is not empty`);
  }
  fs.mkdirSync(target, { recursive: true });
  await env.backup(path.join(target, DATA_FILE), compact);
}
