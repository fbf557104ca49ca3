// An entity's datoms (EAVT) and the datoms pointing at it (VAET), for a pull's many small reads:
// whether the value needs the history keys is decided once per pull, not once per read.
import type { Datom, DatomReads, IndexName } from './api.js';
import type { Store } from '../storage/store.js';

/** What datomReads needs from a Db value. */
export interface ReadsView {
  readonly basisT: number;
  readonly sinceT: number | null;
  readonly isHistory: boolean;
  readonly overlay: unknown;
  readonly filters: unknown;
  datomArray(index: IndexName, ...components: unknown[]): Datom[];
}

/**
 * `view.datomArray(index, e[, a])` for the reads of one synchronous step. A plain value (no
 * history, since, filter nor overlay) with nothing committed after its basis is the store's
 * current keys alone: read straight (or from the store's key cache of that state), the store's
 * last t read once here. Any other view reads as
 * datomArray does. Valid only until the step ends: a commit may follow it.
 */
export function datomReadsOf(view: ReadsView, store: Store): DatomReads {
  const currentOnly = !view.overlay && !view.isHistory && !view.filters && view.sinceT === null;
  const lastT = currentOnly ? store.lastT() : Infinity;
  if (lastT > view.basisT) return (index, e, a) => (a === undefined ? view.datomArray(index, e) : view.datomArray(index, e, a));
  const reader = store.reader;
  // the keys of this state of the indexes may come from the store's key cache
  const state = store.indexState(lastT);
  return (index, e, a, limit) => reader.currentArray(index, a === undefined ? [e] : [e, a], state, limit);
}
