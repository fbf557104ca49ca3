// The speculative datoms of `db.with(...)`: persistent (immutable) maps layered over stored datoms,
// so chained `with` calls share structure and never touch LMDB.
import { Map as IMap } from 'immutable';
import { factKey, indexKey, Tag, tToTx, type KeyPart, type RawDatom } from '../storage/encoding.js';
import type { KeyCodec } from '../storage/key-codec.js';
import type { IndexName } from './api.js';
import type { Schema } from './schema.js';

interface Entry {
  raw: RawDatom;
  added: boolean;
  tx: number;
}

export class Overlay {
  private constructor(
    /** The stored t the overlay sits on. */
    readonly baseT: number,
    /** The speculative t of the newest overlaid transaction. */
    readonly t: number,
    readonly schema: Schema,
    /** The next entity id a further speculative transaction may allocate. */
    readonly nextEid: number,
    private readonly asserted: IMap<string, RawDatom>,
    /** Stored or overlaid datoms retracted speculatively, with the retracting tx. */
    private readonly retracted: IMap<string, Entry>,
    /**
     * Speculative assertions a later speculative transaction retracted: gone from the current
     * view, but a history shows both events. Keyed by fact and asserting tx (a fact may come and go twice).
     */
    private readonly superseded: IMap<string, Entry>,
    /** The overlay before the newest transaction: what an asOf inside a chain of `with`s sees. */
    private readonly previous: Overlay | null,
  ) {}

  static empty(baseT: number, schema: Schema, nextEid: number): Overlay {
    return new Overlay(baseT, baseT, schema, nextEid, IMap(), IMap(), IMap(), null);
  }

  /** The overlay as of t: its transactions up to t; null when none is (t at or before the base). */
  asOf(t: number): Overlay | null {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- walks the chain of overlays from this one
    let overlay: Overlay | null = this;
    while (overlay && overlay.t > t) overlay = overlay.previous;
    return overlay && overlay.t > overlay.baseT ? overlay : null;
  }

  get size(): number {
    return this.asserted.size + this.retracted.size + this.superseded.size;
  }

  /** A new overlay with one more speculative transaction. */
  extend(t: number, asserted: RawDatom[], retracted: RawDatom[], schema: Schema, nextEid: number): Overlay {
    const tx = tToTx(t);
    let adds = this.asserted;
    let rets = this.retracted;
    let gone = this.superseded;
    for (const raw of retracted) {
      const key = factKey(raw);
      const overlaid = adds.get(key);
      if (overlaid) {
        adds = adds.delete(key);
        gone = gone.set(`${key}|${overlaid.tx}`, { raw: overlaid, added: false, tx });
      } else rets = rets.set(key, { raw, added: false, tx });
    }
    for (const raw of asserted) adds = adds.set(factKey(raw), raw);
    return new Overlay(this.baseT, t, schema, nextEid, adds, rets, gone, this);
  }

  /** Is this stored datom retracted by the overlay? */
  retracts(raw: RawDatom): boolean {
    return this.retracted.has(factKey(raw));
  }

  /** Overlay entries in [prefix, end) of `index`, sorted in index order (the store's `codec`'s). */
  matching(index: IndexName, prefix: KeyPart[], end: KeyPart[] | undefined, withRetractions: boolean, codec: KeyCodec): Entry[] {
    const out: Entry[] = [];
    const consider = (raw: RawDatom, added: boolean, tx: number) => {
      if (index === 'vaet' && raw.tag !== Tag.Ref) return;
      if (inRange(indexKey(index, raw), prefix, end, codec)) out.push({ raw, added, tx });
    };
    for (const raw of this.asserted.values()) consider(raw, true, raw.tx);
    if (withRetractions) {
      for (const e of this.retracted.values()) consider(e.raw, false, e.tx);
      for (const e of this.superseded.values()) {
        consider(e.raw, true, e.raw.tx);
        consider(e.raw, false, e.tx);
      }
    }
    return out.sort((x, y) => codec.compareKeys(indexKey(index, x.raw), indexKey(index, y.raw)) || x.tx - y.tx);
  }
}

function inRange(key: KeyPart[], start: KeyPart[], end: KeyPart[] | undefined, codec: KeyCodec): boolean {
  if (end === undefined) {
    for (let i = 0; i < start.length; i++) if (codec.comparePart(key[i], start[i]) !== 0) return false;
    return true;
  }
  return codec.compareKeys(key, start) >= 0 && codec.compareKeys(key, end) < 0;
}
