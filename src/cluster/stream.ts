// One database's log as a JetStream stream: the connection to NATS, the stream's name and config,
// and appending a message of log records after a given sequence (Nats-Expected-Last-Sequence) or
// reading one back. A message holds one or more records of consecutive t (a node's group commit);
// its headers name its first t, each record's length and writer's tx id, and the log's hash chain
// at its last t, so any message says which t it holds without the ones before it.
import { connect, headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, type JetStreamClient, type JetStreamManager, type StoredMsg } from '@nats-io/jetstream';
import { FactlogError } from '../../query-lang/errors.js';

export interface ClusterOptions {
  /** NATS server URLs (any of them; the client finds the others). */
  servers: string[];
  /** The database's name: its stream is `factlog_<name>`. */
  name: string;
  /** How many NATS servers keep the stream (default: the number of servers given, at most 3). */
  replicas?: number;
  /** How long a transaction may wait for the stream before failing with cluster/unavailable (ms, default 10,000). */
  timeoutMs?: number;
}

export const HEADER_T = 'Factlog-T';
export const HEADER_CHAIN = 'Factlog-Chain';
/** The writers' tx ids, one per record, comma-separated. */
export const HEADER_TX_ID = 'Factlog-Tx-Id';
/** The records' byte lengths, comma-separated; absent when the message holds one record. */
export const HEADER_LENGTHS = 'Factlog-Lengths';
/** JetStream's API error code for a publish whose expected last sequence is not the stream's. */
const WRONG_LAST_SEQUENCE = 10071;
/** ... and for one whose expected last message id is not the stream's last message's. */
const WRONG_LAST_MSG_ID = 10070;
/** Room left in a message for its headers: fixed, and per record. */
const HEADER_ROOM = 512;
const HEADER_ROOM_PER_RECORD = 48;

export class ClusterError extends FactlogError {}

/** A record the stream holds: its t, bytes and what its headers say (the chain only for a message's last record). */
export interface StreamRecord {
  t: number;
  bytes: Uint8Array;
  chain: string | undefined;
  txId: string | undefined;
}

/** One stream message: its sequence and its records, in t order. */
export interface StreamMessage {
  seq: number;
  records: StreamRecord[];
}

/** The last message of the stream: its sequence and the t of its last record. */
export interface StreamEnd {
  seq: number;
  t: number;
}

/** A conflict tells the stream's last sequence when the server said it. */
export type AppendOutcome = { kind: 'appended'; seq: number } | { kind: 'conflict'; lastSeq?: number } | { kind: 'no-answer'; why: string };

/** What a node appends: records of consecutive t from `t` on, the chain at the last one. */
export interface OutgoingMessage {
  t: number;
  records: Uint8Array[];
  txIds: string[];
  chain: string;
  msgId: string;
}

export class LogStream {
  readonly streamName: string;
  readonly subject: string;
  /** Core NATS (not in the stream): a node that lost a race for the next sequence says so here. */
  readonly contendSubject: string;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly options: ClusterOptions,
  ) {
    this.streamName = `factlog_${options.name}`;
    this.subject = `factlog.${options.name}.log`;
    this.contendSubject = `factlog.${options.name}.contend`;
  }

  static async connect(options: ClusterOptions): Promise<LogStream> {
    if (!/^[A-Za-z0-9_-]+$/.test(options.name)) {
      throw new ClusterError('cluster/bad-name', `a cluster database name is letters, digits, _ and -: ${JSON.stringify(options.name)}`);
    }
    if (options.servers.length === 0) throw new ClusterError('cluster/no-servers', 'a cluster node needs at least one NATS server URL');
    const timeout = options.timeoutMs ?? 10_000;
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: options.servers, timeout, maxReconnectAttempts: -1, reconnectTimeWait: 250, name: `factlog ${options.name}` });
    } catch (err) {
      throw new ClusterError('cluster/unavailable', `cannot reach NATS at ${options.servers.join(', ')}: ${(err as Error).message}`);
    }
    try {
      const jsm = await jetstreamManager(nc, { timeout });
      const stream = new LogStream(nc, jetstream(nc, { timeout }), jsm, options);
      await stream.ensureStream();
      return stream;
    } catch (err) {
      await nc.close();
      if (err instanceof FactlogError) throw err;
      throw new ClusterError('cluster/unavailable', `JetStream at ${options.servers.join(', ')} does not answer: ${(err as Error).message}`);
    }
  }

  get timeoutMs(): number {
    return this.options.timeoutMs ?? 10_000;
  }

  /** The most log record bytes a message of `records` records can hold. */
  maxRecordBytes(records = 1): number {
    return (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM - HEADER_ROOM_PER_RECORD * records;
  }

  /** Make the stream unless it is there; servers just started may have no leader or know no peers yet, so try again a while. */
  private async ensureStream(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        return await this.tryEnsureStream();
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  private async tryEnsureStream(): Promise<void> {
    const replicas = this.options.replicas ?? Math.min(3, this.options.servers.length);
    try {
      await this.jsm.streams.info(this.streamName);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
    }
    try {
      // never delete or purge: t is the message's sequence, and a node catches up from the start
      await this.jsm.streams.add({
        name: this.streamName,
        subjects: [this.subject],
        num_replicas: replicas,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        duplicate_window: 120e9,
      });
    } catch (err) {
      // another node made it first
      if (!(err instanceof JetStreamApiError) || err.code !== 10058) throw err;
    }
  }

  /** The stream's last t (-1 when it is empty). */
  async lastT(): Promise<number> {
    return (await this.end()).t;
  }

  /** The stream's last sequence and t ({ seq: 0, t: -1 } when it is empty): one direct get. */
  async end(): Promise<StreamEnd> {
    let msg: StoredMsg | null;
    try {
      msg = await this.jsm.streams.getMessage(this.streamName, { last_by_subj: this.subject });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === 10037) return { seq: 0, t: -1 };
      throw unavailable(`cannot read the stream ${this.streamName}`, err);
    }
    if (!msg) return { seq: 0, t: -1 };
    const { records } = messageOf(msg.seq, msg.data, (h) => msg.header?.get(h));
    return { seq: msg.seq, t: records[records.length - 1]!.t };
  }

  /** The stream's first and last sequence and how many messages it holds (its limits, if any, remove the oldest). */
  async state(): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    try {
      const { state } = await this.jsm.streams.info(this.streamName);
      return { firstSeq: state.first_seq, lastSeq: state.last_seq, messages: state.messages };
    } catch (err) {
      throw unavailable(`cannot read the state of the stream ${this.streamName}`, err);
    }
  }

  /** The message at sequence `seq`, or undefined when the stream does not hold it. */
  async message(seq: number): Promise<StreamMessage | undefined> {
    let msg: StoredMsg | null;
    try {
      msg = await this.jsm.streams.getMessage(this.streamName, { seq });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === 10037) return undefined;
      throw unavailable(`cannot read message ${seq} from the stream ${this.streamName}`, err);
    }
    return msg ? messageOf(msg.seq, msg.data, (h) => msg.header?.get(h)) : undefined;
  }

  /**
   * The message holding t, or undefined when the stream does not hold t (searched from `firstSeq`,
   * the first message it holds). A message holds at least one t, so t is at sequence t + 1 or
   * before: try there first (no group commit yet), then search by halves.
   */
  async messageHolding(t: number, firstSeq = 1): Promise<StreamMessage | undefined> {
    const end = await this.end();
    if (t < 0 || t > end.t) return undefined;
    let [lo, hi] = [firstSeq, Math.max(firstSeq, Math.min(t + 1, end.seq))];
    for (let seq = hi; lo <= hi; seq = Math.floor((lo + hi) / 2)) {
      const msg = await this.message(seq);
      if (!msg) throw new ClusterError('cluster/bad-record', `the stream ${this.streamName} has no message ${seq}: it was not written by factlog`);
      const first = msg.records[0]!.t;
      const last = msg.records[msg.records.length - 1]!.t;
      if (t < first) hi = seq - 1;
      else if (t > last) lo = seq + 1;
      else return msg;
    }
    throw new ClusterError('cluster/bad-record', `no message of the stream ${this.streamName} holds t=${t}: it was not written by factlog`);
  }

  /**
   * Append `message` unless the stream's last sequence is no longer `afterSeq` (conflict), or,
   * with `afterMsgId`, its last message is not that one: a message sent before the one it follows
   * was acknowledged lands only right after it. `msgId` makes a retry of the same message a no-op
   * when the first try landed (JetStream answers it as a duplicate).
   */
  async append(afterSeq: number, message: OutgoingMessage, timeoutMs: number, afterMsgId?: string): Promise<AppendOutcome> {
    const h = natsHeaders();
    h.set(HEADER_T, String(message.t));
    h.set(HEADER_CHAIN, message.chain);
    h.set(HEADER_TX_ID, message.txIds.join(','));
    if (message.records.length > 1) h.set(HEADER_LENGTHS, message.records.map((r) => r.length).join(','));
    const bytes = message.records.length === 1 ? message.records[0]! : Buffer.concat(message.records);
    try {
      const ack = await this.js.publish(this.subject, bytes, {
        expect: afterMsgId === undefined ? { lastSequence: afterSeq } : { lastSequence: afterSeq, lastMsgID: afterMsgId },
        msgID: message.msgId,
        headers: h,
        timeout: Math.max(1, timeoutMs),
      });
      return { kind: 'appended', seq: ack.seq };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_MSG_ID) return { kind: 'conflict' };
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        const last = /wrong last sequence: (\d+)/.exec(err.message);
        return { kind: 'conflict', lastSeq: last ? Number(last[1]) : undefined };
      }
      return { kind: 'no-answer', why: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

/** A message's records, as its headers say; a message without factlog's headers is one record at t = seq - 1. */
export function messageOf(seq: number, data: Uint8Array, header: (name: string) => string | undefined): StreamMessage {
  const said = header(HEADER_T);
  const first = said !== undefined && said !== '' ? Number(said) : seq - 1;
  const lengthsSaid = header(HEADER_LENGTHS);
  const lengths = lengthsSaid ? lengthsSaid.split(',').map(Number) : [data.length];
  const txIds = (header(HEADER_TX_ID) ?? '').split(',');
  if (!Number.isSafeInteger(first) || first < 0 || lengths.some((n) => !Number.isSafeInteger(n) || n < 0) || lengths.reduce((a, b) => a + b, 0) !== data.length) {
    throw new ClusterError('cluster/bad-record', `stream message ${seq} does not hold the records its headers name: the stream was not written by factlog`);
  }
  const chain = header(HEADER_CHAIN) || undefined;
  const records: StreamRecord[] = [];
  let offset = 0;
  for (const [i, length] of lengths.entries()) {
    const last = i === lengths.length - 1;
    records.push({ t: first + i, bytes: data.subarray(offset, offset + length), chain: last ? chain : undefined, txId: txIds[i] || undefined });
    offset += length;
  }
  return { seq, records };
}

export function unavailable(what: string, err: unknown): ClusterError {
  if (err instanceof ClusterError) return err;
  return new ClusterError('cluster/unavailable', `${what}: ${(err as Error).message}`);
}
