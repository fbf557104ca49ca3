// What a store is on disk: its formats, its files and tables, how LMDB opens them, and its errors.
import { FactlogError } from '../../query-lang/errors.js';
import type { Database, RootDatabase } from 'lmdb';
import type { IndexName, RawDatom } from './encoding.js';
import { PackedIndex, runsFlagIn } from './packed-index.js';
import { EXACT_KEY_CODEC, KEY_CODEC, KEY_MAX_STRING, type KeyCodec } from './key-codec.js';
import { VALUE_KEY_CODEC } from './value-keys.js';
import { CHAIN_DB } from './log-chain.js';
import { FULLTEXT_DB } from './fulltext-index.js';

/**
 * 7: packed runs store each key as the prefix it shares with the key before and the rest
 * (run-layout.ts): about half the bytes.
 * 6: tuples and keywords keyed in the query language's order (value-keys.ts).
 * 5: every value exactly: key strings in CESU-8 (UTF-16 order, lone surrogates kept), -0 kept
 * (key-codec.ts); log records and long values hold lone surrogates (WTF-8); each record of
 * LMDB's log table carries a CRC-32 of its t and bytes (checked on every read).
 * 4: an index entry may hold a packed run of keys (packed-index.ts).
 * 3: log records in factlog's own bytes (log.ts). 2: index keys in factlog's own byte form
 * (key-codec.ts). 1: index keys in lmdb-js's default encoding (ordered-binary). Older formats are
 * still read and written, so databases made before keep working, with older factlogs too.
 */
export const FORMAT_VERSION = 7;
/** The first format whose index keys use key-codec.ts. */
export const COMPACT_KEYS_FORMAT = 2;
/** The first format whose log records use encodeLogRecord. */
export const BINARY_LOG_FORMAT = 3;
/** The first format whose index entries may be runs of keys. */
export const PACKED_FORMAT = 4;
/** The first format that stores every value exactly (EXACT_KEY_CODEC). */
export const EXACT_VALUES_FORMAT = 5;
/** The first format that keys tuples and keywords in the query language's order (value-keys.ts). */
export const VALUE_KEYS_FORMAT = 6;
/** The first format whose packed runs hold each key as its difference from the key before (run-layout.ts). */
export const DELTA_RUNS_FORMAT = 7;
/** Format 6's codec, whose index keeps its runs in format 7's layout. */
const DELTA_RUNS_KEY_CODEC: KeyCodec = { ...VALUE_KEY_CODEC, deltaRuns: true };
/** The first format whose log table values are a CRC-32 then the record's bytes (raw, not msgpack). */
export const CHECKSUMMED_LOG_FORMAT = 5;
/** The CRC-32 before each log record of a checksummed log table. */
export const LOG_CHECKSUM = 4;
export const DATA_FILE = 'factlog.mdb';
export const INDEXES: IndexName[] = ['eavt', 'aevt', 'avet', 'vaet'];
export const DB_NAMES = ['meta', 'log', 'values', CHAIN_DB, ...INDEXES, ...INDEXES.map((i) => `${i}.history`), FULLTEXT_DB];

/** Sorts after any key element we store; closes a prefix range. */
export const KEY_MAX = KEY_MAX_STRING;

export class StorageError extends FactlogError {}

/** The LMDB environment a store opens (also what bench/raw-writes.ts measures against). */
export function environmentOptions(file: string, options: Omit<StoreOptions, 'path'>) {
  return {
    path: file,
    maxDbs: 16,
    mapSize: options.mapSize ?? 64 * 1024 ** 3,
    // a commit is durable by its records in the log file (log-file.ts); LMDB's own file is
    // flushed by a checkpoint (checkpoints.ts), or rebuilt from the log file after an OS crash
    noSync: true,
    overlappingSync: false,
    readOnly: options.readOnly ?? false,
  };
}

export const LOG_DB_OPTIONS = { keyEncoding: 'uint32' } as const;

/** The log table of a store of this format: raw bytes from the checksummed format on, msgpack before. */
export function logDbOptions(format: number): any {
  return format >= CHECKSUMMED_LOG_FORMAT ? { ...LOG_DB_OPTIONS, encoding: 'binary' } : LOG_DB_OPTIONS;
}

/** An index database of a store of this format: keys in its encoding, empty values. */
export function indexDbOptions(format: number): any {
  return { encoding: 'binary', ...(format >= COMPACT_KEYS_FORMAT ? { keyEncoder: keyCodecOf(format) } : {}) };
}

/** A store's current and history indexes, opened in its format. */
export function openIndexes(env: RootDatabase, format: number, meta: Database<any, string>): Record<'current' | 'history', Record<IndexName, PackedIndex>> {
  const open = (name: string) => new PackedIndex(env.openDB<Buffer, any>(name, indexDbOptions(format)), format >= PACKED_FORMAT, runsFlagIn(meta, name), undefined, keyCodecOf(format));
  const indexes = (suffix: string) => ({ eavt: open(`eavt${suffix}`), aevt: open(`aevt${suffix}`), avet: open(`avet${suffix}`), vaet: open(`vaet${suffix}`) });
  return { current: indexes(''), history: indexes('.history') };
}

/** The key codec of a format from 2 on (from 7 on, it also says the runs' layout). */
export function keyCodecOf(format: number): KeyCodec {
  return format >= DELTA_RUNS_FORMAT ? DELTA_RUNS_KEY_CODEC : format >= VALUE_KEYS_FORMAT ? VALUE_KEY_CODEC : format >= EXACT_VALUES_FORMAT ? EXACT_KEY_CODEC : KEY_CODEC;
}

export interface StoreOptions {
  path: string;
  /** Create the database when the directory is missing or empty (default true). */
  create?: boolean;
  readOnly?: boolean;
  /** Initial LMDB map size in bytes; lmdb-js grows the map as the data grows. */
  mapSize?: number;
  /**
   * @internal Never flush (tests and fixtures only): a resolved transact survives the process dying, but an
   * OS crash may lose any of them (the indexes are then rebuilt from what the log file kept).
   */
  noSync?: boolean;
  /**
   * What a resolved transact survives. 'os' (the default): each commit's log records are
   * fdatasynced to the log file before it resolves, so it survives a power loss or OS crash.
   * LMDB's own file is flushed in the background, once commits pause.
   * 'process': the log file is written (the OS page cache) but flushed only in the background,
   * so a resolved transact survives the process being killed (SIGKILL, a crash); on power loss
   * or a kernel crash the last second of them may be lost, never half-applied.
   */
  durability?: 'os' | 'process';
  /** @internal Create a new database in this older format (to test that older databases keep working). */
  createFormat?: number;
  /**
   * @internal An import's side database: a big transaction's keys go into the indexes one by one,
   * not packed into runs; the import packs every index once at the end (bulk-import.ts).
   */
  bulkLoad?: boolean;
  /**
   * Bytes of decoded entities (their current index keys) a store keeps in memory for pulls of
   * the latest value (default: a 32nd of the JS heap's limit, at most 64 MB; 0: none).
   */
  entityCacheBytes?: number;
}

/** A retraction to store: the datom as it was asserted (tx = asserting tx) and the retracting tx. */
export interface Retraction {
  raw: RawDatom;
  txRetracted: number;
  keepHistory: boolean;
}

export interface Meta {
  lastT: number;
  nextEid: number;
  lastInstant: number;
}
