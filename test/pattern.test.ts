// Data patterns (src/query/pattern.ts): every shape of constant, input-bound and free positions
// gives exactly the datoms a naive filter of the whole database value gives, on now, asOf, since
// and history values.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { q } from '../src/query/index.js';
import { Keyword } from '../query-lang/edn/types.js';
import type { Datom, DbView } from '../src/db/api.js';
import { freshConn } from './helpers/tmp.js';
import { P } from './helpers/schemas.js';
import { valueKey } from '../src/query/values.js';

const SCHEMA = `[${P.name}
 {:db/ident :p/tag :db/valueType :db.type/string :db/cardinality :db.cardinality/many}
 {:db/ident :p/n :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/ref :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`;
const ATTRS = ['p/name', 'p/tag', 'p/n', 'p/ref'];
const STRINGS = ['1a', '1b', '1c', 'x'];
const VARS = ['?e', '?a', '?v', '?tx', '?added'];

type Mode = 'free' | 'const' | 'input';

const opArb = fc.record({
  kind: fc.constantFrom<'add' | 'retract'>('add', 'add', 'retract'),
  ent: fc.nat(3),
  attr: fc.nat(3),
  val: fc.nat(3),
});

/** Every datom of the value, from EAVT, as the naive side of the comparison. */
function allDatoms(db: DbView): Datom[] {
  return [...db.datoms('eavt')];
}

/** The value in position i of a datom, as q returns it (the attribute as its id). */
const field = (d: Datom, i: number): unknown => [d.e, d.a, d.v, d.tx, d.added][i];

describe('data patterns', () => {
  it('match the naive filter for every shape of constant, bound and free positions (32 shapes x 3 ways, 4 kinds of value)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 6 }),
        fc.array(fc.tuple(fc.array(fc.constantFrom<Mode>('free', 'const', 'input'), { minLength: 5, maxLength: 5 }), fc.nat(100), fc.nat(3), fc.nat(2)), {
          minLength: 12,
          maxLength: 12,
        }),
        async (txs, shapes) => {
          const conn = await freshConn();
          await conn.transact(SCHEMA);
          const ids = (await conn.transact(`[{:db/id "a" :p/name "e0"} {:db/id "b" :p/name "e1"} {:db/id "c" :p/name "e2"} {:db/id "d" :p/name "e3"}]`)).tempids;
          const ents = ['a', 'b', 'c', 'd'].map((k) => ids[k]!);
          const firstT = conn.db().basisT;
          for (const ops of txs) {
            const forms = ops.map((o) => {
              const attr = ATTRS[o.attr]!;
              const v = attr === 'p/ref' ? ents[o.val] : attr === 'p/n' ? o.val : JSON.stringify(STRINGS[o.val]);
              return `[${o.kind === 'add' ? ':db/add' : ':db/retract'} ${ents[o.ent]} :${attr} ${v}]`;
            });
            try {
              await conn.transact(`[${forms.join(' ')}]`);
            } catch {
              // conflicting forms in one tx: skip it
            }
          }
          const now = conn.db();
          const mid = firstT + Math.floor((now.basisT - firstT) / 2);
          const views: [string, DbView][] = [
            ['now', now],
            ['asOf', now.asOf(mid)],
            ['since', now.since(mid)],
            ['history', now.history()],
          ];
          for (const [label, db] of views) {
            const datoms = allDatoms(db);
            for (const [modes, pick, n, attrPick] of shapes) {
              const len = 3 + (n % 3); // 3, 4 or 5 terms
              // constants come from a datom of the value when there is one, so that they match something
              const sample: Datom | undefined = datoms[pick % Math.max(1, datoms.length)];
              const constant = (i: number): unknown => {
                if (i === 1) return sample ? db.ident(sample.a)! : Keyword.of(ATTRS[attrPick]!);
                if (!sample) return i === 0 ? ents[0] : i === 2 ? 'zzz' : i === 3 ? now.tToTx(firstT) : true;
                return i === 4 ? pick % 2 === 0 : field(sample, i);
              };
              const terms: string[] = [];
              const inVars: string[] = [];
              const inputs: unknown[] = [];
              const want: { i: number; value: unknown }[] = [];
              const free: number[] = [];
              for (let i = 0; i < len; i++) {
                let mode = modes[i]!;
                if (mode === 'free') {
                  terms.push(VARS[i]!);
                  free.push(i);
                  continue;
                }
                const c = constant(i);
                // only numbers, strings, booleans and keywords are written into the query text
                if (mode === 'const' && !['number', 'string', 'boolean'].includes(typeof c) && !(c instanceof Keyword)) mode = 'input';
                want.push({ i, value: i === 1 ? db.attr(c as Keyword)!.id : c });
                if (mode === 'input') {
                  terms.push(VARS[i]!);
                  inVars.push(VARS[i]!);
                  inputs.push(c);
                } else terms.push(i === 1 ? String(c) : typeof c === 'string' ? JSON.stringify(c) : String(c));
              }
              const find = free.length ? free.map((i) => VARS[i]).join(' ') : '?x';
              const where = free.length ? `[${terms.join(' ')}]` : `[${terms.join(' ')}] [(ground 1) ?x]`;
              const query = `[:find ${find} :in $ ${inVars.join(' ')} :where ${where}]`;
              const got = (q(query, db, ...inputs) as unknown[][]).map((r) => r.map(valueKey).join('|')).sort();
              const matches = datoms.filter((d) => want.every(({ i, value }) => valueKey(field(d, i)) === valueKey(value)));
              const expected = [...new Set(matches.map((d) => (free.length ? free.map((i) => valueKey(field(d, i))).join('|') : valueKey(1))))].sort();
              expect(got, `${label}: ${query} ${inputs.map(String).join(' ')}`).toEqual(expected);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('a constant value with a constant entity and a free attribute matches only that value', async () => {
    const conn = await freshConn();
    const { tempids } = await conn.transact(`[{:db/id "x" :a "1a" :b "1b" :c "1c"}]`);
    const x = tempids.x!;
    const db = conn.db();
    const idents = (rows: unknown) => (rows as [number][]).map(([a]) => String(db.ident(a)));
    expect(idents(q(`[:find ?a :where [${x} ?a "1b"]]`, db))).toEqual([':b']);
    expect(q(`[:find ?a :where [${x} ?a "zzz"]]`, db)).toEqual([]);
    expect(idents(q(`[:find ?a :in $ ?e :where [?e ?a "1b"]]`, db, x))).toEqual([':b']);
    expect(q(`[:find ?a :in $ ?e :where [?e ?a "zzz"]]`, db, x)).toEqual([]);
    expect(idents(q(`[:find ?a :in $ ?e ?v :where [?e ?a ?v]]`, db, x, '1c'))).toEqual([':c']);
  });
});
