// Entity -> datoms maps of whole attributes of the current database, for queries that read one
// attribute of many entities. A lookup in LMDB costs about as much as scanning 15-20 keys, so
// once an attribute has been probed for more than a sixteenth of its datoms at one t, one AEVT
// scan into a Map is cheaper than the probes still to come; a query that scans the whole
// attribute pays that scan anyway. Any commit (ours or another process's) moves the last t and
// empties the cache, so it never serves a stale datom.
import type { Payload, Tag } from '../storage/encoding.js';
import type { Store } from '../storage/store.js';

/** One datom of an attribute: its value's tag and payload, and the asserting tx. */
export type CachedDatom = [Tag, Payload, number];

/** At most this many datoms are cached at once. */
const MAX_CACHED_DATOMS = 2_000_000;
/** Probes per datom of the attribute after which a scan pays for itself. */
const PROBES_PER_SCAN = 1 / 16;

export class ProbeCache {
  private t = -1;
  private readonly probes = new Map<number, number>();
  private readonly byAttr = new Map<number, Map<number, CachedDatom[]>>();
  private cachedDatoms = 0;

  constructor(private readonly store: Store) {}

  /**
   * The datoms of attribute `a` by entity (in AEVT order) at `lastT` when cached or when caching
   * them pays: for a probe (`scanning` false) after enough probes, for a whole-attribute scan at once.
   */
  attribute(a: number, lastT: number, scanning = false): Map<number, CachedDatom[]> | null {
    if (lastT !== this.t) {
      this.t = lastT;
      this.probes.clear();
      this.byAttr.clear();
      this.cachedDatoms = 0;
    }
    const cached = this.byAttr.get(a);
    if (cached) return cached;
    const probes = (this.probes.get(a) ?? 0) + 1;
    this.probes.set(a, probes);
    const count = this.store.attrCount(a);
    if (!scanning && probes < count * PROBES_PER_SCAN) return null;
    if (this.cachedDatoms + count > MAX_CACHED_DATOMS) return null;
    this.cachedDatoms += count;
    const byEntity = new Map<number, CachedDatom[]>();
    this.store.visitCurrent('aevt', [a], undefined, (e, _a, tag, payload, tx) => {
      const list = byEntity.get(e);
      if (list) list.push([tag, payload, tx]);
      else byEntity.set(e, [[tag, payload, tx]]);
    });
    this.byAttr.set(a, byEntity);
    return byEntity;
  }
}
