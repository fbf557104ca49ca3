// Backups: a consistent copy of a database taken from one read snapshot while the writer goes on,
// written under a temporary name, flushed and read back before it takes the target's name.
import fs from 'node:fs';
import path from 'node:path';
import { FactlogError } from '../../query-lang/errors.js';
import { DATA_FILE, Store, StorageError } from '../storage/store.js';
import { syncDirectoryOf, syncFile } from '../storage/log-file.js';

/**
 * Copy the database at `dir` into the empty (or new) directory `target`. Either the target ends up
 * holding a copy that was flushed and read back whole, or (storage/backup-failed) nothing is left
 * at its data file's name. A source that cannot be opened keeps its own error (nothing is created).
 */
export async function backup(dir: string, target: string, options: { compact?: boolean } = {}): Promise<void> {
  const targetDir = path.resolve(target);
  const { store } = Store.open({ path: dir, create: false, readOnly: true });
  let made: { undo(): void } | undefined;
  try {
    if (fs.existsSync(targetDir) && (!fs.statSync(targetDir).isDirectory() || fs.readdirSync(targetDir).length > 0)) {
      throw new StorageError('storage/target-not-empty', `backup target ${targetDir} is not empty`);
    }
    made = directoriesMadeFor(targetDir);
    await copyInto(store, targetDir, options.compact ?? false);
  } catch (err) {
    made?.undo();
    throw err instanceof FactlogError ? err : backupFailed(targetDir, err);
  } finally {
    await store.close();
  }
}

/** Restore a backup into a new directory: the backup is checked before it is copied, the copy after. */
export async function restore(backupDir: string, target: string): Promise<void> {
  await verifyDatabase(path.resolve(backupDir), -1);
  await backup(backupDir, target);
}

/** Copy through a staging directory inside the target (so the rename stays on its file system). */
async function copyInto(store: Store, targetDir: string, compact: boolean): Promise<void> {
  const staging = path.join(targetDir, `.factlog-backup-${process.pid}`);
  const staged = path.join(staging, DATA_FILE);
  try {
    const fromT = store.lastT();
    await store.backup(staging, compact);
    syncFile(staged);
    await verifyDatabase(staging, fromT);
    fs.renameSync(staged, path.join(targetDir, DATA_FILE));
    syncDirectoryOf(path.join(targetDir, DATA_FILE));
  } catch (err) {
    throw err instanceof FactlogError && err.code === 'storage/backup-failed' ? err : backupFailed(targetDir, err);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function backupFailed(targetDir: string, err: unknown): StorageError {
  const cause = err instanceof FactlogError ? `${err.message} [${err.code}]` : (err as Error).message;
  return new StorageError('storage/backup-failed', `the backup to ${targetDir} failed, nothing was kept: ${cause}`);
}

/**
 * Open the copy at `dir` and read its whole log: its entries run from t 0 to the t its meta says,
 * at least `atLeastT` (the source's t when the copy began). A copy short of pages is refused
 * before it is mapped (storage/damaged-file).
 */
async function verifyDatabase(dir: string, atLeastT: number): Promise<void> {
  const { store } = Store.open({ path: dir, create: false, readOnly: true });
  try {
    const lastT = store.lastT();
    let next = 0;
    for (const entry of store.logRange()) {
      if (entry.t !== next) break;
      next++;
    }
    if (next - 1 !== lastT || lastT < atLeastT) {
      throw new StorageError(
        'storage/backup-failed',
        `${path.join(dir, DATA_FILE)} does not read back whole: its log ends at t ${next - 1}, its meta says t ${lastT}${atLeastT >= 0 ? ` (copied at t ${atLeastT})` : ''}`,
      );
    }
  } finally {
    await store.close();
  }
}

/** Create `dir` (and missing parents); undo removes exactly what was created, or the files put in an existing `dir`. */
function directoriesMadeFor(dir: string): { undo(): void } {
  let topNew: string | undefined;
  for (let d = dir; !fs.existsSync(d) && path.dirname(d) !== d; d = path.dirname(d)) topNew = d;
  fs.mkdirSync(dir, { recursive: true });
  const top = topNew;
  return {
    undo: () => {
      if (top !== undefined) fs.rmSync(top, { recursive: true, force: true });
      else fs.rmSync(path.join(dir, DATA_FILE), { force: true });
    },
  };
}
