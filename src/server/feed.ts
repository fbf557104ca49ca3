// The live feed: committed transactions as Server-Sent Events, resumable from a t, read from the log
// (so other processes' commits come too), each stream capped in number and in unread backlog.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Connection } from '../connection.js';
import type { LogTx } from '../db/api.js';
import { datomKeeper, type Grant } from './access.js';
import { ServerError } from './errors.js';
import { timePoint } from './request.js';
import { logRecord } from './records.js';
import { toWire } from './wire.js';
import type { ServerLimits } from './limits.js';

/** How often the log is checked for commits made by other processes (ours wake the streams at once). */
const POLL_MS = 200;
/** A comment line now and then keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

interface Stream {
  wake(): void;
  end(): void;
}

export class FeedHub {
  private readonly streams = new Set<Stream>();
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => void) | null = null;
  private lastSeenT: number;

  constructor(
    private readonly conn: Connection,
    private readonly limits: ServerLimits,
  ) {
    this.lastSeenT = -1;
  }

  get size(): number {
    return this.streams.size;
  }

  /** Serve one SSE stream: from `from` (exclusive; or Last-Event-ID), then every commit as it comes. */
  stream(request: FastifyRequest, reply: FastifyReply, grant: Grant): void {
    if (this.streams.size >= this.limits.feeds) throw new ServerError('server/busy', `${this.limits.feeds} feed streams are open already; try again later`, 503);
    const query = request.query as Record<string, string | undefined>;
    let next = this.startT(query.from, request.headers['last-event-id']);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(`: factlog feed from t ${next}\n\n`);
    let sending = false;
    let closed = false;
    const send = () => {
      if (sending || closed) return;
      sending = true;
      try {
        const db = this.conn.db();
        for (const entry of this.conn.log().txRange(next, db.basisT + 1)) {
          if (closed) break;
          if (res.writableLength > this.limits.feedBacklog * 1024) {
            // a reader this far behind holds the server's memory: cut it off; it resumes from its last id
            res.end(`event: error\ndata: ${JSON.stringify({ code: 'server/feed-backlog', message: 'the client reads too slowly; reconnect with Last-Event-ID to resume' })}\n\n`);
            stream.end();
            break;
          }
          res.write(eventOf(db, entry, grant));
          next = entry.t + 1;
        }
      } finally {
        sending = false;
      }
    };
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    const stream: Stream = {
      wake: send,
      end: () => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        this.streams.delete(stream);
        if (this.streams.size === 0) this.stopWatching();
        if (!res.writableEnded) res.end();
      },
    };
    res.on('close', () => stream.end());
    this.streams.add(stream);
    this.startWatching();
    send();
  }

  /** The first t to send: Last-Event-ID's next (a reconnect), else `from` (inclusive), else the next commit's. */
  private startT(fromParam: string | undefined, lastEventId: string | string[] | undefined): number {
    if (typeof lastEventId === 'string' && lastEventId !== '') {
      const last = timePoint(lastEventId, 'Last-Event-ID');
      if (typeof last === 'number') return this.conn.db().txToT(last) + 1;
    }
    const from = timePoint(fromParam, 'from');
    if (from === undefined) return this.conn.db().basisT + 1;
    return from instanceof Date ? this.firstTAt(from) : this.conn.db().txToT(from);
  }

  private firstTAt(date: Date): number {
    for (const entry of this.conn.log().txRange(date)) return entry.t;
    return this.conn.basisT + 1;
  }

  private startWatching(): void {
    if (this.timer) return;
    this.lastSeenT = this.conn.basisT;
    this.unlisten = this.conn.listen(() => this.wakeAll());
    this.timer = setInterval(() => {
      // another process's commit: db() catches this connection up with the log
      const t = this.conn.db().basisT;
      if (t !== this.lastSeenT) this.wakeAll();
    }, POLL_MS);
  }

  private stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unlisten?.();
    this.unlisten = null;
  }

  private wakeAll(): void {
    this.lastSeenT = this.conn.basisT;
    for (const s of [...this.streams]) s.wake();
  }

  /** End every stream (shutdown). */
  close(): void {
    for (const s of [...this.streams]) s.end();
    this.stopWatching();
  }
}

function eventOf(db: ReturnType<Connection['db']>, entry: LogTx, grant: Grant): string {
  // the keeper of the db that includes this transaction knows the attributes it made
  const keep = datomKeeper(db, grant) ?? undefined;
  return `id: ${entry.t}\nevent: tx\ndata: ${JSON.stringify(toWire(logRecord(db, entry, keep)))}\n\n`;
}
