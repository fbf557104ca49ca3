// Excision's rule over the log: which datoms of which records an excision removes, as a pure,
// deterministic function of the records and the requests, so that a primary, its replicas and
// its followers rewrite the same history into the same bytes (and the same hash chain).
import { factKey } from './encoding.js';
import type { LogDatom, LogEntry } from './log.js';

/** One excision request, as its datoms in the log say it (tx/excise.ts reads them). */
export interface ExcisionRule {
  /** The entity whose datoms go, or the attribute whose values go. */
  target: number;
  targetIsAttribute: boolean;
  /** Only these attributes of the entity (absent: all of them). */
  attrs?: number[];
  /** Only assertions made before this t (:db.excise/beforeT)... */
  beforeT?: number;
  /** ... or before this instant, ms (:db.excise/before). */
  beforeMs?: number;
  /** The t of the transaction that asked for it: nothing from it on is touched. */
  requestedAt: number;
}

/**
 * The log's entries with the datoms the rules excise left out (every t stays, an entry may keep
 * no datoms). An excised assertion takes the retraction that later ended it along, so every
 * record still retracts only what was asserted; an assertion at or after a rule's beforeT is kept,
 * with its retraction.
 */
export function* exciseEntries(entries: Iterable<LogEntry>, rules: readonly ExcisionRule[]): Generator<LogEntry> {
  if (rules.length === 0) return yield* entries;
  const excisedFacts = new Set<string>();
  for (const entry of entries) {
    const kept = entry.datoms.filter((d) => !excises(rules, entry, d, excisedFacts));
    yield kept.length === entry.datoms.length ? entry : { ...entry, datoms: kept };
  }
}

function excises(rules: readonly ExcisionRule[], entry: LogEntry, d: LogDatom, excisedFacts: Set<string>): boolean {
  const key = factKey(d);
  if (!d.added) return excisedFacts.delete(key);
  if (!rules.some((rule) => matches(rule, entry, d))) return false;
  excisedFacts.add(key);
  return true;
}

function matches(rule: ExcisionRule, entry: LogEntry, d: LogDatom): boolean {
  if (entry.t >= rule.requestedAt) return false;
  if (rule.beforeT !== undefined && entry.t >= rule.beforeT) return false;
  if (rule.beforeMs !== undefined && entry.instant >= rule.beforeMs) return false;
  if (rule.targetIsAttribute) return d.a === rule.target;
  return d.e === rule.target && (rule.attrs === undefined || rule.attrs.includes(d.a));
}
