// How much of a database's LMDB file is free pages, and when a compaction on open is worth it.
import type { RootDatabase } from 'lmdb';
import { DB_NAMES } from './store-format.js';

export interface FreeSpace {
  /** The LMDB file up to its last page written. */
  fileBytes: number;
  /** Pages in the file that no table holds: LMDB reuses them, a compaction gives them back. */
  freeBytes: number;
}

/**
 * When `open` compacts a database first (`factlog compact`'s rewrite): free pages of at least
 * `freeShare` of the file and at least `minFreeBytes`. False: never.
 */
export type AutoCompact = false | { freeShare?: number; minFreeBytes?: number };

/** Half the file and 64 MB free: a rewrite then costs less than the pages it gives back. */
export const AUTO_COMPACT_DEFAULTS = { freeShare: 0.5, minFreeBytes: 64 * 2 ** 20 };

interface TreeStats {
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
}

const pagesOf = (s: TreeStats) => s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;

/** From LMDB's statistics of every table (nothing is scanned). */
export function freeSpaceOf(env: RootDatabase): FreeSpace {
  const stats = env.getStats() as TreeStats & { pageSize: number; lastPageNumber: number; root: TreeStats; free: TreeStats };
  // the two meta pages, the tables' directory and the free list itself are in use
  let used = 2 + pagesOf(stats.root) + pagesOf(stats.free);
  for (const name of DB_NAMES) used += pagesOf(env.openDB(name, { encoding: 'binary', keyEncoding: 'binary' }).getStats() as TreeStats);
  const filePages = stats.lastPageNumber + 1;
  return { fileBytes: filePages * stats.pageSize, freeBytes: Math.max(0, filePages - used) * stats.pageSize };
}

/** Whether free space this large is worth a compaction under `policy`. */
export function worthCompacting(space: FreeSpace, policy: AutoCompact | undefined): boolean {
  if (policy === false) return false;
  const { freeShare, minFreeBytes } = { ...AUTO_COMPACT_DEFAULTS, ...policy };
  return space.freeBytes >= minFreeBytes && space.freeBytes >= freeShare * space.fileBytes;
}
