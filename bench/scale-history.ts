// A realistic shop history of any size, generated deterministically as a stream of transactions
// (people, items, orders; later, updates and retractions), and written as a factlog export file.
//
// Nothing is kept per datom: every value is a function of the seed and the entity's index (and,
// for what updates change, a small per-entity counter in a typed array), so a 20M-datom history
// streams in a few tens of MB.
import fs from 'node:fs';
import { exportLines } from '../src/cli/transfer.js';
import { open } from '../src/index.js';
import { TX_BASE } from '../src/storage/encoding.js';
import { removeDir, tempDir } from './engines.js';
import { LAST_NAMES, makeRng, NAMES } from './generate.js';

// ---------------- schema ----------------

export type ShopAttr =
  | 'person/email'
  | 'person/name'
  | 'person/city'
  | 'person/friends'
  | 'item/sku'
  | 'item/name'
  | 'item/price'
  | 'order/customer'
  | 'order/item'
  | 'order/total'
  | 'order/placed'
  | 'order/status';

type ShopType = 'string' | 'long' | 'ref' | 'instant';

/** Each attribute's type, and the many / unique ones. Totals and prices are whole cents (sums stay exact in every engine). */
export const SHOP_ATTRS: Record<ShopAttr, { type: ShopType; many?: true; unique?: 'identity' | 'value' }> = {
  'person/email': { type: 'string', unique: 'identity' },
  'person/name': { type: 'string' },
  'person/city': { type: 'string' },
  'person/friends': { type: 'ref', many: true },
  'item/sku': { type: 'string', unique: 'value' },
  'item/name': { type: 'string' },
  'item/price': { type: 'long' },
  'order/customer': { type: 'ref' },
  'order/item': { type: 'ref' },
  'order/total': { type: 'long' },
  'order/placed': { type: 'instant' },
  'order/status': { type: 'string' },
};

/** :order/status is a string in both engines, as :sex is (DataScript's JS API makes no keywords). */
export const ORDER_STATUSES = ['placed', 'paid', 'shipped', 'delivered'] as const;

export const CITIES = [
  'Amsterdam',
  'Athens',
  'Barcelona',
  'Berlin',
  'Bologna',
  'Bordeaux',
  'Bratislava',
  'Brno',
  'Brussels',
  'Bucharest',
  'Budapest',
  'Cologne',
  'Copenhagen',
  'Dresden',
  'Dublin',
  'Edinburgh',
  'Florence',
  'Gdansk',
  'Geneva',
  'Genoa',
  'Ghent',
  'Gothenburg',
  'Graz',
  'Hamburg',
  'Helsinki',
  'Krakow',
  'Leipzig',
  'Lille',
  'Lisbon',
  'Ljubljana',
  'London',
  'Lyon',
  'Madrid',
  'Malmo',
  'Marseille',
  'Milan',
  'Munich',
  'Naples',
  'Nantes',
  'Oslo',
  'Paris',
  'Porto',
  'Prague',
  'Riga',
  'Rome',
  'Rotterdam',
  'Seville',
  'Sofia',
  'Stockholm',
  'Tallinn',
  'Toulouse',
  'Turin',
  'Utrecht',
  'Valencia',
  'Vienna',
  'Vilnius',
  'Warsaw',
  'Wroclaw',
  'Zagreb',
  'Zurich',
];

const ITEM_WORDS = ['Lamp', 'Chair', 'Kettle', 'Desk', 'Mug', 'Rug', 'Clock', 'Shelf', 'Vase', 'Stool', 'Mirror', 'Pillow'];

const EDN_TYPES: Record<ShopType, string> = { string: 'string', long: 'long', ref: 'ref', instant: 'instant' };

/** The instant of the schema transaction; every later transaction is a minute after the one before. */
export const SHOP_EPOCH_MS = Date.UTC(2020, 0, 1);
const TX_SPACING_MS = 60_000;

/** The schema as factlog transaction data (EDN), with the schema transaction's own instant. */
export const SHOP_SCHEMA_EDN = `[
${Object.entries(SHOP_ATTRS)
  .map(([name, a]) => {
    const unique = a.unique ? ` :db/unique :db.unique/${a.unique}` : '';
    return ` {:db/ident :${name} :db/valueType :db.type/${EDN_TYPES[a.type]} :db/cardinality :db.cardinality/${a.many ? 'many' : 'one'}${unique}}`;
  })
  .join('\n')}
 {:db/id "datomic.tx" :db/txInstant #inst "${new Date(SHOP_EPOCH_MS).toISOString()}"}]`;

/** DataScript's schema of the same attributes (AVET for every attribute, as factlog keeps). */
export const SHOP_DS_SCHEMA: Record<string, Record<string, unknown>> = Object.fromEntries(
  Object.entries(SHOP_ATTRS).map(([name, a]) => {
    const s: Record<string, unknown> = { ':db/index': true };
    if (a.type === 'ref') s[':db/valueType'] = ':db.type/ref';
    if (a.many) s[':db/cardinality'] = ':db.cardinality/many';
    if (a.unique) s[':db/unique'] = `:db.unique/${a.unique}`;
    return [name, s];
  }),
);

// ---------------- the history ----------------

export type ShopValue = string | number | Date;

/** One datom of the history; a ref's value is the entity id of its target. */
export interface ShopDatom {
  e: number;
  a: ShopAttr;
  v: ShopValue;
  added: boolean;
}

export interface ShopTx {
  /** Position in the history, from 1 (the schema transaction comes before it). */
  n: number;
  instant: Date;
  kind: 'create' | 'update';
  datoms: ShopDatom[];
}

export interface ShopOptions {
  /** Datoms to generate (assertions and retractions; the transactions' own :db/txInstant not counted). The last transaction may overshoot a little. */
  datoms: number;
  seed?: number;
  /** People created per creation transaction (each with 1-3 friends). */
  peoplePerTx?: number;
  /** Orders created per creation transaction. */
  ordersPerTx?: number;
  /** Share of transactions after the first fifth of the history that update or retract. */
  updateShare?: number;
  /** Changes per update transaction. */
  changesPerUpdate?: number;
}

/** Entity id ranges (below DataScript's 2^31 and factlog's tx ids): items, people, orders. */
export const ITEM_BASE = 1_000_000;
export const PERSON_BASE = 10_000_000;
export const ORDER_BASE = 100_000_000;

const ITEMS_PER_TX = 100;
const RETRACTED = 255;

/** A 32-bit mix of the seed and up to three integers: the source of every generated value. */
function mix(seed: number, a: number, b = 0, c = 0): number {
  let h = (seed ^ Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b) ^ Math.imul(c + 0x165667b1, 0xc2b2ae35)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A deterministic history of `options.datoms` datoms; see the file's opening comment. */
export function* shopHistory(options: ShopOptions): Generator<ShopTx> {
  const g = new ShopGenerator(options);
  yield* g.transactions();
}

class ShopGenerator {
  readonly seed: number;
  readonly peoplePerTx: number;
  readonly ordersPerTx: number;
  readonly updateShare: number;
  readonly changesPerUpdate: number;
  readonly items: number;
  /** Per person: how often its city and email changed; per person: friends still held. */
  readonly personVersion: Uint16Array;
  readonly friendsLeft: Uint8Array;
  /** Per order: its status index, or RETRACTED. */
  readonly orderStatus: Uint8Array;
  /** Per creation transaction: its position in the history (an order's :order/placed). */
  readonly creationN: Uint32Array;
  people = 0;
  orders = 0;
  emitted = 0;

  constructor(readonly options: ShopOptions) {
    this.seed = options.seed ?? 1;
    this.peoplePerTx = options.peoplePerTx ?? 2;
    this.ordersPerTx = options.ordersPerTx ?? 16;
    this.updateShare = options.updateShare ?? 0.1;
    this.changesPerUpdate = options.changesPerUpdate ?? 20;
    this.items = Math.max(100, Math.min(50_000, Math.round(options.datoms / 1000)));
    // no more entities than datoms / 3 of each kind can be made
    const most = Math.ceil(options.datoms / 3) + this.ordersPerTx + this.peoplePerTx;
    this.personVersion = new Uint16Array(most);
    this.friendsLeft = new Uint8Array(most);
    this.orderStatus = new Uint8Array(most);
    this.creationN = new Uint32Array(Math.ceil(most / this.ordersPerTx) + 1);
  }

  *transactions(): Generator<ShopTx> {
    const rng = makeRng(this.seed);
    let n = 0;
    let creations = 0;
    const tx = (kind: ShopTx['kind'], datoms: ShopDatom[]): ShopTx => {
      n++;
      this.emitted += datoms.length;
      return { n, instant: new Date(SHOP_EPOCH_MS + n * TX_SPACING_MS), kind, datoms };
    };
    for (let i = 0; i < this.items && this.emitted < this.options.datoms; i += ITEMS_PER_TX) {
      yield tx('create', this.itemDatoms(i, Math.min(this.items, i + ITEMS_PER_TX)));
    }
    const warm = this.options.datoms / 5;
    while (this.emitted < this.options.datoms) {
      const update = this.emitted > warm && this.orders > 0 && rng() < this.updateShare;
      if (update) {
        const datoms = this.updateDatoms(rng);
        if (datoms.length) yield tx('update', datoms);
      } else {
        yield tx('create', this.creationDatoms(creations++, n + 1));
      }
    }
  }

  itemDatoms(from: number, to: number): ShopDatom[] {
    const out: ShopDatom[] = [];
    for (let i = from; i < to; i++) {
      const e = ITEM_BASE + i;
      out.push({ e, a: 'item/sku', v: `SKU-${String(i).padStart(6, '0')}`, added: true });
      out.push({ e, a: 'item/name', v: `${ITEM_WORDS[mix(this.seed, i, 1) % ITEM_WORDS.length]} ${i}`, added: true });
      out.push({ e, a: 'item/price', v: this.price(i), added: true });
    }
    return out;
  }

  price(item: number): number {
    return 199 + (mix(this.seed, item, 2) % 49_800);
  }

  /** Creation transaction k (the k-th, from 0): its people, then its orders; `n` its position. */
  creationDatoms(k: number, n: number): ShopDatom[] {
    const out: ShopDatom[] = [];
    this.creationN[k] = n;
    for (let j = 0; j < this.peoplePerTx; j++) this.personDatoms(this.people++, out);
    const placed = new Date(SHOP_EPOCH_MS + n * TX_SPACING_MS);
    for (let j = 0; j < this.ordersPerTx; j++) {
      const o = this.orders++;
      for (const a of ORDER_ATTRS) out.push({ e: ORDER_BASE + o, a, v: this.orderValue(o, a, placed), added: true });
    }
    return out;
  }

  personDatoms(p: number, out: ShopDatom[]): void {
    const e = PERSON_BASE + p;
    const h = mix(this.seed, p, 3);
    const name = `${NAMES[h % NAMES.length]} ${LAST_NAMES[(h >>> 8) % LAST_NAMES.length]}`;
    out.push({ e, a: 'person/email', v: this.email(p), added: true });
    out.push({ e, a: 'person/name', v: name, added: true });
    out.push({ e, a: 'person/city', v: this.city(p), added: true });
    const friends = Math.min(p, 1 + (h % 3));
    this.friendsLeft[p] = friends;
    for (let j = 0; j < friends; j++) out.push({ e, a: 'person/friends', v: PERSON_BASE + this.friend(p, j), added: true });
  }

  /** Friend j of person p: distinct people made before p. */
  friend(p: number, j: number): number {
    return (mix(this.seed, p, 4) + j) % p;
  }

  email(p: number): string {
    const v = this.personVersion[p]!;
    return v === 0 ? `p${p}@shop.example` : `p${p}.${v}@shop.example`;
  }

  city(p: number): string {
    return CITIES[mix(this.seed, p, 5, this.personVersion[p]) % CITIES.length]!;
  }

  /** The value of an order's attribute (its customer among the people made by its transaction). */
  orderValue(o: number, a: OrderAttr, placed: Date): ShopValue {
    switch (a) {
      case 'order/customer': {
        const known = (Math.floor(o / this.ordersPerTx) + 1) * this.peoplePerTx;
        return PERSON_BASE + (mix(this.seed, o, 6) % known);
      }
      case 'order/item':
        return ITEM_BASE + this.itemOf(o);
      case 'order/total':
        return this.price(this.itemOf(o)) * (1 + (mix(this.seed, o, 8) % 4));
      case 'order/placed':
        return placed;
      case 'order/status':
        return ORDER_STATUSES[this.orderStatus[o]!]!;
    }
  }

  itemOf(o: number): number {
    // a few items sell far more than the rest
    const h = mix(this.seed, o, 7);
    return h % 4 === 0 ? h % Math.min(this.items, 20) : h % this.items;
  }

  /** One update transaction: status changes, moves (city and email), dropped friends, cancelled orders. */
  updateDatoms(rng: () => number): ShopDatom[] {
    const out: ShopDatom[] = [];
    // one change per entity and transaction: two would assert two values of one attribute
    const touched = new Set<number>();
    const once = (e: number) => !touched.has(e) && touched.add(e) !== undefined;
    for (let c = 0; c < this.changesPerUpdate; c++) {
      const r = rng();
      const o = Math.floor(rng() * this.orders);
      const p = Math.floor(rng() * this.people);
      if (r < 0.6) once(ORDER_BASE + o) && this.advanceStatus(o, out);
      else if (r < 0.75) once(PERSON_BASE + p) && this.move(p, out);
      else if (r < 0.85) once(PERSON_BASE + p) && this.dropFriend(p, out);
      else once(ORDER_BASE + o) && this.cancel(o, out);
    }
    return out;
  }

  advanceStatus(o: number, out: ShopDatom[]): void {
    const s = this.orderStatus[o]!;
    if (s === RETRACTED || s + 1 >= ORDER_STATUSES.length) return;
    const e = ORDER_BASE + o;
    out.push({ e, a: 'order/status', v: ORDER_STATUSES[s]!, added: false });
    this.orderStatus[o] = s + 1;
    out.push({ e, a: 'order/status', v: ORDER_STATUSES[s + 1]!, added: true });
  }

  move(p: number, out: ShopDatom[]): void {
    if (this.personVersion[p]! >= 0xffff) return;
    const e = PERSON_BASE + p;
    const before = [this.email(p), this.city(p)];
    this.personVersion[p]!++;
    out.push({ e, a: 'person/email', v: before[0]!, added: false }, { e, a: 'person/email', v: this.email(p), added: true });
    const city = this.city(p);
    if (city !== before[1]) out.push({ e, a: 'person/city', v: before[1]!, added: false }, { e, a: 'person/city', v: city, added: true });
  }

  dropFriend(p: number, out: ShopDatom[]): void {
    const left = this.friendsLeft[p]!;
    if (left === 0) return;
    this.friendsLeft[p] = left - 1;
    out.push({ e: PERSON_BASE + p, a: 'person/friends', v: PERSON_BASE + this.friend(p, left - 1), added: false });
  }

  /** Retract a whole order (as retractEntity would); its :order/placed is its creation transaction's instant. */
  cancel(o: number, out: ShopDatom[]): void {
    if (this.orderStatus[o] === RETRACTED) return;
    const placed = new Date(SHOP_EPOCH_MS + this.creationPosition(o) * TX_SPACING_MS);
    for (const a of ORDER_ATTRS) out.push({ e: ORDER_BASE + o, a, v: this.orderValue(o, a, placed), added: false });
    this.orderStatus[o] = RETRACTED;
  }

  /** Position in the history of the transaction that made order o. */
  creationPosition(o: number): number {
    return this.creationN[Math.floor(o / this.ordersPerTx)]!;
  }
}

const ORDER_ATTRS = ['order/customer', 'order/item', 'order/total', 'order/placed', 'order/status'] as const;
type OrderAttr = (typeof ORDER_ATTRS)[number];

// ---------------- writing it out ----------------

/** The schema transaction as `factlog export` writes it (JSON lines), made by a throwaway database. */
export async function shopSchemaExportLines(): Promise<string[]> {
  const dir = tempDir('shop-schema');
  try {
    const conn = await open({ path: dir, noSync: true });
    try {
      await conn.transact(SHOP_SCHEMA_EDN);
      return [...exportLines(conn, 'jsonl')];
    } finally {
      await conn.close();
    }
  } finally {
    removeDir(dir);
  }
}

/** One transaction as a line of a factlog export file (JSON lines), at t = `t`. */
export function exportLineOf(tx: ShopTx, t: number): string {
  const txId = TX_BASE + t;
  const datoms: unknown[] = [[txId, ':db/txInstant', { '#inst': tx.instant.toISOString() }, true]];
  for (const d of tx.datoms) datoms.push([d.e, ':' + d.a, jsonValueOf(d), d.added]);
  return JSON.stringify({ t, tx: txId, txInstant: tx.instant.toISOString(), datoms });
}

function jsonValueOf(d: ShopDatom): unknown {
  if (d.v instanceof Date) return { '#inst': d.v.toISOString() };
  return SHOP_ATTRS[d.a].type === 'ref' ? { '#ref': d.v } : d.v;
}

export interface ShopExport {
  transactions: number;
  /** Datoms of the history, :db/txInstant and the schema not counted. */
  datoms: number;
  bytes: number;
}

/** Write the schema and the history as a file `factlog import` reads, streaming (a few MB in memory at most). */
export async function writeShopExport(file: string, options: ShopOptions): Promise<ShopExport> {
  const schema = await shopSchemaExportLines();
  const fd = fs.openSync(file, 'w');
  let transactions = 0;
  let datoms = 0;
  let bytes = 0;
  let buf = schema.map((l) => l + '\n').join('');
  const flush = () => {
    bytes += fs.writeSync(fd, buf);
    buf = '';
  };
  try {
    for (const tx of shopHistory(options)) {
      buf += exportLineOf(tx, schema.length + tx.n) + '\n';
      transactions++;
      datoms += tx.datoms.length;
      if (buf.length > 1 << 20) flush();
    }
    flush();
  } finally {
    fs.closeSync(fd);
  }
  return { transactions, datoms, bytes };
}

/** One transaction as DataScript tx data (the same entity ids; attributes without the colon). */
export function dsTxDataOf(tx: ShopTx): unknown[][] {
  return tx.datoms.map((d) => [d.added ? ':db/add' : ':db/retract', d.e, d.a, d.v]);
}

/** One transaction as factlog tx data (list forms; the same entity ids, which factlog accepts as they are above its own). */
export function factlogTxDataOf(tx: ShopTx): unknown[] {
  return [{ ':db/id': 'datomic.tx', ':db/txInstant': tx.instant }, ...tx.datoms.map((d) => [d.added ? ':db/add' : ':db/retract', d.e, ':' + d.a, d.v])];
}
