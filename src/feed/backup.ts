// Backups: a consistent copy of a database taken from one read snapshot while the writer goes on.
import { Store } from '../storage/store.js';

/** Copy the database at `dir` into the empty (or new) directory `target`. */
export async function backup(dir: string, target: string, options: { compact?: boolean } = {}): Promise<void> {
  const { store } = Store.open({ path: dir, create: false, readOnly: true });
  try {
    await store.backup(target, options.compact ?? false);
  } finally {
    await store.close();
  }
}

/** Restore a backup into a new directory: the copy is itself a database; copying it again keeps the original safe. */
export async function restore(backupDir: string, target: string): Promise<void> {
  await backup(backupDir, target);
}
