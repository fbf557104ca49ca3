// Query-time errors. Every error has a stable code ('query/...') and names the offending form.
import { FactlogError } from '../../query-lang/errors.js';
import type { SourcePos } from '../../query-lang/edn/types.js';

export class QueryError extends FactlogError {}

export function queryError(code: string, message: string, form?: { pos?: SourcePos } | null, formText?: string): QueryError {
  return new QueryError(code, message, { pos: form?.pos, form: formText });
}
