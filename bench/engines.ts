// Loading the same people into factlog and DataScript, and translating queries between the two.
// Entity ids differ between the engines; each fixture maps person index <-> entity id so results
// can be compared.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { open, type Connection } from '../src/index.js';
import { attrValue, PERSON_ATTRS, type Person, type Update } from './generate.js';

const require = createRequire(import.meta.url);
// DataScript ships as a CommonJS bundle without types: the few calls we use are typed here.
export interface DataScript {
  empty_db(schema?: object): unknown;
  init_db(datoms: unknown[][], schema?: object): unknown;
  db_with(db: unknown, tx: unknown[]): unknown;
  conn_from_db(db: unknown): unknown;
  db(conn: unknown): unknown;
  transact(conn: unknown, tx: unknown[]): { tempids: Record<string, number> };
  q(query: string, ...inputs: unknown[]): unknown[];
  pull(db: unknown, pattern: string, eid: number): Record<string, unknown> | null;
  pull_many(db: unknown, pattern: string, eids: number[]): (Record<string, unknown> | null)[];
  datoms(db: unknown, index: string, ...components: unknown[]): { e: number; a: string; v: unknown; tx: number }[];
  serializable(db: unknown): unknown;
  from_serializable(data: unknown): unknown;
}
export const ds: DataScript = require('datascript');

// ---------------- schema ----------------

export const FACTLOG_SCHEMA = `[
 {:db/ident :name      :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :last-name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :sex       :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :age       :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :salary    :db/valueType :db.type/long   :db/cardinality :db.cardinality/one}
 {:db/ident :follows   :db/valueType :db.type/ref    :db/cardinality :db.cardinality/many}]`;

/** DataScript keeps AVET only for indexed attributes: index every scalar one, as factlog does. */
export const DS_SCHEMA = {
  name: { ':db/index': true },
  'last-name': { ':db/index': true },
  sex: { ':db/index': true },
  age: { ':db/index': true },
  salary: { ':db/index': true },
  follows: { ':db/valueType': ':db.type/ref', ':db/cardinality': ':db.cardinality/many' },
};

const ATTR_RE = /:(last-name|name|sex|age|salary|follows)(?![\w\-/.?*!])/g;

/** Queries are written with factlog keywords; in DataScript's JS API attributes are strings. */
export function toDsQuery(query: string): string {
  return query.replace(ATTR_RE, '"$1"');
}

// ---------------- entity id maps ----------------

export class IdMap {
  readonly ids: number[] = [];
  private readonly rev = new Map<number, number>();

  set(i: number, e: number): void {
    this.ids[i] = e;
    this.rev.set(e, i);
  }
  idOf(i: number): number {
    return this.ids[i];
  }
  /** Person index of an entity id, or the id itself tagged when unknown. */
  indexOf(e: number): number | string {
    const i = this.rev.get(e);
    return i === undefined ? `?${e}` : i;
  }
}

// ---------------- factlog ----------------

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `factlog-bench-${prefix}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

export function factlogEntity(p: Person, tempid: string | number): Record<string, unknown> {
  return { ':db/id': tempid, ':name': p.name, ':last-name': p.lastName, ':sex': p.sex, ':age': p.age, ':salary': p.salary };
}

export interface FactlogFixture {
  conn: Connection;
  dir: string;
  ids: IdMap;
  /** t of each history transaction (index = position in the history), when built with one. */
  historyT: number[];
}

/** Options every factlog connection of the run is opened with (`--column-datoms`). */
export const factlogOpenOptions: { columnDatoms?: number } = {};

export async function openFactlog(dir: string, noSync: boolean): Promise<Connection> {
  const conn = await open({ path: dir, noSync, ...factlogOpenOptions });
  return conn;
}

/**
 * Load people (batches of `batch` entities per transaction), then the :follows edges, then the
 * history. Fixtures only: opened with noSync. Returns an open connection.
 */
export async function buildFactlog(
  people: Person[],
  options: { follows?: [number, number][]; history?: Update[][]; batch?: number; dir?: string; noSync?: boolean } = {},
): Promise<FactlogFixture> {
  const dir = options.dir ?? tempDir('fixture');
  const conn = await openFactlog(dir, options.noSync ?? true);
  await conn.transact(FACTLOG_SCHEMA);
  const ids = new IdMap();
  const batch = options.batch ?? 10_000;
  for (let o = 0; o < people.length; o += batch) {
    const tx: unknown[] = [];
    for (let i = o; i < Math.min(people.length, o + batch); i++) tx.push(factlogEntity(people[i], `p${i}`));
    const report = await conn.transact(tx);
    for (let i = o; i < Math.min(people.length, o + batch); i++) ids.set(i, report.tempids[`p${i}`]);
  }
  const follows = options.follows ?? [];
  for (let o = 0; o < follows.length; o += batch) {
    await conn.transact(follows.slice(o, o + batch).map(([a, b]) => [':db/add', ids.idOf(a), ':follows', ids.idOf(b)]));
  }
  const historyT: number[] = [];
  const history = options.history ?? [];
  // each update is its own transaction (its own t); a thousand of them share one LMDB commit
  for (let o = 0; o < history.length; o += 1000) {
    const txs = history.slice(o, o + 1000).map((updates) => updates.map((u) => ({ ':db/id': ids.idOf(u.i), ':name': u.name, ':age': u.age, ':salary': u.salary })));
    for (const r of await conn.transactBatch(txs)) historyT.push(r.t);
  }
  return { conn, dir, ids, historyT };
}

// ---------------- DataScript ----------------

export interface DsFixture {
  db: unknown;
  ids: IdMap;
}

/** DataScript entity id of person i. */
export const dsId = (i: number): number => i + 1;

export function dsEntity(p: Person, id: number): Record<string, unknown> {
  return { ':db/id': id, name: p.name, 'last-name': p.lastName, sex: p.sex, age: p.age, salary: p.salary };
}

/** The prepared datoms of `people` for DataScript's init_db: [e a v tx]. */
export function dsDatoms(people: Person[], tx = 536870913): unknown[][] {
  const out: unknown[][] = [];
  people.forEach((p, i) => {
    for (const a of PERSON_ATTRS) out.push([dsId(i), a, attrValue(p, a), tx]);
  });
  return out;
}

export function buildDs(people: Person[], follows: [number, number][] = []): DsFixture {
  const ids = new IdMap();
  people.forEach((_, i) => ids.set(i, dsId(i)));
  let db = ds.init_db(dsDatoms(people), DS_SCHEMA);
  if (follows.length)
    db = ds.db_with(
      db,
      follows.map(([a, b]) => [':db/add', dsId(a), 'follows', dsId(b)]),
    );
  return { db, ids };
}
