export { pull, pullMany, toPullPattern, registerXform, DEFAULT_LIMIT, PullError } from './pull.js';
export type { PullPatternInput, PullResult } from './pull.js';
export { indexPull, type IndexPullOptions } from './index-pull.js';
