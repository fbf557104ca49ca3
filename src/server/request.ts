// Reading a request's parts: the body's fields (JSON or EDN), points in time, entity ids, the db view.
import { readEdn } from '../../query-lang/edn/reader.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { FactlogError } from '../../query-lang/errors.js';
import type { Db } from '../db/db.js';
import { parseTimePoint } from '../cli/common.js';
import { ServerError } from './errors.js';
import { fromWire } from './wire.js';

/** The body's fields: an EDN body arrives already read (see the edn content-type parser). */
export interface Body {
  fields: Record<string, unknown>;
  /** True when the body was EDN: its values are EDN data, not tagged JSON. */
  edn: boolean;
}

export function bodyOf(raw: unknown): Body {
  if (raw && typeof raw === 'object' && (raw as { [EDN_BODY]?: boolean })[EDN_BODY]) return { fields: raw as Record<string, unknown>, edn: true };
  if (raw === undefined || raw === null) return { fields: {}, edn: false };
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ServerError('server/bad-request', 'the body must be a JSON object (or an EDN map)', 400);
  return { fields: raw as Record<string, unknown>, edn: false };
}

/** Marks an object made from an EDN body. */
export const EDN_BODY = Symbol('edn body');
/** An EDN body's text, kept on its object: a query worker reads it again (its data would not cross threads). */
export const EDN_TEXT = Symbol('edn text');

/** A field that holds EDN: EDN text in a JSON body is read; in an EDN body it is data already. */
export function ednField(body: Body, name: string, required = true): unknown {
  const v = body.fields[name];
  if (v === undefined || v === null) {
    if (required) throw new ServerError('server/missing-field', `the request needs "${name}"`, 400);
    return undefined;
  }
  if (body.edn) return v;
  if (typeof v === 'string') return v;
  return fromWire(v);
}

/** A field of values (query inputs, tx data as JSON): tagged JSON decoded, EDN as it is. */
export function valueField(body: Body, name: string): unknown {
  const v = body.fields[name];
  return body.edn ? v : fromWire(v);
}

/** A point in time from a query string or body: a t, a tx id, or an ISO-8601 instant. */
export function timePoint(v: unknown, what: string): number | Date | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Date) return v;
  if (typeof v === 'string') {
    try {
      return parseTimePoint(v);
    } catch (err) {
      if (err instanceof FactlogError) throw new ServerError('server/invalid-time', `${what}: ${err.message}`, 400);
      throw err;
    }
  }
  throw new ServerError('server/invalid-time', `${what} must be a t, a tx id or an ISO-8601 instant`, 400);
}

export function flag(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === '';
}

export interface TimeFields {
  /** The t a client's db value was taken at (the remote client pins its values with it). */
  basisT?: unknown;
  asOf?: unknown;
  since?: unknown;
  history?: unknown;
}

/** A db value as of / since / history, as the request asks. */
export function viewOf(db: Db, time: TimeFields): Db {
  let v = db;
  const basis = timePoint(time.basisT, 'basisT');
  if (basis !== undefined) v = v.asOf(basis);
  const asOf = timePoint(time.asOf, 'asOf');
  const since = timePoint(time.since, 'since');
  if (asOf !== undefined) v = v.asOf(asOf);
  if (since !== undefined) v = v.since(since);
  if (time.history !== undefined && flag(time.history)) v = v.history();
  return v;
}

/** An entity given in a URL or body: a number, or EDN text (a lookup ref, an ident). */
export function entityRef(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (/^\d+$/.test(v)) return Number(v);
    const read = readEdn(v);
    return read;
  }
  if (Array.isArray(v) || v instanceof Keyword) return v;
  throw new ServerError('server/invalid-entity', `not an entity id, ident or lookup ref: ${JSON.stringify(v)}`, 400);
}

/** A non-negative integer from a query string, at most `max`. */
export function count(v: unknown, what: string, fallback: number, max: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new ServerError('server/invalid-number', `${what} must be a non-negative integer`, 400);
  return Math.min(n, max);
}
