// `import { connect } from 'factlog/client'`: a factlog server's database with the embedded API's
// surface (transact, db values, q, pull, listen), over HTTP. Loads no storage code (no lmdb).
import { FactlogError } from '../../query-lang/errors.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { fromWire, toWire } from '../server/wire.js';
import { readFeed } from './feed.js';
import { reportsIterator } from '../model.js';

export interface ConnectOptions {
  /** A token made by `factlog token create` (sent as `Authorization: Bearer`). */
  token?: string;
  /** Each request's own time limit in ms (default 120,000). */
  requestTimeout?: number;
}

/** A datom as the embedded API gives it: the attribute by its entity id. */
export interface RemoteDatom {
  readonly e: number;
  readonly a: number;
  readonly v: unknown;
  readonly tx: number;
  readonly added: boolean;
}

export interface RemoteTxReport {
  t: number;
  tx: number;
  /** The tempids of a transaction made through this connection; empty on the feed (the log keeps none). */
  tempids: Record<string, number>;
  txData: RemoteDatom[];
  dbBefore: RemoteDb;
  dbAfter: RemoteDb;
}

export interface RemoteLogTx {
  t: number;
  tx: number;
  instant: Date;
  data: RemoteDatom[];
}

/** A coded error from the server (or from reaching it), with the HTTP status when there was one. */
export class RemoteError extends FactlogError {
  constructor(
    code: string,
    message: string,
    readonly status?: number,
  ) {
    super(code, message);
  }
}

interface Point {
  basisT: number;
  asOf?: number | Date;
  since?: number | Date;
  history?: boolean;
}

/**
 * An immutable database value on the server: the database at `basisT` (the latest t the
 * connection knew when it was made), and as of / since / history of it as asked.
 */
export class RemoteDb {
  /** @internal */
  constructor(
    /** @internal */ readonly conn: RemoteConnection,
    private readonly point: Point,
  ) {}

  get basisT(): number {
    return this.point.basisT;
  }
  get asOfT(): number | Date | null {
    return this.point.asOf ?? null;
  }
  get sinceT(): number | Date | null {
    return this.point.since ?? null;
  }
  get isHistory(): boolean {
    return this.point.history ?? false;
  }

  asOf(t: number | Date): RemoteDb {
    return new RemoteDb(this.conn, { ...this.point, asOf: t });
  }
  since(t: number | Date): RemoteDb {
    return new RemoteDb(this.conn, { ...this.point, since: t });
  }
  history(): RemoteDb {
    return new RemoteDb(this.conn, { ...this.point, history: true });
  }

  /** @internal The request fields naming this value. */
  fields(): Record<string, unknown> {
    const out: Record<string, unknown> = { basisT: this.point.basisT };
    if (this.point.asOf !== undefined) out.asOf = timeField(this.point.asOf);
    if (this.point.since !== undefined) out.since = timeField(this.point.since);
    if (this.point.history) out.history = true;
    return out;
  }

  /** Datoms of an index whose leading components match (at most `limit`, default 1,000). */
  async datoms(index: 'eavt' | 'aevt' | 'avet' | 'vaet', ...components: unknown[]): Promise<RemoteDatom[]> {
    const answer = (await this.conn.request('POST', '/api/datoms', { index, components: components.map(toWire), ...this.fields() })) as { datoms: unknown[][] };
    return this.conn.datomsOf(answer.datoms);
  }

  /** AVET datoms of an attribute with start <= v < end (either open), as the embedded `db.indexRange` (at most `limit`, default 1,000). */
  async indexRange(attr: string | number, start?: unknown, end?: unknown): Promise<RemoteDatom[]> {
    const body = { attr, ...(start === undefined ? {} : { start: toWire(start) }), ...(end === undefined ? {} : { end: toWire(end) }), ...this.fields() };
    const answer = (await this.conn.request('POST', '/api/index-range', body)) as { datoms: unknown[][] };
    return this.conn.datomsOf(answer.datoms);
  }

  /** Every attribute of an entity in this value, as the embedded `db.entity(e).toJSON()`; null when there is none. */
  async entity(eid: number | string | readonly unknown[]): Promise<Record<string, unknown> | null> {
    const ref = typeof eid === 'number' ? String(eid) : typeof eid === 'string' ? eid : printEdn(eid);
    const query = new URLSearchParams(Object.entries(this.fields()).map(([k, v]) => [k, v instanceof Date ? v.toISOString() : String(v)]));
    try {
      const answer = (await this.conn.request('GET', `/api/entity/${encodeURIComponent(ref)}?${query}`)) as { entity: Record<string, unknown> | null };
      return answer.entity;
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'server/no-entity') return null;
      throw err;
    }
  }
}

function timeField(t: number | Date): number | string {
  return t instanceof Date ? t.toISOString() : t;
}

/** Query or pull text: EDN text as it is, EDN data printed. */
function ednText(x: unknown): string {
  return typeof x === 'string' ? x : printEdn(x);
}

export type RemoteListener = (report: RemoteTxReport) => unknown;

export class RemoteConnection {
  private latestT: number;
  /** Attribute idents to ids, for datoms (the server names attributes by ident). */
  private attrIds = new Map<string, number>();
  private readonly feeds = new Set<AbortController>();
  private closed = false;

  /** @internal */
  constructor(
    readonly url: string,
    private readonly options: ConnectOptions,
    basisT: number,
  ) {
    this.latestT = basisT;
  }

  /** The latest t this connection knows of (from connect, its transactions, and its listeners). */
  get basisT(): number {
    return this.latestT;
  }

  /** The database at the latest t this connection knows of. `await conn.sync()` first to see other writers' commits. */
  db(): RemoteDb {
    return new RemoteDb(this, { basisT: this.latestT });
  }

  /** Ask the server for its latest t; resolves with the database there. */
  async sync(): Promise<RemoteDb> {
    const health = (await this.request('GET', '/api/health')) as { t: number };
    this.latestT = Math.max(this.latestT, health.t);
    return this.db();
  }

  async transact(txData: unknown): Promise<RemoteTxReport> {
    const body = { txData: typeof txData === 'string' ? txData : toWire(txData) };
    const answer = (await this.request('POST', '/api/transact', body)) as { t: number; tx: number; tempids: Record<string, number>; txData: unknown[][] };
    this.latestT = Math.max(this.latestT, answer.t);
    return this.report(answer.t, answer.tx, answer.tempids, answer.txData);
  }

  /** The transactions with from <= t < to (a t, a tx id or a Date), read page by page. */
  async txRange(from?: number | Date | null, to?: number | Date | null): Promise<RemoteLogTx[]> {
    const out: RemoteLogTx[] = [];
    let next: number | Date | null = from ?? 0;
    while (next !== null) {
      const query = new URLSearchParams({ from: String(timeField(next)), limit: '1000' });
      if (to !== undefined && to !== null) query.set('to', String(timeField(to)));
      const page = (await this.request('GET', `/api/log?${query}`)) as { txs: { t: number; tx: number; instant: Date; datoms: unknown[][] }[]; next: number | null };
      for (const tx of page.txs) out.push({ t: tx.t, tx: tx.tx, instant: tx.instant, data: await this.datomsOf(tx.datoms) });
      next = page.next;
    }
    return out;
  }

  /**
   * Call `listener` with the report of every transaction committed on the server after now (through
   * any connection or process), in order, from the live feed. Returns a function that stops it.
   */
  listen(listener: RemoteListener, options: { onError?: (err: unknown) => void } = {}): () => void {
    const abort = new AbortController();
    this.feeds.add(abort);
    const fromT = this.latestT + 1;
    void (async () => {
      try {
        for await (const event of readFeed(this.url, fromT, this.options.token, abort.signal)) {
          const entry = fromWire(event) as { t: number; tx: number; datoms: unknown[][] };
          this.latestT = Math.max(this.latestT, entry.t);
          const report = await this.report(entry.t, entry.tx, {}, entry.datoms);
          try {
            await listener(report);
          } catch (err) {
            (options.onError ?? defaultListenerError)(err);
          }
        }
      } catch (err) {
        if (!abort.signal.aborted) (options.onError ?? defaultListenerError)(err);
      } finally {
        this.feeds.delete(abort);
      }
    })();
    return () => {
      abort.abort();
      this.feeds.delete(abort);
    };
  }

  /** Every later transaction's report as an async iterable; stops when the loop breaks or the connection closes. */
  reports(): AsyncIterableIterator<RemoteTxReport> {
    return reportsIterator({ subscribe: (push, fail) => this.listen(push, { onError: fail }), isClosed: () => this.closed, closeWaiters: this.closeWaiters });
  }

  private readonly closeWaiters = new Set<() => void>();

  /** Stop every listener; the server and its database are not affected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const feed of this.feeds) feed.abort();
    this.feeds.clear();
    for (const wake of this.closeWaiters) wake();
  }

  private async report(t: number, tx: number, tempids: Record<string, number>, datoms: unknown[][]): Promise<RemoteTxReport> {
    return {
      t,
      tx,
      tempids,
      txData: await this.datomsOf(datoms),
      dbBefore: new RemoteDb(this, { basisT: t - 1 }),
      dbAfter: new RemoteDb(this, { basisT: t }),
    };
  }

  /** @internal Datoms from the wire ([e, ident, v, tx, added]) with their attributes' ids. */
  async datomsOf(rows: unknown[][]): Promise<RemoteDatom[]> {
    const idents = rows.map((r) => (r[1] as { fqn?: string }).fqn ?? String(r[1]));
    if (idents.some((i) => !this.attrIds.has(i))) await this.loadAttrIds();
    return rows.map((r, i) => ({ e: r[0] as number, a: this.attrIds.get(idents[i]!) ?? -1, v: r[2], tx: r[3] as number, added: r[4] as boolean }));
  }

  private async loadAttrIds(): Promise<void> {
    const schema = (await this.request('GET', '/api/schema')) as { attributes: { id: number; ident: { fqn: string } }[] };
    for (const a of schema.attributes) this.attrIds.set(a.ident.fqn, a.id);
  }

  /** @internal One request: JSON in, the answer's JSON decoded; a coded error for any failure. */
  async request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    if (this.closed) throw new RemoteError('client/closed', `the connection to ${this.url} is closed`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.requestTimeout ?? 120_000),
      });
    } catch (err) {
      throw new RemoteError('client/unreachable', `cannot reach ${this.url}: ${(err as Error).message}`);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RemoteError('client/bad-response', `${method} ${path} answered ${response.status} with no JSON`, response.status);
    }
    if (!response.ok) {
      const error = (json as { error?: { code?: string; message?: string } }).error;
      throw new RemoteError(error?.code ?? 'client/http-error', error?.message ?? `HTTP ${response.status}`, response.status);
    }
    return fromWire(json);
  }
}

function defaultListenerError(err: unknown): void {
  console.error(`factlog client: a listener failed [client/listener-failed]: ${err instanceof Error ? err.message : String(err)}`);
}

/** Connect to `factlog serve` at `url` (e.g. http://127.0.0.1:8420); checks the server and the token. */
export async function connect(url: string, options: ConnectOptions = {}): Promise<RemoteConnection> {
  const base = url.replace(/\/+$/, '');
  const probe = new RemoteConnection(base, options, 0);
  // /api/schema needs the token: a wrong one fails here, not at the first query
  await probe.request('GET', '/api/schema');
  await probe.sync();
  return probe;
}

/** Run a query on the server: inputs in :in order as with the embedded `q`, one of them a RemoteDb (the `$`). */
export async function q<T = unknown>(query: unknown, ...inputs: unknown[]): Promise<T> {
  const { db, args, timeout } = splitInputs(inputs);
  const answer = (await db.conn.request('POST', '/api/query', { query: ednText(query), args: toWire(args), ...(timeout !== undefined ? { timeout } : {}), ...db.fields() })) as { result: T };
  return answer.result;
}

/** The plan the server chose for a query, with its result. */
export async function explain(query: unknown, ...inputs: unknown[]): Promise<{ plan: { text: string; steps: unknown[]; totalMs: number; resultCount: number }; result: unknown }> {
  const { db, args, timeout } = splitInputs(inputs);
  return (await db.conn.request('POST', '/api/explain', { query: ednText(query), args: toWire(args), ...(timeout !== undefined ? { timeout } : {}), ...db.fields() })) as never;
}

export async function pull(db: RemoteDb, pattern: unknown, eid: unknown): Promise<Record<string, unknown> | null> {
  const answer = (await db.conn.request('POST', '/api/pull', { pattern: ednText(pattern), eid: entityField(eid), ...db.fields() })) as { result: Record<string, unknown> | null };
  return answer.result;
}

export async function pullMany(db: RemoteDb, pattern: unknown, eids: Iterable<unknown>): Promise<(Record<string, unknown> | null)[]> {
  const answer = (await db.conn.request('POST', '/api/pull-many', { pattern: ednText(pattern), eids: [...eids].map(entityField), ...db.fields() })) as {
    result: (Record<string, unknown> | null)[];
  };
  return answer.result;
}

function entityField(eid: unknown): unknown {
  return typeof eid === 'number' ? eid : typeof eid === 'string' ? eid : printEdn(eid);
}

/** The query's inputs: the one RemoteDb is `$` (the server puts it in place), a trailing `{ timeout }` the limit, the rest `args`. */
function splitInputs(inputs: unknown[]): { db: RemoteDb; args: unknown[]; timeout?: number } {
  const dbs = inputs.filter((x) => x instanceof RemoteDb);
  if (dbs.length !== 1) throw new RemoteError('client/one-db', `a remote query reads one database (a RemoteDb among its inputs); it was given ${dbs.length}`);
  const rest = inputs.filter((x) => !(x instanceof RemoteDb));
  const last = rest[rest.length - 1];
  if (last && typeof last === 'object' && !Array.isArray(last) && Object.getPrototypeOf(last) === Object.prototype && 'timeout' in last && Object.keys(last).length === 1) {
    return { db: dbs[0] as RemoteDb, args: rest.slice(0, -1), timeout: (last as { timeout: number }).timeout };
  }
  return { db: dbs[0] as RemoteDb, args: rest };
}
