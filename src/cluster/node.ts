// A cluster node: a connection whose local directory holds its indexes and its copy of the log,
// and whose transactions go to the database's JetStream stream. A node prepares the transactions
// waiting on it against its latest db as an embedded connection does (a group commit: in order,
// each against the ones before it) and appends their records as one message, conditionally on the
// stream's last sequence; when another node got there first it catches up and prepares them
// again, so cas, unique and upsert checks see the db right before each transaction in the log.
// Messages are pipelined: the next is prepared on top of the ones in flight and sent before they
// are acknowledged, conditionally on the one before it, so it lands only right after it.
import { randomUUID } from 'node:crypto';
import { FactlogError } from '../../query-lang/errors.js';
import { Connection, connectionLimits, txReport, type ConnectionWriter, type OpenOptions, type TxReport } from '../connection.js';
import type { Datom } from '../db/api.js';
import { replayLogFile } from '../db/log-replay.js';
import { isSchemaAttr } from '../db/schema.js';
import { toDatom } from '../storage/encoding.js';
import type { LogEntry } from '../storage/log.js';
import { chainStep } from '../storage/log-chain.js';
import { Store } from '../storage/store.js';
import type { PreparedTx } from '../tx/transact.js';
import { functionRegistry } from '../tx/tx-functions.js';
import { isDataFailure, latestSpeculation, MAX_BATCH, prepareBatch, speculate, speculateOnDelivered, type BatchInput, type PreparedBatch, type Speculation } from './batch.js';
import { diverged, Follower, streamTruncated } from './follower.js';
import { ClusterError, LogStream, type ClusterOptions, type OutgoingMessage, type StreamMessage } from './stream.js';
import { Turns } from './turns.js';

export interface NodeOptions extends OpenOptions {
  cluster: ClusterOptions;
}

/** What marks a directory as a node of database `name` (its meta's replicaOf). */
export function nodeMark(name: string): string {
  return `nats:${name}`;
}

/** A transact (one tx) or transactBatch call (several) waiting for its records to be in the stream and indexed here. */
interface Waiting extends BatchInput {
  /** One per tx: the writer's id in the message's headers. */
  txIds: string[];
  reports: TxReport[];
  onReport: ((report: TxReport, index: number) => void) | undefined;
  deadline: number;
  settled: boolean;
  resolve: (reports: TxReport[]) => void;
  reject: (err: unknown) => void;
}

/** A record this node wrote and waits to see indexed. */
interface OwnTx {
  item: Waiting;
  index: number;
  prepared: PreparedTx;
}

/** The db a message is prepared on, and what it is appended after (see launch). */
interface Base {
  from: Speculation;
  afterSeq: number;
  afterMsgId?: string;
  onDelivered?: boolean;
}

type FlightOutcome = { kind: 'appended'; seq: number } | { kind: 'conflict'; lastSeq?: number } | { kind: 'unavailable'; error: unknown };

/**
 * One message of this node, sent and not yet indexed here. Each follows the one before it (its
 * expected last sequence and message id are that one's), so it lands only if they all did, right
 * after them: a message is prepared against the db with the ones in flight before it.
 */
interface Flight {
  batch: PreparedBatch;
  /** The calls whose records it holds, in order. */
  items: Waiting[];
  /** The calls whose data failed against its db: final once it lands. */
  failed: { item: Waiting; error: unknown }[];
  message: OutgoingMessage;
  afterSeq: number;
  /** Prepared on top of another node's message taken from the stream but not yet committed here. */
  onDelivered: boolean;
  deadline: number;
  outcome: Promise<FlightOutcome>;
  /** Its outcome, once handled (in the order of the flights). */
  answer?: FlightOutcome;
}

/** How long to wait between tries of a publish that got no answer. */
const RETRY_MS = 100;
/** Longest wait for one publish's answer. */
const PUBLISH_TIMEOUT_MS = 2000;
/** Messages of a node sent and not yet answered, at most. */
const MAX_IN_FLIGHT = 4;
/** How long a node that said it writes (it lost a race, or landed a message while taking turns) counts as a writer (ms). */
const CONTENDED_MS = 200;
/** What a node that stopped writing says on the contention subject after its id. */
const IDLE = 'idle';
/** How long a closing node waits for NATS to have its IDLE (ms). */
const CLOSING_FLUSH_MS = 500;
/** How long a writer whose commit loop has nothing left waits before it says it stopped writing (ms). */
const IDLE_MS = 10;

/** Counts and times (ms, wall clock, by what the commit loop waited on) of a node's write path. */
export interface WriteStats {
  /** Messages of this node that landed, and the transactions in them. */
  messages: number;
  txs: number;
  /** Messages refused because another node appended first, and the transactions in them (prepared again). */
  conflicts: number;
  reprepared: number;
  /** Times the commit loop waited for another node's turn, and messages sent when the turn was another's (it was late). */
  turnsWaited: number;
  turnsTakenOutOfOrder: number;
  /** Messages prepared on another node's message taken from the stream before its local commit here, and those of them that landed. */
  preparedOnDelivered: number;
  landedOnDelivered: number;
  /** Time in prepareBatch alone (ms) and the calls it prepared. */
  prepareMs: number;
  prepared: number;
  ms: { preparing: number; awaitingAck: number; catchingUp: number; awaitingIndex: number; yielding: number };
}

function newWriteStats(): WriteStats {
  return {
    messages: 0,
    txs: 0,
    conflicts: 0,
    reprepared: 0,
    turnsWaited: 0,
    turnsTakenOutOfOrder: 0,
    preparedOnDelivered: 0,
    landedOnDelivered: 0,
    prepareMs: 0,
    prepared: 0,
    ms: { preparing: 0, awaitingAck: 0, catchingUp: 0, awaitingIndex: 0, yielding: 0 },
  };
}

export class ClusterNode implements ConnectionWriter {
  private readonly own = new Map<string, OwnTx>();
  private waiting: Waiting[] = [];
  /** This node's messages not yet indexed here, in order (see Flight). */
  private flights: Flight[] = [];
  /** A flight was refused or unanswered: the ones after it cannot land; catch up once all are answered. */
  private broken: { lastSeq: number | undefined; requeue: Waiting[] } | undefined;
  /** Every call of a message failed on a db with flights under it: try them again once those are indexed. */
  private waitForChain = false;
  private committing: Promise<void> | undefined;
  private arrived: (() => void) | undefined;
  /**
   * Nodes that write at once would have one of them win every race for the next sequence (its
   * next message is ready first) while the others prepare theirs in vain: a node that lost says
   * so (contendSubject), and while others write, the nodes take turns: one message in flight, the
   * message at sequence s is the turn of writer s mod n (sorted by id), and a node whose turn it
   * is not waits for that message (or Turns.patienceMs after the last one it saw). A node says it
   * writes after each of its messages lands while taking turns, so every writer knows the others,
   * and says it stopped when it has nothing left to write, so the others do not wait for it.
   */
  private readonly id = randomUUID();
  private readonly turns = new Turns(this.id, CONTENDED_MS);
  private lastLanded: { seq: number; at: number } | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** When this node last said it writes (0: it said it stopped since). */
  private saidWritingAt = 0;
  /** The last stream sequence counted in the turns' pace. */
  private notedSeq = 0;
  readonly follower: Follower;
  /** What the write path did and where its time went, for the benchmark. */
  readonly stats = newWriteStats();

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
      await prepareDirectory(conn, options.cluster.name, stream);
      const holding = await joinStream(store, stream);
      conn.loadState();
      const node = new ClusterNode(conn, stream);
      conn.writer = node;
      node.follower.start(holding);
      node.listenForContention();
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

  write(txDatas: readonly unknown[], onReport: ((report: TxReport, index: number) => void) | undefined, isBatch: boolean): Promise<TxReport[]> {
    if (txDatas.length === 0) return Promise.resolve([]);
    // the calls that arrive while messages are in flight go together in the next one
    return new Promise<TxReport[]>((resolve, reject) => {
      const id = randomUUID();
      const settle =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          if (item.settled) return;
          item.settled = true;
          for (const txId of item.txIds) this.own.delete(txId);
          f(v);
        };
      const item: Waiting = {
        txDatas,
        isBatch,
        txIds: txDatas.map((_, i) => (isBatch ? `${id}:${i}` : id)),
        reports: [],
        onReport,
        deadline: Date.now() + this.stream.timeoutMs,
        settled: false,
        resolve: settle(resolve),
        reject: settle(reject),
      };
      this.waiting.push(item);
      this.arrived?.();
      this.commitNext();
    });
  }

  /** One commit loop at a time, while calls wait or messages are in flight. */
  private commitNext(): void {
    if (this.committing || this.waiting.length === 0) return;
    this.committing = this.commitLoop()
      .catch((err: unknown) => this.rejectAll(err))
      .finally(() => {
        this.committing = undefined;
        this.commitNext();
      });
  }

  private async commitLoop(): Promise<void> {
    // the calls made in the same tick go in one message
    await Promise.resolve();
    for (;;) {
      this.follower.throwIfFailed();
      this.waiting = this.waiting.filter((item) => !item.settled);
      this.dropIndexed();
      const unanswered = this.flights.find((f) => f.answer === undefined);
      const inFlight = this.flights.filter((f) => f.answer === undefined).length;
      const contended = this.turns.contended(Date.now());
      const yielding = contended ? this.turnIn() : 0;
      const canLaunch = !this.broken && !this.waitForChain && inFlight < (contended ? 1 : MAX_IN_FLIGHT) && yielding === 0;
      if (!canLaunch || this.waiting.length === 0) {
        if (!unanswered && !this.broken && this.flights.length === 0 && this.waiting.length === 0) return this.goingIdle();
      } else if (contended && !this.turns.isMine(this.nextSeq(), Date.now())) this.stats.turnsTakenOutOfOrder++;
      const started = performance.now();
      const phase = await this.step(canLaunch, unanswered, yielding);
      this.stats.ms[phase] += performance.now() - started;
    }
  }

  /** One step of the commit loop; says what it waited on. */
  private async step(canLaunch: boolean, unanswered: Flight | undefined, yielding: number): Promise<keyof WriteStats['ms']> {
    if (canLaunch && this.waiting.length > 0) {
      await this.launch();
      return 'preparing';
    }
    if (unanswered) {
      await this.answerOf(unanswered, canLaunch);
      return 'awaitingAck';
    }
    if (this.broken) {
      await this.recover(this.broken);
      return 'catchingUp';
    }
    // while taking turns, the next turn may come before this node's last message is indexed here
    if (this.flights.length > 0 && (yielding === 0 || this.waitForChain || this.waiting.length === 0)) {
      await this.indexed(this.flights.at(-1)!, canLaunch);
      return 'awaitingIndex';
    }
    await this.giveTurn(yielding);
    return 'yielding';
  }

  /** The sequence this node's next message would take: after its last landed one, or what it took from the stream. */
  private nextSeq(): number {
    const last = this.flights.at(-1)?.answer;
    return Math.max(last?.kind === 'appended' ? last.seq : 0, this.follower.deliveredSeq) + 1;
  }

  /** Taking turns: 0 when the next sequence is this node's turn, else how long it still waits for another's message (ms). */
  private turnIn(): number {
    const now = Date.now();
    if (this.turns.isMine(this.nextSeq(), now)) return 0;
    return Math.max(0, Math.max(this.follower.acceptedAt, this.lastLanded?.at ?? 0) + this.turns.patienceMs() - now);
  }

  private async giveTurn(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    this.stats.turnsWaited++;
    const next = this.follower.waitForDelivery(this.nextSeq()).catch(() => undefined);
    await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), next]);
    clearTimeout(timer);
  }

  private listenForContention(): void {
    this.stream.nc.subscribe(this.stream.contendSubject, {
      callback: (err, msg) => {
        if (err) return;
        const [id = '', what] = msg.string().split(' ');
        if (what === IDLE) this.turns.forget(id);
        else this.turns.hear(id, Date.now());
      },
    });
  }

  /** Whether other nodes may count this one among the writers (it said it writes lately). */
  private countedAsWriter(): boolean {
    return Date.now() - this.saidWritingAt < CONTENDED_MS;
  }

  /** Tell the other nodes this one writes, or (IDLE) stopped (core NATS, not the stream). */
  private say(what?: typeof IDLE): void {
    this.saidWritingAt = what ? 0 : Date.now();
    try {
      this.stream.nc.publish(this.stream.contendSubject, what ? `${this.id} ${what}` : this.id);
    } catch {
      // closed or reconnecting: the others learn of this node at its next race, or wait for its turns a while
    }
  }

  /** Say IDLE and wait (a while at most: NATS may be gone) for the server to have it before the connection closes. */
  private async sayIdleBeforeClosing(): Promise<void> {
    this.say(IDLE);
    let timer: NodeJS.Timeout | undefined;
    const flushed = this.stream.nc.flush().catch(() => undefined);
    await Promise.race([flushed, new Promise((r) => (timer = setTimeout(r, CLOSING_FLUSH_MS)))]);
    clearTimeout(timer);
  }

  /** The commit loop ends: while taking turns, say so unless a call comes soon (its writers' next calls often do). */
  private goingIdle(): void {
    if (!this.countedAsWriter() || this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.committing && this.waiting.length === 0) this.say(IDLE);
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  /** Flights indexed here are done: their callers got their reports from the follower's commit. */
  private dropIndexed(): void {
    while (this.flights[0]?.answer?.kind === 'appended' && this.follower.appliedSeq >= this.flights[0].answer.seq) this.flights.shift();
    if (this.flights.length === 0) this.waitForChain = false;
  }

  /** Resolves when a call arrives (when `wanted`), or never. */
  private arrival(wanted: boolean): Promise<void> {
    return wanted ? new Promise<void>((resolve) => (this.arrived = resolve)) : new Promise<void>(() => undefined);
  }

  /** Wait for the flight's answer (or a call that can go in a new message), and act on it. */
  private async answerOf(flight: Flight, launchable: boolean): Promise<void> {
    const outcome = await Promise.race([flight.outcome, this.arrival(launchable).then(() => undefined)]);
    this.arrived = undefined;
    if (!outcome) return;
    flight.answer = outcome;
    if (outcome.kind === 'appended') {
      this.follower.acceptAppended({
        seq: outcome.seq,
        records: flight.message.records.map((bytes, i) => ({
          t: flight.message.t + i,
          bytes,
          txId: flight.message.txIds[i],
          chain: i === flight.message.records.length - 1 ? flight.message.chain : undefined,
        })),
      });
      this.lastLanded = { seq: outcome.seq, at: Date.now() };
      if (flight.onDelivered) this.stats.landedOnDelivered++;
      if (this.turns.contended(Date.now())) this.say();
      this.stats.messages++;
      this.stats.txs += flight.message.records.length;
      // it landed, so its db was the stream's: a failure against it is final
      for (const { item, error } of flight.failed) item.reject(error);
      return;
    }
    this.flights.splice(this.flights.indexOf(flight), 1);
    this.broken ??= { lastSeq: undefined, requeue: [] };
    if (outcome.kind === 'conflict') {
      this.stats.conflicts++;
      this.stats.reprepared += flight.message.records.length;
      this.say();
      this.broken.lastSeq = Math.max(this.broken.lastSeq ?? 0, outcome.lastSeq ?? 0) || undefined;
      this.broken.requeue.push(...flight.items, ...flight.failed.map((f) => f.item));
    } else for (const item of [...flight.items, ...flight.failed.map((f) => f.item)]) item.reject(outcome.error);
  }

  /**
   * Another node appended first (or a flight got no answer): catch up, then put the calls back at
   * the head of the queue; our records may be among those caught up with (a retry that landed).
   */
  private async recover(broken: NonNullable<ClusterNode['broken']>): Promise<void> {
    const items = broken.requeue.filter((item) => !item.settled);
    if (items.length === 0) return void (this.broken = undefined);
    const deadline = Math.min(Date.now() + this.stream.timeoutMs, ...items.map((item) => item.deadline));
    try {
      await this.within(this.catchUp(broken.lastSeq), deadline, 'the stream did not answer while catching up');
    } catch (err) {
      for (const item of items) item.reject(err);
    } finally {
      this.broken = undefined;
    }
    this.waiting.unshift(...items.filter((item) => !item.settled));
  }

  /** Wait until `flight` is indexed here (or a call that can go in a new message). */
  private async indexed(flight: Flight, launchable: boolean): Promise<void> {
    const seq = (flight.answer as { seq: number }).seq;
    try {
      await Promise.race([this.within(this.follower.waitForSeq(seq), flight.deadline, `message ${seq} is in the stream but not yet indexed on this node`), this.arrival(launchable)]);
    } catch (err) {
      for (const f of this.flights) for (const item of f.items) item.reject(err);
      this.flights = [];
    } finally {
      this.arrived = undefined;
    }
  }

  /** Prepare what waits as a message on top of the flights, and send it. */
  private async launch(): Promise<void> {
    const on = this.onDelivered() ?? (this.flights.length > 0 ? this.onFlights() : await this.onLatest());
    if (!on) {
      this.waitForChain = true;
      return;
    }
    const prepStart = performance.now();
    const batch = prepareBatch(this.conn, this.stream, this.waiting.slice(0, MAX_BATCH), on.from);
    this.stats.prepareMs += performance.now() - prepStart;
    this.stats.prepared += batch.deferredFrom;
    const items = this.waiting.splice(0, batch.deferredFrom);
    const failed = batch.failed.map(({ index, error }) => ({ item: items[index]!, error }));
    if (batch.included.length === 0) return this.allFailed(items, failed, on.from);
    const included = batch.included.map((i) => items[i.index]!);
    for (const [k, { prepared }] of batch.included.entries()) for (const [i, p] of prepared.entries()) this.own.set(included[k]!.txIds[i]!, { item: included[k]!, index: i, prepared: p });
    const message: OutgoingMessage = {
      t: batch.t,
      records: batch.included.flatMap((i) => i.bytes),
      txIds: included.flatMap((item) => item.txIds),
      chain: batch.after.chain.toString('hex'),
      msgId: randomUUID(),
    };
    const deadline = Math.min(...included.map((item) => item.deadline));
    const outcome = this.publish(on.afterSeq, message, deadline, on.afterMsgId).catch((error: unknown): FlightOutcome => ({ kind: 'unavailable', error }));
    const onDelivered = on.onDelivered ?? false;
    if (onDelivered) this.stats.preparedOnDelivered++;
    this.flights.push({ batch, items: included, failed, message, afterSeq: on.afterSeq, onDelivered, deadline, outcome });
  }

  /**
   * Messages of other nodes taken from the stream and not yet committed here: the latest db with
   * their records on top (checked by t and hash chain), appended after the last of them. Only when
   * each flight of this node landed and that message comes after them (the stream's order is then
   * the follower's: its own landed messages are among those taken). A local commit takes several
   * ms at load: taking turns, the next writer prepares without waiting for it.
   */
  private onDelivered(): Base | undefined {
    if (this.flights.some((f) => f.answer?.kind !== 'appended')) return undefined;
    const ownSeq = (this.flights.at(-1)?.answer as { seq: number } | undefined)?.seq ?? 0;
    const delivered = this.follower.delivered();
    const last = delivered.at(-1);
    if (!last || last.seq <= ownSeq || last.seq !== this.follower.deliveredSeq) return undefined;
    const from = speculateOnDelivered(latestSpeculation(this.conn), delivered);
    return from && { from, afterSeq: last.seq, onDelivered: true };
  }

  /** The node's latest db and the sequence ending at it; undefined after waiting for the stream when the local log ends inside a message. */
  private async onLatest(): Promise<Base | undefined> {
    const from = latestSpeculation(this.conn);
    const basisT = from.base.basisT;
    const afterSeq = this.follower.seqEnding(basisT);
    if (afterSeq !== undefined) return { from, afterSeq };
    try {
      await this.within(this.follower.waitFor(basisT + 1), this.waiting[0]!.deadline, `this node did not reach t=${basisT + 1}`);
    } catch (err) {
      for (const item of this.waiting) if (item.deadline <= Date.now()) item.reject(err);
    }
    return undefined;
  }

  /** The latest db with the records of the flights not yet indexed on top; undefined when what was indexed is not theirs. */
  private onFlights(): Base | undefined {
    const latest = latestSpeculation(this.conn);
    const last = this.flights.at(-1)!;
    const pending = this.flights.flatMap((f) => f.batch.included.flatMap((i) => i.prepared)).filter((p) => p.t > latest.base.basisT);
    if (pending.length > 0 && pending[0]!.t !== latest.base.basisT + 1) return undefined;
    if (pending.length === 0 && last.batch.t + last.message.records.length - 1 !== latest.base.basisT) return undefined;
    return { from: speculate(latest, pending, last.batch.after.chain), afterSeq: last.afterSeq + 1, afterMsgId: last.message.msgId };
  }

  /**
   * Every call failed: final only against the stream's latest db. On flights, once they are
   * indexed; on the latest db, when the stream is not past it (else catch up and try again).
   */
  private async allFailed(items: Waiting[], failed: { item: Waiting; error: unknown }[], from: Speculation): Promise<void> {
    const retry = (): void => void this.waiting.unshift(...items);
    if (this.flights.length > 0) {
      this.waitForChain = true;
      return retry();
    }
    const basisT = from.base.basisT;
    try {
      if (failed.some(({ error }) => isDataFailure(error))) {
        const deadline = Math.min(...items.map((item) => item.deadline));
        const streamT = await this.within(this.stream.lastT(), deadline, 'the stream did not answer');
        if (streamT > basisT) {
          await this.within(this.follower.waitFor(streamT), deadline, `this node did not reach t=${streamT}`);
          return retry();
        }
      }
      for (const { item, error } of failed) item.reject(error);
    } catch (err) {
      for (const item of items) item.reject(err);
    }
  }

  private rejectAll(err: unknown): void {
    for (const item of [...this.waiting, ...this.flights.flatMap((f) => [...f.items, ...f.failed.map((x) => x.item)]), ...(this.broken?.requeue ?? [])]) item.reject(err);
    this.waiting = [];
    this.flights = [];
    this.broken = undefined;
    this.waitForChain = false;
  }

  /** Append, trying again (the same message, so it lands at most once) until an answer or the deadline. */
  private async publish(afterSeq: number, message: OutgoingMessage, deadline: number, afterMsgId: string | undefined): Promise<FlightOutcome> {
    const { t } = message;
    let why = '';
    while (Date.now() < deadline) {
      const timeout = Math.min(PUBLISH_TIMEOUT_MS, deadline - Date.now());
      const outcome = await this.stream.append(afterSeq, message, timeout, afterMsgId);
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
    this.turns.noteMessages(this.follower.appliedSeq - this.notedSeq, Date.now());
    this.notedSeq = this.follower.appliedSeq;
    // the schema history is read again only when a record changed the schema
    if (applied.some(({ entry }) => entry.datoms.some((d) => isSchemaAttr(d.a)))) this.conn.loadState();
    else this.conn.advanceMeta();
    for (const { entry, txId } of applied) {
      const own = txId !== undefined ? this.own.get(txId) : undefined;
      const before = this.conn.dbAt(entry.t - 1);
      const after = this.conn.dbAt(entry.t);
      const report = own && own.prepared.t === entry.t ? txReport(before, after, own.prepared) : reportOf(entry, before.basisT, before, after);
      if (own) this.reportTo(own, report);
      this.conn.publish(report);
    }
  }

  /** A call resolves once all its records are indexed (a batch's are, in one local commit). */
  private reportTo(own: OwnTx, report: TxReport): void {
    const { item, index } = own;
    if (item.settled) return;
    item.reports[index] = report;
    item.onReport?.(report, index);
    if (item.reports.filter(Boolean).length === item.txDatas.length) item.resolve(item.reports);
  }

  async sync(t?: number): Promise<void> {
    const target = t ?? (await this.stream.lastT());
    const deadline = Date.now() + this.stream.timeoutMs;
    await this.within(this.follower.waitFor(target), deadline, `this node did not reach t=${target}`);
  }

  async close(): Promise<void> {
    while (this.committing) await this.committing;
    clearTimeout(this.idleTimer);
    // the others would wait for this node's turns until they forget it
    if (this.countedAsWriter()) await this.sayIdleBeforeClosing();
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

/**
 * Replay a crash's leftovers; bootstrap an empty directory (t=0 is the same everywhere); refuse
 * another database's. A database of its own (a pushed embedded one, or a backup of it) becomes a
 * node when the stream holds its whole log.
 */
async function prepareDirectory(conn: Connection, name: string, stream: LogStream): Promise<void> {
  const store = conn.store;
  await replayLogFile(store);
  const owner = store.replicaOf();
  if (owner !== undefined && owner !== nodeMark(name)) {
    throw new ClusterError('cluster/wrong-database', `${store.dir} belongs to ${owner}, not to the cluster database ${name}: open the node on an empty directory`);
  }
  if (owner === undefined && store.lastT() > 0 && !(await streamHoldsLog(store, stream))) {
    throw new ClusterError(
      'cluster/not-a-node',
      `${store.dir} holds a database of its own: push it into a new cluster database with factlog cluster push, or open the node on an empty directory`,
    );
  }
  if (store.lastT() < 0) await conn.bootstrap();
  if (owner === undefined) await store.writeTransaction(() => store.markReplicaOf(nodeMark(name)));
}

/** Whether the stream holds the local log up to its last t (it was pushed there). */
async function streamHoldsLog(store: Store, stream: LogStream): Promise<boolean> {
  if ((await stream.state()).lastSeq === 0) return false;
  try {
    await locate(store, stream);
    return true;
  } catch (err) {
    if (err instanceof ClusterError && err.code === 'cluster/diverged') return false;
    throw err;
  }
}

/**
 * Start an empty stream with this node's log; check that the stream holds this node's log.
 * Resolves with the message the node follows from (see locate).
 */
async function joinStream(store: Store, stream: LogStream): Promise<StreamMessage> {
  if ((await stream.state()).lastSeq === 0) await pushRecords(store, stream, 0, 0);
  return locate(store, stream);
}

/**
 * The stream's message holding the local log's last t, its records checked against the local
 * ones; or, when the stream's limits removed it, the first message it holds if that one starts
 * right after the local log (a node restored from a backup), its chain checked against the local
 * log's. Older than the stream's first message: cluster/stream-truncated.
 */
async function locate(store: Store, stream: LogStream): Promise<StreamMessage> {
  const lastT = store.lastT();
  const { firstSeq, messages } = await stream.state();
  const first = messages > 0 ? await stream.message(firstSeq) : undefined;
  if (!first) throw streamTruncated(stream, store, lastT, undefined);
  const firstT = first.records[0]!.t;
  if (firstT > lastT + 1) throw streamTruncated(stream, store, lastT, firstT);
  if (firstT === lastT + 1) {
    let chain = store.chainHash(lastT)!;
    for (const record of first.records) chain = chainStep(chain, record.bytes);
    const said = first.records[first.records.length - 1]!.chain;
    if (said !== undefined && said !== chain.toString('hex')) throw diverged(store, lastT);
    return first;
  }
  const holding = await stream.messageHolding(lastT, firstSeq);
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
