// The server's entry: start serving a connection on a port, and stop gracefully.
import type { Connection } from '../connection.js';
import { createServer, type ServerLimits } from './server.js';
import type { QueryPool } from './query-pool.js';

export { createServer, DEFAULT_LIMITS, type ServerLimits, type ServerOptions } from './server.js';
export { ServerError } from './errors.js';
export { createToken, revokeToken, readTokens, TOKENS_FILE, type TokenRecord } from './access.js';

export interface Serving {
  url: string;
  port: number;
  /** @internal The query workers (null without), for tests. */
  queries: QueryPool | null;
  /** Stop taking requests, let the ones in progress (transactions above all) finish, then close the connection. */
  stop(): Promise<void>;
}

export async function serve(
  conn: Connection,
  options: { port?: number; host?: string; limits?: Partial<ServerLimits>; consoleDir?: string; tokensFile?: string; queryWorkers?: number } = {},
): Promise<Serving> {
  const { app, ctx } = await createServer({ conn, limits: options.limits, consoleDir: options.consoleDir, tokensFile: options.tokensFile, queryWorkers: options.queryWorkers });
  const host = options.host ?? '127.0.0.1';
  try {
    await ctx.queries?.ready();
    await app.listen({ port: options.port ?? 8420, host });
  } catch (err) {
    await ctx.queries?.close(); // its threads would keep the process alive
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 8420);
  let stopping: Promise<void> | null = null;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    queries: ctx.queries,
    stop: () =>
      (stopping ??= (async () => {
        await app.close();
        await Promise.allSettled([...ctx.inFlight]);
        await conn.close();
      })()),
  };
}
