// CLI commands over the log: replicas and backups.
import { backup, restore } from '../feed/backup.js';
import { replicate } from '../feed/replica.js';
import { dbDir } from './common.js';

export async function replicateCommand(opts: { from: string; to: string; follow?: boolean }): Promise<void> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const started = performance.now();
  let first: number | null = null;
  try {
    const lastT = await replicate({
      from: opts.from,
      to: opts.to,
      follow: opts.follow,
      signal: controller.signal,
      onProgress: (t) => {
        first ??= t;
        if (opts.follow) process.stderr.write(`replicated up to t ${t}\n`);
      },
    });
    const secs = (performance.now() - started) / 1000;
    const copied = first === null ? 0 : lastT - first + 1;
    process.stdout.write(`replica ${opts.to} at t ${lastT}${copied ? ` (${copied}+ transactions in ${secs.toFixed(2)} s)` : ' (up to date)'}\n`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export async function backupCommand(dir: string | undefined, target: string, opts: { db?: string; compact?: boolean }): Promise<void> {
  const source = dir ?? dbDir(opts.db);
  await backup(source, target, { compact: opts.compact });
  process.stdout.write(`backed up ${source} to ${target}\n`);
}

export async function restoreCommand(backupDir: string, target: string): Promise<void> {
  await restore(backupDir, target);
  process.stdout.write(`restored ${backupDir} into ${target}\n`);
}
