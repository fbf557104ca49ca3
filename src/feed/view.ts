// Materialized views: state derived from the log by a reducer, kept up to date from the tx feed
// and persisted with the last t applied, so a restarted view resumes instead of starting over.
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
  /** Fold one transaction into the state (may mutate and return it). */
  apply: (state: S, tx: LogTx, conn: Connection) => S;
}

export interface ViewOptions {
  /** Where the view persists its state (default: the database directory). */
  dir?: string;
}

interface Persisted<S> {
  name: string;
  t: number;
  state: S;
}

export class MaterializedView<S> {
  private unlisten: (() => void) | null = null;
  private waiters: { t: number; resolve: () => void }[] = [];

  private constructor(
    private readonly conn: Connection,
    private readonly spec: ViewSpec<S>,
    private readonly file: string,
    /** The last t folded into `state`. */
    public t: number,
    public state: S,
  ) {}

  /** Load the persisted state (if any), catch up from the log, then follow new transactions. */
  static open<S>(conn: Connection, spec: ViewSpec<S>, options: ViewOptions = {}): MaterializedView<S> {
    const file = path.join(options.dir ?? conn.path, `${spec.name}.view.json`);
    const saved = readPersisted<S>(file, spec.name);
    const view = new MaterializedView(conn, spec, file, saved?.t ?? -1, saved ? saved.state : spec.initial());
    view.catchUp();
    view.unlisten = conn.listen(() => view.catchUp());
    return view;
  }

  /** Fold every logged transaction after `t` and persist. */
  catchUp(): void {
    let changed = false;
    for (const tx of this.conn.log().txRange(this.t + 1)) {
      this.state = this.spec.apply(this.state, tx, this.conn);
      this.t = tx.t;
      changed = true;
    }
    if (changed) this.persist();
    this.waiters = this.waiters.filter((w) => (w.t <= this.t ? (w.resolve(), false) : true));
  }

  /** Resolves once the view has applied transaction t. */
  waitFor(t: number): Promise<void> {
    if (t <= this.t) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ t, resolve }));
  }

  close(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  private persist(): void {
    const tmp = `${this.file}.tmp`;
    const data: Persisted<S> = { name: this.spec.name, t: this.t, state: this.state };
    fs.writeFileSync(tmp, JSON.stringify(data));
    fs.renameSync(tmp, this.file);
  }
}

function readPersisted<S>(file: string, name: string): Persisted<S> | null {
  if (!fs.existsSync(file)) return null;
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as Persisted<S>;
  if (data.name !== name || typeof data.t !== 'number') {
    throw new FactlogError('view/corrupt', `${file} does not hold the state of view ${name}`);
  }
  return data;
}
