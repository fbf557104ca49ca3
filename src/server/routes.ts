// The JSON/EDN endpoints under /api: each reads its inputs, runs one library call, sends the result.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Keyword } from '../../query-lang/edn/types.js';
import type { Binding } from '../../query-lang/datalog/ast.js';
import type { Db } from '../db/db.js';
import type { AttrRef, IndexName } from '../db/api.js';
import { q, explain, toQuery } from '../query/index.js';
import { pull, pullMany } from '../pull/index.js';
import { ServerError } from './errors.js';
import { datomKeeper, OPEN_GRANT, restrict, type Grant, type TokenStore } from './access.js';
import { bodyOf, count, ednField, entityRef, flag, timePoint, valueField, viewOf, type Body, type TimeFields } from './request.js';
import { attrRecord, datomRecord, logRecord } from './records.js';
import { send } from './reply.js';
import type { ServerLimits } from './limits.js';
import type { FeedHub } from './feed.js';
import type { Connection } from '../connection.js';

export interface ServerContext {
  /** Who may do what; without tokens everyone may read and write (see docs/server.md). */
  tokens: TokenStore | null;
  conn: Connection;
  limits: ServerLimits;
  feeds: FeedHub;
  /** Transactions being written now: shutdown waits for them. */
  inFlight: Set<Promise<unknown>>;
}

type Query = Record<string, string | undefined>;

const INDEXES = ['eavt', 'aevt', 'avet', 'vaet'];

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
    // queries run on this event loop one at a time: a request waits here a turn so that requests
    // that arrived meanwhile are counted (and refused past the limit) before this one blocks the loop
    preHandler: async () => {
      await new Promise((resolve) => setImmediate(resolve));
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
  const timeFields = (body: Body): TimeFields => ({ basisT: body.fields.basisT, asOf: body.fields.asOf, since: body.fields.since, history: body.fields.history });

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

  const runQuery = (request: FastifyRequest, withPlan: boolean) => {
    const body = bodyOf(request.body);
    const text = ednField(body, 'query');
    const query = toQuery(text as string);
    const db = viewOf(current(request), timeFields(body));
    const inputs = queryInputs(query.in, db, (valueField(body, 'args') as unknown[] | undefined) ?? []);
    const timeout = queryTimeout(body.fields.timeout, ctx);
    if (withPlan) {
      const ex = explain({ query, args: inputs, timeout });
      return { plan: { query: ex.query, steps: ex.steps, totalMs: ex.totalMs, resultCount: ex.resultCount, text: ex.toString() }, result: ex.result };
    }
    return { result: q({ query, args: inputs, timeout }) };
  };

  app.post('/api/query', counted, (request, reply) => send(request, reply, runQuery(request, false)));
  app.post('/api/explain', counted, (request, reply) => send(request, reply, runQuery(request, true)));

  app.post('/api/transact', async (request, reply) => {
    if (grantOf(request).role !== 'write') throw new ServerError('auth/forbidden', 'this token may only read', 403);
    const body = bodyOf(request.body);
    const txData = ednField(body, 'txData');
    const writing = conn.transact(txData);
    ctx.inFlight.add(writing);
    try {
      const report = await writing;
      const db = report.dbAfter;
      return send(request, reply, { t: report.t, tx: report.tx, tempids: report.tempids, txData: report.txData.map((d) => datomRecord(db, d)) });
    } finally {
      ctx.inFlight.delete(writing);
    }
  });

  app.post('/api/pull', counted, (request, reply) => {
    const body = bodyOf(request.body);
    const db = viewOf(current(request), timeFields(body));
    send(request, reply, { result: pull(db, ednField(body, 'pattern') as string, entityRef(ednField(body, 'eid')) as number) });
  });

  app.post('/api/pull-many', counted, (request, reply) => {
    const body = bodyOf(request.body);
    const db = viewOf(current(request), timeFields(body));
    const eids = valueField(body, 'eids');
    if (!Array.isArray(eids)) throw new ServerError('server/missing-field', 'the request needs "eids", an array of entities', 400);
    send(request, reply, { result: pullMany(db, ednField(body, 'pattern') as string, eids.map(entityRef) as number[]) });
  });

  app.get('/api/entity/:eid', { ...counted }, (request, reply) => {
    const query = request.query as Query;
    const now = viewOf(current(request), { basisT: query.basisT, asOf: query.asOf });
    const ref = entityRef((request.params as { eid: string }).eid);
    const id = now.entid(ref) ?? now.history().entid(ref);
    // an id no datom has ever named is no entity (entid gives any number back)
    if (id === null || now.history().datomArray('eavt', id).length === 0) throw new ServerError('server/no-entity', `no entity matches ${(request.params as { eid: string }).eid}`, 404);
    const entity = now.entity(id);
    const out: Record<string, unknown> = { id, entity: entity ? entity.toJSON() : null };
    out.reverse = now.datomArray('vaet', id).map((d) => [d.e, now.ident(d.a) ?? d.a]);
    if (query.history !== undefined && flag(query.history)) out.history = entityHistory(now, id);
    send(request, reply, out);
  });

  app.post('/api/datoms', counted, (request, reply) => {
    const body = bodyOf(request.body);
    const index = String(body.fields.index ?? '').toLowerCase();
    if (!INDEXES.includes(index)) throw new ServerError('server/invalid-index', `unknown index ${JSON.stringify(body.fields.index)} (one of ${INDEXES.join(', ')})`, 400);
    const components = (valueField(body, 'components') as unknown[] | undefined) ?? [];
    if (!Array.isArray(components)) throw new ServerError('server/bad-request', '"components" must be an array', 400);
    const limit = count(body.fields.limit, 'limit', 1000, limits.pageSize);
    const db = viewOf(current(request), timeFields(body));
    const datoms: unknown[] = [];
    let more = false;
    for (const d of db.datoms(index as IndexName, ...components)) {
      if (datoms.length >= limit) {
        more = true;
        break;
      }
      datoms.push(datomRecord(db, d));
    }
    send(request, reply, { datoms, more });
  });

  app.post('/api/index-range', counted, (request, reply) => {
    const body = bodyOf(request.body);
    const attr = body.edn ? body.fields.attr : typeof body.fields.attr === 'string' ? maybeEdn(body.fields.attr) : valueField(body, 'attr');
    if (attr === undefined || attr === null) throw new ServerError('server/bad-request', '"attr" names the attribute (an ident such as :user/age, or its id)', 400);
    const limit = count(body.fields.limit, 'limit', 1000, limits.pageSize);
    const db = viewOf(current(request), timeFields(body));
    if (!db.attr(attr as AttrRef)) throw new ServerError('server/unknown-attribute', `unknown attribute ${String(attr)}`, 400);
    const [start, end] = [valueField(body, 'start'), valueField(body, 'end')];
    const datoms: unknown[] = [];
    let more = false;
    for (const d of db.indexRange(attr as AttrRef, start ?? undefined, end ?? undefined)) {
      if (datoms.length >= limit) {
        more = true;
        break;
      }
      datoms.push(datomRecord(db, d));
    }
    send(request, reply, { datoms, more });
  });

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

/** A JSON index-range's attribute given as text: EDN when it reads as a keyword (or a lookup ref). */
function maybeEdn(c: string): unknown {
  return c.startsWith(':') || c.startsWith('[') ? entityRef(c) : c;
}

/** The query's timeout: the request's (at most the server's maximum), else the server's default. */
function queryTimeout(given: unknown, ctx: ServerContext): number {
  if (given === undefined || given === null) return ctx.limits.queryTimeoutMs;
  const ms = typeof given === 'bigint' ? Number(given) : given;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) throw new ServerError('server/invalid-number', 'timeout must be a number of milliseconds', 400);
  // 0 means "no timeout" to the library: the server keeps its maximum
  return ms === 0 ? ctx.limits.maxQueryTimeoutMs : Math.min(ms, ctx.limits.maxQueryTimeoutMs);
}

/** Inputs in :in order: `$` is the request's db, every other binding takes the next argument. */
function queryInputs(ins: Binding[], db: Db, args: unknown[]): unknown[] {
  if (!Array.isArray(args)) throw new ServerError('server/bad-request', '"args" must be an array', 400);
  const bindings: Binding[] = ins.length ? ins : [{ kind: 'src', name: '$' } as Binding];
  const inputs: unknown[] = [];
  let next = 0;
  for (const b of bindings) {
    if (b.kind === 'src' && b.name === '$') inputs.push(db);
    else {
      if (next >= args.length) throw new ServerError('server/missing-input', `the query expects ${bindings.length - 1} input(s) besides $ in "args"`, 400);
      inputs.push(args[next++]);
    }
  }
  if (next < args.length) throw new ServerError('server/extra-input', `the query takes ${next} input(s) besides $ but "args" has ${args.length}`, 400);
  return inputs;
}

/** Every assertion and retraction of an entity, oldest first, with each transaction's instant and metadata. */
function entityHistory(db: Db, id: number): unknown[] {
  const all = db.history();
  const datoms = all.datomArray('eavt', id).sort((x, y) => x.tx - y.tx || Number(x.added) - Number(y.added) || x.a - y.a);
  const txs = new Map<number, { instant: Date | null; meta: Record<string, unknown> }>();
  const txInfo = (tx: number) => {
    let info = txs.get(tx);
    if (!info) {
      info = { instant: null, meta: {} };
      for (const d of db.datomArray('eavt', tx)) {
        const ident = db.ident(d.a)?.fqn ?? String(d.a);
        if (ident === 'db/txInstant') info.instant = d.v as Date;
        else info.meta[ident] = d.v;
      }
      txs.set(tx, info);
    }
    return info;
  };
  return datoms.map((d) => {
    const info = txInfo(d.tx);
    return { t: db.txToT(d.tx), tx: d.tx, instant: info.instant, added: d.added, a: db.ident(d.a) ?? d.a, v: d.v, meta: info.meta };
  });
}
