// Reading a store's tables: the key range of a scan, and the read snapshots lazy cursors hold.
import { keyPayload, type KeyPart } from './encoding.js';
import type { ReadSnapshot } from './index-reader.js';
import { KEY_MAX, StorageError } from './store-format.js';

/** What lmdb-js's useReadTransaction gives: a read transaction, given back by done(). */
export interface LmdbReadTxn {
  done(): void;
}

export class HeldSnapshot implements ReadSnapshot {
  private txn?: LmdbReadTxn;

  constructor(
    private readonly dir: string,
    txn: LmdbReadTxn,
    private readonly heldBy: Set<HeldSnapshot>,
  ) {
    this.txn = txn;
    heldBy.add(this);
  }

  transaction(): unknown {
    if (!this.txn) throw new StorageError('storage/closed', `the database at ${this.dir} is closed`);
    return this.txn;
  }

  /** Gives the read transaction back (once); LMDB may then reuse the pages only it still saw. */
  end(): void {
    const txn = this.txn;
    if (!txn) return;
    this.txn = undefined;
    this.heldBy.delete(this);
    txn.done();
  }
}

/** The read snapshots of a store's scans not finished yet: ended before its environment closes. */
export class ReadSnapshots {
  private readonly held = new Set<HeldSnapshot>();

  constructor(
    private readonly dir: string,
    private readonly env: { useReadTransaction(): unknown; env?: unknown },
    private readonly assertOpen: () => void,
  ) {}

  /**
   * `read(snapshot)`, iterated over one read snapshot (Store.snapshotted); inside a write
   * transaction there is none (undefined): reads go through that transaction.
   */
  read<T>(read: (snapshot: ReadSnapshot | undefined) => Iterable<T>): Iterator<T> & Iterable<T> {
    this.assertOpen();
    if ((this.env as { env: { writeTxn?: unknown } }).env.writeTxn) return read(undefined)[Symbol.iterator]() as Iterator<T> & Iterable<T>;
    return readInSnapshot(this.dir, () => this.env.useReadTransaction() as LmdbReadTxn, this.held, this.assertOpen, read);
  }

  endAll(): void {
    for (const snapshot of [...this.held]) snapshot.end();
  }
}

/**
 * Scans dropped unfinished (never read to their end nor returned) give their read snapshot back
 * when collected: a read transaction held on keeps LMDB from reusing the pages it sees.
 */
const abandonedScans = new FinalizationRegistry<{ snapshot?: HeldSnapshot }>((held) => held.snapshot?.end());

/**
 * `read(snapshot)` as a lazy iterator over one read snapshot (Store.snapshotted): taken at its first
 * step from `begin`, held in `held` until it ends, is returned, or is dropped unfinished.
 */
function readInSnapshot<T>(dir: string, begin: () => LmdbReadTxn, held: Set<HeldSnapshot>, assertOpen: () => void, read: (snapshot: ReadSnapshot) => Iterable<T>): Iterator<T> & Iterable<T> {
  const holder: { snapshot?: HeldSnapshot } = {};
  const steps = stepsInSnapshot(dir, begin, held, assertOpen, holder, read);
  abandonedScans.register(steps, holder, holder);
  return steps;
}

function* stepsInSnapshot<T>(
  dir: string,
  begin: () => LmdbReadTxn,
  held: Set<HeldSnapshot>,
  assertOpen: () => void,
  holder: { snapshot?: HeldSnapshot },
  read: (snapshot: ReadSnapshot) => Iterable<T>,
): Generator<T> {
  assertOpen();
  const snapshot = new HeldSnapshot(dir, begin(), held);
  holder.snapshot = snapshot;
  try {
    yield* read(snapshot);
  } finally {
    snapshot.end();
    abandonedScans.unregister(holder);
  }
}

export function rangeOf(prefix: KeyPart[], end?: KeyPart[]) {
  // long values are found by their markers, whatever form the caller holds them in; -0 is the
  // same value as 0, whose range holds it (key-codec.ts)
  prefix = prefix.map(rangePart);
  if (end) end = end.map(rangePart);
  return { start: prefix.length ? prefix : undefined, end: end ?? (prefix.length ? [...prefix, KEY_MAX] : undefined) } as any;
}

/** The start of rangeOf(prefix) alone: a prefix's parts as the keys hold them. */
export function prefixStart(prefix: KeyPart[]): KeyPart[] {
  return prefix.map(rangePart);
}

function rangePart(p: KeyPart): KeyPart {
  return p === 0 ? 0 : keyPayload(p);
}
