// A materialized view kept from the log: account balances from a log of transfers.
// The view stores each account's balance after every transaction that touched it, so it can
// answer "what was the balance as of t" — and that answer equals a query over the facts as of t.
// Run: node examples/account-balances.mjs [DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, q, MaterializedView } from 'factlog';

// without a DIR argument: a temporary database, removed at the end
const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-balances-'));
const conn = await open({ path: dir });
await conn.transact(`[{:db/ident :transfer/from :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                      {:db/ident :transfer/to :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
                      {:db/ident :transfer/amount :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);

/** Balance history per account: [[t, balance], ...], oldest first. */
const balances = {
  name: 'balances',
  initial: () => ({}),
  apply(state, tx, conn) {
    const db = conn.db();
    const [from, to, amount] = ['transfer/from', 'transfer/to', 'transfer/amount'].map((a) => db.attr(a)?.id);
    const transfers = new Map();
    for (const d of tx.data) if (d.added) transfers.set(d.e, { ...transfers.get(d.e), [d.a]: d.v });
    for (const tr of transfers.values()) {
      if (tr[amount] === undefined) continue;
      for (const [acct, delta] of [
        [tr[from], -tr[amount]],
        [tr[to], tr[amount]],
      ]) {
        const history = (state[acct] ??= []);
        const last = history.length ? history[history.length - 1][1] : 0;
        history.push([tx.t, last + delta]);
      }
    }
    return state;
  },
};
const balanceAt = (state, acct, t) => [...(state[acct] ?? [])].reverse().find(([at]) => at <= t)?.[1] ?? 0;

const view = MaterializedView.open(conn, balances);
const accounts = ['alice', 'bob', 'carol'];
for (let i = 0; i < 12; i++) {
  await conn.transact([{ 'transfer/from': accounts[i % 3], 'transfer/to': accounts[(i + 1) % 3], 'transfer/amount': 10 * (i + 1) }]);
}
await view.waitFor(conn.basisT);

const sumOf = (db, side, acct) => q(`[:find (sum ?x) . :in $ ?acct :with ?tr :where [?tr ${side} ?acct] [?tr :transfer/amount ?x]]`, db, acct) ?? 0;
const queried = (db, acct) => sumOf(db, ':transfer/to', acct) - sumOf(db, ':transfer/from', acct);

const db = conn.db();
let agree = true;
for (let t = 0; t <= db.basisT; t++) {
  for (const acct of accounts) agree &&= balanceAt(view.state, acct, t) === queried(db.asOf(t), acct);
}
const mid = Math.floor(db.basisT / 2);
for (const acct of accounts) {
  console.log(`${acct.padEnd(6)} now ${String(balanceAt(view.state, acct, db.basisT)).padStart(5)}   as of t${mid} ${String(balanceAt(view.state, acct, mid)).padStart(5)}`);
}
console.log(agree ? 'view agrees with queries at every t' : 'MISMATCH between view and queries');
view.close();
await conn.close();
if (!process.argv[2]) fs.rmSync(dir, { recursive: true, force: true });
process.exitCode = agree ? 0 : 1;
