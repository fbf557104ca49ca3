// Excision (src/feed/excise.ts offline, a live connection's transact): datoms removed for good from every t, every file, and every
// backup taken afterwards; every other fact as of any t unchanged; bad requests refused whole.
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backup, compact, excise, follow, Keyword, open, replicate, type Connection, type Datom, type TxReport } from '../src/index.js';
import { Store } from '../src/storage/store.js';
import { tempDir } from './helpers/tmp.js';

const SECRET = 'ZQX-secret-ünïcode-ZQX';
const LONG_SECRET = `${'LONGSECRET'.repeat(150)}\u0001tail`;

const SCHEMA = `[
 {:db/ident :p/email :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/unique :db.unique/identity}
 {:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one :db/fulltext true}
 {:db/ident :p/bio :db/valueType :db.type/string :db/cardinality :db.cardinality/one}
 {:db/ident :p/friend :db/valueType :db.type/ref :db/cardinality :db.cardinality/many}
 {:db/ident :p/age :db/valueType :db.type/long :db/cardinality :db.cardinality/one}]`;

async function populated(): Promise<{ dir: string; ann: number }> {
  const dir = path.join(tempDir('factlog-excise-'), 'db');
  const conn = await open({ path: dir });
  await conn.transact(SCHEMA);
  const { tempids } = await conn.transact(`[{:db/id "a" :p/email "ann@x" :p/name "${SECRET}" :p/age 30}
    {:db/id "b" :p/email "bob@x" :p/name "Bob" :p/friend "a"}]`);
  await conn.transact([{ ':db/id': tempids.a, ':p/bio': LONG_SECRET }]);
  await conn.transact(`[[:db/add [:p/email "ann@x"] :p/age 31] [:db/add [:p/email "bob@x"] :p/age 40]]`);
  await conn.transact(`[[:db/add [:p/email "bob@x"] :p/name "Robert"] {:p/email "cy@x" :p/name "Cy"}]`);
  await conn.close();
  return { dir, ann: tempids.a };
}

const key = (d: Datom) => JSON.stringify([d.e, d.a, d.v instanceof Date ? d.v.getTime() : d.v, d.tx, d.added]);

/** Every datom of every t (as of t, and the history), as text, leaving out `skip`'s. */
function everyT(conn: Connection, lastT: number, skip: (d: Datom) => boolean): string[][] {
  const db = conn.db();
  const out: string[][] = [];
  for (let t = 0; t <= lastT; t++) out.push([...db.asOf(t).datoms('eavt')].filter((d) => !skip(d)).map(key));
  out.push([...db.asOf(lastT).history().datoms('eavt')].filter((d) => !skip(d)).map(key));
  return out;
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile())
    .map((f) => path.join(f.parentPath, f.name));
}

/** The files of `dir` holding any of the secrets' bytes (UTF-8, UTF-16, and the CESU-8 keys use: the same as UTF-8 for these). */
function filesHolding(dir: string, secrets: string[]): string[] {
  const needles = secrets.flatMap((s) => [Buffer.from(s, 'utf8'), Buffer.from(s, 'utf16le'), Buffer.from(s.slice(0, 24), 'utf8')]);
  return filesUnder(dir).filter((file) => {
    const bytes = fs.readFileSync(file);
    return needles.some((n) => bytes.includes(n));
  });
}

describe('excise', () => {
  it('removes an entity from every file and backup; every other fact at every t is unchanged', async () => {
    const { dir, ann } = await populated();
    expect(
      filesHolding(dir, [SECRET, LONG_SECRET])
        .map((f) => path.basename(f))
        .sort(),
    ).toEqual(['factlog.log', 'factlog.mdb']);
    let conn = await open({ path: dir });
    const lastT = conn.basisT;
    const expected = everyT(conn, lastT, (d) => d.e === ann);
    await conn.close();

    const report = await excise(dir, `[[:db/excise [:p/email "ann@x"]] {:db/id "datomic.tx" :p/name "by the DPO"}]`);
    expect(report.t).toBe(lastT + 1);
    expect(report.excisedDatoms).toBe(6); // email, name, age 30, its retraction, age 31, bio

    expect(filesHolding(dir, [SECRET, LONG_SECRET])).toEqual([]);
    const copy = path.join(tempDir('factlog-excise-backup-'), 'b');
    await backup(dir, copy);
    expect(filesHolding(copy, [SECRET, LONG_SECRET])).toEqual([]);

    conn = await open({ path: dir });
    try {
      expect(everyT(conn, lastT, () => false)).toEqual(expected);
      const db = conn.db();
      expect(db.entid('[:p/email "ann@x"]')).toBeNull();
      expect(db.fulltext(':p/name', 'secret')).toEqual([]);
      // the request is recorded: what was asked and by whom, not the values
      const requests = [...db.datoms('aevt', ':db/excise')];
      expect(requests.map((d) => [d.v, d.tx])).toEqual([[ann, db.tToTx(report.t)]]);
      expect(db.entity(db.tToTx(report.t))?.get(':p/name')).toBe('by the DPO');
      expect((await conn.verify()).ok).toBe(true);
      // ids are never given again
      const { tempids } = await conn.transact(`[{:db/id "n" :p/email "new@x"}]`);
      expect(tempids.n).toBeGreaterThan(ann);
    } finally {
      await conn.close();
    }
  });
});

describe('compact', () => {
  it('reclaims free pages and keeps every fact', async () => {
    const { dir } = await populated();
    let conn = await open({ path: dir });
    for (let i = 0; i < 20; i++) await conn.transact([{ ':p/email': `x${i}@x`, ':p/bio': 'y'.repeat(5000) }]);
    const before = everyT(conn, conn.basisT, () => false);
    await conn.close();
    const report = await compact(dir);
    expect(report.bytesAfter).toBeLessThanOrEqual(report.bytesBefore);
    conn = await open({ path: dir });
    try {
      expect(everyT(conn, conn.basisT, () => false)).toEqual(before);
    } finally {
      await conn.close();
    }
  });
});

/** Values of `attr` anywhere in the history of the database at `dir`. */
async function historyValues(dir: string, attr: string): Promise<unknown[]> {
  const conn = await open({ path: dir });
  try {
    return [...conn.db().history().datoms('aevt', attr)].map((d) => d.v);
  } finally {
    await conn.close();
  }
}

describe('what an excision request names (Datomic semantics)', () => {
  it(':attrs limits it to those attributes of the entity', async () => {
    const { dir } = await populated();
    await excise(dir, `[[:db/excise [:p/email "bob@x"] :attrs [:p/name]]]`);
    expect((await historyValues(dir, ':p/name')).sort()).toEqual([SECRET, 'Cy'].sort());
    expect(await historyValues(dir, ':p/email')).toContain('bob@x');
    expect(filesHolding(dir, ['Robert'])).toEqual([]);
  });

  it(':beforeT excises the assertions made before t, with the retractions that ended them', async () => {
    const { dir, ann } = await populated();
    const conn = await open({ path: dir });
    const ageT = conn.db().txToT([...conn.db().datoms('eavt', ann, ':p/age')][0].tx);
    await conn.close();
    await excise(dir, `[{:db/excise ${ann} :db.excise/attrs [:p/age] :db.excise/beforeT ${ageT}}]`);
    const after = await open({ path: dir });
    try {
      const ages = [...after.db().history().datoms('eavt', ann, ':p/age')].map((d) => [d.v, d.added]);
      expect(ages).toEqual([[31, true]]);
      expect(
        after
          .db()
          .asOf(ageT - 1)
          .entity(ann)
          ?.get(':p/age'),
      ).toBeUndefined();
      expect(after.db().entity(ann)?.get(':p/name')).toBe(SECRET);
    } finally {
      await after.close();
    }
  });

  it('an attribute with :beforeT t (a retention period) excises its values asserted before t, on every entity', async () => {
    const { dir } = await populated();
    const conn = await open({ path: dir });
    const t = conn.db().txToT([...conn.db().datoms('aevt', ':p/age')].find((d) => d.v === 31)!.tx);
    await conn.close();
    await excise(dir, `[[:db/excise :p/age :beforeT ${t}]]`);
    expect((await historyValues(dir, ':p/age')).sort()).toEqual([31, 40]);
  });

  it('an attribute as the target excises its values on every entity (:before an instant)', async () => {
    const { dir } = await populated();
    await excise(dir, [{ ':db/excise': ':p/bio', ':db.excise/before': new Date(Date.now() + 1000) }]);
    expect(await historyValues(dir, ':p/bio')).toEqual([]);
    expect(filesHolding(dir, [LONG_SECRET])).toEqual([]);
  });
});

/** The log file's bytes and every t's datoms: what a refused excision must leave as it was. */
async function state(dir: string): Promise<string> {
  const conn = await open({ path: dir });
  try {
    return JSON.stringify(everyT(conn, conn.basisT, () => false)) + fs.readFileSync(path.join(dir, 'factlog.log')).toString('hex');
  } finally {
    await conn.close();
  }
}

describe('bad excision requests: a coded error, nothing changed', () => {
  const cases: [string, string, string][] = [
    ['a system attribute', '[[:db/excise :db/ident]]', 'tx/excise-system-entity'],
    ['a system entity', '[[:db/excise 40]]', 'tx/excise-system-entity'],
    ['a transaction', '[[:db/excise 1099511627777]]', 'tx/excise-system-entity'],
    ['an entity that does not exist', '[[:db/excise 999999]]', 'tx/invalid-entity'],
    ['an unknown attribute', '[[:db/excise [:p/email "ann@x"] :attrs [:p/nope]]]', 'tx/unknown-ident'],
    ['an entity that is no attribute', '[[:db/excise [:p/email "ann@x"] :attrs [[:p/email "bob@x"]]]]', 'tx/excise-not-attribute'],
    ['a system attribute of an entity', '[[:db/excise [:p/email "ann@x"] :attrs [:db/txInstant]]]', 'tx/excise-system-entity'],
    ['a lookup ref that resolves nothing', '[[:db/excise [:p/email "nobody@x"]]]', 'tx/lookup-ref-not-found'],
    ['an unknown option', '[[:db/excise [:p/email "ann@x"] :after 3]]', 'tx/excise-invalid'],
    ['no target', '[[:db/excise]]', 'tx/excise-invalid'],
    [':attrs on an attribute', '[[:db/excise :p/bio :attrs [:p/name]]]', 'tx/excise-invalid'],
    ['no request at all', '[[:db/add [:p/email "ann@x"] :p/age 3]]', 'tx/excise-invalid'],
  ];
  it.each(cases)('%s', async (_, txData, code) => {
    const { dir } = await populated();
    const before = await state(dir);
    await expect(excise(dir, txData)).rejects.toMatchObject({ code });
    expect(await state(dir)).toBe(before);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['db']);
  });

  it.each(cases.filter(([what]) => what !== 'no request at all'))('%s, through conn.transact on a live connection', async (_, txData, code) => {
    const { dir } = await populated();
    const before = await state(dir);
    const conn = await open({ path: dir });
    try {
      await expect(conn.transact(txData)).rejects.toMatchObject({ code });
      expect(conn.db().entid('[:p/email "ann@x"]')).not.toBeNull();
    } finally {
      await conn.close();
    }
    expect(await state(dir)).toBe(before);
  });

  it('a request in a batch or returned by a transaction function is refused (tx/excise-not-alone)', async () => {
    const { dir } = await populated();
    const before = await state(dir);
    const txFns = {
      'p/forget': (_db: unknown, e: unknown) => [{ ':db/excise': e }],
      'p/forget-list': (_db: unknown, e: unknown) => [[Keyword.of('db/excise'), e]],
    };
    const conn = await open({ path: dir, txFns });
    try {
      await expect(conn.transactBatch(['[[:db/excise [:p/email "ann@x"]]]'])).rejects.toMatchObject({ code: 'tx/excise-not-alone' });
      await expect(conn.transact('[[:p/forget [:p/email "ann@x"]]]')).rejects.toMatchObject({ code: 'tx/excise-not-alone' });
      await expect(conn.transact('[[:p/forget-list [:p/email "ann@x"]]]')).rejects.toMatchObject({ code: 'tx/excise-not-alone' });
    } finally {
      await conn.close();
    }
    expect(await state(dir)).toBe(before);
  });
});

describe('excision on a live connection (conn.transact)', () => {
  const REQUEST = `[[:db/excise [:p/email "ann@x"]] {:db/id "datomic.tx" :p/name "by the DPO"}]`;

  it('removes the datoms from every file while the connection stays open; every other fact at every t is unchanged', async () => {
    const { dir, ann } = await populated();
    const conn = await open({ path: dir });
    const heard: TxReport[] = [];
    conn.listen((r) => void heard.push(r));
    try {
      const lastT = conn.basisT;
      const expected = everyT(conn, lastT, (d) => d.e === ann);
      const old = conn.db();
      expect(old.entity(ann)?.get(':p/name')).toBe(SECRET);
      const report = await conn.transact(REQUEST);
      expect(report.t).toBe(lastT + 1);
      expect(filesHolding(dir, [SECRET, LONG_SECRET])).toEqual([]);
      expect(fs.readdirSync(path.dirname(dir))).toEqual(['db']);
      expect(everyT(conn, lastT, () => false)).toEqual(expected);
      const db = conn.db();
      expect(db.basisT).toBe(report.t);
      expect(db.entid('[:p/email "ann@x"]')).toBeNull();
      expect(db.fulltext(':p/name', 'secret')).toEqual([]);
      expect([...db.datoms('aevt', ':db/excise')].map((d) => [d.v, d.tx])).toEqual([[ann, db.tToTx(report.t)]]);
      expect(db.entity(db.tToTx(report.t))?.get(':p/name')).toBe('by the DPO');
      expect(report.dbAfter.entid('[:p/email "ann@x"]')).toBeNull();
      // a value taken before reads nothing of the new files: a coded error, never a mix
      expect(() => [...old.datoms('eavt', ann)]).toThrow(expect.objectContaining({ code: 'storage/excised' }));
      expect((await conn.verify()).ok).toBe(true);
      const next = await conn.transact(`[{:db/id "n" :p/email "new@x"}]`);
      expect(next.t).toBe(report.t + 1);
      expect(next.tempids.n).toBeGreaterThan(ann);
      await new Promise((r) => setImmediate(r));
      expect(heard.map((r) => r.t)).toEqual([report.t, next.t]);
    } finally {
      await conn.close();
    }
    const again = await open({ path: dir });
    try {
      expect(again.db().entid('[:p/email "ann@x"]')).toBeNull();
      expect((await again.verify()).ok).toBe(true);
    } finally {
      await again.close();
    }
  });

  it('transacts issued while it runs wait behind it and land after it, in order', async () => {
    const { dir } = await populated();
    const conn = await open({ path: dir });
    try {
      const excision = conn.transact(REQUEST);
      const later = Array.from({ length: 5 }, (_, i) => conn.transact(`[{:p/email "later${i}@x" :p/age ${i}}]`));
      const [report, ...reports] = await Promise.all([excision, ...later]);
      expect(reports.map((r) => r.t)).toEqual([1, 2, 3, 4, 5].map((i) => report.t + i));
      expect(conn.db().entid('[:p/email "later4@x"]')).not.toBeNull();
      expect(conn.db().entid('[:p/email "ann@x"]')).toBeNull();
      expect(filesHolding(dir, [SECRET, LONG_SECRET])).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('close while it runs waits for it to end', async () => {
    const { dir } = await populated();
    const conn = await open({ path: dir });
    const excision = conn.transact(REQUEST);
    await conn.close();
    const report = await excision;
    await expect(conn.transact(`[{:p/email "later@x"}]`)).rejects.toMatchObject({ code: 'conn/closed' });
    const again = await open({ path: dir });
    try {
      expect(again.basisT).toBe(report.t);
      expect(again.db().entid('[:p/email "ann@x"]')).toBeNull();
    } finally {
      await again.close();
    }
  });

  it('tx data that only mentions :db/excise in a value is an ordinary transaction', async () => {
    const { dir } = await populated();
    const conn = await open({ path: dir });
    try {
      const { t } = await conn.transact('[[:db/add [:p/email "bob@x"] :p/bio "see :db/excise"]]');
      expect(conn.db().entity(conn.db().entid('[:p/email "bob@x"]')!)?.get(':p/bio')).toBe('see :db/excise');
      expect(t).toBe(conn.basisT);
    } finally {
      await conn.close();
    }
  });

  it('refused while another store of this process has the database open (storage/excise-busy), changing nothing', async () => {
    const { dir } = await populated();
    const before = await state(dir);
    const conn = await open({ path: dir });
    const { store: reader } = Store.open({ path: dir, create: false, readOnly: true });
    try {
      await expect(conn.transact(REQUEST)).rejects.toMatchObject({ code: 'storage/excise-busy' });
      expect(conn.db().entid('[:p/email "ann@x"]')).not.toBeNull();
      await conn.transact('[[:db/add [:p/email "bob@x"] :p/age 41]]');
    } finally {
      await reader.close();
      await conn.close();
    }
    expect(await state(dir)).not.toBe(before);
    expect(fs.readdirSync(path.dirname(dir))).toEqual(['db']);
  });

  it('excise(dir) offline is refused while a connection of this process has the database open (storage/excise-busy)', async () => {
    const { dir } = await populated();
    const conn = await open({ path: dir });
    try {
      await expect(excise(dir, REQUEST)).rejects.toMatchObject({ code: 'storage/excise-busy' });
      expect(conn.db().entid('[:p/email "ann@x"]')).not.toBeNull();
      expect(filesHolding(dir, [SECRET]).length).toBeGreaterThan(0);
    } finally {
      await conn.close();
    }
  });

  it('a replica behind it applies it (same chain); a follower holding the chain from before stops with feed/excised', async () => {
    const { dir } = await populated();
    const to = path.join(path.dirname(dir), 'replica');
    const held = await replicate({ from: dir, to });
    const conn = await open({ path: dir });
    const fromChain = Buffer.from(conn.store.chainHash(held)!);
    let t: number;
    try {
      ({ t } = await conn.transact(REQUEST));
    } finally {
      await conn.close();
    }
    expect(await replicate({ from: dir, to })).toBe(t);
    expect(filesHolding(to, [SECRET, LONG_SECRET])).toEqual([]);
    const chain = async (d: string) => {
      const { store } = Store.open({ path: d, create: false, readOnly: true });
      try {
        return Buffer.from(store.chainHash(t)!).toString('hex');
      } finally {
        await store.close();
      }
    };
    expect(await chain(to)).toBe(await chain(dir));
    const err = await (async () => {
      for await (const _ of follow(dir, { fromT: held, fromChain })) return 'yielded';
    })().catch((e) => e);
    expect(err?.code, String(err)).toBe('feed/excised');
  });
});

describe('excision against a model (fast-check)', () => {
  it('any history, any entity and attributes: the named datoms go from every t, every other datom stays', async () => {
    const step = fc.record({ who: fc.nat(2), kind: fc.constantFrom('name', 'tag', 'untag', 'retract'), n: fc.nat(3) });
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), fc.nat(2), fc.subarray([':p/name', ':p/tag']), fc.boolean(), async (steps, target, attrs, live) => {
        const dir = path.join(tempDir('factlog-excise-prop-'), 'db');
        const conn = await open({ path: dir });
        await conn.transact(
          '[{:db/ident :p/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one} {:db/ident :p/tag :db/valueType :db.type/keyword :db/cardinality :db.cardinality/many}]',
        );
        const { tempids } = await conn.transact('[{:db/id "a" :p/name "a"} {:db/id "b" :p/name "b"} {:db/id "c" :p/name "c"}]');
        const ids = [tempids.a, tempids.b, tempids.c];
        for (const { who, kind, n } of steps) {
          const e = ids[who];
          const tx =
            kind === 'name'
              ? `[[:db/add ${e} :p/name "v${n}"]]`
              : kind === 'tag'
                ? `[[:db/add ${e} :p/tag :t${n}]]`
                : kind === 'untag'
                  ? `[[:db/retract ${e} :p/tag :t${n}]]`
                  : `[[:db/retractEntity ${e}]]`;
          await conn.transact(tx);
        }
        const db = conn.db();
        const attrIds = attrs.map((a) => db.attr(a)!.id);
        const e = ids[target];
        const excised = (d: Datom) => d.e === e && (attrs.length === 0 || attrIds.includes(d.a));
        const lastT = conn.basisT;
        const expected = everyT(conn, lastT, excised);
        const hadAny = [...db.history().datoms('eavt', e)].some(excised);
        const request = attrs.length === 0 ? `[[:db/excise ${e}]]` : `[[:db/excise ${e} :attrs [${attrs.join(' ')}]]]`;
        if (live) {
          await conn.transact(request);
        } else {
          await conn.close();
          expect((await excise(dir, request)).excisedDatoms > 0).toBe(hadAny);
        }
        await conn.close();
        const after = await open({ path: dir });
        try {
          expect(everyT(after, lastT, () => false)).toEqual(expected);
          expect((await after.verify()).ok).toBe(true);
        } finally {
          await after.close();
        }
      }),
      { numRuns: 15 },
    );
  });
});
