export { follow, type FollowOptions } from './follow.js';
export { replicate, type ReplicateOptions } from './replica.js';
export { MaterializedView, type ViewSpec, type ViewOptions } from './view.js';
export { backup, restore } from './backup.js';
export { excise, compact, type ExciseReport } from './excise.js';
