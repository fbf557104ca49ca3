// The end of an import: the database the import wrote, copied table by table into a new file with
// every index repacked in key order, so it holds no free pages and its index pages are full.
//
// During an import (StoreOptions.bulkLoad) a big transaction's keys go into the indexes one by
// one instead of being merged into packed runs: merging a transaction's keys into runs made by
// earlier ones cost a seek and a rewrite of up to 900 bytes per run touched, most of an import's
// time. Packing once at the end writes each index sequentially, one LMDB entry per run.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb, type Database, type RootDatabase } from 'lmdb';
import { Tag, type KeyPart } from './encoding.js';
import { KeyListBuilder, PackedIndex, runsFlagIn } from './packed-index.js';
import { DATA_FILE, DB_NAMES, environmentOptions, indexDbOptions, keyCodecOf, PACKED_FORMAT } from './store-format.js';
import { writeSortedIndexes, type SortedDatoms } from './sorted-import.js';

/** Keys (or raw entries) per write transaction of the copy: bounded memory, few commits. */
const CHUNK = 200_000;
/** A copied table's bytes per write transaction: a log record is kilobytes, and a write transaction's pages are held in memory until it commits. */
const CHUNK_BYTES = 16 << 20;
/** The tables keyed by t (LMDB integer keys): opened with the same flag, or LMDB refuses them. */
const INTEGER_KEYED = new Set(['log', 'chain']);
/** Every table is written in key order from empty: LMDB fills each page (it splits pages in half otherwise). */
const APPEND = { append: true } as const;
const isIndex = (name: string) => /^(eavt|aevt|avet|vaet)(\.history)?$/.test(name);

/**
 * Rewrite the closed database in `dir` (an import's side directory, which nothing else opens):
 * the same tables with the same contents, indexes packed into runs, in a new file that replaces
 * the old one. Databases of formats before runs (4) are left as they are. `sorted`: the datoms of
 * the transactions whose log records alone were written (an import's sorted part), checked and
 * merged into the indexes here (sorted-import.ts).
 */
export async function packImportedDatabase(dir: string, sorted?: SortedDatoms): Promise<void> {
  const file = path.join(dir, DATA_FILE);
  const packedFile = `${file}.packed`;
  const source = openLmdb({ ...environmentOptions(file, { readOnly: true }), maxDbs: 32 });
  let format: number;
  try {
    format = source.openDB<unknown, string>('meta', {}).get('formatVersion') as number;
    if (!(format >= PACKED_FORMAT)) return;
    removeEnvironment(packedFile);
    const target = openLmdb({ ...environmentOptions(packedFile, {}), maxDbs: 32 });
    try {
      for (const name of DB_NAMES) if (!isIndex(name)) copyTable(source, target, name);
      const meta = target.openDB<any, string>('meta', {});
      // the current VAET is left out while importing (index-writes.ts): made from AVET
      const sourceKeys = (name: string) => (name === 'vaet' ? refKeysInVaetOrder(source, format) : indexOf(source, name, format).keys(undefined, undefined));
      if (sorted) writeSortedIndexes({ keys: sourceKeys }, target, meta, format, sorted);
      else for (const name of DB_NAMES) if (isIndex(name)) packIndex(source, target, meta, name, format, name === 'vaet' ? refKeysInVaetOrder(source, format) : undefined);
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
  removeEnvironment(file);
  fs.renameSync(packedFile, file);
}

/** A table's entries as they are, bytes for bytes, in key order. */
function copyTable(source: RootDatabase, target: RootDatabase, name: string): void {
  const options = { keyEncoding: INTEGER_KEYED.has(name) ? 'uint32' : 'binary', encoding: 'binary' } as const;
  const from = source.openDB<Buffer, any>(name, options);
  const to = target.openDB<Buffer, any>(name, options);
  let batch: { key: unknown; value: Buffer }[] = [];
  let bytes = 0;
  const flush = () => {
    target.transactionSync(() => {
      for (const { key, value } of batch) to.putSync(key as never, value, APPEND);
    });
    batch = [];
    bytes = 0;
  };
  for (const { key, value } of from.getRange({})) {
    // lmdb-js reuses the buffers it returns: copied before the next read
    batch.push({ key: Buffer.isBuffer(key) ? Buffer.from(key) : key, value: Buffer.from(value) });
    bytes += value.length;
    if (batch.length === CHUNK || bytes >= CHUNK_BYTES) flush();
  }
  if (batch.length) flush();
}

/** Every key of an index, in key order, into the new file as packed runs. */
function packIndex(source: RootDatabase, target: RootDatabase, meta: Database<any, string>, name: string, format: number, keys?: Iterable<KeyPart[]>): void {
  const codec = keyCodecOf(format);
  const to = new PackedIndex(target.openDB<Buffer, any>(name, indexDbOptions(format)), true, runsFlagIn(meta, name), undefined, codec);
  const write = (key: KeyPart[], bytes: Uint8Array, pos: number) => codec.writeKey(key, bytes, pos);
  let builder = new KeyListBuilder(CHUNK);
  let count = 0;
  const flush = () => {
    const keys = builder.finish();
    target.transactionSync(() => {
      to.beginWrite();
      to.putMany(keys, true);
    });
    builder = new KeyListBuilder(CHUNK);
    count = 0;
  };
  for (const key of keys ?? indexOf(source, name, format).keys(undefined, undefined)) {
    builder.addWritten(write, key as KeyPart[]);
    if (++count === CHUNK) flush();
  }
  if (count) flush();
}

function indexOf(source: RootDatabase, name: string, format: number): PackedIndex {
  return new PackedIndex(source.openDB<Buffer, any>(name, indexDbOptions(format)), true, undefined, undefined, keyCodecOf(format));
}

/**
 * The current VAET's keys [v, a, e, tx], in key order, from AVET's [a, tag, v, e, tx]: each
 * attribute's ref keys are in (v, e, tx) order there, so merging them by (v, a) gives VAET's order.
 */
export function* refKeysInVaetOrder(source: RootDatabase, format: number): Generator<KeyPart[]> {
  const avet = indexOf(source, 'avet', format);
  const meta = source.openDB<unknown, string>('meta', {});
  const attrs = [...meta.getKeys({ start: 'count:', end: 'count;' })].map((key) => Number(String(key).slice('count:'.length)));
  const heads: { next: () => IteratorResult<KeyPart[]>; key: KeyPart[] }[] = [];
  for (const a of attrs.sort((x, y) => x - y)) {
    const keys = avet.keys([a, Tag.Ref], [a, Tag.Ref + 1])[Symbol.iterator]();
    const first = keys.next();
    if (!first.done) heads.push({ next: () => keys.next(), key: first.value });
  }
  while (heads.length) {
    let min = 0; // heads are in attribute order: the first of equal values wins
    for (let i = 1; i < heads.length; i++) if ((heads[i]!.key[2] as number) < (heads[min]!.key[2] as number)) min = i;
    const head = heads[min]!;
    const [a, , v, e, tx] = head.key;
    yield [v!, a!, e!, tx!];
    const next = head.next();
    if (next.done) heads.splice(min, 1);
    else head.key = next.value;
  }
}

/** An LMDB file and its lock file. */
function removeEnvironment(file: string): void {
  fs.rmSync(file, { force: true });
  fs.rmSync(`${file}-lock`, { force: true });
}
