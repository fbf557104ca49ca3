// The read endpoints' work (query, explain, pull, datoms, entity...): a request and a db value in,
// the response value out; the same on the server's loop or in a query worker (query-worker.ts).
import type { Keyword } from '../../query-lang/edn/types.js';
import type { Binding } from '../../query-lang/datalog/ast.js';
import type { Db } from '../db/db.js';
import type { AttrRef, IndexName } from '../db/api.js';
import { q, explain, toQuery } from '../query/index.js';
import { pull, pullMany } from '../pull/index.js';
import { placeInputs } from '../query/place-inputs.js';
import { ServerError } from './errors.js';
import { count, ednField, entityRef, flag, valueField, viewOf, type Body, type TimeFields } from './request.js';
import { datomRecord } from './records.js';

export type ReadKind = 'query' | 'explain' | 'pull' | 'pull-many' | 'datoms' | 'index-range' | 'entity';

export const READ_KINDS: readonly ReadKind[] = ['query', 'explain', 'pull', 'pull-many', 'datoms', 'index-range', 'entity'];

export interface ReadRequest {
  kind: ReadKind;
  body: Body;
  /** The query string's parameters, and the path's `eid` (entity). */
  params: Record<string, string | undefined>;
  /** The query's timeout (query, explain). */
  timeoutMs: number;
  /** Most datoms one response holds. */
  pageSize: number;
}

const INDEXES = ['eavt', 'aevt', 'avet', 'vaet'];

/** The response to a read request on `db`, the current database as the request's token sees it. */
export function answerRead(db: Db, r: ReadRequest): unknown {
  switch (r.kind) {
    case 'query':
    case 'explain':
      return runQuery(db, r.body, r.timeoutMs, r.kind === 'explain');
    case 'pull':
      return pullOne(db, r.body);
    case 'pull-many':
      return pullSeveral(db, r.body);
    case 'datoms':
      return datomsPage(db, r.body, r.pageSize);
    case 'index-range':
      return indexRangePage(db, r.body, r.pageSize);
    case 'entity':
      return entityPage(db, r.params);
  }
}

const timeFields = (body: Body): TimeFields => ({ basisT: body.fields.basisT, asOf: body.fields.asOf, since: body.fields.since, history: body.fields.history });

function runQuery(current: Db, body: Body, timeout: number, withPlan: boolean): unknown {
  const text = ednField(body, 'query');
  const query = toQuery(text as string);
  const db = viewOf(current, timeFields(body));
  const inputs = queryInputs(query.in, db, (valueField(body, 'args') as unknown[] | undefined) ?? []);
  if (withPlan) {
    const ex = explain({ query, args: inputs, timeout });
    return { plan: { query: ex.query, steps: ex.steps, totalMs: ex.totalMs, resultCount: ex.resultCount, text: ex.toString() }, result: ex.result };
  }
  return { result: q({ query, args: inputs, timeout }) };
}

function pullOne(current: Db, body: Body): unknown {
  const db = viewOf(current, timeFields(body));
  return { result: pull(db, ednField(body, 'pattern') as string, entityRef(ednField(body, 'eid')) as number) };
}

function pullSeveral(current: Db, body: Body): unknown {
  const db = viewOf(current, timeFields(body));
  const eids = valueField(body, 'eids');
  if (!Array.isArray(eids)) throw new ServerError('server/missing-field', 'the request needs "eids", an array of entities', 400);
  return { result: pullMany(db, ednField(body, 'pattern') as string, eids.map(entityRef) as number[]) };
}

function entityPage(current: Db, params: Record<string, string | undefined>): unknown {
  const now = viewOf(current, { basisT: params.basisT, asOf: params.asOf });
  const ref = entityRef(params.eid);
  const id = now.entid(ref) ?? now.history().entid(ref);
  // an id no datom has ever named is no entity (entid gives any number back)
  if (id === null || now.history().datomArray('eavt', id).length === 0) throw new ServerError('server/no-entity', `no entity matches ${params.eid}`, 404);
  const entity = now.entity(id);
  const out: Record<string, unknown> = { id, entity: entity ? entity.toJSON() : null };
  out.reverse = now.datomArray('vaet', id).map((d) => [d.e, now.ident(d.a) ?? d.a]);
  if (params.history !== undefined && flag(params.history)) out.history = entityHistory(now, id);
  return out;
}

/**
 * Components are values as the embedded `db.datoms` takes them: in JSON a string is a string (an
 * entity or attribute position also reads ':ident' and '[lookup ref]' text), a keyword {"#kw": ...}.
 */
function datomsPage(current: Db, body: Body, pageSize: number): unknown {
  const index = String(body.fields.index ?? '').toLowerCase();
  if (!INDEXES.includes(index)) throw new ServerError('server/invalid-index', `unknown index ${JSON.stringify(body.fields.index)} (one of ${INDEXES.join(', ')})`, 400);
  const components = (valueField(body, 'components') as unknown[] | undefined) ?? [];
  if (!Array.isArray(components)) throw new ServerError('server/bad-request', '"components" must be an array', 400);
  const limit = count(body.fields.limit, 'limit', 1000, pageSize);
  const db = viewOf(current, timeFields(body));
  return page(db, db.datoms(index as IndexName, ...components), limit);
}

function indexRangePage(current: Db, body: Body, pageSize: number): unknown {
  const attr = body.edn ? body.fields.attr : typeof body.fields.attr === 'string' ? attrText(body.fields.attr) : valueField(body, 'attr');
  if (attr === undefined || attr === null) throw new ServerError('server/bad-request', '"attr" names the attribute (an ident such as :user/age, or its id)', 400);
  const limit = count(body.fields.limit, 'limit', 1000, pageSize);
  const db = viewOf(current, timeFields(body));
  if (!db.attr(attr as AttrRef)) throw new ServerError('server/unknown-attribute', `unknown attribute ${String(attr)}`, 400);
  const [start, end] = [valueField(body, 'start'), valueField(body, 'end')];
  return page(db, db.indexRange(attr as AttrRef, start ?? undefined, end ?? undefined), limit);
}

function page(db: Db, datoms: Iterable<Parameters<typeof datomRecord>[1]>, limit: number): { datoms: unknown[]; more: boolean } {
  const out: unknown[] = [];
  for (const d of datoms) {
    if (out.length >= limit) return { datoms: out, more: true };
    out.push(datomRecord(db, d));
  }
  return { datoms: out, more: false };
}

/** A JSON index-range's attribute given as text: EDN when it reads as a keyword (or a lookup ref). */
function attrText(c: string): unknown {
  return c.startsWith(':') || c.startsWith('[') ? entityRef(c) : c;
}

/** Inputs in :in order: `$` is the request's db, every other binding takes the next argument. */
function queryInputs(ins: Binding[], db: Db, args: unknown[]): unknown[] {
  if (!Array.isArray(args)) throw new ServerError('server/bad-request', '"args" must be an array', 400);
  return placeInputs(ins, db, args, {
    read: (arg) => arg,
    missing: (_b, expected) => new ServerError('server/missing-input', `the query expects ${expected} input(s) besides $ in "args"`, 400),
    extra: (taken, given) => new ServerError('server/extra-input', `the query takes ${taken} input(s) besides $ but "args" has ${given}`, 400),
  });
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
    return { t: db.txToT(d.tx), tx: d.tx, instant: info.instant, added: d.added, a: (db.ident(d.a) as Keyword | null) ?? d.a, v: d.v, meta: info.meta };
  });
}
