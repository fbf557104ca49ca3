// Concurrent transfers through a transaction function, guarded by an attribute predicate.
// `bank/transfer` reads both balances from the db value just before its transaction and returns
// the new ones; `bank/non-negative?` refuses any balance below zero. Two processes each keep many
// transfers in flight at once, and the total is conserved: no update is lost, none half applied.
// Run: node examples/bank.mjs [DIR]
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { open, q } from 'factlog';

const ACCOUNTS = ['alice', 'bob', 'carol', 'dave', 'erin'];
const OPENING = 200;
const TRANSFERS_PER_PROCESS = 150;

const functions = {
  txFns: {
    'bank/transfer': (db, from, to, amount) => {
      const balance = (id) => db.entity([':acct/id', id]).get(':acct/balance');
      if (from === to) return [];
      return [
        [':db/add', [':acct/id', from], ':acct/balance', balance(from) - amount],
        [':db/add', [':acct/id', to], ':acct/balance', balance(to) + amount],
      ];
    },
  },
  predicates: { 'bank/non-negative?': (v) => v >= 0 },
};

const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];

/** Many transfers in flight at once; returns how many committed and how many were refused as overdrafts. */
async function transferMany(conn) {
  const results = await Promise.allSettled(
    Array.from({ length: TRANSFERS_PER_PROCESS }, () => conn.transact([['bank/transfer', pick(ACCOUNTS), pick(ACCOUNTS), 1 + Math.floor(Math.random() * 120)]])),
  );
  const refused = results.filter((r) => r.status === 'rejected');
  for (const r of refused) if (r.reason.code !== 'tx/attr-pred-failed') throw r.reason;
  return { committed: results.length - refused.length, refused: refused.length };
}

if (process.argv[2] === '--worker') {
  // the second process: same database, same functions
  const conn = await open({ path: process.argv[3], ...functions });
  console.log(JSON.stringify(await transferMany(conn)));
  await conn.close();
} else {
  const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-bank-'));
  const conn = await open({ path: dir, ...functions });
  await conn.transact(`[{:db/ident :acct/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
                        {:db/ident :acct/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one
                         :db.attr/preds bank/non-negative?}]`);
  await conn.transact(ACCOUNTS.map((id) => ({ 'acct/id': id, 'acct/balance': OPENING })));

  const other = promisify(execFile)(process.execPath, [process.argv[1], '--worker', dir]);
  const [here, there] = await Promise.all([transferMany(conn), other.then(({ stdout }) => JSON.parse(stdout))]);

  const balances = q(`[:find ?id ?b :where [?a :acct/id ?id] [?a :acct/balance ?b]]`, conn.db()).sort();
  const total = balances.reduce((sum, [, b]) => sum + b, 0);
  console.log('balances', Object.fromEntries(balances));
  console.log(`transfers: ${here.committed + there.committed} committed, ${here.refused + there.refused} refused as overdrafts (two processes)`);
  if (total !== OPENING * ACCOUNTS.length || balances.some(([, b]) => b < 0)) throw new Error(`total ${total}: money was made or lost`);
  console.log(`total conserved: ${total}, no balance below zero`);
  await conn.close();
  if (process.argv[2] === undefined) fs.rmSync(dir, { recursive: true, force: true });
}
