// Group commit: the writes queued in one turn of the event loop share one LMDB commit and one
// append (and flush) of the log file, each in its own child transaction.
import type { Database, RootDatabase } from 'lmdb';
import type { Checkpoints } from './checkpoints.js';
import { throughEnvironmentGate } from './env-gate.js';
import type { LogFile, LogRecord } from './log-file.js';
import type { PackedIndex } from './packed-index.js';
import { StorageError } from './store-format.js';

/** What a commit needs of its store. */
export interface CommitTarget {
  readonly dir: string;
  readonly env: RootDatabase;
  readonly meta: Database<any, string>;
  /** 'os' durability: fdatasync the log file in every commit. */
  readonly flushEachCommit: boolean;
  /** Log records of the commit being built, appended to the log file just before LMDB commits. */
  readonly pendingRecords: LogRecord[];
  tables(): PackedIndex[];
  checkpoints(): Checkpoints;
  logFile(): LogFile;
  /** Inside a write transaction: where the log file's records end. */
  logFileEnd(): number;
}

/** A write waiting for the next group commit. */
interface QueuedWrite {
  write: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

export class GroupCommit {
  constructor(private readonly target: CommitTarget) {}

  /** `write` queued for the next commit; resolves once committed and flushed. */
  enqueue<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queuedWrites.push({ write, resolve: resolve as (value: unknown) => void, reject });
      if (this.queuedWrites.length === 1) setImmediate(() => this.commitQueuedWrites());
    });
  }

  private readonly queuedWrites: QueuedWrite[] = [];
  /** LMDB commits made by this process (each one flush): fewer than writes when they were grouped. */
  commitCount = 0;

  /**
   * One synchronous LMDB commit for every queued write. Their log records go to the log file in
   * one append (and, for 'os' durability, one fdatasync) inside the LMDB transaction, so under
   * LMDB's write lock and before LMDB commits: what LMDB holds, the log file holds.
   */
  private commitQueuedWrites(): void {
    const batch = this.queuedWrites.splice(0);
    const outcomes: { ok: boolean; value: unknown }[] = [];
    let appended: { start: number; end: number } | undefined;
    const commit = () =>
      this.target.env.transactionSync(() => {
        this.target.checkpoints().beforeCommit();
        for (const table of this.target.tables()) table.beginWrite();
        for (const queued of batch) {
          const recordsBefore = this.target.pendingRecords.length;
          try {
            let value: unknown;
            this.target.env.childTransaction(() => {
              value = queued.write();
            });
            outcomes.push({ ok: true, value });
          } catch (err) {
            this.target.pendingRecords.length = recordsBefore;
            outcomes.push({ ok: false, value: err });
          }
        }
        if (this.target.pendingRecords.length > 0) {
          appended = this.target.logFile().append(this.target.pendingRecords, this.target.flushEachCommit, this.target.logFileEnd());
          this.target.meta.putSync('logFileEnd', appended.end);
        }
      });
    // LMDB did not commit: neither may the log file keep the records. They are zeroed in the same
    // pass of the gate: LMDB's lock is free once its commit failed, but another process's commit
    // must pass the gate too, so it cannot append where they were before they are gone
    const commitOrUndo = () => {
      try {
        commit();
      } catch (err) {
        if (appended) this.target.logFile().undo(appended.start, appended.end);
        throw err;
      }
    };
    try {
      throughEnvironmentGate(this.target.dir, commitOrUndo);
    } catch (err) {
      const failure = commitFailure(err);
      for (const queued of batch) queued.reject(failure);
      return;
    } finally {
      this.target.pendingRecords.length = 0;
    }
    this.commitCount++;
    this.target.checkpoints().committed();
    batch.forEach((queued, i) => (outcomes[i]!.ok ? queued.resolve(outcomes[i]!.value) : queued.reject(outcomes[i]!.value)));
  }
}

/**
 * A failed LMDB commit (disk full, I/O error) carries its cause in a `commitError` promise that
 * would otherwise be an unhandled rejection and end the process; errors of our own pass through.
 */
function commitFailure(err: unknown): unknown {
  const commitError = (err as { commitError?: Promise<unknown> } | null)?.commitError;
  if (!commitError || typeof commitError.catch !== 'function') return err;
  commitError.catch(() => undefined);
  return new StorageError('storage/write-failed', `the commit could not be written (disk full or I/O error); nothing of it was applied`);
}
