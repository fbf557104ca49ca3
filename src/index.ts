// factlog's public API.
export { open, Connection, type OpenOptions, type TxReport, type TxListener } from './connection.js';
export { Db, DbError } from './db/db.js';
export type { Datom, DbStats, DbView, AttrInfo, Entity, EntityRef, IndexName, Value, ValueType } from './db/api.js';
export { TxError } from './tx/errors.js';
export type { TxFn, Predicate } from './tx/tx-functions.js';
export { StorageError } from './storage/store.js';
export { verify, VerifyError, type VerifyReport, type VerifyProblem } from './db/verify.js';
export { FactlogError } from '../query-lang/errors.js';
export { Keyword, Sym, Uuid, Char, BigDec, EdnList, Tagged, type EdnValue } from '../query-lang/edn/types.js';
export { readEdn, readAllEdn } from '../query-lang/edn/reader.js';
export { printEdn } from '../query-lang/edn/printer.js';
export { q, explain, QueryError, FUNCTIONS, AGGREGATES, type Explanation, type QueryLimits } from './query/index.js';
export { pull, pullMany, registerXform, indexPull, PullError, type IndexPullOptions } from './pull/index.js';
export { parseQuery, parsePull, parseRules } from '../query-lang/datalog/index.js';
export { follow, replicate, MaterializedView, backup, restore, type ViewSpec } from './feed/index.js';
export type { LogTx } from './db/txlog.js';
