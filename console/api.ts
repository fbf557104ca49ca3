// The console's calls to `factlog serve` (docs/server.md): JSON bodies, values in tagged JSON.
import type { Json } from './values.js';
import type { LogDatom, LogTx, TimelinePoint } from './time.js';

/** An error the server answered with: its coded error, shown as it is. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'factlog.console.token';

/** The token for a server that has tokens: kept for this browser tab only (sessionStorage). */
let token: string | null = readToken();
let onUnauthorized: () => void = () => {};

function readToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(value: string): void {
  token = value;
  try {
    sessionStorage.setItem(TOKEN_KEY, value);
  } catch {
    // storage disabled: the token lasts until the page reloads
  }
}

/** Called when the server answers 401: the page asks for a token. */
export function whenUnauthorized(callback: () => void): void {
  onUnauthorized = callback;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
  if (res.status === 401) onUnauthorized();
  if (!res.ok || (data && typeof data === 'object' && 'error' in data && data.error)) {
    const err = data?.error;
    throw new ApiError(err?.code ?? `http/${res.status}`, err?.message ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

/** A query string of the defined parameters. */
function params(p: Record<string, string | number | boolean | undefined | null>): string {
  const pairs = Object.entries(p).filter(([, v]) => v !== undefined && v !== null && v !== '');
  return pairs.length ? '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&') : '';
}

export interface QueryRequest {
  query: string;
  asOf?: number | null;
  since?: number | null;
  history?: boolean;
  args?: Json[];
}

/** A query's rows (a scalar or tuple find answers one row). */
export async function query(req: QueryRequest): Promise<Json> {
  const res = await call<{ result: Json } | Json>('POST', '/api/query', clean(req));
  return res && typeof res === 'object' && !Array.isArray(res) && 'result' in res ? res.result : (res as Json);
}

export interface ExplainStep {
  clause: string;
  index: string;
  strategy?: string;
  range?: string;
  estimatedRows: number;
  actualRows: number;
  datomsRead?: number;
  ms: number;
  children?: ExplainStep[];
  evaluations?: number;
}

export interface Explanation {
  steps: ExplainStep[];
  totalMs: number;
  resultCount: number;
}

export async function explain(req: QueryRequest): Promise<Explanation> {
  const res = await call<{ plan?: Explanation } & Explanation>('POST', '/api/explain', clean(req));
  return res.plan ?? res;
}

function clean(req: QueryRequest): Record<string, unknown> {
  const out: Record<string, unknown> = { query: req.query };
  if (req.asOf !== undefined && req.asOf !== null) out.asOf = req.asOf;
  if (req.since !== undefined && req.since !== null) out.since = req.since;
  if (req.history) out.history = true;
  if (req.args?.length) out.args = req.args;
  return out;
}

export interface Attribute {
  id: number;
  ident: Json;
  valueType: Json;
  cardinality: Json;
  unique: Json;
  isComponent?: boolean;
  index?: boolean;
  noHistory?: boolean;
  fulltext?: boolean;
  doc?: string;
  count: number;
}

export async function schema(asOf: number | null): Promise<Attribute[]> {
  const res = await call<{ attributes: Attribute[] } | Attribute[]>('GET', '/api/schema' + params({ asOf }));
  return Array.isArray(res) ? res : res.attributes;
}

export async function timeline(): Promise<{ basisT: number; points: TimelinePoint[] }> {
  const points: TimelinePoint[] = [];
  let basisT = 0;
  for (let from: number | null = 0; from !== null;) {
    const res: { t: number; points: Json[]; next: number | null } = await call('GET', '/api/timeline' + params({ from }));
    // t 0 is the empty database before the first transaction: not a point to show
    points.push(...res.points.map(pointOf).filter((p): p is TimelinePoint => p !== null && p.t > 0));
    basisT = res.t;
    from = res.next ?? null;
  }
  return { basisT, points };
}

function pointOf(x: Json): TimelinePoint | null {
  if (Array.isArray(x)) return { t: Number(x[0]), instant: instantText(x[x.length - 1] ?? null) };
  if (x && typeof x === 'object') return { t: Number(x.t), instant: instantText(x.instant ?? null) };
  return null;
}

/** An instant's ISO text from its tagged ({"#inst": ...}) or plain form. */
export function instantText(v: Json): string {
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof v['#inst'] === 'string') return v['#inst'];
  return typeof v === 'string' ? v : '';
}

/** A log transaction as the console uses it. */
export interface TxRecord extends LogTx {
  tx: number;
  instant: string;
  meta: Record<string, Json>;
}

export function txRecordOf(x: Json): TxRecord {
  const o = (x ?? {}) as Record<string, Json>;
  const rawDatoms = (o.datoms ?? o.data ?? []) as Json[];
  const data: LogDatom[] = rawDatoms.map((d) =>
    Array.isArray(d)
      ? { e: Number(d[0]), a: attrName(d[1] ?? null), v: d[2] ?? null, added: d[4] !== false }
      : {
          e: Number((d as Record<string, Json>).e),
          a: attrName((d as Record<string, Json>).a ?? null),
          v: (d as Record<string, Json>).v ?? null,
          added: (d as Record<string, Json>).added !== false,
        },
  );
  return { t: Number(o.t), tx: Number(o.tx), instant: instantText(o.instant ?? null), meta: (o.meta ?? {}) as Record<string, Json>, data };
}

/** An attribute as ":ns/name" (or its id when it has no ident). */
export function attrName(a: Json): string | number {
  if (a && typeof a === 'object' && !Array.isArray(a) && typeof a['#kw'] === 'string') return ':' + a['#kw'];
  return typeof a === 'number' ? a : String(a);
}

/** The log's transactions from t `from` to t `to`, both included, at most `limit`. */
export async function log(from: number, to: number, limit: number): Promise<TxRecord[]> {
  const res = await call<{ txs: Json[] }>('GET', '/api/log' + params({ from, to: to + 1, limit }));
  return res.txs.map(txRecordOf).filter((tx) => tx.t >= from && tx.t <= to);
}

/** The id of an entity given as an id, an ident (`:my/ident`) or a lookup ref (`[:account/id "A-1"]`). */
export async function resolveEntity(text: string): Promise<number> {
  const res = await call<{ id: number }>('GET', `/api/entity/${encodeURIComponent(text)}`);
  return res.id;
}

/** The live feed from t `from` on: calls `onTx` for each committed transaction; returns a closer. */
export function feed(from: number, onTx: (tx: TxRecord) => void): () => void {
  // an EventSource cannot send headers: the token goes in the query string
  const source = new EventSource('/api/feed' + params({ from, token }));
  const handle = (ev: MessageEvent) => {
    try {
      onTx(txRecordOf(JSON.parse(ev.data as string) as Json));
    } catch {
      // a keep-alive or a message of another kind
    }
  };
  source.addEventListener('message', handle);
  source.addEventListener('tx', handle as EventListener);
  return () => source.close();
}
