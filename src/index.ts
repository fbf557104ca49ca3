// factlog's public API. Connection and Db are exported as types only: `open` makes connections,
// connections make Db values. Internal members are tagged for stripInternal, out of the .d.ts.
export { open, type Connection, type ListenOptions, type OpenOptions, type TxReport, type TxListener } from './connection.js';
export { DbError, type Db, type DatomFilter } from './db/db.js';
export type { AttrInfo, AttrRef, Datom, DbStats, DbView, Entity, EntityRef, IndexName, LogTx, LogView, Value, ValueType } from './db/api.js';
export type { TxData, TxForm, TxMap, TxOp, TxAttr, TxEntity, TxLookupRef, TxValue } from './model.js';
export { TxError } from './tx/errors.js';
export type { TxFn, Predicate } from './tx/tx-functions.js';
export { StorageError } from './storage/store.js';
export type { LogEntry } from './storage/log.js';
export { verify, VerifyError, type VerifyReport, type VerifyProblem } from './db/verify.js';
export { FactlogError } from '../query-lang/errors.js';
export { Keyword, Sym, Uuid, Uri, Char, BigDec, EdnList, Tagged, type EdnValue } from '../query-lang/edn/types.js';
export { readEdn, readAllEdn } from '../query-lang/edn/reader.js';
export { printEdn } from '../query-lang/edn/printer.js';
export { q, explain, QueryError, FUNCTIONS, AGGREGATES, type Explanation, type ExplainStep, type QueryInput, type QueryMap, type QueryLimits } from './query/index.js';
export { pull, pullMany, registerXform, indexPull, PullError, type IndexPullOptions, type PullPatternInput, type PullResult } from './pull/index.js';
export { parseQuery, parsePull, parseRules } from '../query-lang/datalog/index.js';
export { follow, replicate, MaterializedView, backup, restore, type FollowOptions, type ReplicateOptions, type ViewOptions, type ViewSpec } from './feed/index.js';
export { ViewApplyError } from './feed/view.js';
export { excise, compact, type ExciseReport } from './feed/excise.js';
