// Aggregates folded in one index scan give what the general path gives: for random data (values
// repeated, mixed types, cardinality many, retractions), every foldable query answers as the same
// query with a second, idle clause, which the fold leaves to the general path.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { q, explain } from '../src/query/index.js';
import { freshConn } from './helpers/tmp.js';

const SCHEMA = `[{:db/ident :o/status :db/valueType :db.type/keyword :db/cardinality :db.cardinality/one}
 {:db/ident :o/total :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :o/tag :db/valueType :db.type/long :db/cardinality :db.cardinality/many}
 {:db/ident :o/any :db/cardinality :db.cardinality/one}]`;

const QUERIES = [
  '[:find ?s (count ?o) :where [?o :o/status ?s]]',
  '[:find (count ?o) . :where [?o :o/status]]',
  '[:find (count ?o) . :where [?o :o/total _]]',
  '[:find ?s (count ?o) (min ?o) (max ?o) :where [?o :o/status ?s]]',
  '[:find ?t (count ?o) :where [?o :o/total ?t]]',
  '[:find (sum ?t) (avg ?t) (min ?t) (max ?t) :where [?o :o/total ?t]]',
  '[:find [(sum ?t) (count ?t)] :where [?o :o/tag ?t]]',
  '[:find ?o (sum ?t) :where [?o :o/tag ?t]]',
  '[:find (count ?o) :with ?t :where [?o :o/tag ?t]]',
  '[:find (min ?v) (max ?v) (count ?o) :where [?o :o/any ?v]]',
  '[:find (sum ?v) . :where [?o :o/any ?v]]',
  '[:find [(count ?o) ...] :where [?o :o/status ?s]]',
];

/** The same query, which the fold does not take: a second clause that binds a variable nobody reads. */
const general = (text: string) => text.replace(/\]$/, ' [(ground 1) ?unread]]');

const entity = fc.record({
  status: fc.option(fc.constantFrom(':a', ':b', ':c'), { nil: undefined }),
  total: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }),
  tags: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  any: fc.option(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom(1.5, 'x', 'y')), { nil: undefined }),
  retractTotal: fc.boolean(),
});

describe('aggregates folded in the scan', () => {
  it('answer as the general path does, on the current value, asOf, since, history, with and filtered', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entity, { maxLength: 12 }), async (es) => {
        const conn = await freshConn();
        await conn.transact(SCHEMA);
        const tx = es.map((e, i) => {
          const m: Record<string, unknown> = { 'db/id': `e${i}` };
          if (e.status) m['o/status'] = e.status;
          if (e.total !== undefined) m['o/total'] = e.total;
          if (e.tags.length) m['o/tag'] = e.tags;
          if (e.any !== undefined) m['o/any'] = e.any;
          return m;
        });
        const report = await conn.transact(tx.filter((m) => Object.keys(m).length > 1));
        const retract = es.flatMap((e, i) => (e.retractTotal && e.total !== undefined ? [[':db/retract', report.tempids[`e${i}`], ':o/total', e.total]] : []));
        if (retract.length) await conn.transact(retract);
        const now = conn.db();
        const views = [now, now.asOf(report.t), now.since(report.t - 1), now.history(), now.with('[{:o/status :b}]').dbAfter, now.filter((_db, d) => d.e % 2 === 0)];
        for (const db of views) {
          for (const text of QUERIES) {
            let expected: unknown;
            let failed: unknown = null;
            try {
              expected = q(general(text), db);
            } catch (err) {
              failed = (err as { code?: string }).code;
            }
            if (failed) expect(() => q(text, db), text).toThrow(expect.objectContaining({ code: failed }));
            else expect(q(text, db), text).toEqual(expected);
          }
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);

  it('is the plan explain shows for a whole-attribute count, and not for a history', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    await conn.transact('[{:o/status :a} {:o/status :b} {:o/status :a}]');
    const e = explain('[:find ?s (count ?o) :where [?o :o/status ?s]]', conn.db());
    expect(e.steps.map((s) => s.strategy)).toEqual(['counted per value in the index']);
    expect((e.result as [unknown, number][]).map((r) => r[1]).sort()).toEqual([1, 2]);
    // a sum reads the datoms, and builds the column the next count scans
    expect(explain('[:find ?s (sum ?o) :where [?o :o/status ?s]]', conn.db()).steps.map((s) => s.strategy)).toEqual(['aggregated in the scan']);
    expect(explain('[:find ?s (count ?o) :where [?o :o/status ?s]]', conn.db()).steps.map((s) => s.strategy)).toEqual(['aggregated in the scan']);
    const h = explain('[:find ?s (count ?o) :where [?o :o/status ?s]]', conn.db().history());
    expect(h.steps.map((s) => s.strategy)).not.toContain('aggregated in the scan');
  });

  it('counts per value from the index only while values are few, and answers alike either way', async () => {
    const conn = await freshConn();
    await conn.transact(SCHEMA);
    const text = '[:find ?t (count ?o) :where [?o :o/total ?t]]';
    await conn.transact(Array.from({ length: 100 }, (_, i) => ({ 'o/total': i % 5 })));
    const few = explain(text, conn.db());
    expect(few.steps.map((s) => s.strategy)).toEqual(['counted per value in the index']);
    expect(few.result).toEqual(q(general(text), conn.db()));
    const other = await freshConn();
    await other.transact(SCHEMA);
    await other.transact(Array.from({ length: 100 }, (_, i) => ({ 'o/total': i % 50 })));
    const many = explain(text, other.db());
    expect(many.steps.map((s) => s.strategy)).toEqual(['aggregated in the scan']);
    expect(many.result).toEqual(q(general(text), other.db()));
  });
});
