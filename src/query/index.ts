export { q, explain, toQuery } from './query.js';
export type { Explanation, QueryInput, QueryMap } from './query.js';
export { DEFAULT_TIMEOUT_MS, DEFAULT_MAX_VALUES, type QueryLimits } from './budget.js';
export type { ExplainStep } from './context.js';
export { FUNCTIONS, AGGREGATES } from './builtins.js';
export type { BuiltinFn, AggregateFn } from './builtins.js';
export { valueKey, compareValues, valuesEqual } from './values.js';
export { QueryError } from './errors.js';
