// A store's meta table: its format, last t, next entity id and instant, per-attribute datom
// counts, where the log file's records end, and the primary a replica follows.
import type { Database, RootDatabase } from 'lmdb';
import type { Meta } from './store-format.js';

export class StoreMeta {
  /** The table itself, for the writers that keep counts and flags in it. */
  readonly table: Database<any, string>;

  constructor(env: RootDatabase) {
    this.table = env.openDB('meta', {});
  }

  formatVersion(): number | undefined {
    return this.table.get('formatVersion');
  }

  read(): Meta {
    return {
      lastT: this.table.get('lastT') ?? -1,
      nextEid: this.table.get('nextEid') ?? 0,
      lastInstant: this.table.get('lastInstant') ?? 0,
    };
  }

  /** The last committed t, through a given read transaction or the current one. */
  lastT(transaction?: unknown): number {
    return (transaction ? this.table.get('lastT', { transaction } as any) : this.table.get('lastT')) ?? -1;
  }

  /** Inside a write transaction; the format is written with the first one. */
  put(meta: Meta, format: number): void {
    if (this.table.get('formatVersion') === undefined) this.table.putSync('formatVersion', format);
    this.table.putSync('lastT', meta.lastT);
    this.table.putSync('nextEid', meta.nextEid);
    this.table.putSync('lastInstant', meta.lastInstant);
  }

  attrCount(a: number): number {
    return this.table.get(`count:${a}`) ?? 0;
  }

  attrCounts(): Map<number, number> {
    const counts = new Map<number, number>();
    for (const { key, value } of this.table.getRange({ start: 'count:', end: 'count;' })) counts.set(Number(String(key).slice(6)), value);
    return counts;
  }

  clearCounts(): void {
    for (const key of [...this.table.getKeys()]) if (String(key).startsWith('count:')) this.table.removeSync(key);
  }

  /** Where LMDB says the log file's records end (undefined before the log file was written). */
  logFileEnd(): number | undefined {
    return this.table.get('logFileEnd');
  }

  setLogFileEnd(end: number): void {
    this.table.putSync('logFileEnd', end);
  }

  /** Which rebuild of the indexes this is: the indexes change without a new t only by a rebuild. */
  indexEpoch(): number {
    return this.table.get('indexEpoch') ?? 0;
  }

  /** Inside the write transaction of a rebuild. */
  bumpIndexEpoch(): void {
    this.table.putSync('indexEpoch', this.indexEpoch() + 1);
  }

  replicaOf(): string | undefined {
    return this.table.get('replicaOf');
  }

  markReplicaOf(source: string): void {
    this.table.putSync('replicaOf', source);
  }

  isEmpty(): boolean {
    for (const _ of this.table.getKeys({ limit: 1 })) return false;
    return true;
  }
}
