// `factlog serve`: one connection's database over HTTP (fastify), JSON or EDN by content negotiation.
import Fastify, { type FastifyInstance } from 'fastify';
import { readEdn } from '../../query-lang/edn/reader.js';
import type { Connection } from '../connection.js';
import { asCoded, ServerError } from './errors.js';
import { EDN_BODY, EDN_TEXT } from './request.js';
import { EDN_TYPE, ednBodyObject } from './wire.js';
import { DEFAULT_LIMITS, type ServerLimits } from './limits.js';
import { send } from './reply.js';
import { registerRoutes, type ServerContext } from './routes.js';
import { registerStatic } from './static.js';
import { FeedHub } from './feed.js';
import { TokenStore } from './access.js';
import { defaultQueryWorkers, QueryPool } from './query-pool.js';

export { DEFAULT_LIMITS, type ServerLimits };

export interface ServerOptions {
  conn: Connection;
  limits?: Partial<ServerLimits>;
  /** Where the console's built files are (index.html...); a plain page says when they are missing. */
  consoleDir?: string;
  /** The tokens file (default: none, everyone may read and write). */
  tokensFile?: string;
  /** Threads read requests run in (default: defaultQueryWorkers()); 0: on the server's own loop. */
  queryWorkers?: number;
}

export async function createServer(options: ServerOptions): Promise<{ app: FastifyInstance; ctx: ServerContext }> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const app = Fastify({ bodyLimit: limits.bodyBytes, logger: false });
  const ctx: ServerContext = {
    conn: options.conn,
    tokens: options.tokensFile ? new TokenStore(options.tokensFile) : null,
    limits,
    feeds: new FeedHub(options.conn, limits),
    inFlight: new Set(),
    queries: null,
  };
  const workers = options.queryWorkers ?? defaultQueryWorkers();
  if (!Number.isSafeInteger(workers) || workers < 0) throw new ServerError('server/invalid-option', `queryWorkers must be a whole number >= 0, not ${options.queryWorkers}`, 400);
  if (workers > 0) ctx.queries = new QueryPool(options.conn.path, workers);
  app.addContentTypeParser(EDN_TYPE, { parseAs: 'string' }, (_req, body, done) => {
    try {
      const fields = ednBodyObject(readEdn(body as string));
      Object.defineProperty(fields, EDN_BODY, { value: true });
      Object.defineProperty(fields, EDN_TEXT, { value: body });
      done(null, fields);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.setErrorHandler((err, request, reply) => {
    const coded = asCoded(err);
    const { status, ...error } = coded;
    if (status === 401) reply.header('www-authenticate', 'Bearer realm="factlog"');
    send(request, reply, { error }, status);
  });
  app.setNotFoundHandler((request, reply) => {
    send(request, reply, { error: { code: 'server/not-found', message: `no route ${request.method} ${request.url.split('?')[0]}` } }, 404);
  });
  registerRoutes(app, ctx);
  registerStatic(app, options.consoleDir);
  // open feed streams would hold the server's close up forever
  app.addHook('preClose', async () => ctx.feeds.close());
  // after the requests in progress have been answered
  app.addHook('onClose', async () => ctx.queries?.close());
  return { app, ctx };
}
