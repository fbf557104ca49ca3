// Decoded current-index keys of entities (a pull's reads), kept in memory for the state of the
// indexes they were read from: the store's last t and index epoch, both read in the same LMDB
// snapshot as the keys. The current indexes hold what the log says up to the last t, and only a
// rebuild (which bumps the epoch) rewrites them otherwise, so keys read at one (t, epoch) are the
// keys of every read at it: nothing to invalidate, a read at another state simply misses.
import { getHeapStatistics } from 'node:v8';
import type { KeyPart } from './encoding.js';
import { StorageError } from './store-format.js';

/** The budget the `entityCacheBytes` option gives: a 32nd of the JS heap's limit, at most 64 MB, by default. */
export function keyCacheBudget(option: unknown): number {
  if (option === undefined) return Math.min(64 * 2 ** 20, Math.floor(getHeapStatistics().heap_size_limit / 32));
  if (typeof option !== 'number' || !Number.isSafeInteger(option) || option < 0) {
    throw new StorageError('storage/invalid-option', `entityCacheBytes must be a whole number of bytes >= 0 (0: no cache), got ${String(option)}`, { form: String(option) });
  }
  return option;
}

/**
 * The current keys of `index` with `prefix`, from `cache` when it holds them at `state` (the
 * store's `indexState` of this step; undefined: not cacheable), else from `read(most)` (which
 * gives the first `most` keys) and kept when they are all of them. Past `limit`, maybe not all.
 */
export function cachedKeys(cache: CurrentKeyCache, index: string, prefix: readonly KeyPart[], state: string | undefined, read: (most: number) => KeyPart[][], limit = Infinity): KeyPart[][] {
  if (state === undefined || cache.budget === 0 || !CurrentKeyCache.holds(prefix)) return read(limit);
  const held = cache.get(index, prefix, state);
  if (held) return held;
  // one more than the limit says whether that was all
  const keys = read(limit + 1);
  if (keys.length <= limit) cache.put(index, prefix, state, keys);
  return keys;
}

/**
 * What one key costs on the heap, roughly: its array and its parts (a tx id is a heap number,
 * strings count by their length). Pulling every order of a 1M-datom shop history held 64 MB by
 * this count in about that much more of heapUsed.
 */
function keyBytes(key: readonly KeyPart[]): number {
  let bytes = 72 + 8 * key.length;
  for (const part of key) if (typeof part === 'string') bytes += 24 + part.length;
  return bytes;
}

const ENTRY_BYTES = 160;

interface Entry {
  keys: KeyPart[][];
  bytes: number;
  /** Read again since it was added (or last passed over): eviction passes it over once. */
  used: boolean;
}

/**
 * Keys by (index, prefix of numbers) for one state of the store at a time: a lookup at another
 * state drops everything first (states only move forward in a process's reads of a store).
 * Eviction is a clock over insertion order: an entry read since the hand last passed moves to
 * the back instead of going.
 */
export class CurrentKeyCache {
  private readonly entries = new Map<string, Entry>();
  private state = '';
  private bytes = 0;

  constructor(readonly budget: number) {}

  /** Keys of `index` with `prefix` read at `state` (`${lastT}:${epoch}`), if held. */
  get(index: string, prefix: readonly KeyPart[], state: string): KeyPart[][] | undefined {
    if (state !== this.state) return undefined;
    const entry = this.entries.get(entryKey(index, prefix));
    if (!entry) return undefined;
    entry.used = true;
    return entry.keys;
  }

  /** Keeps `keys` (not to be changed by anyone after) as those of `index` with `prefix` at `state`. */
  put(index: string, prefix: readonly KeyPart[], state: string, keys: KeyPart[][]): void {
    if (state !== this.state) this.reset(state);
    let bytes = ENTRY_BYTES;
    for (const key of keys) bytes += keyBytes(key);
    // one entity's keys never take over the cache
    if (bytes > this.budget / 8) return;
    const name = entryKey(index, prefix);
    const old = this.entries.get(name);
    if (old) this.bytes -= old.bytes;
    this.entries.set(name, { keys, bytes, used: false });
    this.bytes += bytes;
    this.evict();
  }

  /** The keys of `index` with `prefix` can be kept: an entity id, or an entity and attribute. */
  static holds(prefix: readonly KeyPart[]): boolean {
    return (prefix.length === 1 || prefix.length === 2) && typeof prefix[0] === 'number' && typeof prefix[prefix.length - 1] === 'number';
  }

  /** Bytes held (the estimate the budget bounds), and entries. */
  size(): { bytes: number; entries: number } {
    return { bytes: this.bytes, entries: this.entries.size };
  }

  /** Drops everything: the next reads decode again. */
  clear(): void {
    this.reset('');
  }

  private reset(state: string): void {
    this.entries.clear();
    this.bytes = 0;
    this.state = state;
  }

  /**
   * Past the budget, down to 7/8 of it in one pass of the hand (a Map visits what is set again
   * during the pass, at its end): evicting one entry per put, from a new iterator each time, made
   * a scan larger than the cache twice as slow as no cache, each iterator stepping over the holes
   * the deletions before it left.
   */
  private evict(): void {
    if (this.bytes <= this.budget) return;
    const target = this.budget - (this.budget >> 3);
    for (const [name, entry] of this.entries) {
      if (this.bytes <= target) return;
      this.entries.delete(name);
      if (entry.used) {
        entry.used = false;
        this.entries.set(name, entry);
      } else this.bytes -= entry.bytes;
    }
  }
}

function entryKey(index: string, prefix: readonly KeyPart[]): string {
  return prefix.length === 1 ? `${index}${String(prefix[0])}` : `${index}${String(prefix[0])}/${String(prefix[1])}`;
}
