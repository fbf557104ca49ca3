// A node's copy of the stream: every record, in t order, appended to the local log and indexed
// (as a replica does, feed/replica.ts), each message checked against the hash chain its writer put
// in it, so a local log that parts from the stream stops the node instead of serving data. A
// message's records are committed locally together, so the local log always ends where a message does
// (or where it ended before the node opened).
import { DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import { keepsHistory, type Schema } from '../db/schema.js';
import { schemaFactsOf, schemaOfStore } from '../db/log-replay.js';
import { catchUpFulltext } from '../db/fulltext.js';
import { decodeLogEntry, type LogEntry } from '../storage/log.js';
import { chainStep } from '../storage/log-chain.js';
import type { Store } from '../storage/store.js';
import { ClusterError, messageOf, type LogStream, type StreamMessage } from './stream.js';

/** Records indexed per local LMDB transaction (whole messages; at least one). */
const BATCH = 500;
/** Message ends remembered for writers (t -> sequence). */
const ENDS_KEPT = 4096;
/** How long a waited-for consumer may stay silent before it is made again (ms). */
const STALL_MS = 500;

interface Waiter {
  t: number;
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class Follower {
  private pending: StreamMessage[] = [];
  /** The messages of the local commit under way. */
  private committing: StreamMessage[] = [];
  private applying = false;
  private waiters: Waiter[] = [];
  /** Who waits for a message to be taken from the stream (not yet committed). */
  private deliveryWaiters: Omit<Waiter, 't'>[] = [];
  private failure: ClusterError | undefined;
  private stopped = false;
  private messages: ConsumerMessages | undefined;
  private running: Promise<void> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private lastMessageAt = Date.now();
  /** Which run loop is the current one (see checkStalled). */
  private generation = 0;
  /** The last t taken from the stream (applied, being applied or waiting to be); -1 before any. */
  private accepted = -1;
  /** The sequence of the last message taken from the stream. */
  private acceptedSeq = 0;
  /** When acceptedSeq last moved (ms). */
  acceptedAt = 0;
  /** The sequence of the last message whose records are all in the local log. */
  appliedSeq = 0;
  /** The sequence of the message ending at t, for recent message ends. */
  private readonly ends = new Map<number, number>();
  /** The schema at the end of the last local commit (read again from the store when it is not the store's t). */
  private schemaAt: { t: number; schema: Schema } | undefined;
  /** The highest t known to be in the stream. */
  streamT = -1;
  /**
   * For the benchmark: local commits of stream messages, the messages in them and their time
   * (ms); messages the consumer delivered first, and their time from the stream's timestamp to
   * here (ms; meaningful when the servers run on this machine's clock).
   */
  readonly stats = { commits: 0, messages: 0, ms: 0, delivered: 0, deliveryMs: 0 };

  constructor(
    private readonly stream: LogStream,
    private readonly store: Store,
    /** Called after each local commit with the entries it indexed (and their writers' tx ids). */
    private readonly onApplied: (applied: { entry: LogEntry; txId: string | undefined }[]) => void,
  ) {}

  get appliedT(): number {
    return this.store.lastT();
  }

  /** Follow from `holding`, the stream's message holding the local log's last t. */
  start(holding: StreamMessage): void {
    const lastT = holding.records[holding.records.length - 1]!.t;
    if (lastT === this.appliedT) {
      this.ends.set(lastT, holding.seq);
      this.acceptedSeq = this.appliedSeq = holding.seq;
    } else this.acceptedSeq = this.appliedSeq = holding.seq - 1;
    this.running = this.run(this.generation);
    this.watchdog = setInterval(() => this.checkStalled(), STALL_MS / 2);
    this.watchdog.unref();
  }

  /**
   * An ordered consumer can stay silent after its server went away; when someone waits for a t
   * and nothing came for a while, make the consumer again from where the log is.
   */
  private checkStalled(): void {
    if (this.waiters.length === 0 || Date.now() - this.lastMessageAt < STALL_MS) return;
    this.lastMessageAt = Date.now();
    // a consumer being made, or one that stop() does not end while its server is gone, may hang:
    // a new loop takes over and the old one drops what it still gets
    this.messages?.stop();
    const generation = ++this.generation;
    this.running = Promise.all([this.running, this.run(generation)]).then(() => undefined);
  }

  /** Resolves once the local log holds t; rejects when the follower stopped on a failure. */
  waitFor(t: number): Promise<void> {
    return this.waitUntil(t, 0);
  }

  /** The sequence of the last message taken from the stream (committed locally or not). */
  get deliveredSeq(): number {
    return this.acceptedSeq;
  }

  /**
   * The messages taken from the stream and not yet in a finished local commit, in order: each
   * checked to follow the one before it by t (its chain is checked where it is used).
   */
  delivered(): StreamMessage[] {
    return [...this.committing, ...this.pending];
  }

  /** Resolves once the message at sequence `seq` was taken from the stream (before its local commit). */
  waitForDelivery(seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.acceptedSeq >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.deliveryWaiters.push({ seq, resolve, reject }));
  }

  /** Resolves once the local log holds every record of the message at sequence `seq`. */
  waitForSeq(seq: number): Promise<void> {
    return this.waitUntil(-1, seq);
  }

  private waitUntil(t: number, seq: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.appliedT >= t && this.appliedSeq >= seq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ t, seq, resolve, reject }));
  }

  /**
   * A message this node appended, acknowledged at `seq`: indexed without waiting for the consumer
   * to deliver it (which then skips it). Only when it comes right after what was taken, as it
   * does unless the consumer was first.
   */
  acceptAppended(message: StreamMessage): void {
    if (this.failure || this.stopped || message.seq !== this.acceptedSeq + 1) return;
    this.streamT = Math.max(this.streamT, message.records[message.records.length - 1]!.t);
    this.accept(message);
  }

  /** The sequence of the message whose last record is t, when known: a writer appends after it. */
  seqEnding(t: number): number | undefined {
    return this.ends.get(t);
  }

  throwIfFailed(): void {
    if (this.failure) throw this.failure;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.watchdog);
    this.messages?.stop();
    await this.running;
    while (this.applying) await new Promise((r) => setTimeout(r, 5));
  }

  /** Consume from the next t on; an ordered consumer that breaks is made again from where the log is. */
  private async run(generation: number): Promise<void> {
    const current = () => !this.stopped && !this.failure && generation === this.generation;
    while (current()) {
      try {
        const consumer = await this.stream.js.consumers.get(this.stream.streamName, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.acceptedSeq + 1 });
        if (!current()) return;
        const messages = await consumer.consume({ max_messages: 1000 });
        if (!current()) return void messages.stop();
        this.messages = messages;
        for await (const msg of messages) {
          if (!current()) break;
          this.lastMessageAt = Date.now();
          if (msg.seq > this.acceptedSeq) {
            this.stats.delivered++;
            this.stats.deliveryMs += Date.now() - msg.info.timestampNanos / 1e6;
          }
          const message = messageOf(msg.seq, msg.data, (h) => msg.headers?.get(h));
          const lastT = message.records[message.records.length - 1]!.t;
          // a lower bound: each message pending holds at least one t
          this.streamT = Math.max(this.streamT, lastT + msg.info.pending);
          this.accept(message);
        }
      } catch (err) {
        if (err instanceof ClusterError) this.fail(err);
        else if (current() && (await this.removedPastUs())) this.fail(streamTruncated(this.stream, this.store, this.expectedT() - 1, undefined));
        else if (current()) await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** Whether the stream's limits removed messages this follower has not taken (a gap, which no new consumer fills). */
  private async removedPastUs(): Promise<boolean> {
    try {
      return (await this.stream.state()).firstSeq > this.acceptedSeq + 1;
    } catch {
      return false;
    }
  }

  /** The next t this follower needs: after the local log and what waits to be applied. */
  private expectedT(): number {
    return Math.max(this.accepted, this.appliedT) + 1;
  }

  private accept(message: StreamMessage): void {
    if (message.seq <= this.acceptedSeq) return; // a consumer made again may start before what we hold
    if (message.seq > this.acceptedSeq + 1) throw new Error(`gap: message ${message.seq} after ${this.acceptedSeq}`); // makes the consumer again
    const expected = this.expectedT();
    const first = message.records[0]!.t;
    const last = message.records[message.records.length - 1]!.t;
    if (first > expected || last < expected - 1) {
      throw new ClusterError('cluster/bad-record', `stream message ${message.seq} holds t=${first}..${last}, not t=${expected}: the stream was not written by factlog`);
    }
    this.pending.push(message);
    this.accepted = Math.max(this.accepted, last);
    this.acceptedSeq = message.seq;
    this.acceptedAt = Date.now();
    this.deliveryWaiters = this.deliveryWaiters.filter((w) => {
      if (w.seq > message.seq) return true;
      w.resolve();
      return false;
    });
    this.ends.set(last, message.seq);
    if (this.ends.size > ENDS_KEPT) this.ends.delete(this.ends.keys().next().value!);
    if (!this.applying) void this.apply();
  }

  private async apply(): Promise<void> {
    this.applying = true;
    try {
      while (this.pending.length && !this.failure) {
        let count = 1;
        for (let records = this.pending[0]!.records.length; count < this.pending.length && records + this.pending[count]!.records.length <= BATCH; count++) {
          records += this.pending[count]!.records.length;
        }
        const batch = (this.committing = this.pending.splice(0, count));
        const started = performance.now();
        const applied = await this.store.writeTransaction(() => this.indexBatch(batch));
        this.appliedSeq = batch[batch.length - 1]!.seq;
        this.committing = [];
        this.onApplied(applied);
        this.wake();
        this.stats.commits++;
        this.stats.messages += batch.length;
        this.stats.ms += performance.now() - started;
      }
    } catch (err) {
      this.fail(err instanceof ClusterError ? err : new ClusterError('cluster/apply-failed', `indexing the stream's records into ${this.store.dir} failed: ${(err as Error).message}`));
    } finally {
      this.applying = false;
    }
  }

  /** Inside the write transaction: check each record's chain, append it to the local log, index it. */
  private indexBatch(batch: StreamMessage[]): { entry: LogEntry; txId: string | undefined }[] {
    const out: { entry: LogEntry; txId: string | undefined }[] = [];
    let lastT = this.store.lastT();
    let schema: Schema = this.schemaAt?.t === lastT ? this.schemaAt.schema : schemaOfStore(this.store);
    let chain = this.store.chainHash(lastT)!;
    for (const record of batch.flatMap((m) => m.records)) {
      if (record.t <= lastT) continue;
      chain = chainStep(chain, record.bytes);
      if (record.chain !== undefined && record.chain !== chain.toString('hex')) throw diverged(this.store, record.t);
      const entry = decodeLogEntry(record.t, record.bytes);
      const before = schema;
      schema = schema.apply(schemaFactsOf(entry));
      this.store.appendLogEntries([entry], (a) => keepsHistory(a, before, schema));
      lastT = record.t;
      out.push({ entry, txId: record.txId });
    }
    catchUpFulltext(this.store, schema);
    this.schemaAt = { t: lastT, schema };
    return out;
  }

  private wake(): void {
    const t = this.appliedT;
    this.waiters = this.waiters.filter((w) => {
      if (w.t > t || w.seq > this.appliedSeq) return true;
      w.resolve();
      return false;
    });
  }

  private fail(err: ClusterError): void {
    this.failure ??= err;
    for (const w of [...this.waiters, ...this.deliveryWaiters]) w.reject(this.failure);
    [this.waiters, this.deliveryWaiters] = [[], []];
    this.messages?.stop();
  }
}

export function diverged(store: Store, t: number): ClusterError {
  return new ClusterError(
    'cluster/diverged',
    `${store.dir} holds another history than the cluster's stream: their logs differ at t=${t} or before (a directory copied from another database, or a stream made anew); open the node on an empty directory`,
  );
}

export function streamTruncated(stream: LogStream, store: Store, lastT: number, firstT: number | undefined): ClusterError {
  const from = firstT === undefined ? '' : ` (its messages start at t=${firstT})`;
  return new ClusterError(
    'cluster/stream-truncated',
    `the stream ${stream.streamName} no longer holds t=${lastT + 1}${from}: its limits removed older messages, so ${store.dir} at t=${lastT} cannot catch up from it; open the node on a backup (factlog backup of any node) taken at t=${firstT === undefined ? 'a later t' : firstT - 1} or later`,
  );
}
