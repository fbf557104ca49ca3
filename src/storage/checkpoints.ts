// When LMDB's file is flushed. A commit is durable by its records in the log file, so LMDB commits
// without a flush of its own; its file is flushed once commits pause (a checkpoint), and until then
// this process's unsynced mark stays in the directory (unsynced-marks.ts): after an OS crash, a
// mark from an earlier boot says LMDB's file may be torn and is to be rebuilt from the log file.
import { removeMarks, type UnsyncedMark } from './unsynced-marks.js';

/** How long commits must pause before LMDB's file is flushed. */
const CHECKPOINT_MS = 1000;

/** What a checkpoint flushes: the log file first, then LMDB's file (asynchronously). */
export interface Flushable {
  flushLogFile(): void;
  syncLmdb(done: (err?: Error) => void): void;
}

export class Checkpoints {
  /** LMDB commits since the last checkpoint began. */
  private unflushedCommits = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  /**
   * @param adoptedMarks marks of dead processes of this boot: moot once this process has flushed
   *   LMDB's file, so the first checkpoint removes them
   * @param neverFlush noSync: no checkpoint ever runs, and marks stay
   */
  constructor(
    private readonly mark: UnsyncedMark,
    private adoptedMarks: string[],
    private readonly neverFlush: boolean,
    private readonly target: Flushable,
  ) {
    if (adoptedMarks.length > 0) this.schedule();
  }

  /** Inside the LMDB transaction, before it commits without a flush: the mark must be on disk first. */
  beforeCommit(): void {
    this.mark.ensure();
  }

  /** After such a commit: a checkpoint follows once commits pause. */
  committed(): void {
    this.unflushedCommits++;
    this.schedule();
  }

  /** At close: the checkpoint under way, then one covering whatever came after it. */
  async close(): Promise<void> {
    this.cancelTimer();
    await this.running;
    if (!this.neverFlush && (this.unflushedCommits > 0 || this.adoptedMarks.length > 0)) await this.checkpoint();
    this.stop();
  }

  /** No more checkpoints (the store is closing without a flush: its mark stays for the next open). */
  stop(): void {
    this.stopped = true;
    this.cancelTimer();
  }

  /**
   * Flush once commits pause for CHECKPOINT_MS. A flush only serves to drop the mark (so an OS
   * crash after it needs no rebuild), and one during a run of commits would leave the mark
   * anyway, while competing with the commits' own flushes for the disk.
   */
  private schedule(): void {
    if (this.neverFlush || this.running || this.stopped) return;
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => void this.checkpoint(), CHECKPOINT_MS);
    this.timer.unref();
  }

  private cancelTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Flush the log file, then LMDB's file (on lmdb-js's thread pool). When no commit came in
   * meanwhile, nothing of this process is unflushed any more, and its mark goes.
   */
  private checkpoint(): Promise<void> {
    this.cancelTimer();
    if (this.running) return this.running;
    const covered = this.unflushedCommits;
    const adopted = this.adoptedMarks;
    let finished = false;
    const done = new Promise<void>((resolve) => {
      const finish = (ok: boolean) => {
        finished = true;
        this.running = undefined;
        if (ok) {
          removeMarks(adopted);
          this.adoptedMarks = this.adoptedMarks.filter((m) => !adopted.includes(m));
        }
        if (ok && this.unflushedCommits === covered) {
          this.mark.clear();
          this.unflushedCommits = 0;
        } else this.schedule();
        resolve();
      };
      try {
        this.target.flushLogFile();
      } catch {
        finish(false);
        return;
      }
      this.target.syncLmdb((err) => finish(!err));
    });
    if (!finished) this.running = done;
    return done;
  }
}
