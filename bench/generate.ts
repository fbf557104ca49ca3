// Seeded data for the benchmark: DataScript's classic "random people" set, a :follows graph for
// the recursive rule, and the update history used by the asOf workloads. Everything here is plain
// data (person indexes, not entity ids), so both engines load exactly the same facts.

export const NAMES = ['Ivan', 'Petr', 'Sergei', 'Oleg', 'Yuri', 'Dmitry', 'Fedor', 'Denis'];
export const LAST_NAMES = ['Ivanov', 'Petrov', 'Sidorov', 'Kovalev', 'Kuznetsov', 'Voronoi'];

/**
 * :sex is stored as a string ("male" / "female") in BOTH engines: DataScript's JS API cannot make
 * keyword values (a JS string ":male" stays a string), so a keyword on the factlog side would
 * make the two databases answer different questions.
 */
export type Sex = 'male' | 'female';

export interface Person {
  name: string;
  lastName: string;
  sex: Sex;
  age: number;
  salary: number;
}

/** The five attributes of a person, in the order their datoms are generated. */
export const PERSON_ATTRS = ['name', 'last-name', 'sex', 'age', 'salary'] as const;
export type PersonAttr = (typeof PERSON_ATTRS)[number];

/** Attributes every update of the history rewrites (so q1, q2, qpred and the aggregate all see history). */
export const HISTORY_ATTRS = ['name', 'age', 'salary'] as const;

/** mulberry32: small, fast, good enough for benchmark data, and reproducible from a seed. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(rng: () => number, n: number): number {
  return Math.floor(rng() * n);
}

function pick<T>(rng: () => number, xs: readonly T[]): T {
  return xs[randInt(rng, xs.length)];
}

export function randomPerson(rng: () => number): Person {
  return {
    name: pick(rng, NAMES),
    lastName: pick(rng, LAST_NAMES),
    sex: rng() < 0.5 ? 'male' : 'female',
    age: randInt(rng, 100),
    salary: randInt(rng, 100000),
  };
}

export function generatePeople(n: number, seed = 1): Person[] {
  const rng = makeRng(seed);
  const out: Person[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = randomPerson(rng);
  return out;
}

export function attrValue(p: Person, attr: PersonAttr): string | number {
  switch (attr) {
    case 'name':
      return p.name;
    case 'last-name':
      return p.lastName;
    case 'sex':
      return p.sex;
    case 'age':
      return p.age;
    case 'salary':
      return p.salary;
  }
}

/**
 * The :follows graph: among the first `size` people, person i follows two random people with a
 * smaller index (a DAG, so the transitive closure is finite and stays moderate).
 * Returns [from, to] pairs of person indexes.
 */
export function generateFollows(people: number, seed = 2): { edges: [number, number][]; size: number; start: number } {
  const size = Math.max(2, Math.min(people, Math.floor(people / 10), 2000));
  const rng = makeRng(seed);
  const edges: [number, number][] = [];
  for (let i = 1; i < size; i++) {
    const a = randInt(rng, i);
    const b = randInt(rng, i);
    edges.push([i, a]);
    if (b !== a) edges.push([i, b]);
  }
  return { edges, size, start: size - 1 };
}

/** One update of the history: person i gets these new values. */
export interface Update {
  i: number;
  name: string;
  age: number;
  salary: number;
}

/**
 * `rounds` updates of every person, shuffled within a round, cut into transactions of `batch`
 * updates. Returns the transactions and, for the asOf workloads, the index of the transaction in
 * the middle of the history.
 */
export function generateHistory(people: Person[], rounds: number, batch: number, seed = 3): { txs: Update[][]; mid: number } {
  const rng = makeRng(seed);
  const updates: Update[] = [];
  for (let r = 0; r < rounds; r++) {
    const order = people.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = randInt(rng, i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const i of order) {
      const p = randomPerson(rng);
      updates.push({ i, name: p.name, age: p.age, salary: p.salary });
    }
  }
  const txs: Update[][] = [];
  for (let o = 0; o < updates.length; o += batch) txs.push(updates.slice(o, o + batch));
  return { txs, mid: Math.floor(txs.length / 2) };
}

/** The people as they are after the first `upto` history transactions. */
export function peopleAfter(people: Person[], txs: Update[][], upto: number): Person[] {
  const out = people.map((p) => ({ ...p }));
  for (let t = 0; t < upto; t++) {
    for (const u of txs[t]) {
      const p = out[u.i];
      p.name = u.name;
      p.age = u.age;
      p.salary = u.salary;
    }
  }
  return out;
}
