// `factlog demo`: a small bank — people, accounts and transfers over a few dated transactions —
// then balances as of different dates. The directory gets a marker file so that the demo only
// ever deletes a database it made itself.
import fs from 'node:fs';
import path from 'node:path';
import { open } from '../connection.js';
import { q, toQuery } from '../query/index.js';
import { CliError, dbDir, hasDatabase } from './common.js';
import { renderResult } from './format.js';

export const DEMO_MARKER = '.factlog-demo';

const SCHEMA = `[
 {:db/ident :person/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :account/id      :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :account/owner   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
 {:db/ident :account/balance :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :transfer/from   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
 {:db/ident :transfer/to     :db/valueType :db.type/ref    :db/cardinality :db.cardinality/one}
 {:db/ident :transfer/amount :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :tx/note         :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01T09:00:00Z"}]`;

const PEOPLE = `[
 {:db/id "alice" :person/name "Alice" :person/email "alice@example.com"}
 {:db/id "bob"   :person/name "Bob"   :person/email "bob@example.com"}
 {:db/id "carol" :person/name "Carol" :person/email "carol@example.com"}
 {:account/id "A-1" :account/owner "alice" :account/balance 1000}
 {:account/id "B-1" :account/owner "bob"   :account/balance 500}
 {:account/id "C-1" :account/owner "carol" :account/balance 250}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-01-05T10:00:00Z" :tx/note "opening balances"}]`;

/** One transfer: the transfer entity and both balances, checked with :db/cas. */
function transfer(from: string, to: string, amount: number, balances: Map<string, number>, date: string, note: string): string {
  const fromBefore = balances.get(from)!;
  const toBefore = balances.get(to)!;
  balances.set(from, fromBefore - amount);
  balances.set(to, toBefore + amount);
  return `[{:transfer/from [:account/id "${from}"] :transfer/to [:account/id "${to}"] :transfer/amount ${amount}}
 [:db/cas [:account/id "${from}"] :account/balance ${fromBefore} ${fromBefore - amount}]
 [:db/cas [:account/id "${to}"] :account/balance ${toBefore} ${toBefore + amount}]
 {:db/id "datomic.tx" :db/txInstant #inst "${date}" :tx/note "${note}"}]`;
}

const BALANCES = `[:find ?owner ?account ?balance
 :where [?a :account/id ?account] [?a :account/balance ?balance] [?a :account/owner ?p] [?p :person/name ?owner]]`;

export async function demoCommand(opts: { db?: string }): Promise<void> {
  const dir = dbDir(opts.db);
  const marker = path.join(dir, DEMO_MARKER);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    if (!fs.existsSync(marker)) {
      const what = hasDatabase(dir) ? 'a factlog database that the demo did not create' : 'not empty';
      throw new CliError('cli/demo-refused', `${dir} is ${what}; refusing to overwrite it (use --db DIR for another directory)`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const conn = await open({ path: dir, create: true });
  try {
    fs.writeFileSync(marker, 'created by `factlog demo`; the demo may delete and recreate this directory\n');
    await conn.transact(SCHEMA);
    await conn.transact(PEOPLE);
    const balances = new Map([
      ['A-1', 1000],
      ['B-1', 500],
      ['C-1', 250],
    ]);
    await conn.transact(transfer('A-1', 'B-1', 200, balances, '2025-02-01T12:00:00Z', 'rent'));
    await conn.transact(transfer('B-1', 'C-1', 50, balances, '2025-02-20T08:30:00Z', 'lunch'));
    await conn.transact(transfer('C-1', 'A-1', 100, balances, '2025-03-10T16:45:00Z', 'concert tickets'));
    await conn.transact(transfer('A-1', 'C-1', 300, balances, '2025-04-02T09:15:00Z', 'car repair'));

    const query = toQuery(BALANCES);
    const db = conn.db();
    const w = (s: string) => process.stdout.write(s + '\n');
    w(`demo database created at ${dir} (t ${db.basisT}: schema, 3 people, 3 accounts, 4 transfers)`);
    for (const date of ['2025-01-15', '2025-02-10', '2025-03-01', '2025-03-31']) {
      const result = q(query, db.asOf(new Date(date)));
      w(`\nbalances as of ${date}  (factlog query --as-of ${date} ...)`);
      w(renderResult(query, sortRows(result), 'table').text);
    }
    w('\nbalances now');
    w(renderResult(query, sortRows(q(query, db)), 'table').text);
    w(`\ntry:  factlog query --db ${path.relative(process.cwd(), dir) || '.'} --as-of 2025-02-10 '${BALANCES.replace(/\s+/g, ' ')}'`);
    w(`      factlog history --db ${path.relative(process.cwd(), dir) || '.'} '[:account/id "A-1"]'`);
    w(`      factlog repl --db ${path.relative(process.cwd(), dir) || '.'}`);
    w(`      factlog serve --db ${path.relative(process.cwd(), dir) || '.'}   (the HTTP API and the web console at http://127.0.0.1:8420)`);
  } finally {
    await conn.close();
  }
}

function sortRows(rows: unknown[][]): unknown[][] {
  return [...rows].sort((a, b) => String(a[1]).localeCompare(String(b[1])));
}
