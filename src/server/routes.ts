// The JSON/EDN endpoints under /api: each reads its inputs, runs one library call (reads in a query
// worker, query-pool.ts), sends the result.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Keyword } from '../../query-lang/edn/types.js';
import type { Db } from '../db/db.js';
import { ServerError } from './errors.js';
import { datomKeeper, OPEN_GRANT, restrict, type Grant, type TokenStore } from './access.js';
import { bodyOf, count, EDN_TEXT, ednField, timePoint, viewOf } from './request.js';
import { attrRecord, datomRecord, logRecord } from './records.js';
import { send, sendEncoded, wantsEdn } from './reply.js';
import { answerRead, type ReadKind } from './reads.js';
import type { QueryPool } from './query-pool.js';
import type { ServerLimits } from './limits.js';
import type { FeedHub } from './feed.js';
import type { Connection } from '../connection.js';
import { namesExcision } from '../tx/excise.js';

export interface ServerContext {
  /** Who may do what; without tokens everyone may read and write (see docs/server.md). */
  tokens: TokenStore | null;
  conn: Connection;
  limits: ServerLimits;
  feeds: FeedHub;
  /** Transactions being written now: shutdown waits for them. */
  inFlight: Set<Promise<unknown>>;
  /** The threads read requests run in; null: they run on the server's own loop. */
  queries: QueryPool | null;
}

type Query = Record<string, string | undefined>;

export function registerRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const { conn, limits } = ctx;
  let queriesRunning = 0;
  const countedRequests = new WeakSet<FastifyRequest>();
  /** Routes that run queries count against limits.concurrentQueries from arrival to response. */
  const counted = {
    onRequest: async (request: FastifyRequest) => {
      if (queriesRunning >= limits.concurrentQueries) {
        throw new ServerError('server/busy', `${limits.concurrentQueries} queries are in progress already; try again shortly`, 503);
      }
      queriesRunning++;
      countedRequests.add(request);
    },
    // without query workers, reads run on this event loop one at a time: a request waits here a turn so
    // that requests that arrived meanwhile are counted (and refused past the limit) before this one blocks the loop
    preHandler: async () => {
      if (!ctx.queries) await new Promise((resolve) => setImmediate(resolve));
    },
    onResponse: async (request: FastifyRequest) => {
      if (countedRequests.delete(request)) queriesRunning--;
    },
  };
  const grants = new WeakMap<FastifyRequest, Grant>();
  app.addHook('onRequest', async (request) => {
    if (!request.url.startsWith('/api/') || request.url.startsWith('/api/health')) return;
    grants.set(request, ctx.tokens ? ctx.tokens.grantFor(tokenOf(request)) : OPEN_GRANT);
  });
  const grantOf = (request: FastifyRequest): Grant => grants.get(request) ?? OPEN_GRANT;
  /** The current database as this request's token sees it. */
  const current = (request: FastifyRequest): Db => restrict(conn.db(), grantOf(request));

  app.get('/api/health', (request, reply) => send(request, reply, { status: 'ok', t: conn.db().basisT }));

  app.get('/api/schema', (request, reply) => {
    const db = viewOf(current(request), request.query as Query);
    const visible = grantOf(request).visible;
    const stats = db.stats().attrs;
    const attributes = db
      .attrs()
      .filter((a) => !visible || visible(a.ident))
      .map((a) => attrRecord(a, stats[a.ident.fqn]?.count ?? 0));
    attributes.sort((x, y) => String((x.ident as Keyword).fqn).localeCompare((y.ident as Keyword).fqn));
    send(request, reply, { t: db.basisT, attributes });
  });

  app.get('/api/stats', (request, reply) => {
    const db = current(request);
    const stats = conn.store.stats();
    const first = conn.store.logEntry(1);
    const last = conn.basisT > 0 ? conn.store.logEntry(conn.basisT) : undefined;
    const attrs = db.stats();
    send(request, reply, {
      t: db.basisT,
      transactions: stats.entries.log ?? 0,
      firstInstant: first ? new Date(first.instant) : null,
      lastInstant: last ? new Date(last.instant) : null,
      datoms: attrs.datoms,
      sizeBytes: stats.sizeBytes,
      logFileBytes: stats.logFileBytes,
      attributes: Object.fromEntries(Object.entries(attrs.attrs).map(([k, v]) => [k, v.count])),
    });
  });

  /** A read request: its basis (t, the token's filter) fixed here, its work done in a query worker (or here without workers). */
  const read = (kind: ReadKind) => async (request: FastifyRequest, reply: FastifyReply) => {
    const body = bodyOf(request.body);
    const params = { ...(request.query as Query), ...(request.params as Query) };
    const timeoutMs = kind === 'query' || kind === 'explain' ? queryTimeout(body.fields.timeout, ctx) : limits.queryTimeoutMs;
    const grant = grantOf(request);
    const db = conn.db();
    if (!ctx.queries?.available) return send(request, reply, answerRead(restrict(db, grant), { kind, body, params, timeoutMs, pageSize: limits.pageSize }));
    const raw = request.body as { [EDN_TEXT]?: string } | undefined;
    const crossing = raw?.[EDN_TEXT] !== undefined ? { ednText: raw[EDN_TEXT] } : { fields: body.fields };
    const job = { kind, t: db.basisT, access: grant.access ?? null, ...crossing, params, pageSize: limits.pageSize, replyEdn: wantsEdn(request) };
    return sendEncoded(request, reply, await ctx.queries.run(job, timeoutMs));
  };

  app.post('/api/query', counted, read('query'));
  app.post('/api/explain', counted, read('explain'));

  app.post('/api/transact', async (request, reply) => {
    if (grantOf(request).role !== 'write') throw new ServerError('auth/forbidden', 'this token may only read', 403);
    const body = bodyOf(request.body);
    const txData = ednField(body, 'txData');
    // an excision replaces the files the query workers have open: they close around it
    const writing = ctx.queries && namesExcision(txData) ? ctx.queries.withoutWorkers(() => conn.transact(txData)) : conn.transact(txData);
    ctx.inFlight.add(writing);
    try {
      const report = await writing;
      const db = report.dbAfter;
      return send(request, reply, { t: report.t, tx: report.tx, tempids: report.tempids, txData: report.txData.map((d) => datomRecord(db, d)) });
    } finally {
      ctx.inFlight.delete(writing);
    }
  });

  app.post('/api/pull', counted, read('pull'));
  app.post('/api/pull-many', counted, read('pull-many'));
  app.get('/api/entity/:eid', { ...counted }, read('entity'));
  app.post('/api/datoms', counted, read('datoms'));
  app.post('/api/index-range', counted, read('index-range'));

  app.get('/api/log', { ...counted }, (request, reply) => {
    const query = request.query as Query;
    const db = conn.db();
    const keep = datomKeeper(db, grantOf(request)) ?? undefined;
    const from = timePoint(query.from, 'from') ?? 1;
    const to = timePoint(query.to, 'to');
    const limit = count(query.limit, 'limit', 100, limits.pageSize);
    const txs: unknown[] = [];
    let next: number | null = null;
    for (const entry of conn.log().txRange(from, to ?? null)) {
      if (txs.length >= limit) {
        next = entry.t;
        break;
      }
      txs.push(logRecord(db, entry, keep));
    }
    send(request, reply, { txs, next });
  });

  app.get('/api/timeline', (request, reply) => {
    const query = request.query as Query;
    const from = count(query.from, 'from', 0, Number.MAX_SAFE_INTEGER);
    const limit = count(query.limit, 'limit', limits.pageSize, limits.pageSize);
    const basisT = conn.db().basisT;
    const points: unknown[] = [];
    let next: number | null = null;
    for (const entry of conn.store.logRange(from, basisT + 1)) {
      if (points.length >= limit) {
        next = entry.t;
        break;
      }
      points.push({ t: entry.t, instant: new Date(entry.instant) });
    }
    send(request, reply, { t: basisT, points, next });
  });

  app.get('/api/feed', (request, reply) => ctx.feeds.stream(request, reply, grantOf(request)));
}

/** The request's token: `Authorization: Bearer TOKEN`, or `?token=` (an EventSource cannot set headers). */
function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header === 'string' && /^bearer /i.test(header)) return header.slice(7).trim();
  const query = request.query as Query;
  return query.token;
}

/** The query's timeout: the request's (at most the server's maximum), else the server's default. */
function queryTimeout(given: unknown, ctx: ServerContext): number {
  if (given === undefined || given === null) return ctx.limits.queryTimeoutMs;
  const ms = typeof given === 'bigint' ? Number(given) : given;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) throw new ServerError('server/invalid-number', 'timeout must be a number of milliseconds', 400);
  // 0 means "no timeout" to the library: the server keeps its maximum
  return ms === 0 ? ctx.limits.maxQueryTimeoutMs : Math.min(ms, ctx.limits.maxQueryTimeoutMs);
}
