// Where a database's bytes go: pages in use per LMDB table, free pages, and the log file.
import fs from 'node:fs';
import path from 'node:path';
import { open as openLmdb } from 'lmdb';
import { LOG_FILE } from '../src/storage/log-file.js';
import { DATA_FILE, DB_NAMES } from '../src/storage/store-format.js';

export interface DiskUsage {
  pageSize: number;
  /** Pages of the LMDB file up to its last page written. */
  filePages: number;
  /** Pages holding some table's branches, leaves or overflow (the two meta pages and the free list included). */
  usedPages: number;
  /** Pages LMDB keeps for reuse: in the file, holding nothing. */
  freePages: number;
  /** Pages in use per table, and its LMDB entries. */
  tables: Record<string, { pages: number; entries: number }>;
  logFileBytes: number;
}

interface TreeStats {
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
  entryCount: number;
}

const pagesOf = (s: TreeStats) => s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;

/** Read-only, from LMDB's own statistics: nothing is scanned. */
export function diskUsage(dir: string, withLogFile = true): DiskUsage {
  const env = openLmdb({ path: path.join(dir, DATA_FILE), noSubdir: true, readOnly: true, maxDbs: 32 });
  try {
    const stats = env.getStats() as TreeStats & { pageSize: number; lastPageNumber: number; root: TreeStats; free: TreeStats };
    const tables: DiskUsage['tables'] = {};
    let usedPages = 2 + pagesOf(stats.root) + pagesOf(stats.free);
    for (const name of DB_NAMES) {
      let s: TreeStats;
      try {
        s = env.openDB(name, { encoding: 'binary', keyEncoding: 'binary' }).getStats() as TreeStats;
      } catch {
        continue; // a table this file does not have (read-only opens create none)
      }
      tables[name] = { pages: pagesOf(s), entries: s.entryCount };
      usedPages += pagesOf(s);
    }
    const filePages = stats.lastPageNumber + 1;
    return { pageSize: stats.pageSize, filePages, usedPages, freePages: filePages - usedPages, tables, logFileBytes: withLogFile ? fs.statSync(path.join(dir, LOG_FILE)).size : 0 };
  } finally {
    env.close();
  }
}

/** The tables by bytes in use, biggest first, as "name MB (share)". */
export function describeTables(u: DiskUsage): string {
  const total = u.usedPages;
  return Object.entries(u.tables)
    .filter(([, t]) => t.pages > 0)
    .sort((a, b) => b[1].pages - a[1].pages)
    .map(([name, t]) => `${name} ${((t.pages * u.pageSize) / 2 ** 20).toFixed(1)} MB (${((100 * t.pages) / total).toFixed(0)}%)`)
    .join(', ');
}
