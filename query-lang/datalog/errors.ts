import { FactlogError } from '../errors.js';
import type { SourcePos } from '../edn/types.js';

/**
 * A query, rule set or pull pattern that is malformed or statically invalid. Codes:
 *  'query/syntax'               the text does not have the shape of a query/rule/pull pattern
 *  'query/too-deep'             nesting beyond MAX_QUERY_DEPTH
 *  'query/invalid-find'         bad :find spec (missing, `.`/`...` misuse, aggregate shape, :keys count)
 *  'query/unbound-variable'     a variable used in :find/:with/a predicate/a function is never bound
 *  'query/invalid-not'          (not ...) shares no variable with the query, or not-join vars unbound/unused
 *  'query/invalid-or'           (or ...) branches use different variables / or-join var missing in a branch
 *  'query/insufficient-binding' or-join required variable ([?a]) not bound by the rest of the query
 *  'query/rule-arity'           rule called with the wrong number of args, or branches disagree on arity
 *  'query/unknown-rule'         rule call to a rule not in the rule set
 *  'query/missing-rules'        rule calls but no % in :in
 *  'query/unknown-source'       $src used but not declared in :in
 *  'query/invalid-binding'      $/% inside a tuple/collection binding, or in a function binding
 */
export class QueryParseError extends FactlogError {
  constructor(code: string, message: string, details: { pos?: SourcePos; form?: string } = {}) {
    super(code, message, details);
  }
}
