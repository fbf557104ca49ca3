// `npm run cluster:demo`: 3 NATS servers (JetStream, replicas 3) and 3 factlog nodes on this
// machine, each in its own directory; writes from every node, reads on every node, one NATS
// server killed and restarted on the way. Everything lives in a temp dir removed at the end.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NatsCluster, natsServerPath, NATS_INSTALL_HINT } from '../dist/bench/nats-cluster.js';
import { open, q } from '../dist/src/index.js';

if (!natsServerPath()) {
  console.error(`nats-server is not on the PATH: ${NATS_INSTALL_HINT}`);
  process.exit(1);
}
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'factlog-cluster-demo-'));
const nats = await NatsCluster.start({ dir: path.join(root, 'nats') });
process.once('exit', () => fs.rmSync(root, { recursive: true, force: true }));
console.log(`3 NATS servers: ${nats.urls.join(' ')}`);
const cluster = { servers: nats.urls, name: 'bank' };
const nodes = [];
for (const name of ['a', 'b', 'c']) nodes.push(await open({ path: path.join(root, `node-${name}`), cluster }));
console.log(`3 nodes of cluster database "bank" in ${root}/node-{a,b,c}`);

await nodes[0].transact(`[{:db/ident :account/id :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
  {:db/ident :account/balance :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`);
await Promise.all(nodes.map((n, i) => n.transact([{ 'account/id': `acct-${i}`, 'account/balance': 100 }])));
console.log('each node wrote one account; transfers with :db/cas from every node at once ...');

async function transfer(node, from, to, amount) {
  for (;;) {
    const db = node.db();
    const balance = (id) => q('[:find ?b . :in $ ?id :where [?e :account/id ?id] [?e :account/balance ?b]]', db, id);
    const [a, b] = [balance(from), balance(to)];
    try {
      return await node.transact([
        [':db/cas', [':account/id', from], ':account/balance', a, a - amount],
        [':db/cas', [':account/id', to], ':account/balance', b, b + amount],
      ]);
    } catch (err) {
      if (err.code !== 'tx/cas-failed') throw err; // another node moved first: read again
    }
  }
}
const round = () => Promise.all(nodes.map((n, i) => transfer(n, `acct-${i}`, `acct-${(i + 1) % 3}`, 10 + i)));
await round();
await nats.kill(1);
console.log('NATS server 2 killed: the stream keeps a quorum (2 of 3), so writes go on');
await round();
nats.startServer(1);
await nats.waitHealthy(1);
console.log('NATS server 2 restarted');
await round();

const lastT = Math.max(...nodes.map((n) => n.basisT));
for (const [i, n] of nodes.entries()) {
  const db = await n.sync(lastT);
  const rows = q('[:find ?id ?b :where [?e :account/id ?id] [?e :account/balance ?b]]', db).sort();
  const total = rows.reduce((s, [, b]) => s + b, 0);
  console.log(`node ${'abc'[i]} at t=${db.basisT}: ${rows.map(([id, b]) => `${id}=${b}`).join(' ')} (total ${total})`);
}
for (const n of nodes) await n.close();
await nats.shutdown();
fs.rmSync(root, { recursive: true, force: true });
