// What one server lets a client take: body size, query time, concurrency, streams, page size.
export interface ServerLimits {
  /** Largest request body in bytes (default 10 MiB): larger gets 413 server/body-too-large. */
  bodyBytes: number;
  /** A query's timeout when the request gives none, and the longest it may ask for, in ms (default 30,000). */
  queryTimeoutMs: number;
  maxQueryTimeoutMs: number;
  /** Query requests (query, explain, pull, datoms...) in progress at once; more get 503 server/busy (default 16). */
  concurrentQueries: number;
  /** Live feed streams open at once; more get 503 server/busy (default 64). */
  feeds: number;
  /** Transactions a feed may have written but the client not yet read before it is cut off (default 10,000). */
  feedBacklog: number;
  /** Most datoms, log transactions or timeline points one response holds (default 10,000). */
  pageSize: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  bodyBytes: 10 * 1024 * 1024,
  queryTimeoutMs: 30_000,
  maxQueryTimeoutMs: 300_000,
  concurrentQueries: 16,
  feeds: 64,
  feedBacklog: 10_000,
  pageSize: 10_000,
};
