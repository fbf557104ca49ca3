// The package's public surface as a user sees it: the built declarations (dist/, internals
// stripped) that package.json's exports name, type-checked by the test run's setup after the build.
// (Inside this project the name 'factlog' resolves to the sources, internals and all.)
// An internal made public again, or a user's type removed, fails the run before any test does.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as factlog from '../dist/src/index.js';
import * as built from '../dist/src/index.js';

type Package = typeof factlog;

describe('the public API', () => {
  it('is the built entry that package.json exports', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/src/index.d.ts', import: './dist/src/index.js' });
  });

  it('exports these values and no others (Connection and Db are types only)', () => {
    expect(Object.keys(built).sort()).toEqual([
      'AGGREGATES',
      'BigDec',
      'Char',
      'DbError',
      'EdnList',
      'FUNCTIONS',
      'FactlogError',
      'Keyword',
      'MaterializedView',
      'PullError',
      'QueryError',
      'StorageError',
      'Sym',
      'Tagged',
      'TxError',
      'Uri',
      'Uuid',
      'VerifyError',
      'ViewApplyError',
      'backup',
      'compact',
      'excise',
      'explain',
      'follow',
      'indexPull',
      'open',
      'parsePull',
      'parseQuery',
      'parseRules',
      'printEdn',
      'pull',
      'pullMany',
      'q',
      'readAllEdn',
      'readEdn',
      'registerXform',
      'replicate',
      'restore',
      'verify',
    ]);
    expectTypeOf<Package>().not.toHaveProperty('Connection');
    expectTypeOf<Package>().not.toHaveProperty('Db');
  });

  it('has no constructor of a connection or a db value', () => {
    const construct = (pkg: Package, store: never) => [
      // @ts-expect-error connections come from open(), not from a store
      new pkg.Connection(store, false),
      // @ts-expect-error nor from nothing (a stripped constructor would leave this one)
      new pkg.Connection(),
      // @ts-expect-error Db values come from a connection
      new pkg.Db(store, store),
    ];
    expect(typeof construct).toBe('function');
  });

  it('hides the internals of connections, db values and open options', () => {
    const reach = (conn: factlog.Connection, db: factlog.Db) => [
      // @ts-expect-error the storage behind a connection
      conn.store,
      // @ts-expect-error what open() does
      conn.bootstrap,
      // @ts-expect-error what open() does
      conn.loadState,
      // @ts-expect-error what a db value reads through
      db.ctx,
      // @ts-expect-error raw key prefixes
      db.scan,
      // @ts-expect-error what `with` builds on
      db.withOverlay,
    ];
    expect(typeof reach).toBe('function');
    for (const name of ['store', 'bootstrap', 'loadState'] as const) expectTypeOf<factlog.Connection>().not.toHaveProperty(name);
    for (const name of ['ctx', 'scan', 'withOverlay', 'schema', 'overlay', 'filters', 'column', 'scanValue'] as const) {
      expectTypeOf<factlog.Db>().not.toHaveProperty(name);
    }
    expectTypeOf<factlog.OpenOptions>().not.toHaveProperty('noSync');
    expectTypeOf<factlog.OpenOptions>().not.toHaveProperty('createFormat');
  });

  it('types what a user passes and gets back', () => {
    expectTypeOf<Package['open']>().parameter(0).toEqualTypeOf<factlog.OpenOptions>();
    expectTypeOf<Package['open']>().returns.resolves.toEqualTypeOf<factlog.Connection>();
    expectTypeOf<factlog.OpenOptions>().toHaveProperty('durability').toEqualTypeOf<'os' | 'process' | undefined>();
    expectTypeOf<factlog.Connection['transact']>().parameter(0).toEqualTypeOf<factlog.TxData>();
    expectTypeOf<factlog.Connection['transact']>().returns.resolves.toEqualTypeOf<factlog.TxReport>();
    expectTypeOf<factlog.Connection['log']>().returns.toEqualTypeOf<factlog.LogView>();
    expectTypeOf<factlog.Connection['listen']>().parameter(1).toEqualTypeOf<factlog.ListenOptions | undefined>();
    expectTypeOf<factlog.Db['with']>().parameter(0).toEqualTypeOf<factlog.TxData>();
    expectTypeOf<factlog.TxReport['dbAfter']>().toEqualTypeOf<factlog.Db>();
    // q and pull take any view of a database: a Db value is one
    expectTypeOf<factlog.Db>().toMatchTypeOf<factlog.DbView>();
    expectTypeOf<Package['q']>().parameter(0).toEqualTypeOf<factlog.QueryInput>();
    expectTypeOf<Package['explain']>().returns.toHaveProperty('steps').toEqualTypeOf<factlog.ExplainStep[]>();
    expectTypeOf<Package['pull']>().parameter(0).toEqualTypeOf<factlog.DbView>();
    expectTypeOf<Package['pull']>().parameter(1).toEqualTypeOf<factlog.PullPatternInput>();
    expectTypeOf<Package['pull']>().returns.toEqualTypeOf<factlog.PullResult | null>();
    expectTypeOf<Package['replicate']>().parameter(0).toEqualTypeOf<factlog.ReplicateOptions>();
    expectTypeOf<Parameters<Package['follow']>[1]>().toEqualTypeOf<factlog.FollowOptions | undefined>();
    expectTypeOf<Package['MaterializedView']['open']>().parameter(2).toEqualTypeOf<factlog.ViewOptions | undefined>();
  });

  it('takes every form of tx data, as EDN text or JS data', () => {
    const kw = built.Keyword.of;
    const forms = [
      '[{:db/ident :person/name :db/valueType :db.type/string :db/cardinality :db.cardinality/one}]',
      [{ 'db/ident': ':person/email', 'db/valueType': ':db.type/string', 'db/unique': ':db.unique/identity' }],
      [{ ':db/id': 'ann', 'person/name': 'Ann', 'person/friend': ['bob', { 'person/name': 'Cid' }], 'person/_friend': 'dee' }],
      [
        new Map<factlog.Keyword | string, factlog.TxValue>([
          [kw('db/id'), -1],
          [kw('person/tags'), new Set(['a', 'b'])],
        ]),
      ],
      [[':db/add', 'ann', ':person/name', 'Ann']],
      [[kw('db/add'), 1001, kw('person/born'), new Date(0)]],
      [['db/retract', [':person/email', 'ann@example.com'], ':person/name', 'Ann']],
      [[':db/retract', 1001, ':person/name']],
      [[':db/retractEntity', [kw('person/email'), 'ann@example.com']]],
      [[':db.fn/retractEntity', kw('app/setting')]],
      [[':db/cas', 1001, ':account/balance', 100n, 150n]],
      [[':db/cas', 1001, ':account/owner', null, 'datomic.tx']],
      [{ 'db/id': 'datomic.tx', 'tx/note': 'why' }, [':db/add', 1001, 'point/xy', [1, 2]]],
      new built.EdnList([new built.EdnList([kw('db/add'), 'x', kw('n/v'), 1])]),
    ] satisfies factlog.TxData[];
    expect(forms).toHaveLength(14);
    const wrong = (tx: (d: factlog.TxData) => void) => {
      // @ts-expect-error a form is a map or a list, not a bare value
      tx([42]);
      // @ts-expect-error :db/retractEntity takes one entity
      tx([[':db/retractEntity', 1, 2]]);
      // @ts-expect-error :db/add takes an entity, an attribute and a value
      tx([[':db/add', 1, ':n/v']]);
      // @ts-expect-error :db/cas takes the old value and the new
      tx([[':db/cas', 1, ':n/v', 2]]);
    };
    expect(typeof wrong).toBe('function');
  });
});
