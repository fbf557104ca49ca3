// Excision on a live connection: the database rebuilt beside its directory with the request's
// log entry last and the excised datoms left out, then put in place of the files the connection
// has open while its store is closed, so a SIGKILL at any step leaves the old database or the new.
import { logFileIdentity, otherProcessUsing, putInPlace, removeLeftSideDirectories, sideDirectory } from '../storage/compaction.js';
import { removeDatabaseFiles } from '../storage/database-files.js';
import { storesOpenIn } from '../storage/env-gate.js';
import type { ExcisionRule } from '../storage/excision.js';
import type { LogEntry } from '../storage/log.js';
import { StorageError, type Store } from '../storage/store.js';
import { rebuildWithout } from './excision.js';

/** Closes the connection's store, calls `replace` (which moves the new files in), and opens the store again whatever happened. */
export type ReplaceFiles = (replace: () => void) => Promise<void>;

/**
 * Rewrite the database `store` has open with `request` (the next t) committed and what `rules`
 * excise left out; the connection's writes wait meanwhile. Another process with the database
 * open, or another store of this process (a follower, a read-only connection), makes it
 * `storage/excise-busy` and changes nothing. Returns how many datoms left the log.
 */
export async function exciseLive(store: Store, request: LogEntry, rules: readonly ExcisionRule[], replaceFiles: ReplaceFiles): Promise<number> {
  const dir = store.dir;
  checkAlone(dir);
  removeLeftSideDirectories(dir);
  const side = sideDirectory(dir, 'excise');
  removeDatabaseFiles(side);
  try {
    const before = logFileIdentity(dir);
    const excised = await rebuildWithout(store, side, rules, request.t - 1, [request]);
    await replaceFiles(() => putInPlace(side, dir, before, 'storage/excise-busy'));
    return excised;
  } finally {
    removeDatabaseFiles(side);
  }
}

function checkAlone(dir: string): void {
  const user = otherProcessUsing(dir);
  if (user !== undefined) throw new StorageError('storage/excise-busy', `process ${user} has the database at ${dir} open; nothing was changed (excise once it is closed)`);
  if (storesOpenIn(dir) > 1) {
    throw new StorageError(
      'storage/excise-busy',
      `another store of this process (a follower, a replica's source, another connection) has the database at ${dir} open; nothing was changed (excise once it is closed)`,
    );
  }
}
