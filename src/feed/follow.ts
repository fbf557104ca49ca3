// Tail a database's log from another process: every transaction after `fromT`, in order, with no
// gaps and no duplicates. Woken by file-change notifications, with polling as the safety net.
// A database replaced under the follower (restored from a backup) is reopened, and following
// goes on only if it holds the same history as what was already yielded: the same value of the
// log's hash chain (log-chain.ts) at the last t yielded, one read per check.
import fs from 'node:fs';
import path from 'node:path';
import { FactlogError } from '../../query-lang/errors.js';
import { toDatom } from '../storage/encoding.js';
import { encodeLogRecord, type LogEntry } from '../storage/log.js';
import { CHAIN_START } from '../storage/log-chain.js';
import { DATA_FILE, Store } from '../storage/store.js';
import type { LogTx } from '../db/txlog.js';
import { excisedError, excisionsAfter } from './replica-excision.js';

export interface FollowOptions {
  /** Yield transactions with t > fromT (default -1: from the very first). */
  fromT?: number;
  /**
   * The caller's own record at `fromT` (e.g. a replica's last): following stops with
   * `feed/diverged` unless the database holds the same record there.
   */
  fromEntry?: LogEntry;
  /**
   * The caller's value of the log's hash chain at `fromT` (`Store.chainHash`, e.g. a replica's):
   * following stops with `feed/diverged` unless the database holds the same history up to there.
   */
  fromChain?: Uint8Array;
  /** Longest wait between checks when no change notification arrives (ms, default 50). */
  pollMs?: number;
  /** Stop following when aborted. */
  signal?: AbortSignal;
  /** Yield the raw log entries (ids, tags and payloads) instead of decoded datoms. */
  raw?: boolean;
}

const BATCH = 1000;
/** How long a replaced database may stay unreadable (being copied into place) before following gives up. */
const REOPEN_PATIENCE_MS = 5000;

export function follow(dir: string, options: FollowOptions & { raw: true }): AsyncGenerator<LogEntry>;
export function follow(dir: string, options?: FollowOptions): AsyncGenerator<LogTx>;
export async function* follow(dir: string, options: FollowOptions = {}): AsyncGenerator<LogTx | LogEntry> {
  const file = path.join(path.resolve(dir), DATA_FILE);
  let wake: (() => void) | null = null;
  const poke = () => wake?.();
  let source: Source | null = openSource(dir, file, poke);
  let unreadableSince = 0;
  let next = (options.fromT ?? -1) + 1;
  /** The chain at the last t yielded (or the caller's at fromT): the history the database must still hold. */
  let held: ChainPoint | undefined = options.fromChain ? { t: next - 1, hash: options.fromChain } : next === 0 ? { t: -1, hash: CHAIN_START } : undefined;
  options.signal?.addEventListener('abort', poke);
  try {
    if (options.fromEntry) checkContinues(source.store, options.fromEntry);
    if (held) checkHolds(source.store, held);
    while (!options.signal?.aborted) {
      if (!source || source.identity !== fileIdentity(file)) {
        await closeSource(source);
        source = null;
        try {
          source = openSource(dir, file, poke);
          unreadableSince = 0;
          if (options.fromEntry && !held) checkContinues(source.store, options.fromEntry);
          if (held) checkHolds(source.store, held);
        } catch (err) {
          if (err instanceof FactlogError && err.code === 'feed/diverged') throw err;
          unreadableSince ||= Date.now();
          if (Date.now() - unreadableSince > REOPEN_PATIENCE_MS) throw err;
        }
      }
      if (source) {
        source.store.refresh();
        const batch = [...take(source.store.logRange(next, next + BATCH), BATCH)];
        if (batch.length) {
          held ??= chainPoint(source.store, next - 1);
          checkHolds(source.store, held);
          const batchEnd = chainPoint(source.store, batch[batch.length - 1]!.t);
          for (const entry of batch) {
            next = entry.t + 1;
            if (entry === batch[batch.length - 1]) held = batchEnd;
            yield options.raw ? entry : decode(entry);
            if (options.signal?.aborted) return;
          }
          continue;
        }
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
    options.signal?.removeEventListener('abort', poke);
    await closeSource(source);
  }
}

/** Whether two log entries are the same record: same t, tx id, instant and datoms, byte for byte. */
export function sameRecord(a: LogEntry, b: LogEntry): boolean {
  return a.t === b.t && encodeLogRecord(a).equals(encodeLogRecord(b));
}

/** Throws feed/diverged if `store` is behind `t`, which was already read from it. */
function assertNotBehind(store: Store, t: number): void {
  const lastT = store.lastT();
  if (lastT < t) {
    throw new FactlogError(
      'feed/diverged',
      `${store.dir} is at t=${lastT}, behind t=${t} already read from it: it was restored from an older backup or replaced; replicate into a new directory`,
    );
  }
}

/** Throws feed/diverged unless `store` holds `expected` at its t. */
export function checkContinues(store: Store, expected: LogEntry): void {
  assertNotBehind(store, expected.t);
  const theirs = store.logEntry(expected.t);
  if (!theirs || !sameRecord(theirs, expected)) {
    throw new FactlogError(
      'feed/diverged',
      `${store.dir} holds another transaction at t=${expected.t} than the one already read from it: its history was replaced (restored from a backup and written since); replicate into a new directory`,
    );
  }
}

/** A t and the log's hash chain there: a whole history up to t, in 32 bytes. */
export interface ChainPoint {
  t: number;
  hash: Uint8Array;
}

function chainPoint(store: Store, t: number): ChainPoint {
  return { t, hash: store.chainHash(t)! };
}

/**
 * Throws feed/diverged unless `store` holds the history `point` stands for: a record that differs
 * at any t up to point.t changes the chain there.
 */
export function checkHolds(store: Store, point: ChainPoint): void {
  assertNotBehind(store, point.t);
  if (!Buffer.from(store.chainHash(point.t)!).equals(point.hash)) {
    const excisions = excisionsAfter(store, point.t);
    if (excisions.length > 0) throw excisedError(store, point.t, excisions);
    throw new FactlogError(
      'feed/diverged',
      `${store.dir} holds another history than the one already read from it: its log differs at t=${point.t} or before (its history was replaced: restored from a backup and written since); replicate into a new directory`,
    );
  }
}

interface Source {
  store: Store;
  /** Which file was opened, to notice it being replaced. */
  identity: string | null;
  watcher: fs.FSWatcher | null;
}

function openSource(dir: string, file: string, onChange: () => void): Source {
  const identity = fileIdentity(file);
  const { store } = Store.open({ path: dir, create: false, readOnly: true });
  return { store, identity, watcher: watchQuietly(file, onChange) };
}

async function closeSource(source: Source | null): Promise<void> {
  if (!source) return;
  source.watcher?.close();
  await source.store.close();
}

function fileIdentity(file: string): string | null {
  try {
    const s = fs.statSync(file);
    return `${s.dev}:${s.ino}`;
  } catch {
    return null;
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
