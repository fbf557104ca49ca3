// Datomic's attribute predicates (:db.attr/preds, each asserted value) and entity specs (:db/ensure
// naming an entity with :db.entity/attrs and :db.entity/preds, checked against the db after the tx).
import { Keyword, Sym } from '../../query-lang/edn/types.js';
import { describeThrown } from '../../query-lang/errors.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import type { AttrInfo, Value } from '../db/api.js';
import type { Db } from '../db/db.js';
import { Attr } from '../db/schema.js';
import { txError, type FormRef } from './errors.js';
import { isThenable, type Predicate, type TxFunctions } from './tx-functions.js';

/** An entity a transaction asked to satisfy a spec (`[:db/add e :db/ensure spec]`). */
export interface EnsureRequest {
  e: number;
  spec: number;
  form: FormRef;
}

/** Throws tx/attr-pred-failed unless every predicate of `attr` holds for `v`. */
export function checkAttrPreds(attr: AttrInfo, preds: readonly Sym[], v: Value, fns: TxFunctions, form: FormRef): void {
  for (const name of preds) {
    const what = `${attr.ident} value ${printEdn(v)}`;
    const verdict = callPredicate(name, fns, form, [v], (why) => txError('tx/attr-pred-failed', `${what} fails predicate ${name}: threw ${why}`, form));
    if (!verdict) throw txError('tx/attr-pred-failed', `${what} fails predicate ${name}`, form);
  }
}

/**
 * Check each requested entity against its spec in `dbAfter`: every attribute of
 * :db.entity/attrs present, then every predicate of :db.entity/preds true of (dbAfter, e).
 */
export function checkEntitySpecs(dbAfter: Db, requests: EnsureRequest[], fns: TxFunctions): void {
  for (const { e, spec, form } of requests) {
    const { attrs, preds } = readSpec(dbAfter, spec, form);
    const name = dbAfter.ident(spec) ?? spec;
    const missing = attrs.filter((kw) => !hasAttr(dbAfter, e, kw));
    if (missing.length > 0) {
      throw txError('tx/entity-spec-failed', `entity ${e} fails entity spec ${name}: missing ${missing.join(', ')}`, form);
    }
    for (const pred of preds) {
      const failed = (why: string) => txError('tx/entity-spec-failed', `entity ${e} fails entity spec ${name}: predicate ${pred} ${why}`, form);
      if (!callPredicate(pred, fns, form, [dbAfter, e], (why) => failed(`threw ${why}`))) throw failed('returned false');
    }
  }
}

function readSpec(db: Db, spec: number, form: FormRef): { attrs: Keyword[]; preds: Sym[] } {
  const attrs: Keyword[] = [];
  const preds: Sym[] = [];
  for (const d of db.scan('eavt', [spec])) {
    if (d.a === Attr.entityAttrs) attrs.push(d.v as Keyword);
    else if (d.a === Attr.entityPreds) preds.push(d.v as Sym);
  }
  if (attrs.length === 0 && preds.length === 0) {
    const name = db.ident(spec) ?? `entity ${spec}`;
    throw txError('tx/invalid-data', `:db/ensure names ${name}, which is no entity spec (it has neither :db.entity/attrs nor :db.entity/preds)`, form);
  }
  return { attrs, preds };
}

function hasAttr(db: Db, e: number, kw: Keyword): boolean {
  const attr = db.attr(kw);
  if (!attr) return false;
  for (const _ of db.scan('eavt', [e, attr.id])) return true;
  return false;
}

/** A predicate's verdict; a throw becomes `failure(what it threw)`, an unregistered name tx/unknown-predicate. */
function callPredicate(name: Sym, fns: TxFunctions, form: FormRef, args: unknown[], failure: (why: string) => Error): boolean {
  const fn: Predicate | undefined = fns.predicates.get(name.name.startsWith(':') ? name.name.slice(1) : name.name);
  if (!fn) throw txError('tx/unknown-predicate', `predicate ${name} is not registered (open's predicates option, or --tx-fns)`, form);
  let verdict: unknown;
  try {
    verdict = fn(...args);
  } catch (err) {
    const error = failure(describeThrown(err));
    error.cause = err;
    throw error;
  }
  if (isThenable(verdict)) {
    verdict.then(undefined, () => {});
    throw txError('tx/fn-async', `predicate ${name} returned a Promise: predicates run inside the write transaction and answer synchronously`, form);
  }
  return Boolean(verdict);
}
