// Tail a database's log from another process: every transaction after `fromT`, in order, with no
// gaps and no duplicates. Woken by file-change notifications, with polling as the safety net.
import fs from 'node:fs';
import path from 'node:path';
import { toDatom } from '../storage/encoding.js';
import { DATA_FILE, Store } from '../storage/store.js';
import type { LogTx } from '../db/txlog.js';
import type { LogEntry } from '../storage/log.js';

export interface FollowOptions {
  /** Yield transactions with t > fromT (default -1: from the very first). */
  fromT?: number;
  /** Longest wait between checks when no change notification arrives (ms, default 50). */
  pollMs?: number;
  /** Stop following when aborted. */
  signal?: AbortSignal;
  /** Yield the raw log entries (ids, tags and payloads) instead of decoded datoms. */
  raw?: boolean;
}

const BATCH = 1000;

export function follow(dir: string, options: FollowOptions & { raw: true }): AsyncGenerator<LogEntry>;
export function follow(dir: string, options?: FollowOptions): AsyncGenerator<LogTx>;
export async function* follow(dir: string, options: FollowOptions = {}): AsyncGenerator<LogTx | LogEntry> {
  const { store } = Store.open({ path: dir, create: false, readOnly: true });
  let next = (options.fromT ?? -1) + 1;
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  const watcher = watchQuietly(path.join(store.dir, DATA_FILE), poke);
  options.signal?.addEventListener('abort', poke);
  try {
    while (!options.signal?.aborted) {
      store.refresh();
      const batch = [...take(store.logRange(next, next + BATCH), BATCH)];
      if (batch.length) {
        for (const entry of batch) {
          next = entry.t + 1;
          yield options.raw ? entry : decode(entry);
          if (options.signal?.aborted) return;
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 50);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
    }
  } finally {
    watcher?.close();
    options.signal?.removeEventListener('abort', poke);
    await store.close();
  }
}

function decode(entry: LogEntry): LogTx {
  return {
    t: entry.t,
    tx: entry.tx,
    instant: new Date(entry.instant),
    data: entry.datoms.map((d) => toDatom({ ...d, tx: entry.tx }, d.added)),
  };
}

function* take<T>(it: Iterable<T>, n: number): Generator<T> {
  if (n <= 0) return;
  for (const x of it) {
    yield x;
    if (--n <= 0) return;
  }
}

function watchQuietly(file: string, onChange: () => void): fs.FSWatcher | null {
  try {
    const w = fs.watch(file, { persistent: false }, onChange);
    w.on('error', () => undefined);
    return w;
  } catch {
    return null; // polling alone still works
  }
}
