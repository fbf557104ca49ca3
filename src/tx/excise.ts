// Excision requests in tx data: the list forms ([:db/excise e :attrs [...] :beforeT t]) as
// Datomic's map form, and the checks a request must pass before any history is rewritten.
import { EdnList, Keyword } from '../../query-lang/edn/types.js';
import type { Db } from '../db/db.js';
import { Attr, isSystemEntity } from '../db/schema.js';
import { TX_BASE, decodeValue, type RawDatom } from '../storage/encoding.js';
import { describe, keywordOf } from './txdata.js';
import { EXCISE_ALONE, txError } from './errors.js';

const EXCISE = 'db/excise';
const OPTION_ATTRS: Record<string, Keyword> = {
  attrs: Keyword.of('db.excise/attrs'),
  beforeT: Keyword.of('db.excise/beforeT'),
  before: Keyword.of('db.excise/before'),
};
const REQUEST_ATTRS: ReadonlySet<number> = new Set([Attr.excise, Attr.exciseAttrs, Attr.exciseBeforeT, Attr.exciseBefore]);

/** Tx forms with each [:db/excise e & options] turned into Datomic's map form, a new request entity. */
export function normalizeExcisions(forms: unknown[]): unknown[] {
  if (!forms.some(isExciseList)) return forms;
  return forms.map((form) => (isExciseList(form) ? exciseMap(form) : form));
}

function itemsOf(form: unknown): unknown[] | undefined {
  return form instanceof EdnList ? form.items : Array.isArray(form) ? form : undefined;
}

function isExciseList(form: unknown): boolean {
  const items = itemsOf(form);
  return items !== undefined && items.length > 0 && keywordOf(items[0])?.fqn === EXCISE;
}

function exciseMap(form: unknown): Map<Keyword, unknown> {
  const items = itemsOf(form)!;
  if (items.length < 2 || items.length % 2 !== 0) {
    throw txError('tx/excise-invalid', 'an excision is [:db/excise e], optionally followed by :attrs [attributes], :beforeT t or :before instant', describe(form));
  }
  const request = new Map<Keyword, unknown>([[Keyword.of(EXCISE), items[1]]]);
  for (let i = 2; i < items.length; i += 2) {
    const option = keywordOf(items[i])?.fqn;
    const attr = option === undefined ? undefined : OPTION_ATTRS[option];
    if (attr === undefined) throw txError('tx/excise-invalid', `unknown excision option ${describe(items[i]).text} (:attrs, :beforeT or :before)`, describe(form));
    request.set(attr, items[i + 1]);
  }
  return request;
}

/**
 * refuse: where an excision cannot run (a batch, a request returned by a tx function, a cluster
 * node); check: the checks before a rebuild (offline or on a live connection); rebuilt: the
 * request committed on the rebuilt copy.
 */
export type ExcisionMode = 'refuse' | 'check' | 'rebuilt';

/**
 * Whether tx data may hold an excision request (the keyword :db/excise anywhere in it): a
 * connection runs such a transaction alone (connection.ts), as it rewrites the database's files.
 */
export function namesExcision(txData: unknown): boolean {
  try {
    return holdsExciseKeyword(txData, 0);
  } catch {
    return false; // data whose reading throws: prepareTx says so (tx/invalid-data)
  }
}

function holdsExciseKeyword(txData: unknown, depth: number): boolean {
  if (typeof txData === 'string') return txData.includes(':db/excise') || txData === EXCISE; // EDN text, or JS data's names
  if (txData instanceof Keyword) return txData.fqn === EXCISE;
  if (depth > 64 || typeof txData !== 'object' || txData === null || txData instanceof Date || ArrayBuffer.isView(txData)) return false;
  const items = itemsOf(txData);
  const within = (x: unknown) => holdsExciseKeyword(x, depth + 1);
  if (items) return items.some(within);
  if (txData instanceof Map) return [...txData].some(([k, v]) => within(k) || within(v));
  return Object.entries(txData).some(([k, v]) => within(k) || within(v));
}

/**
 * The checks of a prepared transaction's excision requests, against the database before it: a
 * request names an entity with datoms or a user attribute, limits an entity to user attributes,
 * and is never retracted; in `refuse` mode a request is refused after its checks.
 */
export function checkExcisions(db: Db, asserted: readonly RawDatom[], retracted: readonly RawDatom[], mode: ExcisionMode): void {
  const requests = new Map<number, RawDatom[]>();
  for (const d of asserted) if (REQUEST_ATTRS.has(d.a)) requests.set(d.e, [...(requests.get(d.e) ?? []), d]);
  const retractedRequest = retracted.find((d) => REQUEST_ATTRS.has(d.a));
  if (retractedRequest) throw txError('tx/excise-invalid', `an excision request is never retracted (entity ${retractedRequest.e})`);
  if (requests.size === 0) return;
  // on the rebuilt copy the excised entity has no datoms left: the requests were checked before
  if (mode !== 'rebuilt') for (const [e, datoms] of requests) checkRequest(db, e, datoms);
  if (mode === 'refuse') {
    throw txError('tx/excise-not-alone', EXCISE_ALONE);
  }
}

function checkRequest(db: Db, e: number, datoms: RawDatom[]): void {
  const targetDatom = datoms.find((d) => d.a === Attr.excise);
  if (!targetDatom) throw txError('tx/excise-invalid', `entity ${e} has :db.excise/ options but no :db/excise target`);
  const target = decodeValue(targetDatom.tag, targetDatom.payload) as number;
  const attrs = datoms.filter((d) => d.a === Attr.exciseAttrs).map((d) => decodeValue(d.tag, d.payload) as number);
  const targetAttr = db.attr(target);
  if (isSystemEntity(target) || target >= TX_BASE) {
    throw txError('tx/excise-system-entity', `${db.ident(target)?.toString() ?? `entity ${target}`} is a system or transaction entity: it cannot be excised`);
  }
  if (targetAttr && attrs.length > 0) throw txError('tx/excise-invalid', `:db.excise/attrs limits the excision of an entity, not of the attribute ${targetAttr.ident}`);
  if (!targetAttr && !hasDatoms(db, target)) throw txError('tx/excise-unknown-entity', `entity ${target} has no datoms to excise`);
  for (const a of attrs) {
    const attr = db.attr(a);
    if (!attr) throw txError('tx/excise-not-attribute', `:db.excise/attrs names entity ${a}, which is no attribute`);
    if (isSystemEntity(a)) throw txError('tx/excise-system-entity', `${attr.ident} is a system attribute: it cannot be excised`);
  }
}

function hasDatoms(db: Db, e: number): boolean {
  for (const _ of db.history().datoms('eavt', e)) return true;
  return false;
}
