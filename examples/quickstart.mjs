// The embedded API in one file: schema, transactions, queries now and in the past, pull, entity.
// Run: node examples/quickstart.mjs [DIR]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open, q, pull, explain } from 'factlog';

// without a DIR argument: a temporary database, removed at the end
const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-quickstart-'));
const conn = await open({ path: dir });

await conn.transact(`[
  {:db/ident :person/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :person/name  :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
  {:db/ident :person/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}]`);

const first = await conn.transact(`[{:db/id "ann" :person/email "ann@example.com" :person/name "Ann"}
                                    {:db/id "bob" :person/email "bob@example.com" :person/name "Bob" :person/friend "ann"}]`);
console.log('t', first.t, 'tempids', first.tempids);

// an upsert through the unique identity renames Ann; the old name stays in history
const rename = await conn.transact([{ 'person/email': 'ann@example.com', 'person/name': 'Anna' }]);

const db = conn.db();
const names = `[:find [?name ...] :where [?e :person/name ?name]]`; // a set: sorted for printing
console.log('now      ', q(names, db).sort());
console.log('as of t', first.t, q(names, db.asOf(first.t)).sort());
console.log('history  ', q(`[:find ?name ?added ?t :where [?e :person/name ?name ?tx ?added] [(- ?tx 1099511627776) ?t]]`, db.history()));
console.log('friends of Bob', q(`[:find [?fname ...] :in $ ?email :where [?b :person/email ?email] [?b :person/friend ?f] [?f :person/name ?fname]]`, db, 'bob@example.com'));
console.log('pull     ', JSON.stringify(pull(db, '[:person/name {:person/friend [:person/name]}]', '[:person/email "bob@example.com"]')));
console.log('entity   ', db.entity(first.tempids.ann).get(':person/name'), '(was', db.asOf(first.t).entity(first.tempids.ann).get(':person/name') + ')');
const { dbAfter } = db.with(`[{:person/email "cid@example.com" :person/name "Cid"}]`);
console.log('with     ', q(names, dbAfter).length, 'names speculatively,', q(names, conn.db()).length, 'stored');
console.log(String(explain(`[:find ?n :where [?e :person/name ?n] [?e :person/email "bob@example.com"]]`, db)));
console.log('renamed at t', rename.t);
await conn.close();
if (!process.argv[2]) fs.rmSync(dir, { recursive: true, force: true });
