// The shapes the server sends: datoms, log transactions, attributes, as plain JS values for toWire/EDN.
import type { Db } from '../db/db.js';
import type { AttrInfo, Datom, LogTx } from '../db/api.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { txToT } from '../storage/encoding.js';

/** A datom as [e, a, v, tx, added], the attribute by its ident. */
export function datomRecord(db: Db, d: Datom): unknown[] {
  return [d.e, db.ident(d.a) ?? d.a, d.v, d.tx, d.added];
}

/** A log transaction: t, tx, instant, its metadata (the tx entity's other attributes) and its datoms. */
export function logRecord(db: Db, entry: LogTx, keep: (d: Datom) => boolean = () => true): Record<string, unknown> {
  const meta: Record<string, unknown> = {};
  const datoms = entry.data.filter(keep);
  for (const d of datoms) {
    if (d.e !== entry.tx || !d.added) continue;
    const ident = db.ident(d.a)?.fqn;
    if (ident && ident !== 'db/txInstant') meta[ident] = d.v;
  }
  return { t: entry.t, tx: entry.tx, instant: entry.instant, meta, datoms: datoms.map((d) => datomRecord(db, d)) };
}

/** An attribute's schema as a map of its properties, and its datom count in this value. */
export function attrRecord(info: AttrInfo, count: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: info.id,
    ident: info.ident,
    valueType: info.valueType === null ? null : Keyword.of(`db.type/${info.valueType}`),
    cardinality: Keyword.of(`db.cardinality/${info.cardinality}`),
    unique: info.unique === null ? null : Keyword.of(`db.unique/${info.unique}`),
    isComponent: info.isComponent,
    index: info.index,
    noHistory: info.noHistory,
    fulltext: info.fulltext,
    count,
  };
  if (info.doc !== undefined) out.doc = info.doc;
  if (info.tupleAttrs) out.tupleAttrs = info.tupleAttrs;
  return out;
}

export { txToT };
