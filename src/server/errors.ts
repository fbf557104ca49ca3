// Coded errors as HTTP responses: the library's codes, each with the status that fits it.
import { FactlogError } from '../../query-lang/errors.js';

/** A refusal by the server itself (auth, limits, a malformed request). */
export class ServerError extends FactlogError {
  constructor(
    code: string,
    message: string,
    readonly status: number,
  ) {
    super(code, message);
  }
}

const STATUS_BY_CODE: Record<string, number> = {
  'query/timeout': 504,
  'query/too-large': 422,
  'pull/too-large': 422,
  'db/too-large': 422,
  'tx/unique-conflict': 409,
  'tx/cas-failed': 409,
  'conn/closed': 503,
  'conn/replica-read-only': 403,
};

/** The HTTP status of an error: its own, its code's, 500 for storage trouble, else 400 (bad input). */
export function statusOf(err: unknown): number {
  if (err instanceof ServerError) return err.status;
  if (err instanceof FactlogError) {
    const known = STATUS_BY_CODE[err.code];
    if (known) return known;
    return err.code.startsWith('storage/') || err.code.startsWith('sys/') ? 500 : 400;
  }
  return 500;
}

/** Fastify's own errors (body parsing, limits) under our codes. */
const FASTIFY_CODES: Record<string, [string, number]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['server/body-too-large', 413],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['server/unsupported-media-type', 415],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['server/empty-body', 400],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['server/bad-request', 400],
};

/** Any error thrown while handling a request as a coded error with its status. */
export function asCoded(err: unknown): { code: string; message: string; status: number; form?: string } {
  if (err instanceof FactlogError) return { code: err.code, message: err.message, status: statusOf(err), ...(err.form ? { form: err.form } : {}) };
  const e = err as { code?: string; message?: string; statusCode?: number };
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined;
  if (mapped) return { code: mapped[0], message: e.message ?? '', status: mapped[1] };
  // a JSON body that does not parse
  if (e.statusCode === 400 || err instanceof SyntaxError) return { code: 'server/invalid-json', message: e.message ?? String(err), status: 400 };
  if (e.statusCode === 404) return { code: 'server/not-found', message: e.message ?? 'not found', status: 404 };
  return { code: 'server/internal', message: e.message ?? String(err), status: 500 };
}
