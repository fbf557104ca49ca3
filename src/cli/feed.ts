// CLI commands over the log: replicas and backups.
import path from 'node:path';
import { backup, restore } from '../feed/backup.js';
import { replicate } from '../feed/replica.js';
import { Store } from '../storage/store.js';
import { compact, excise } from '../feed/excise.js';
import { CliError, dbDir, hasDatabase, inCliTerms, inputText, loadFunctions } from './common.js';
import { plural } from './format.js';

export async function replicateCommand(opts: { from: string; to: string; follow?: boolean }): Promise<void> {
  // a mistyped --from must not leave an empty replica behind at --to
  const source = path.resolve(opts.from);
  if (!hasDatabase(source)) throw new CliError('cli/no-database', `no factlog database at ${source} (--from names the primary)`);
  const startT = await replicaT(path.resolve(opts.to));
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const started = performance.now();
  try {
    const lastT = await replicate({
      from: opts.from,
      to: opts.to,
      follow: opts.follow,
      signal: controller.signal,
      onProgress: (t) => {
        if (opts.follow) process.stderr.write(`replicated up to t ${t}\n`);
      },
    });
    const secs = (performance.now() - started) / 1000;
    const copied = startT === undefined ? undefined : lastT - startT;
    const what = copied === 0 ? 'up to date' : `${copied === undefined ? 'caught up' : plural(copied, 'transaction')} in ${secs.toFixed(2)} s`;
    process.stdout.write(`replica ${opts.to} at t ${lastT} (${what})\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** The last t of the replica at `dir` before this run: -1 when there is none yet; undefined when it cannot be read. */
async function replicaT(dir: string): Promise<number | undefined> {
  if (!hasDatabase(dir)) return -1;
  let store: Store;
  try {
    store = Store.open({ path: dir, create: false, readOnly: true }).store;
  } catch {
    return undefined; // replicate itself reports what is wrong with it
  }
  try {
    return store.lastT();
  } finally {
    await store.close();
  }
}

export async function backupCommand(dir: string | undefined, target: string, opts: { db?: string; compact?: boolean }): Promise<void> {
  const source = dir ?? dbDir(opts.db);
  await backup(source, target, { compact: opts.compact }).catch((err) => {
    throw inCliTerms(err, source);
  });
  process.stdout.write(`backed up ${source} to ${target}\n`);
}

export async function restoreCommand(backupDir: string, target: string): Promise<void> {
  await restore(backupDir, target).catch((err) => {
    throw inCliTerms(err, path.resolve(backupDir));
  });
  process.stdout.write(`restored ${backupDir} into ${target}\n`);
}

export async function exciseCommand(edn: string | undefined, opts: { db?: string; file?: string; txFns?: string }): Promise<void> {
  const dir = dbDir(opts.db);
  if (!hasDatabase(dir)) throw new CliError('cli/no-database', `no factlog database at ${dir}`);
  const functions = await loadFunctions(opts.txFns);
  const text = await inputText(edn, opts.file, 'excision request');
  const report = await excise(dir, text, functions ?? {}).catch((err) => {
    throw inCliTerms(err, dir);
  });
  process.stdout.write(`excised ${plural(report.excisedDatoms, 'datom')} from ${dir}; the request is t ${report.t}\n`);
}

export async function compactCommand(opts: { db?: string }): Promise<void> {
  const dir = dbDir(opts.db);
  if (!hasDatabase(dir)) throw new CliError('cli/no-database', `no factlog database at ${dir}`);
  const { bytesBefore, bytesAfter } = await compact(dir).catch((err) => {
    throw inCliTerms(err, dir);
  });
  process.stdout.write(`compacted ${dir}: ${bytesBefore} -> ${bytesAfter} bytes\n`);
}
