// The log: t -> every datom the transaction asserted or retracted. Append-only, the source of truth.
import { Tag, type Payload } from './encoding.js';

export interface LogDatom {
  e: number;
  a: number;
  tag: Tag;
  payload: Payload;
  added: boolean;
}

export interface LogEntry {
  t: number;
  tx: number;
  /** :db/txInstant in ms since the epoch. */
  instant: number;
  datoms: LogDatom[];
}

const FIELDS = 5;

/** Flat array form for msgpack; bigints travel as decimal strings (their tag says so). */
export function encodeLogEntry(entry: LogEntry): unknown {
  const flat: unknown[] = new Array(entry.datoms.length * FIELDS);
  entry.datoms.forEach((d, i) => {
    const o = i * FIELDS;
    flat[o] = d.e;
    flat[o + 1] = d.a;
    flat[o + 2] = d.tag;
    flat[o + 3] = typeof d.payload === 'bigint' ? d.payload.toString() : d.payload;
    flat[o + 4] = d.added ? 1 : 0;
  });
  return { tx: entry.tx, instant: entry.instant, datoms: flat };
}

export function decodeLogEntry(t: number, stored: { tx: number; instant: number; datoms: unknown[] }): LogEntry {
  const flat = stored.datoms;
  const datoms: LogDatom[] = [];
  for (let o = 0; o < flat.length; o += FIELDS) {
    const tag = flat[o + 2] as Tag;
    let payload = flat[o + 3] as Payload;
    if ((tag === Tag.Number || tag === Tag.BigInt) && typeof payload === 'string') payload = BigInt(payload);
    datoms.push({ e: flat[o] as number, a: flat[o + 1] as number, tag, payload, added: flat[o + 4] === 1 });
  }
  return { t, tx: stored.tx, instant: stored.instant, datoms };
}
