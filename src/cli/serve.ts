// `factlog serve`: the database over HTTP until SIGTERM or SIGINT, which stop it gracefully.
// `factlog token`: the tokens it accepts, kept hashed in DIR/factlog.tokens.
import path from 'node:path';
import { createToken, readTokens, revokeToken, serve, TOKENS_FILE, type ServerLimits } from '../server/index.js';
import { CliError, dbDir, hasDatabase, loadFunctions, openExisting, parseCount } from './common.js';

export interface ServeOptions {
  db?: string;
  port?: string;
  host?: string;
  txFns?: string;
  queryTimeout?: string;
  maxQueries?: string;
  queryWorkers?: string;
  maxFeeds?: string;
  maxBody?: string;
  tokens?: string;
  allowAnonymous?: boolean;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

function tokensFileOf(opts: { db?: string; tokens?: string }): string {
  return path.resolve(opts.tokens ?? path.join(dbDir(opts.db), TOKENS_FILE));
}

function limitsOf(opts: ServeOptions): Partial<ServerLimits> {
  const limits: Partial<ServerLimits> = {};
  if (opts.queryTimeout !== undefined) limits.queryTimeoutMs = parseCount(opts.queryTimeout, '--query-timeout');
  if (opts.maxQueries !== undefined) limits.concurrentQueries = parseCount(opts.maxQueries, '--max-queries');
  if (opts.maxFeeds !== undefined) limits.feeds = parseCount(opts.maxFeeds, '--max-feeds');
  if (opts.maxBody !== undefined) limits.bodyBytes = parseCount(opts.maxBody, '--max-body');
  return limits;
}

export async function serveCommand(opts: ServeOptions): Promise<void> {
  const dir = dbDir(opts.db);
  const port = opts.port === undefined ? 8420 : parseCount(opts.port, '--port');
  const host = opts.host ?? '127.0.0.1';
  const tokensFile = tokensFileOf(opts);
  if (readTokens(tokensFile).length === 0 && !LOOPBACK.has(host) && !opts.allowAnonymous) {
    throw new CliError(
      'cli/no-tokens',
      `serving on ${host} without tokens would let anyone on the network write: create one with \`factlog token create --db ${dir} --role read\` (or pass --allow-anonymous)`,
    );
  }
  const functions = await loadFunctions(opts.txFns);
  const conn = await openExisting(dir, { functions });
  const limits = limitsOf(opts);
  let serving;
  try {
    const queryWorkers = opts.queryWorkers === undefined ? undefined : parseCount(opts.queryWorkers, '--query-workers');
    serving = await serve(conn, { port, host, limits, tokensFile, queryWorkers });
  } catch (err) {
    await conn.close();
    throw err;
  }
  const access = readTokens(tokensFile).length === 0 ? 'no tokens: anyone who can connect may read and write' : `tokens from ${tokensFile}`;
  const workers = serving.queries?.available ? `${serving.queries.threadIds().length} query workers` : 'queries on the main thread';
  process.stdout.write(`factlog serving ${dir} at ${serving.url} (t ${conn.basisT}; ${access}; ${workers})\n`);
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

export interface TokenOptions {
  db?: string;
  tokens?: string;
  role?: string;
  hide?: string[];
  only?: string[];
  /** `--label`: whose token it is (`--name` names a cluster database). */
  label?: string;
}

export async function tokenCommand(action: string, id: string | undefined, opts: TokenOptions): Promise<void> {
  const dir = dbDir(opts.db);
  if (!opts.tokens && !hasDatabase(dir)) throw new CliError('cli/no-database', `no factlog database at ${dir}`);
  const file = tokensFileOf(opts);
  if (action === 'create') {
    const { token, record } = createToken(file, { role: (opts.role ?? 'read') as 'read', hide: opts.hide, only: opts.only, name: opts.label });
    process.stderr.write(
      `token ${record.id} (${record.role}${record.hide.length ? `, hides ${record.hide.join(' ')}` : ''}${record.only ? `, sees only ${record.only.join(' ')}` : ''}) added to ${file}; it is shown only now:\n`,
    );
    process.stdout.write(token + '\n');
  } else if (action === 'list') {
    for (const r of readTokens(file)) {
      process.stdout.write(
        `${r.id}  ${r.role.padEnd(5)}  ${r.created}  ${r.name ?? ''}${r.hide.length ? `  hide: ${r.hide.join(' ')}` : ''}${r.only ? `  only: ${r.only.join(' ')}` : ''}\n`,
      );
    }
  } else if (action === 'revoke') {
    if (!id) throw new CliError('cli/missing-argument', 'token revoke needs the token id (factlog token list shows them)');
    if (!revokeToken(file, id)) throw new CliError('cli/no-token', `no token ${id} in ${file}`);
    process.stderr.write(`token ${id} revoked\n`);
  } else throw new CliError('cli/invalid-argument', `unknown token action ${JSON.stringify(action)} (create, list or revoke)`);
}
