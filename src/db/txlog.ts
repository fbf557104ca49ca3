// The log as an API: transactions in t order, addressed by t or by Date, datoms decoded.
import { toDatom, txToT } from '../storage/encoding.js';
import type { Store } from '../storage/store.js';
import type { LogTx, LogView } from './api.js';

export type { LogTx } from './api.js';

export class TxLog implements LogView {
  constructor(
    private readonly store: Store,
    /** Largest t whose instant is <= the date. */
    private readonly tAtInstant: (date: Date) => number,
  ) {}

  /**
   * Transactions with from <= t < to. Either bound may be a t, a tx id or a Date, or be left out.
   * A Date `to` is inclusive of transactions at exactly that instant.
   */
  *txRange(from?: number | Date, to?: number | Date): Generator<LogTx> {
    const start = from === undefined ? 0 : from instanceof Date ? this.firstTAtOrAfter(from) : txToT(from);
    const end = to === undefined ? Number.MAX_SAFE_INTEGER : to instanceof Date ? this.tAtInstant(to) + 1 : txToT(to);
    for (const entry of this.store.logRange(start, end)) {
      yield {
        t: entry.t,
        tx: entry.tx,
        instant: new Date(entry.instant),
        data: entry.datoms.map((d) => toDatom({ ...d, tx: entry.tx }, d.added)),
      };
    }
  }

  /** The transaction at a t or tx id, if there is one. */
  tx(txOrT: number): LogTx | undefined {
    const t = txToT(txOrT);
    for (const tx of this.txRange(t, t + 1)) return tx;
    return undefined;
  }

  private firstTAtOrAfter(date: Date): number {
    const t = this.tAtInstant(date);
    const entry = this.store.logEntry(t);
    return entry && entry.instant >= date.getTime() ? t : t + 1;
  }
}
