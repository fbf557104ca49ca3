// The floor of the write workloads: raw lmdb-js doing only what any engine that keeps these
// indexes on LMDB must do, in a fresh environment opened with the store's own options (synced
// commits, the same key codec). No tx data, schema, tempids, counts or Db values.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { KEY_CODEC } from '../src/storage/key-codec.js';
import { encodeValue, indexKey, TX_BASE, type KeyPart, type RawDatom } from '../src/storage/encoding.js';
import type { ValueType } from '../src/db/api.js';
import { attrValue, PERSON_ATTRS, type Person } from './generate.js';
import { removeDir } from './engines.js';

const BULK_INDEXES = ['eavt', 'aevt', 'avet'] as const;
type BulkIndex = (typeof BULK_INDEXES)[number];
const EMPTY = Buffer.alloc(0);
const VALUE_TYPES: Record<string, ValueType> = { name: 'string', 'last-name': 'string', sex: 'string', age: 'long', salary: 'long' };
/** Any ids will do: the floor only needs keys of the same shape and order as factlog's. */
const FIRST_ATTR = 100;
const FIRST_ENTITY = 1_000;

export interface RawEnv {
  dir: string;
  env: RootDatabase;
  log: Database<unknown, number>;
  index: Record<BulkIndex, Database<Buffer, any>>;
}

export function openRawEnv(workDir: string, noSync: boolean): RawEnv {
  const dir = fs.mkdtempSync(path.join(workDir, 'raw-'));
  const env = openLmdb({ path: path.join(dir, 'raw.mdb'), maxDbs: 8, mapSize: 8 * 1024 ** 3, noSync, overlappingSync: false });
  const indexDb = (name: string) => env.openDB<Buffer, any>(name, { encoding: 'binary', keyEncoder: KEY_CODEC } as any);
  return {
    dir,
    env,
    log: env.openDB<unknown, number>('log', { keyEncoding: 'uint32' as any }),
    index: { eavt: indexDb('eavt'), aevt: indexDb('aevt'), avet: indexDb('avet') },
  };
}

export async function closeRawEnv(r: RawEnv): Promise<void> {
  await r.env.close();
  removeDir(r.dir);
}

/**
 * `n` sequential commits of one key each: the least a sequential awaited durable transact can
 * cost. Each waits one event-loop turn first, as factlog's group commit does.
 */
export async function sequentialCommits(r: RawEnv, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    r.env.transactionSync(() => r.index.eavt.putSync([FIRST_ENTITY + i, FIRST_ATTR, 2, i, TX_BASE + i], EMPTY));
  }
}

/** Every person's datoms as the keys of each index, each index's keys in key order, and the log record. */
export interface BulkKeys {
  keys: Record<BulkIndex, KeyPart[][]>;
  log: unknown[];
}

export function bulkKeysOf(people: Person[]): BulkKeys {
  const tx = TX_BASE + 1;
  const datoms: RawDatom[] = [];
  const log: unknown[] = [];
  people.forEach((p, i) => {
    PERSON_ATTRS.forEach((name, j) => {
      const [tag, payload] = encodeValue(attrValue(p, name), VALUE_TYPES[name]);
      datoms.push({ e: FIRST_ENTITY + i, a: FIRST_ATTR + j, tag, payload, tx });
      log.push(FIRST_ENTITY + i, FIRST_ATTR + j, tag, payload, 1);
    });
  });
  const keys = {} as Record<BulkIndex, KeyPart[][]>;
  for (const index of BULK_INDEXES) keys[index] = datoms.map((d) => indexKey(index, d)).sort(compareKeys);
  return { keys, log };
}

/** One synced commit of the log record and every key: the floor of add-all and init. */
export function bulkPut(r: RawEnv, bulk: BulkKeys): void {
  r.env.transactionSync(() => {
    r.log.putSync(1, bulk.log);
    for (const index of BULK_INDEXES) {
      const db = r.index[index];
      for (const key of bulk.keys[index]) db.putSync(key, EMPTY);
    }
  });
}

function compareKeys(x: KeyPart[], y: KeyPart[]): number {
  for (let i = 0; i < x.length; i++) {
    const p = x[i];
    const q = y[i];
    if (p !== q) return typeof p === typeof q ? (p < q ? -1 : 1) : typeof p === 'number' ? -1 : 1;
  }
  return 0;
}
