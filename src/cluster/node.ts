// A cluster node: a connection whose local directory holds its indexes and its copy of the log,
// and whose transactions go to the database's JetStream stream. A node prepares the transactions
// waiting on it against its latest db as an embedded connection does (a group commit: in order,
// each against the ones before it) and appends their records as one message, conditionally on the
// stream's last sequence; when another node got there first it catches up and prepares them
// again, so cas, unique and upsert checks see the db right before each transaction in the log.
import { randomUUID } from 'node:crypto';
import { FactlogError } from '../../query-lang/errors.js';
import { Connection, connectionLimits, txReport, type ConnectionWriter, type OpenOptions, type TxReport } from '../connection.js';
import type { Datom } from '../db/api.js';
import { replayLogFile } from '../db/log-replay.js';
import { isSchemaAttr } from '../db/schema.js';
import { toDatom } from '../storage/encoding.js';
import type { LogEntry } from '../storage/log.js';
import { Store } from '../storage/store.js';
import type { PreparedTx } from '../tx/transact.js';
import { functionRegistry } from '../tx/tx-functions.js';
import { isDataFailure, MAX_BATCH, prepareBatch } from './batch.js';
import { diverged, Follower } from './follower.js';
import { ClusterError, LogStream, type ClusterOptions, type OutgoingMessage, type StreamMessage } from './stream.js';

export interface NodeOptions extends OpenOptions {
  cluster: ClusterOptions;
}

/** What marks a directory as a node of database `name` (its meta's replicaOf). */
export function nodeMark(name: string): string {
  return `nats:${name}`;
}

/** A transaction this node wrote and waits to see indexed. */
interface OwnTx {
  prepared: PreparedTx;
  resolve: (report: TxReport) => void;
}

/** A transact call waiting for its turn in a group commit. */
interface Waiting {
  txData: unknown;
  txId: string;
  deadline: number;
  settled: boolean;
  resolve: (report: TxReport) => void;
  reject: (err: unknown) => void;
}

/** How long to wait between tries of a publish that got no answer. */
const RETRY_MS = 100;
/** Longest wait for one publish's answer. */
const PUBLISH_TIMEOUT_MS = 2000;

export class ClusterNode implements ConnectionWriter {
  private readonly own = new Map<string, OwnTx>();
  private waiting: Waiting[] = [];
  private committing: Promise<void> | undefined;
  readonly follower: Follower;

  private constructor(
    readonly conn: Connection,
    readonly stream: LogStream,
  ) {
    this.follower = new Follower(stream, conn.store, (applied) => this.applied(applied));
  }

  /** Open the node in `options.path` (made when missing), checked against the stream. */
  static async open(options: NodeOptions): Promise<Connection> {
    const stream = await LogStream.connect(options.cluster);
    let store: Store | undefined;
    try {
      // the stream is the durable log: a tail an OS crash takes from the local copy comes back from it
      store = Store.open({ ...options, durability: options.durability ?? 'process' }).store;
      const functions = functionRegistry(options, options.checkAttrPreds ?? true);
      const conn = new Connection(store, options.strictSchema ?? false, options.columnDatoms, connectionLimits(options), functions);
      await prepareDirectory(conn, options.cluster.name);
      const holding = await joinStream(store, stream);
      conn.loadState();
      const node = new ClusterNode(conn, stream);
      conn.writer = node;
      node.follower.start(holding);
      await conn.catchUpFulltext();
      return conn;
    } catch (err) {
      await store?.close();
      await stream.close();
      throw err;
    }
  }

  /** The stream's last t as last seen by this node (its follower). */
  get streamT(): number {
    return Math.max(this.follower.streamT, this.follower.appliedT);
  }

  write(txDatas: readonly unknown[], _onReport: unknown, isBatch: boolean): Promise<TxReport[]> {
    if (isBatch) {
      return Promise.reject(
        new ClusterError(
          'cluster/batch-unsupported',
          'transactBatch is not supported on a cluster node yet: transact each transaction, or push a database made with it (factlog cluster push)',
        ),
      );
    }
    // the calls that arrive while a message is in flight go together in the next one
    return new Promise<TxReport>((resolve, reject) => {
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T) => ((item.settled = true), f(v));
      const item: Waiting = { txData: txDatas[0], txId: randomUUID(), deadline: Date.now() + this.stream.timeoutMs, settled: false, resolve: settle(resolve), reject: settle(reject) };
      this.waiting.push(item);
      this.commitNext();
    }).then((report) => [report]);
  }

  /** One group commit at a time: the next takes what waits when the one before is done. */
  private commitNext(): void {
    if (this.committing || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, MAX_BATCH);
    this.committing = this.commitBatch(batch).finally(() => {
      for (const item of batch) this.own.delete(item.txId);
      this.committing = undefined;
      this.commitNext();
    });
  }

  /**
   * Append `items` as one message (what does not fit goes back to the head of the queue). A tx
   * whose data fails fails alone, and only against the stream's latest db: when the message lands,
   * its base was the latest; otherwise the node catches up and prepares them all again.
   */
  private async commitBatch(items: Waiting[]): Promise<void> {
    try {
      await this.commitOrRetry(items);
    } catch (err) {
      // the items put back in the queue are not among these
      for (const item of items) if (!item.settled) item.reject(err);
    }
  }

  private async commitOrRetry(items: Waiting[]): Promise<void> {
    const deadline = Math.min(...items.map((item) => item.deadline));
    for (;;) {
      this.follower.throwIfFailed();
      // landed with a message we caught up with
      for (let i = items.length - 1; i >= 0; i--) if (items[i]!.settled) items.splice(i, 1);
      if (items.length === 0) return;
      const basisT = this.conn.db().basisT;
      const afterSeq = this.follower.seqEnding(basisT);
      if (afterSeq === undefined) {
        // the local log ends inside a message: the stream is past it
        await this.within(this.follower.waitFor(basisT + 1), deadline, `this node did not reach t=${basisT + 1}`);
        continue;
      }
      const batch = prepareBatch(
        this.conn,
        this.stream,
        items.map((item) => item.txData),
      );
      if (batch.deferredFrom < items.length) this.waiting.unshift(...items.splice(batch.deferredFrom));
      const finalFailures = () => batch.failed.forEach(({ index, error }) => items[index]!.reject(error));
      if (batch.included.length === 0) {
        if (batch.failed.some(({ error }) => isDataFailure(error))) {
          const streamT = await this.within(this.stream.lastT(), deadline, 'the stream did not answer');
          if (streamT > basisT) {
            await this.within(this.follower.waitFor(streamT), deadline, `this node did not reach t=${streamT}`);
            continue;
          }
        }
        return finalFailures();
      }
      for (const { index, prepared } of batch.included) this.own.set(items[index]!.txId, { prepared, resolve: items[index]!.resolve });
      const message: OutgoingMessage = {
        t: basisT + 1,
        records: batch.included.map((i) => i.bytes),
        txIds: batch.included.map((i) => items[i.index]!.txId),
        chain: batch.chain,
        msgId: randomUUID(),
      };
      const outcome = await this.publish(afterSeq, message, deadline);
      if (outcome.kind === 'appended') {
        this.follower.acceptAppended({
          seq: outcome.seq,
          records: message.records.map((bytes, i) => ({ t: message.t + i, bytes, txId: message.txIds[i], chain: i === message.records.length - 1 ? message.chain : undefined })),
        });
        // waiting through the follower lets its watchdog see a silent consumer; its commit reports to the callers
        await this.within(this.follower.waitForSeq(outcome.seq), deadline, `message ${outcome.seq} is in the stream but not yet indexed on this node`);
        return finalFailures();
      }
      // another node appended first: catch up; our records may be among those (a retry that landed)
      await this.within(this.catchUp(outcome.lastSeq), deadline, 'the stream did not answer while catching up');
    }
  }

  /** Append, trying again (the same message, so it lands at most once) until an answer or the deadline. */
  private async publish(afterSeq: number, message: OutgoingMessage, deadline: number): Promise<{ kind: 'appended'; seq: number } | { kind: 'conflict'; lastSeq?: number }> {
    const { t } = message;
    let why = '';
    while (Date.now() < deadline) {
      const timeout = Math.min(PUBLISH_TIMEOUT_MS, deadline - Date.now());
      const outcome = await this.stream.append(afterSeq, message, timeout);
      if (outcome.kind === 'conflict') return outcome;
      if (outcome.kind === 'appended') {
        if (outcome.seq !== afterSeq + 1) throw new ClusterError('cluster/bad-record', `the stream put the message after ${afterSeq} at ${outcome.seq}`);
        return outcome;
      }
      why = outcome.why;
      await new Promise((r) => setTimeout(r, Math.min(RETRY_MS, Math.max(0, deadline - Date.now()))));
    }
    throw new ClusterError(
      'cluster/unavailable',
      `the stream ${this.stream.streamName} did not acknowledge t=${t} within ${this.stream.timeoutMs} ms (${why}): the transaction may or may not be in the log; nothing of it is indexed on this node (sync later to see)`,
    );
  }

  /** Up to the stream's last message: the one a conflict named, else asked for. */
  private async catchUp(lastSeq?: number): Promise<void> {
    const seq = lastSeq ?? (await this.stream.end()).seq;
    await this.follower.waitForSeq(seq);
  }

  /** `promise`, or cluster/unavailable at the deadline. */
  private within<T>(promise: Promise<T>, deadline: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ClusterError('cluster/unavailable', `${what} within ${this.stream.timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
      promise.then(
        (v) => (clearTimeout(timer), resolve(v)),
        (e) => (clearTimeout(timer), reject(e)),
      );
    });
  }

  /** After each local commit of stream records: reports to this node's writers and listeners. */
  private applied(applied: { entry: LogEntry; txId: string | undefined }[]): void {
    // the schema history is read again only when a record changed the schema
    if (applied.some(({ entry }) => entry.datoms.some((d) => isSchemaAttr(d.a)))) this.conn.loadState();
    else this.conn.advanceMeta();
    for (const { entry, txId } of applied) {
      const own = txId !== undefined ? this.own.get(txId) : undefined;
      const before = this.conn.dbAt(entry.t - 1);
      const after = this.conn.dbAt(entry.t);
      const report = own && own.prepared.t === entry.t ? txReport(before, after, own.prepared) : reportOf(entry, before.basisT, before, after);
      own?.resolve(report);
      this.conn.publish(report);
    }
  }

  async sync(t?: number): Promise<void> {
    const target = t ?? (await this.stream.lastT());
    const deadline = Date.now() + this.stream.timeoutMs;
    await this.within(this.follower.waitFor(target), deadline, `this node did not reach t=${target}`);
  }

  async close(): Promise<void> {
    while (this.committing) await this.committing;
    await this.follower.stop();
    await this.stream.close();
  }
}

/** A report of a transaction another node wrote: no tempids here. */
function reportOf(entry: LogEntry, _beforeT: number, dbBefore: TxReport['dbBefore'], dbAfter: TxReport['dbAfter']): TxReport {
  let datoms: Datom[] | undefined;
  return {
    dbBefore,
    dbAfter,
    tx: entry.tx,
    t: entry.t,
    tempids: {},
    get txData() {
      return (datoms ??= entry.datoms.map((d) => toDatom({ ...d, tx: entry.tx }, d.added)));
    },
  };
}

/** Replay a crash's leftovers; bootstrap an empty directory (t=0 is the same everywhere); refuse another database's. */
async function prepareDirectory(conn: Connection, name: string): Promise<void> {
  const store = conn.store;
  await replayLogFile(store);
  const owner = store.replicaOf();
  if (owner !== undefined && owner !== nodeMark(name)) {
    throw new ClusterError('cluster/wrong-database', `${store.dir} belongs to ${owner}, not to the cluster database ${name}: open the node on an empty directory`);
  }
  if (owner === undefined && store.lastT() > 0) {
    throw new ClusterError(
      'cluster/not-a-node',
      `${store.dir} holds a database of its own: push it into a new cluster database with factlog cluster push, or open the node on an empty directory`,
    );
  }
  if (store.lastT() < 0) await conn.bootstrap();
  if (owner === undefined) await store.writeTransaction(() => store.markReplicaOf(nodeMark(name)));
}

/**
 * Start an empty stream with this node's log; check that the stream holds this node's log.
 * Resolves with the stream's message holding the local log's last t, where the node follows from.
 */
async function joinStream(store: Store, stream: LogStream): Promise<StreamMessage> {
  const lastT = store.lastT();
  const end = await stream.end();
  if (end.seq === 0) await pushRecords(store, stream, 0, 0);
  const holding = await stream.messageHolding(lastT);
  if (!holding) {
    const streamT = await stream.lastT();
    throw new ClusterError(
      'cluster/diverged',
      `${store.dir} is at t=${lastT}, ahead of the stream ${stream.streamName} at t=${streamT}: the stream was made anew or the directory copied from elsewhere; open the node on an empty directory`,
    );
  }
  for (const theirs of holding.records) {
    if (theirs.t > lastT) break;
    if (!Buffer.from(theirs.bytes).equals(store.logRecordAt(theirs.t)!)) throw diverged(store, theirs.t);
    if ((theirs.chain ?? store.chainHash(theirs.t)!.toString('hex')) !== store.chainHash(theirs.t)!.toString('hex')) throw diverged(store, theirs.t);
  }
  return holding;
}

/** Append the local log's records from t `from` on to the stream, one message each, the first after sequence `afterSeq`. */
export async function pushRecords(store: Store, stream: LogStream, from: number, afterSeq: number, onProgress?: (t: number) => void): Promise<void> {
  const deadline = () => Date.now() + stream.timeoutMs;
  const id = randomUUID();
  let seq = afterSeq;
  for (let t = from; t <= store.lastT(); t++) {
    const bytes = store.logRecordAt(t)!;
    const message: OutgoingMessage = { t, records: [bytes], txIds: [`${id}:${t}`], chain: store.chainHash(t)!.toString('hex'), msgId: `${id}:${t}` };
    let outcome = await stream.append(seq, message, stream.timeoutMs);
    const until = deadline();
    while (outcome.kind === 'no-answer' && Date.now() < until) outcome = await stream.append(seq, message, stream.timeoutMs);
    if (outcome.kind === 'conflict') {
      const theirs = await stream.message(seq + 1);
      const record = theirs?.records.length === 1 ? theirs.records[0]! : undefined;
      if (record && record.t === t && Buffer.from(record.bytes).equals(bytes)) {
        seq++;
        continue; // the same record, put there by another node
      }
      throw diverged(store, t);
    }
    if (outcome.kind === 'no-answer') throw new ClusterError('cluster/unavailable', `the stream ${stream.streamName} did not acknowledge t=${t}: ${outcome.why}`);
    seq = outcome.seq;
    onProgress?.(t);
  }
}

export function isClusterError(err: unknown): err is FactlogError {
  return err instanceof FactlogError && err.code.startsWith('cluster/');
}
