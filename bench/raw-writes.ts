// The floor of the write workloads: the writes factlog's store makes for them, made by hand: the
// log record appended to a log file (and fdatasynced, unless noSync), then the LMDB writes, in a
// fresh environment opened with the store's own options (environmentOptions, indexDbOptions:
// commits not flushed, the same key codec). No tx data, schema, tempids, lookups, counts or Db values.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { environmentOptions, FORMAT_VERSION, indexDbOptions, keyCodecOf, LOG_DB_OPTIONS } from '../src/storage/store.js';
import { encodeValue, indexKey, Tag, TX_BASE, type RawDatom } from '../src/storage/encoding.js';
import type { ValueType } from '../src/db/api.js';
import { Attr } from '../src/db/schema.js';
import { compareKeys } from '../src/storage/key-codec.js';
import { KeyListBuilder, PackedIndex, runsFlagIn, type KeyList } from '../src/storage/packed-index.js';
import { encodeLogRecord } from '../src/storage/log.js';
import { LOG_FILE_START, LogFile } from '../src/storage/log-file.js';
import { attrValue, PERSON_ATTRS, type Person } from './generate.js';
import { removeDir } from './engines.js';

const BULK_INDEXES = ['eavt', 'aevt', 'avet'] as const;
type BulkIndex = (typeof BULK_INDEXES)[number];
const VALUE_TYPES: Record<string, ValueType> = { name: 'string', 'last-name': 'string', sex: 'string', age: 'long', salary: 'long' };
/** Any ids will do: the floor only needs keys of the same shape and order as factlog's. */
const FIRST_ATTR = 100;
const FIRST_ENTITY = 1_000;

export interface RawEnv {
  dir: string;
  env: RootDatabase;
  log: Database<unknown, number>;
  meta: Database<unknown, string>;
  /** The store's index databases, written through the store's own PackedIndex (single keys or runs). */
  index: Record<BulkIndex, PackedIndex>;
  history: Record<BulkIndex, PackedIndex>;
  logFile: LogFile;
  /** Where the log file's records end. */
  logEnd: number;
  /** fdatasync the log file in each commit (factlog's 'os' durability). */
  flush: boolean;
}

export function openRawEnv(workDir: string, noSync: boolean): RawEnv {
  const dir = fs.mkdtempSync(path.join(workDir, 'raw-'));
  const env = openLmdb(environmentOptions(path.join(dir, 'raw.mdb'), {}));
  const meta = env.openDB<unknown, string>('meta', {});
  // with the store's flag of an index that holds runs, in its meta table too (store.ts)
  const indexDb = (name: string) => new PackedIndex(env.openDB<Buffer, any>(name, indexDbOptions(FORMAT_VERSION)), true, runsFlagIn(meta, name), undefined, keyCodecOf(FORMAT_VERSION));
  const indexes = (suffix: string) => ({ eavt: indexDb(`eavt${suffix}`), aevt: indexDb(`aevt${suffix}`), avet: indexDb(`avet${suffix}`) });
  return {
    dir,
    env,
    log: env.openDB<unknown, number>('log', LOG_DB_OPTIONS),
    meta,
    index: indexes(''),
    history: indexes('.history'),
    logFile: LogFile.open(path.join(dir, 'raw.log')),
    logEnd: LOG_FILE_START,
    flush: !noSync,
  };
}

export async function closeRawEnv(r: RawEnv): Promise<void> {
  r.logFile.close();
  await r.env.close();
  removeDir(r.dir);
}

/** Each person's datoms (one entity each), asserted by `tx`. */
export function datomsOf(people: Person[], tx = TX_BASE + 1): RawDatom[][] {
  return people.map((p, i) =>
    PERSON_ATTRS.map((name, j) => {
      const [tag, payload] = encodeValue(attrValue(p, name), VALUE_TYPES[name]);
      return { e: FIRST_ENTITY + i, a: FIRST_ATTR + j, tag, payload, tx };
    }),
  );
}

/**
 * Sequential commits of the LMDB writes factlog's store makes for these transactions: the log
 * record, the EAVT, AEVT and AVET keys of each datom and of the tx's :db/txInstant, and the
 * meta record. A retraction removes the datom's keys and puts them into the history indexes.
 * Each commit waits one event-loop turn first, as factlog's group commit does.
 */
export async function sequentialTransactions(r: RawEnv, txs: RawDatom[][], retract = false, firstT = 2): Promise<void> {
  for (let i = 0; i < txs.length; i++) {
    const t = firstT + i;
    const tx = TX_BASE + t;
    const datoms = txs[i]!;
    await new Promise((resolve) => setImmediate(resolve));
    r.env.transactionSync(() => {
      beginWrite(r);
      const record = logRecord(t, tx, datoms, !retract);
      const { end } = r.logFile.append([{ t, bytes: record }], r.flush, r.logEnd);
      r.logEnd = end;
      r.log.putSync(t, record);
      for (const d of datoms) {
        for (const index of BULK_INDEXES) {
          const key = indexKey(index, d);
          if (!retract) r.index[index].put(key);
          else {
            r.index[index].remove(key);
            r.history[index].put([...key, tx]);
          }
        }
      }
      const instant: RawDatom = { e: tx, a: Attr.txInstant, tag: Tag.Instant, payload: t, tx };
      for (const index of BULK_INDEXES) r.index[index].put(indexKey(index, instant));
      r.meta.putSync('lastT', t);
      r.meta.putSync('lastInstant', t);
      r.meta.putSync('logFileEnd', end);
    });
  }
}

/** Every person's datoms as the keys of each index in byte form and in key order, and the log record. */
export interface BulkKeys {
  keys: Record<BulkIndex, KeyList>;
  log: Buffer;
}

export function bulkKeysOf(people: Person[]): BulkKeys {
  const datoms = datomsOf(people).flat();
  const log = logRecord(1, TX_BASE + 1, datoms, true);
  const keys = {} as Record<BulkIndex, KeyList>;
  for (const index of BULK_INDEXES) {
    const builder = new KeyListBuilder(datoms.length);
    for (const key of datoms.map((d) => indexKey(index, d)).sort(compareKeys)) builder.add(key);
    keys[index] = builder.finish();
  }
  return { keys, log };
}

/**
 * The log record appended and flushed, then one commit of it and every key, packed into runs as
 * the store packs a big transaction's keys (packed-index.ts): the floor of add-all and init.
 */
export function bulkPut(r: RawEnv, bulk: BulkKeys): void {
  r.env.transactionSync(() => {
    beginWrite(r);
    r.logEnd = r.logFile.append([{ t: 1, bytes: bulk.log }], r.flush, r.logEnd).end;
    r.log.putSync(1, bulk.log);
    for (const index of BULK_INDEXES) r.index[index].putMany(bulk.keys[index]);
  });
}

/** What the store does at the start of each commit: each index reads whether it holds runs. */
function beginWrite(r: RawEnv): void {
  for (const index of BULK_INDEXES) {
    r.index[index].beginWrite();
    r.history[index].beginWrite();
  }
}

/** The log record factlog's store writes for a transaction of these datoms (storage/log.ts). */
function logRecord(t: number, tx: number, datoms: RawDatom[], added: boolean): Buffer {
  return encodeLogRecord({ t, tx, instant: t, datoms: datoms.map((d) => ({ e: d.e, a: d.a, tag: d.tag, payload: d.payload, added })) });
}
