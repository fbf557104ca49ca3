export { pull, pullMany, toPullPattern, DEFAULT_LIMIT, PullError } from './pull.js';
export type { PullResult } from './pull.js';
