// A cluster node: a connection whose local directory holds its indexes and its copy of the log,
// and whose transactions go to the database's JetStream stream. A node prepares a transaction
// against its latest db as an embedded connection does and appends the record conditionally on
// the stream's last t; when another node got there first it catches up and prepares it again, so
// cas, unique and upsert checks see the db right before the transaction in the log.
import { randomUUID } from 'node:crypto';
import { FactlogError } from '../../query-lang/errors.js';
import { Connection, txReport, type ConnectionWriter, type OpenOptions, type TxReport } from '../connection.js';
import type { Datom } from '../db/api.js';
import { replayLogFile } from '../db/log-replay.js';
import { isSchemaAttr } from '../db/schema.js';
import { toDatom } from '../storage/encoding.js';
import { encodeLogRecord, toLogEntry, type LogEntry } from '../storage/log.js';
import { chainStep } from '../storage/log-chain.js';
import { Store } from '../storage/store.js';
import { prepareTx, type PreparedTx } from '../tx/transact.js';
import { functionRegistry } from '../tx/tx-functions.js';
import { diverged, Follower } from './follower.js';
import { ClusterError, LogStream, type ClusterOptions } from './stream.js';

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

/** How long to wait between tries of a publish that got no answer. */
const RETRY_MS = 100;
/** Longest wait for one publish's answer. */
const PUBLISH_TIMEOUT_MS = 2000;

export class ClusterNode implements ConnectionWriter {
  private readonly own = new Map<string, OwnTx>();
  private queue: Promise<unknown> = Promise.resolve();
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
      const conn = new Connection(store, options.strictSchema ?? false, options.columnDatoms, { timeout: options.queryTimeout, maxValues: options.queryMaxValues }, functions);
      await prepareDirectory(conn, options.cluster.name);
      await joinStream(store, stream);
      conn.loadState();
      const node = new ClusterNode(conn, stream);
      conn.writer = node;
      node.follower.start();
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
    // one transaction of this node in flight at a time: the next one is prepared against its result
    const run = this.queue.then(() => this.writeOne(txDatas[0]));
    this.queue = run.catch(() => undefined);
    return run.then((report) => [report]);
  }

  private async writeOne(txData: unknown): Promise<TxReport> {
    const txId = randomUUID();
    const deadline = Date.now() + this.stream.timeoutMs;
    try {
      for (;;) {
        this.follower.throwIfFailed();
        const attempt = await this.prepareLatest(txData, deadline);
        if (!attempt) continue;
        const landed = new Promise<TxReport>((resolve) => this.own.set(txId, { prepared: attempt.prepared, resolve }));
        const outcome = await this.publish(attempt, txId, deadline);
        // waiting through the follower lets its watchdog see a silent consumer
        if (outcome.kind === 'appended')
          return await this.within(
            this.follower.waitFor(attempt.prepared.t).then(() => landed),
            deadline,
            `t=${attempt.prepared.t} is in the stream but not yet indexed on this node`,
          );
        // another node appended first: catch up; our record may be among those (a retry that landed)
        await this.within(this.catchUp(outcome.lastT), deadline, 'the stream did not answer while catching up');
        const report = await Promise.race([landed, Promise.resolve(undefined)]);
        if (report) return report;
      }
    } finally {
      this.own.delete(txId);
    }
  }

  /**
   * Prepare against the node's latest db; a failure of the tx data (a cas, a unique conflict, a
   * lookup ref) counts only against the stream's latest db: when the node is behind, it catches up
   * and the caller tries again (undefined).
   */
  private async prepareLatest(txData: unknown, deadline: number): Promise<{ prepared: PreparedTx; bytes: Buffer; chain: string } | undefined> {
    const basisT = this.conn.db().basisT;
    try {
      return this.prepare(txData);
    } catch (err) {
      if (!(err instanceof FactlogError) || err.code.startsWith('cluster/')) throw err;
      const streamT = await this.within(this.stream.lastT(), deadline, 'the stream did not answer');
      if (streamT <= basisT) throw err;
      await this.within(this.follower.waitFor(streamT), deadline, `this node did not reach t=${streamT}`);
      return undefined;
    }
  }

  /** The tx data against the node's latest db, as its log record for the next t. */
  private prepare(txData: unknown): { prepared: PreparedTx; bytes: Buffer; chain: string } {
    const db = this.conn.db();
    const meta = this.conn.store.readMeta();
    const prepared = prepareTx(db, txData, {
      t: db.basisT + 1,
      nextEid: meta.nextEid,
      lastInstant: meta.lastInstant,
      strictSchema: this.conn.strictSchema,
      functions: this.conn.functions,
    });
    const entry = toLogEntry({ t: prepared.t, tx: prepared.tx, instant: prepared.instant, retracted: prepared.retracted, asserted: prepared.asserted });
    const bytes = encodeLogRecord(entry);
    if (bytes.length > this.stream.maxRecordBytes) {
      throw new ClusterError(
        'cluster/tx-too-large',
        `the transaction's log record is ${bytes.length} bytes, over the ${this.stream.maxRecordBytes} a NATS message holds here (max_payload): split it`,
      );
    }
    const chain = chainStep(this.conn.store.chainHash(db.basisT)!, bytes).toString('hex');
    return { prepared, bytes, chain };
  }

  /** Append, trying again (the same message, so it lands at most once) until an answer or the deadline. */
  private async publish(
    attempt: { prepared: PreparedTx; bytes: Buffer; chain: string },
    txId: string,
    deadline: number,
  ): Promise<{ kind: 'appended' } | { kind: 'conflict'; lastT?: number }> {
    const t = attempt.prepared.t;
    const msgId = `${txId}:${t}`;
    let why = '';
    while (Date.now() < deadline) {
      const timeout = Math.min(PUBLISH_TIMEOUT_MS, deadline - Date.now());
      const outcome = await this.stream.append(t, attempt.bytes, attempt.chain, txId, msgId, timeout);
      if (outcome.kind === 'conflict') return outcome;
      if (outcome.kind === 'appended') {
        if (outcome.t !== t) throw new ClusterError('cluster/bad-record', `the stream put the record of t=${t} at t=${outcome.t}`);
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

  /** Up to the stream's last t: the one a conflict named, else asked for. */
  private async catchUp(lastT?: number): Promise<void> {
    const t = lastT ?? (await this.stream.lastT());
    await this.follower.waitFor(t);
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
    await this.queue;
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

/** Start an empty stream with this node's log; check that the stream holds this node's log. */
async function joinStream(store: Store, stream: LogStream): Promise<void> {
  const lastT = store.lastT();
  if ((await stream.lastT()) < 0) await pushRecords(store, stream, 0);
  const streamT = await stream.lastT();
  if (streamT < lastT) {
    throw new ClusterError(
      'cluster/diverged',
      `${store.dir} is at t=${lastT}, ahead of the stream ${stream.streamName} at t=${streamT}: the stream was made anew or the directory copied from elsewhere; open the node on an empty directory`,
    );
  }
  const theirs = await stream.record(lastT);
  const ours = store.chainHash(lastT)!.toString('hex');
  if (!theirs || (theirs.chain ?? ours) !== ours || !Buffer.from(theirs.bytes).equals(store.logRecordAt(lastT)!)) throw diverged(store, lastT);
}

/** Append the local log's records from t `from` on to the stream, each after the one before. */
export async function pushRecords(store: Store, stream: LogStream, from: number, onProgress?: (t: number) => void): Promise<void> {
  const deadline = () => Date.now() + stream.timeoutMs;
  const id = randomUUID();
  for (let t = from; t <= store.lastT(); t++) {
    const bytes = store.logRecordAt(t)!;
    const chain = store.chainHash(t)!.toString('hex');
    let outcome = await stream.append(t, bytes, chain, `${id}:${t}`, `${id}:${t}`, stream.timeoutMs);
    const until = deadline();
    while (outcome.kind === 'no-answer' && Date.now() < until) outcome = await stream.append(t, bytes, chain, `${id}:${t}`, `${id}:${t}`, stream.timeoutMs);
    if (outcome.kind === 'conflict') {
      const theirs = await stream.record(t);
      if (theirs && Buffer.from(theirs.bytes).equals(bytes)) continue; // the same record, put there by another node
      throw diverged(store, t);
    }
    if (outcome.kind === 'no-answer') throw new ClusterError('cluster/unavailable', `the stream ${stream.streamName} did not acknowledge t=${t}: ${outcome.why}`);
    onProgress?.(t);
  }
}

export function isClusterError(err: unknown): err is FactlogError {
  return err instanceof FactlogError && err.code.startsWith('cluster/');
}
