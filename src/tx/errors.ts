// Errors a transaction can fail with. Each names the offending form; codes are stable.
import { FactlogError } from '../../query-lang/errors.js';

/** Codes: tx/invalid-data, tx/unknown-operation, tx/unknown-attribute, tx/invalid-value,
 *  tx/invalid-entity, tx/unknown-ident, tx/lookup-ref-not-found, tx/dangling-tempid,
 *  tx/unique-conflict, tx/cardinality-conflict, tx/datom-conflict, tx/cas-failed,
 *  tx/instant-backwards, tx/instant-in-future, tx/invalid-schema, tx/attribute-in-same-tx,
 *  tx/system-entity, tx/read-only, tx/fn-failed, tx/fn-async, tx/fn-too-deep, tx/attr-pred-failed,
 *  tx/entity-spec-failed, tx/unknown-predicate, tx/excise-not-alone. */
export class TxError extends FactlogError {}

/** Where in the tx data a problem was found: the form printed, and its text position. */
export interface FormRef {
  readonly text: string;
  readonly pos?: { line: number; column: number; offset: number };
}

export function txError(code: string, message: string, form?: FormRef): TxError {
  return new TxError(code, form ? `${message} in ${form.text}` : message, { pos: form?.pos, form: form?.text });
}

/** Why an excision request found where only ordinary operations may be is refused (tx/excise-not-alone). */
export const EXCISE_ALONE =
  'an excision rewrites the database files, so it is a transaction of its own: write the request in the tx data of conn.transact on an embedded connection (not in a batch, not returned by a transaction function, not on a cluster node), or run excise(path, txData) or `factlog excise`';
