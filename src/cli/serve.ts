// `factlog serve`: the database over HTTP until SIGTERM or SIGINT, which stop it gracefully.
import { serve } from '../server/index.js';
import { dbDir, loadFunctions, openExisting, parseCount } from './common.js';

export interface ServeOptions {
  db?: string;
  port?: string;
  host?: string;
  txFns?: string;
  queryTimeout?: string;
}

export async function serveCommand(opts: ServeOptions): Promise<void> {
  const dir = dbDir(opts.db);
  const port = opts.port === undefined ? 8420 : parseCount(opts.port, '--port');
  const functions = await loadFunctions(opts.txFns);
  const conn = await openExisting(dir, { functions });
  const limits = opts.queryTimeout === undefined ? {} : { queryTimeoutMs: parseCount(opts.queryTimeout, '--query-timeout') };
  let serving;
  try {
    serving = await serve(conn, { port, host: opts.host, limits });
  } catch (err) {
    await conn.close();
    throw err;
  }
  process.stdout.write(`factlog serving ${dir} at ${serving.url} (t ${conn.basisT})\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`${signal}: finishing requests in progress, then closing\n`);
      serving.stop().then(resolve, (err: unknown) => {
        process.stderr.write(`error while stopping: ${String(err)}\n`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  process.stdout.write('stopped\n');
}
