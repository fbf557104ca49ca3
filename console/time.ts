// The time control's arithmetic and the diff of two points in time, computed from the log.
// Pure: no DOM, unit-tested in test/console-time.test.ts.
import { ednOf, type Json } from './values.js';

/** One transaction on the timeline: its t and its :db/txInstant (ISO text). */
export interface TimelinePoint {
  t: number;
  instant: string;
}

/** The t of the database as of `date`: the last transaction committed at or before it (0: before all). */
export function tAtDate(timeline: TimelinePoint[], date: Date): number {
  let t = 0;
  for (const p of timeline) if (Date.parse(p.instant) <= date.getTime()) t = Math.max(t, p.t);
  return t;
}

/** The instant of transaction `t`, or null when it is not on the timeline. */
export function instantOfT(timeline: TimelinePoint[], t: number): string | null {
  return timeline.find((p) => p.t === t)?.instant ?? null;
}

/** A datom of the log: attribute as its ident when the server knows one. */
export interface LogDatom {
  e: number;
  a: string | number;
  v: Json;
  added: boolean;
}

export interface LogTx {
  t: number;
  data: LogDatom[];
}

export interface Change {
  op: '+' | '-';
  e: number;
  a: string | number;
  v: Json;
  /** The t of the transaction that made the change. */
  t: number;
}

/**
 * What differs between the database as of `fromT` and as of `toT` (either order): the facts present
 * at one point and not the other. The log asserts only what is absent and retracts only what is
 * present, so a fact's first operation after `lo` tells whether it was there at `lo`, and its last
 * operation up to `hi` whether it is there at `hi`.
 */
export function diffFromLog(txs: LogTx[], fromT: number, toT: number): Change[] {
  const lo = Math.min(fromT, toT);
  const hi = Math.max(fromT, toT);
  const facts = new Map<string, { d: LogDatom; first: boolean; last: boolean; t: number }>();
  for (const tx of [...txs].sort((x, y) => x.t - y.t)) {
    if (tx.t <= lo || tx.t > hi) continue;
    for (const d of tx.data) {
      const key = `${d.e}|${d.a}|${ednOf(d.v)}`;
      const seen = facts.get(key);
      if (seen) Object.assign(seen, { last: d.added, t: tx.t });
      else facts.set(key, { d, first: d.added, last: d.added, t: tx.t });
    }
  }
  const changes: Change[] = [];
  for (const { d, first, last, t } of facts.values()) {
    const atLo = !first; // first op an assertion: it was absent at lo
    if (atLo === last) continue;
    const addedGoingForward = last;
    const op = addedGoingForward === toT >= fromT ? '+' : '-';
    changes.push({ op, e: d.e, a: d.a, v: d.v, t });
  }
  return changes.sort((x, y) => x.e - y.e || String(x.a).localeCompare(String(y.a)) || (x.op === y.op ? 0 : x.op === '-' ? -1 : 1));
}

/** Points of a step chart of numeric values over time, scaled into a width x height box. */
export function chartPath(points: { time: number; value: number }[], width: number, height: number, endTime: number): string {
  if (points.length === 0) return '';
  const sorted = [...points].sort((a, b) => a.time - b.time);
  const t0 = sorted[0]!.time;
  const t1 = Math.max(endTime, sorted[sorted.length - 1]!.time, t0 + 1);
  const values = sorted.map((p) => p.value);
  const min = Math.min(...values, 0);
  const max = Math.max(...values, min + 1);
  const x = (t: number) => ((t - t0) / (t1 - t0)) * width;
  const y = (v: number) => height - ((v - min) / (max - min)) * height;
  let d = `M${x(sorted[0]!.time).toFixed(1)},${y(sorted[0]!.value).toFixed(1)}`;
  for (let i = 1; i < sorted.length; i++) d += ` H${x(sorted[i]!.time).toFixed(1)} V${y(sorted[i]!.value).toFixed(1)}`;
  return d + ` H${width.toFixed(1)}`;
}
