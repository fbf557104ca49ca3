// The remote client against the embedded API: the same scenarios on an embedded connection and on
// `connect` to a real server (HTTP on a free port), with identical results expected.
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { open, q, pull, pullMany, Keyword, Uuid, type Connection } from '../../src/index.js';
import { connect, q as rq, pull as rpull, pullMany as rpullMany, RemoteError, type RemoteConnection } from '../../src/client/index.js';
import { createToken } from '../../src/server/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';

/** What both connections offer, each call awaited. */
interface Api {
  transact(tx: unknown): Promise<{ t: number; tx: number; tempids: Record<string, number>; txData: readonly { e: number; a: number; v: unknown; tx: number; added: boolean }[] }>;
  db(): any;
  q(query: unknown, ...inputs: unknown[]): Promise<unknown>;
  pull(db: any, pattern: unknown, eid: unknown): Promise<unknown>;
  pullMany(db: any, pattern: unknown, eids: unknown[]): Promise<unknown>;
  indexRange(db: any, attr: string, start?: unknown, end?: unknown): Promise<unknown>;
  datoms(db: any, index: string, ...components: unknown[]): Promise<unknown>;
  listen(listener: (r: { t: number; txData: readonly unknown[] }) => void): () => void;
}

const SCHEMA = `[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}
 {:db/ident :p/big :db/valueType :db.type/bigint :db/cardinality :db.cardinality/one}
 {:db/ident :p/score :db/valueType :db.type/double :db/cardinality :db.cardinality/one}
 {:db/ident :p/id :db/valueType :db.type/uuid :db/cardinality :db.cardinality/one}
 {:db/ident :p/born :db/valueType :db.type/instant :db/cardinality :db.cardinality/one}
 {:db/ident :p/tags :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :p/point :db/valueType :db.type/tuple :db/tupleTypes [:db.type/long :db.type/string] :db/cardinality :db.cardinality/one}
 {:db/id "datomic.tx" :db/txInstant #inst "2025-01-01"}]`;

const plainDatoms = (datoms: readonly { e: number; a: number; v: unknown; tx: number; added: boolean }[]) => datoms.map((d) => ({ e: d.e, a: d.a, v: d.v, tx: d.tx, added: d.added }));

/** The scenario: transactions in EDN and JS data, then queries, pulls and time travel; every answer in order. */
async function scenario(api: Api): Promise<unknown[]> {
  const out: unknown[] = [];
  const report = (r: Awaited<ReturnType<Api['transact']>>) => out.push({ t: r.t, tx: r.tx, tempids: r.tempids, txData: plainDatoms(r.txData) });
  report(await api.transact(SCHEMA));
  report(
    await api.transact(`[{:db/id "ann" :p/email "ann@x" :p/name "Ann" :p/age 30 :p/big 12345678901234567890N :p/score -0.0 :p/tags [:a :b]
       :p/id #uuid "6f1c1f6e-4b4a-4a8e-9a43-0e0b9c0d1e2f" :p/born #inst "1990-05-01" :p/point [1 "x"]}
      {:db/id "bob" :p/email "bob@x" :p/name "Bob" :p/age 40 :p/friend ["ann"] :p/score 1.5e300}
      {:db/id "datomic.tx" :db/txInstant #inst "2025-02-01"}]`),
  );
  report(
    await api.transact([
      { 'p/email': 'ann@x', 'p/age': 31 },
      { 'db/id': 'datomic.tx', 'db/txInstant': new Date('2025-03-01') },
    ]),
  );
  report(await api.transact([[Keyword.of('db/add'), [Keyword.of('p/email'), 'bob@x'], 'p/tags', Keyword.of('c')], { 'db/id': 'datomic.tx', 'db/txInstant': new Date('2025-04-01') }]));
  const db = api.db();
  const people = '[:find ?n ?a :where [?e :p/name ?n] [?e :p/age ?a]]';
  out.push(await api.q(people, db));
  out.push(await api.q(people, db.asOf(2)));
  out.push(await api.q(people, db.asOf(new Date('2025-02-15'))));
  out.push(await api.q(people, db.since(2)));
  out.push(await api.q('[:find ?a ?added :where [?e :p/age ?a _ ?added]]', db.history()));
  out.push(await api.q('[:find ?n . :in $ ?email :where [?e :p/email ?email] [?e :p/name ?n]]', db, 'bob@x'));
  out.push(await api.q('[:find [?n ...] :in $ [?t ...] :where [?e :p/tags ?t] [?e :p/name ?n]]', db, [Keyword.of('a'), Keyword.of('c')]));
  out.push(await api.q('[:find ?big ?score ?id ?born ?point :where [?e :p/big ?big] [?e :p/score ?score] [?e :p/id ?id] [?e :p/born ?born] [?e :p/point ?point]]', db));
  out.push(await api.q('[:find (pull ?e [:p/name {:p/friend [:p/email]}]) :where [?e :p/friend]]', db));
  out.push(await api.q('[:find ?n :keys name :where [_ :p/name ?n]]', db));
  out.push(await api.q('[:find (count ?e) (max ?a) :where [?e :p/age ?a]]', db));
  out.push(await api.q('[:find ?x :in $ % :where (older ?x)]', db, '[[(older ?n) [?e :p/age ?a] [(> ?a 35)] [?e :p/name ?n]]]'));
  out.push(await api.q('[:find ?e . :in $ ?ref :where [?e :p/name] [(= ?e ?ref)]]', db, 1002));
  out.push(await api.pull(db, '[* {:p/_friend [:p/name]}]', '[:p/email "ann@x"]'));
  out.push(await api.pull(db.asOf(2), '[:p/age :p/tags]', [Keyword.of('p/email'), 'ann@x']));
  out.push(await api.pull(db, '[:p/name]', '[:p/email "nobody"]'));
  out.push(await api.indexRange(db, ':p/age', 30, 40));
  out.push(await api.indexRange(db.asOf(2), ':p/email', 'b'));
  out.push(await api.datoms(db, 'eavt', [Keyword.of('p/email'), 'ann@x'], Keyword.of('p/tags'), Keyword.of('b')));
  out.push(await api.datoms(db, 'avet', ':p/email', 'bob@x'));
  out.push(await api.pullMany(db, '[:p/name]', ['[:p/email "ann@x"]', '[:p/email "bob@x"]']));
  out.push(await api.q('[:find ?t . :where [?e :p/name "Ann"] [?e :p/age 31 ?tx] [(tx->t ?tx) ?t]]', db).catch((e) => e.code));
  for (const bad of ['[:find ?x :where [?x :p/name', '[:find ?x :where [?y :p/name]]']) out.push(await api.q(bad, db).catch((e) => e.code));
  out.push(await api.transact('[[:db/cas [:p/email "ann@x"] :p/age 1 2]]').catch((e) => e.code));
  // listen: the next transaction's report, on both
  const heard = new Promise<{ t: number; txData: unknown }>((resolve) => {
    const stop = api.listen((r) => {
      stop();
      resolve({ t: r.t, txData: plainDatoms(r.txData as never) });
    });
  });
  await new Promise((r) => setTimeout(r, 300)); // the remote feed connects
  await api.transact('[{:p/email "cy@x" :p/name "Cy"} {:db/id "datomic.tx" :db/txInstant #inst "2025-05-01"}]');
  out.push(await heard);
  return out;
}

describe('a remote connection answers as an embedded one', () => {
  let server: TestServer;
  let embedded: Connection;
  let remote: RemoteConnection;
  beforeAll(async () => {
    embedded = await open({ path: path.join(tempDir('factlog-client-'), 'db') });
    server = await startServer();
    remote = await connect(server.url);
  });

  it('the same scenario gives identical results', async () => {
    const local: Api = {
      transact: (tx) => embedded.transact(tx as string),
      db: () => embedded.db(),
      q: async (query, ...inputs) => q(query as string, ...inputs),
      pull: async (db, pattern, eid) => pull(db, pattern as string, eid as number),
      pullMany: async (db, pattern, eids) => pullMany(db, pattern as string, eids as number[]),
      indexRange: async (db, attr, start, end) => plainDatoms([...db.indexRange(attr, start, end)]),
      datoms: async (db, index, ...components) => plainDatoms([...db.datoms(index, ...components)]),
      listen: (l) => embedded.listen(l),
    };
    const overHttp: Api = {
      transact: (tx) => remote.transact(tx),
      db: () => remote.db(),
      q: (query, ...inputs) => rq(query, ...inputs),
      pull: (db, pattern, eid) => rpull(db, pattern, eid),
      pullMany: (db, pattern, eids) => rpullMany(db, pattern, eids),
      indexRange: async (db, attr, start, end) => plainDatoms(await db.indexRange(attr, start, end)),
      datoms: async (db, index, ...components) => plainDatoms(await db.datoms(index, ...components)),
      listen: (l) => remote.listen(l as never),
    };
    const expected = await scenario(local);
    const actual = await scenario(overHttp);
    // the values the scenario is about are really there (not two empty lists)
    expect(expected.length).toBeGreaterThan(25);
    expect(JSON.stringify(expected, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))).toMatch(/12345678901234567890/);
    expect(expected.flat(3)).toContainEqual(new Uuid('6f1c1f6e-4b4a-4a8e-9a43-0e0b9c0d1e2f'));
    for (let i = 0; i < expected.length; i++) expect(actual[i], `answer ${i}`).toEqual(expected[i]);
  });

  it('reports() iterates later transactions; a db value stays as it was', async () => {
    const before = remote.db();
    const iterator = remote.reports();
    const next = iterator.next();
    await new Promise((r) => setTimeout(r, 300));
    const made = await remote.transact('[{:p/email "dee@x" :p/name "Dee"}]');
    const { value } = await next;
    expect(value!.t).toBe(made.t);
    await iterator.return!();
    expect(await rq('[:find ?n . :where [_ :p/email "dee@x"] [_ :p/name ?n]]', before)).toBe(null);
    expect(await rq('[:find ?n . :where [?e :p/email "dee@x"] [?e :p/name ?n]]', remote.db())).toBe('Dee');
    // another writer's commit is seen after sync
    await server.conn.transact('[{:p/email "eve@x"}]');
    expect(await rq('[:find ?e . :where [?e :p/email "eve@x"]]', remote.db())).toBe(null);
    expect(await rq('[:find ?e . :where [?e :p/email "eve@x"]]', await remote.sync())).toEqual(expect.any(Number));
  });

  it('refusals come back as coded errors with their status', async () => {
    const file = path.join(tempDir('factlog-client-tokens-'), 'tokens');
    const { token } = createToken(file, { role: 'read', hide: [':p/age'] });
    const guarded = await startServer({ tokensFile: file, setup: async (c) => void (await c.transact('[{:p/email "a@x" :p/age 3}]')) });
    await expect(connect(guarded.url)).rejects.toMatchObject({ code: 'auth/unauthorized', status: 401 });
    const reader = await connect(guarded.url, { token });
    await expect(reader.transact('[{:p/email "b@x"}]')).rejects.toMatchObject({ code: 'auth/forbidden', status: 403 });
    expect(await rq('[:find ?a :where [_ :p/age ?a]]', reader.db())).toEqual([]);
    expect(await rq('[:find ?m :where [_ :p/email ?m]]', reader.db())).toEqual([['a@x']]);
    await expect(connect('http://127.0.0.1:9')).rejects.toBeInstanceOf(RemoteError);
  });

  it('the client loads no storage code (no lmdb)', () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = fs.readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/from 'lmdb'|from "lmdb"|import\('lmdb'\)/);
      for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
        if (/^import\s+type\s/.test(m[0]) || /^export\s+type\s/.test(m[0])) continue;
        visit(path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')));
      }
    };
    const root = path.resolve(import.meta.dirname, '../..');
    visit(path.join(root, 'src/client/index.ts'));
    expect([...seen].map((f) => path.relative(root, f)).filter((f) => f.startsWith('src/storage') || f.startsWith('src/db') || f === 'src/connection.ts')).toEqual([]);
    expect(seen.size).toBeGreaterThan(3);
  });
});
