// Materialized views: state derived from the log by a reducer, kept up to date from the tx feed
// and persisted with the last t applied, so a restarted view resumes instead of starting over.
// Its state is always the fold of the log up to its t: an apply that throws stops the view there.
import fs from 'node:fs';
import path from 'node:path';
import type { Connection } from '../connection.js';
import type { LogTx } from '../db/txlog.js';
import { FactlogError } from '../../query-lang/errors.js';

export interface ViewSpec<S> {
  /** Names the persisted file: `<dir>/<name>.view.json`. */
  name: string;
  /** State before any transaction. Must be JSON-serialisable. */
  initial: () => S;
  /**
   * Fold one transaction into the state (may mutate and return it). A pure fold: after a failure
   * the view folds again, from its last checkpoint, the transactions before the failing one.
   */
  apply: (state: S, tx: LogTx, conn: Connection) => S;
}

export interface ViewOptions {
  /** Where the view persists its state (default: the database directory). */
  dir?: string;
  /**
   * Called with the error (`view/apply-failed` when `apply` throws) when the view fails while
   * following; it has stopped. Without it the error goes to the connection's listener errors.
   */
  onError?: (err: FactlogError) => void;
}

/** `apply` threw on transaction t (the cause); the view stopped at the transaction before it. */
export class ViewApplyError extends FactlogError {
  constructor(
    view: string,
    readonly t: number,
    override readonly cause: unknown,
  ) {
    super('view/apply-failed', `view ${view}: apply failed on the transaction at t=${t} (${cause instanceof Error ? cause.message : String(cause)}); the view stopped at t=${t - 1}`);
  }
}

interface Persisted<S> {
  name: string;
  t: number;
  state: S;
}

export class MaterializedView<S> {
  private unlisten: (() => void) | null = null;
  private waiters: { t: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Set once apply has failed: the view has stopped. */
  error: ViewApplyError | null = null;

  private constructor(
    private readonly conn: Connection,
    private readonly spec: ViewSpec<S>,
    private readonly file: string,
    /** The last t folded into `state`. */
    public t: number,
    public state: S,
  ) {}

  /**
   * Load the persisted state (if any), catch up from the log, then follow new transactions.
   * Throws `view/apply-failed` if `apply` fails while catching up (what came before is kept).
   */
  static open<S>(conn: Connection, spec: ViewSpec<S>, options: ViewOptions = {}): MaterializedView<S> {
    const file = path.join(options.dir ?? conn.path, `${spec.name}.view.json`);
    const saved = readPersisted<S>(file, spec.name);
    const view = new MaterializedView(conn, spec, file, saved?.t ?? -1, saved ? saved.state : spec.initial());
    view.catchUp();
    view.unlisten = conn.listen(() => {
      if (view.error) return;
      try {
        view.catchUp();
      } catch (err) {
        // reports delivered as the connection closes: the view stops following with it
        if (err instanceof FactlogError && err.code === 'conn/closed') return;
        if (!options.onError) throw err;
        options.onError(err as FactlogError);
      }
    });
    return view;
  }

  /**
   * Fold every logged transaction after `t` and persist. If `apply` throws, the view keeps the
   * fold up to the transaction before, persists that, stops, and throws `view/apply-failed`.
   */
  catchUp(): void {
    if (this.error) throw this.error;
    const startT = this.t;
    // the state before this batch, for when a failed apply has changed it in place
    let checkpoint: S | undefined;
    let state = this.state;
    let t = startT;
    try {
      for (const tx of this.conn.log().txRange(startT + 1)) {
        checkpoint ??= snapshot(this.state, this.spec.name);
        t = tx.t;
        state = this.spec.apply(state, tx, this.conn);
      }
    } catch (cause) {
      if (checkpoint === undefined) throw cause; // nothing was applied
      this.stop(new ViewApplyError(this.spec.name, t, cause), checkpoint as S, startT, t - 1);
      throw this.error;
    }
    if (t > startT) {
      this.state = state;
      this.t = t;
      this.persist();
    }
    this.waiters = this.waiters.filter((w) => (w.t <= this.t ? (w.resolve(), false) : true));
  }

  /** Resolves once the view has applied transaction t; rejects if the view stops before. */
  waitFor(t: number): Promise<void> {
    if (t <= this.t) return Promise.resolve();
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve, reject) => this.waiters.push({ t, resolve, reject }));
  }

  close(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  /** After a failed apply: back to the fold up to `goodT` (folded again from the checkpoint), persisted; then stop. */
  private stop(error: ViewApplyError, checkpoint: S, checkpointT: number, goodT: number): void {
    this.error = error;
    this.close();
    this.state = checkpoint;
    this.t = checkpointT;
    if (goodT > checkpointT) {
      try {
        let state = snapshot(checkpoint, this.spec.name);
        for (const tx of this.conn.log().txRange(checkpointT + 1, goodT + 1)) state = this.spec.apply(state, tx, this.conn);
        this.state = state;
        this.t = goodT;
      } catch {
        // an apply that fails where it succeeded before: the checkpoint is still a fold of the log
      }
      if (this.t > checkpointT) this.persist();
    }
    for (const w of this.waiters) w.t <= this.t ? w.resolve() : w.reject(error);
    this.waiters = [];
  }

  private persist(): void {
    const tmp = `${this.file}.tmp`;
    const data: Persisted<S> = { name: this.spec.name, t: this.t, state: this.state };
    fs.writeFileSync(tmp, JSON.stringify(data));
    fs.renameSync(tmp, this.file);
  }
}

/** A deep copy of the state, to go back to if an apply fails after changing it in place. */
function snapshot<S>(state: S, view: string): S {
  try {
    return structuredClone(state);
  } catch (err) {
    throw new FactlogError('view/state-not-serialisable', `view ${view}: its state cannot be copied (${(err as Error).message}); a view's state must be JSON-serialisable`);
  }
}

function readPersisted<S>(file: string, name: string): Persisted<S> | null {
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  let data: Persisted<S> | null;
  try {
    data = JSON.parse(text) as Persisted<S> | null;
  } catch {
    data = null; // a damaged file, reported below
  }
  if (data?.name !== name || typeof data.t !== 'number') {
    throw new FactlogError('view/corrupt', `${file} does not hold the state of view ${name}`);
  }
  return data;
}
