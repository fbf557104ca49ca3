export * from './errors.js';
export * from './edn/index.js';
export * from './datalog/index.js';
