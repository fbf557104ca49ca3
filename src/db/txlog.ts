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
   * Transactions with from <= t < to, as Datomic's tx-range: either bound may be a t, a tx id or a
   * Date (from <= instant < to), or be left out (undefined or null) to leave that end open.
   */
  *txRange(from?: number | Date | null, to?: number | Date | null): Generator<LogTx> {
    const start = from === undefined || from === null ? 0 : from instanceof Date ? this.firstTAtOrAfter(from) : txToT(from);
    const end = to === undefined || to === null ? Number.MAX_SAFE_INTEGER : to instanceof Date ? this.firstTAtOrAfter(to) : txToT(to);
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

  /** The first t whose instant is at or after the date (several transactions may share an instant). */
  private firstTAtOrAfter(date: Date): number {
    const ms = date.getTime();
    const t = this.tAtInstant(new Date(ms - 1)); // the last one before it, or 0
    const entry = this.store.logEntry(t);
    return entry && entry.instant < ms ? t + 1 : t;
  }
}
