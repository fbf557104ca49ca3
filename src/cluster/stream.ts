// One database's log as a JetStream stream: the connection to NATS, the stream's name and config,
// and appending one log record after a given t (Nats-Expected-Last-Sequence) or reading one back.
// Stream sequence s holds the log record of t = s - 1, one record per message, so the mapping is
// exact both ways; a message's headers repeat its t and carry the log's hash chain at t.
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
export const HEADER_TX_ID = 'Factlog-Tx-Id';
/** JetStream's API error code for a publish whose expected last sequence is not the stream's. */
const WRONG_LAST_SEQUENCE = 10071;
/** Room left in a message for its headers. */
const HEADER_ROOM = 512;

export class ClusterError extends FactlogError {}

/** A record the stream holds: its t, bytes and what its headers say. */
export interface StreamRecord {
  t: number;
  bytes: Uint8Array;
  chain: string | undefined;
  txId: string | undefined;
}

/** A conflict tells the stream's last t when the server said it. */
export type AppendOutcome = { kind: 'appended'; t: number } | { kind: 'conflict'; lastT?: number } | { kind: 'no-answer'; why: string };

export class LogStream {
  readonly streamName: string;
  readonly subject: string;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly options: ClusterOptions,
  ) {
    this.streamName = `factlog_${options.name}`;
    this.subject = `factlog.${options.name}.log`;
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

  /** The largest log record a message can hold. */
  get maxRecordBytes(): number {
    return (this.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
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
    try {
      const info = await this.jsm.streams.info(this.streamName);
      return info.state.last_seq - 1;
    } catch (err) {
      throw unavailable(`cannot read the stream ${this.streamName}`, err);
    }
  }

  /** The record of t, or undefined when the stream does not hold it. */
  async record(t: number): Promise<StreamRecord | undefined> {
    let msg: StoredMsg | null;
    try {
      msg = await this.jsm.streams.getMessage(this.streamName, { seq: t + 1 });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === 10037) return undefined;
      throw unavailable(`cannot read t=${t} from the stream ${this.streamName}`, err);
    }
    return msg ? recordOf(msg.seq, msg.data, (h) => msg.header?.get(h)) : undefined;
  }

  /**
   * Append the record of t unless the stream already holds t (conflict). `msgId` makes a retry of
   * the same record a no-op when the first try landed (JetStream answers it as a duplicate).
   */
  async append(t: number, bytes: Uint8Array, chain: string, txId: string, msgId: string, timeoutMs: number): Promise<AppendOutcome> {
    const h = natsHeaders();
    h.set(HEADER_T, String(t));
    h.set(HEADER_CHAIN, chain);
    h.set(HEADER_TX_ID, txId);
    try {
      const ack = await this.js.publish(this.subject, bytes, { expect: { lastSequence: t }, msgID: msgId, headers: h, timeout: Math.max(1, timeoutMs) });
      return { kind: 'appended', t: ack.seq - 1 };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) {
        const last = /wrong last sequence: (\d+)/.exec(err.message);
        return { kind: 'conflict', lastT: last ? Number(last[1]) - 1 : undefined };
      }
      return { kind: 'no-answer', why: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.close();
  }
}

export function recordOf(seq: number, data: Uint8Array, header: (name: string) => string | undefined): StreamRecord {
  const t = seq - 1;
  const said = header(HEADER_T);
  if (said !== undefined && said !== '' && Number(said) !== t) {
    throw new ClusterError('cluster/bad-record', `stream message ${seq} says t=${said}, not t=${t}: the stream was not written by factlog`);
  }
  return { t, bytes: data, chain: header(HEADER_CHAIN) || undefined, txId: header(HEADER_TX_ID) || undefined };
}

export function unavailable(what: string, err: unknown): ClusterError {
  if (err instanceof ClusterError) return err;
  return new ClusterError('cluster/unavailable', `${what}: ${(err as Error).message}`);
}
