// Query workers: read requests run in a pool of threads, so that a slow query delays neither
// transactions, the feed nor other requests; one past its deadline has its thread ended and replaced.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { FactlogError } from '../../query-lang/errors.js';
import { forgetThreadTicket } from '../storage/env-gate.js';
import type { TokenRecord } from './access.js';
import { ServerError } from './errors.js';
import type { ReadKind } from './reads.js';

/** A read request as it crosses to a worker: every part structured-clonable. */
export interface WorkerJob {
  kind: ReadKind;
  /** The basis the server fixed: the worker answers as of this t, whatever commits meanwhile. */
  t: number;
  /** The token's attribute restriction (null: it sees everything). */
  access: Pick<TokenRecord, 'hide' | 'only'> | null;
  /** A JSON body's fields as parsed, or an EDN body's text (its data would not survive the crossing). */
  fields?: Record<string, unknown>;
  ednText?: string;
  params: Record<string, string | undefined>;
  timeoutMs: number;
  pageSize: number;
  /** Encode the response as EDN (else JSON): the worker sends the body text, ready to write. */
  replyEdn: boolean;
}

export type WorkerMessage = { type: 'run'; id: number; job: WorkerJob } | { type: 'close' };
type WorkerAnswer = { ready: true } | { id: number; body: Uint8Array } | { id: number; error: { code: string; message: string; status: number; form?: string } };

interface Pending {
  id: number;
  job: Omit<WorkerJob, 'timeoutMs'>;
  /** Its time in a worker; the wait for one is bounded by the limit on requests in progress. */
  timeoutMs: number;
  resolve(body: Buffer): void;
  reject(err: unknown): void;
  timer?: NodeJS.Timeout;
  slot?: Slot;
}

interface Slot {
  worker: Worker;
  threadId: number;
  running: Pending | null;
  /** Its connection is open (or failed to open: its requests are told why). */
  ready: boolean;
  /** Resolves once the thread has exited (ended by us or not). */
  exited: Promise<void>;
}

/** When a worker's own query timeout would not stop it first: the pool's deadline ends the thread. */
const LIBRARY_TIMEOUT_GRACE_MS = 1000;
/** How long a worker may take to close its connection at shutdown before it is ended. */
const CLOSE_GRACE_MS = 5000;

/** Two workers at least (one slow query leaves another free), one core left for the server's loop, eight at most. */
export function defaultQueryWorkers(): number {
  return Math.max(2, Math.min(8, os.availableParallelism() - 1));
}

export class QueryPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing: Promise<void> | null = null;
  /** Set while every worker is closed for an action that replaces the database's files. */
  private suspended = false;
  /** Threads replaced: ended past a deadline, or failed (for tests and stats). */
  replaced = 0;

  constructor(
    private readonly dir: string,
    readonly size: number,
    private readonly workerFile: URL = workerScript(),
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.startWorker());
  }

  /** The worker threads' ids, in slot order. */
  threadIds(): number[] {
    return this.slots.map((s) => s.threadId);
  }

  /** Whether any worker runs (none could start: their script or the database cannot be loaded in a thread). */
  get available(): boolean {
    return this.slots.length > 0;
  }

  /** Requests running in a worker now. */
  get running(): number {
    return this.slots.filter((s) => s.running).length;
  }

  /** Resolves once every worker has its connection open. */
  ready(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (this.slots.every((s) => s.ready) || this.closing ? resolve() : setTimeout(check, 10));
      check();
    });
  }

  /** Resolves with the response body (UTF-8); a coded error past `timeoutMs` in a worker. */
  run(job: Omit<WorkerJob, 'timeoutMs'>, timeoutMs: number): Promise<Buffer> {
    if (this.closing) return Promise.reject(new ServerError('server/closing', 'the server is shutting down', 503));
    if (this.slots.length === 0 && !this.suspended) return Promise.reject(new ServerError('server/no-workers', 'no query worker could start (see the server log)', 500));
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, timeoutMs, resolve, reject });
      this.dispatch();
    });
  }

  /** Let every worker close its connection; threads still busy (or stuck) past a grace period are ended. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      for (const p of this.queue.splice(0)) this.fail(p, new ServerError('server/closing', 'the server is shutting down', 503));
      await Promise.all(this.slots.map((slot) => this.endWorker(slot)));
    })());
  }

  /**
   * Run `action` with every worker's connection closed, then start new workers: an excision
   * replaces the files they have mapped, and refuses while any thread holds them. Requests
   * arriving meanwhile wait in the queue; their time counts once a new worker takes them.
   */
  async withoutWorkers<T>(action: () => Promise<T>): Promise<T> {
    if (this.suspended) throw new ServerError('server/busy', 'the query workers are closed for another excision; try again shortly', 503);
    this.suspended = true;
    const closed = this.slots.splice(0);
    try {
      await Promise.all(closed.map((slot) => this.endWorker(slot)));
      return await action();
    } finally {
      this.suspended = false;
      if (!this.closing) for (let i = 0; i < closed.length; i++) this.slots.push(this.startWorker());
    }
  }

  /** Ask a worker to close its connection once its request is answered; end it past the grace period. */
  private async endWorker(slot: Slot): Promise<void> {
    slot.worker.postMessage({ type: 'close' } satisfies WorkerMessage);
    const ended = setTimeout(() => void slot.worker.terminate(), CLOSE_GRACE_MS);
    await slot.exited;
    clearTimeout(ended);
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (slot.running || !slot.ready) continue;
      const pending = this.queue.shift()!;
      // the library's own timeout comes a little after the pool's deadline: that one decides
      const job: WorkerJob = { ...pending.job, timeoutMs: pending.timeoutMs + LIBRARY_TIMEOUT_GRACE_MS };
      slot.running = pending;
      pending.slot = slot;
      pending.timer = setTimeout(() => this.expire(pending), pending.timeoutMs);
      slot.worker.postMessage({ type: 'run', id: pending.id, job } satisfies WorkerMessage);
    }
  }

  private startWorker(): Slot {
    const worker = new Worker(this.workerFile, { workerData: { dir: this.dir } });
    const slot: Slot = { worker, threadId: worker.threadId, running: null, ready: false, exited: new Promise((resolve) => worker.once('exit', () => resolve())) };
    worker.on('message', (answer: WorkerAnswer) => {
      if ('ready' in answer) {
        slot.ready = true;
        return this.dispatch();
      }
      const pending = slot.running;
      if (!pending || pending.id !== answer.id) return;
      slot.running = null;
      clearTimeout(pending.timer);
      if ('body' in answer) pending.resolve(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength));
      else pending.reject(codedError(answer.error));
      this.dispatch();
    });
    worker.on('error', (err) => this.lose(slot, new FactlogError('server/worker-failed', `a query worker failed: ${err.message}`)));
    worker.once('exit', () => {
      forgetThreadTicket(this.dir, slot.threadId);
      this.lose(slot, new FactlogError('server/worker-failed', 'a query worker ended while answering'));
    });
    return slot;
  }

  /** A request past its time in a worker: the worker is ended and replaced. */
  private expire(pending: Pending): void {
    const timeout = new FactlogError('query/timeout', `Query ran past its timeout of ${pending.timeoutMs} ms (its worker thread was ended)`);
    const slot = pending.slot;
    if (!slot || slot.running !== pending) return;
    slot.running = null;
    this.fail(pending, timeout);
    this.replace(slot);
  }

  /** A worker that failed or ended: its request fails, and (unless closing) a new worker takes its place. */
  private lose(slot: Slot, err: FactlogError): void {
    const pending = slot.running;
    slot.running = null;
    if (pending) this.fail(pending, err);
    if (!this.slots.includes(slot)) return;
    if (slot.ready) return this.replace(slot);
    // one that never started (its script or the database cannot be loaded) would fail again
    this.slots.splice(this.slots.indexOf(slot), 1);
    if (this.slots.length === 0) for (const p of this.queue.splice(0)) this.fail(p, err);
  }

  private replace(slot: Slot): void {
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.closing) return;
    this.slots[index] = this.startWorker();
    void slot.worker.terminate();
    this.replaced++;
    this.dispatch();
  }

  private fail(pending: Pending, err: unknown): void {
    clearTimeout(pending.timer);
    pending.reject(err);
  }
}

function codedError(e: { code: string; message: string; status: number; form?: string }): FactlogError {
  const err = new ServerError(e.code, e.message, e.status);
  if (e.form !== undefined) (err as { form?: string }).form = e.form;
  return err;
}

/** The compiled worker: beside this module in dist/, or dist's copy when this runs from the TypeScript sources (tests). */
function workerScript(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./query-worker.js', here);
  return new URL('../../dist/src/server/query-worker.js', here);
}
