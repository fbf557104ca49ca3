// Schema is data: attributes are entities with :db/ident, :db/valueType, ... This module holds the
// bootstrap attributes every database starts with and folds schema datoms into an immutable
// Schema value (one per schema-changing transaction, so asOf views see the schema of their time).
import { Map as IMap } from 'immutable';
import { Keyword, type Sym } from '../../query-lang/edn/types.js';
import type { AttrInfo, Value, ValueType } from './api.js';

export const FIRST_USER_EID = 1000;

export const Attr = {
  ident: 1,
  valueType: 2,
  cardinality: 3,
  unique: 4,
  isComponent: 5,
  index: 6,
  doc: 7,
  noHistory: 8,
  txInstant: 9,
  tupleType: 10,
  tupleTypes: 11,
  tupleAttrs: 12,
  /** Datomic's attribute predicates, entity specs and the virtual :db/ensure (added 2026-12-07). */
  attrPreds: 13,
  entityAttrs: 14,
  entityPreds: 15,
  ensure: 16,
  /** Known to every schema without a bootstrap datom (see FULLTEXT_ATTR_PROPS). */
  fulltext: 17,
  /** Datomic's excision requests (tx/excise.ts): built in like :db/fulltext, with no bootstrap datom. */
  excise: 50,
  exciseAttrs: 51,
  exciseBeforeT: 52,
  exciseBefore: 53,
} as const;

/** The last schema-bearing attribute id (their ids run from Attr.ident). */
export const LAST_SCHEMA_ATTR = Attr.fulltext;

// ids 20 + index; the last four joined on 2026-12-07 (ids 31-34, below the enums at 40)
export const VALUE_TYPES: ValueType[] = ['string', 'long', 'double', 'boolean', 'instant', 'uuid', 'keyword', 'ref', 'bigint', 'symbol', 'tuple', 'bigdec', 'float', 'uri', 'bytes'];
const TYPE_EID_BASE = 20;
export const typeEid = (t: ValueType): number => TYPE_EID_BASE + VALUE_TYPES.indexOf(t);

export const Enum = {
  cardinalityOne: 40,
  cardinalityMany: 41,
  uniqueIdentity: 42,
  uniqueValue: 43,
} as const;

interface BootAttr {
  id: number;
  ident: string;
  type: ValueType;
  many?: boolean;
  unique?: 'identity';
  index?: boolean;
}

const BOOT_ATTRS: BootAttr[] = [
  { id: Attr.ident, ident: 'db/ident', type: 'keyword', unique: 'identity' },
  { id: Attr.valueType, ident: 'db/valueType', type: 'ref' },
  { id: Attr.cardinality, ident: 'db/cardinality', type: 'ref' },
  { id: Attr.unique, ident: 'db/unique', type: 'ref' },
  { id: Attr.isComponent, ident: 'db/isComponent', type: 'boolean' },
  { id: Attr.index, ident: 'db/index', type: 'boolean' },
  { id: Attr.doc, ident: 'db/doc', type: 'string' },
  { id: Attr.noHistory, ident: 'db/noHistory', type: 'boolean' },
  { id: Attr.txInstant, ident: 'db/txInstant', type: 'instant', index: true },
  { id: Attr.tupleType, ident: 'db/tupleType', type: 'ref' },
  { id: Attr.tupleTypes, ident: 'db/tupleTypes', type: 'tuple' },
  { id: Attr.tupleAttrs, ident: 'db/tupleAttrs', type: 'tuple' },
  { id: Attr.attrPreds, ident: 'db.attr/preds', type: 'symbol', many: true },
  { id: Attr.entityAttrs, ident: 'db.entity/attrs', type: 'keyword', many: true },
  { id: Attr.entityPreds, ident: 'db.entity/preds', type: 'symbol', many: true },
  { id: Attr.ensure, ident: 'db/ensure', type: 'ref', many: true },
];

/**
 * [e, a, v] facts of the bootstrap transaction (t = 0). A database made before an attribute joined
 * the bootstrap has no datoms for it: every Schema starts from these facts, so it is known there
 * all the same (as a built-in), with no change to what is stored.
 */
export function bootstrapFacts(): [number, number, Value][] {
  const facts: [number, number, Value][] = [];
  for (const b of BOOT_ATTRS) {
    facts.push([b.id, Attr.ident, Keyword.of(b.ident)]);
    facts.push([b.id, Attr.valueType, typeEid(b.type)]);
    facts.push([b.id, Attr.cardinality, b.many ? Enum.cardinalityMany : Enum.cardinalityOne]);
    if (b.unique) facts.push([b.id, Attr.unique, Enum.uniqueIdentity]);
    if (b.index) facts.push([b.id, Attr.index, true]);
  }
  VALUE_TYPES.forEach((t) => facts.push([typeEid(t), Attr.ident, Keyword.of(`db.type/${t}`)]));
  facts.push([Enum.cardinalityOne, Attr.ident, Keyword.of('db.cardinality/one')]);
  facts.push([Enum.cardinalityMany, Attr.ident, Keyword.of('db.cardinality/many')]);
  facts.push([Enum.uniqueIdentity, Attr.ident, Keyword.of('db.unique/identity')]);
  facts.push([Enum.uniqueValue, Attr.ident, Keyword.of('db.unique/value')]);
  return facts;
}

/** The bootstrap's entities (its attributes, value types and enums): the system's, never changed. */
export function isSystemEntity(e: number): boolean {
  return e >= 0 && e < FIRST_USER_EID;
}

/**
 * Schema-bearing attributes: a datom on one of these changes the Schema. :db.attr/preds is kept
 * there too, so a transaction finds an attribute's predicates without reading the index.
 */
export function isSchemaAttr(a: number): boolean {
  return (a >= Attr.ident && a <= Attr.tupleAttrs && a !== Attr.txInstant) || a === Attr.fulltext || a === Attr.attrPreds;
}

const NO_PREDS: readonly Sym[] = Object.freeze([]);

/** An attribute's :db.attr/preds (cardinality many) with one value asserted or retracted, in index order. */
function withPred(preds: Sym[] | undefined, pred: Sym, added: boolean): Sym[] {
  const others = (preds ?? []).filter((p) => p !== pred);
  if (!added) return others;
  // the order their datoms come out of EAVT in, so the first to fail is the one named, as before
  return [...others, pred].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
}

/**
 * :db/fulltext came after the bootstrap transaction of existing databases was written, so it is
 * not one of its datoms: every schema knows it from the start instead, for databases old and new.
 */
const FULLTEXT_ATTR_PROPS: Props = IMap<number, Value>([
  [Attr.ident, Keyword.of('db/fulltext')],
  [Attr.valueType, typeEid('boolean')],
  [Attr.cardinality, Enum.cardinalityOne],
]);

type Props = IMap<number, Value>;

/** The excision request attributes, known to every schema as :db/fulltext is (see Attr.excise). */
const EXCISE_ATTR_PROPS: [number, Props][] = (
  [
    [Attr.excise, 'db/excise', 'ref', Enum.cardinalityOne],
    [Attr.exciseAttrs, 'db.excise/attrs', 'ref', Enum.cardinalityMany],
    [Attr.exciseBeforeT, 'db.excise/beforeT', 'long', Enum.cardinalityOne],
    [Attr.exciseBefore, 'db.excise/before', 'instant', Enum.cardinalityOne],
  ] as const
).map(([id, ident, type, cardinality]) => [
  id,
  IMap<number, Value>([
    [Attr.ident, Keyword.of(ident)],
    [Attr.valueType, typeEid(type)],
    [Attr.cardinality, cardinality],
  ]),
]);

const NO_ATTRS: readonly AttrInfo[] = Object.freeze([]);

/** An immutable snapshot of every ident and attribute definition. */
export class Schema {
  private readonly byId = new Map<number, AttrInfo>();
  private readonly idByIdent = new Map<string, number>();
  private readonly identById = new Map<number, Keyword>();

  constructor(
    private readonly props: IMap<number, Props> = IMap([[Attr.fulltext, FULLTEXT_ATTR_PROPS], ...EXCISE_ATTR_PROPS]),
    /**
     * Idents an attribute or enum had before it was renamed: as in Datomic, the old name keeps
     * naming the entity until another entity takes it.
     */
    private readonly renamed: IMap<string, number> = IMap(),
  ) {
    for (const [eid, p] of props) {
      const ident = p.get(Attr.ident) as Keyword | undefined;
      if (!ident) continue;
      this.idByIdent.set(ident.fqn, eid);
      this.identById.set(eid, ident);
    }
    for (const [eid, p] of props) {
      const ident = this.identById.get(eid);
      const info = ident && this.attrInfo(eid, ident, p);
      if (info) this.byId.set(eid, info);
    }
  }

  /** Fold asserted/retracted schema facts into a new Schema. */
  apply(facts: Iterable<{ e: number; a: number; v: Value; added: boolean }>): Schema {
    let props = this.props;
    let renamed = this.renamed;
    const oldIdents = new Map<number, string>();
    const newIdents = new Set<number>();
    for (const f of facts) {
      if (!isSchemaAttr(f.a)) continue;
      const current = props.get(f.e) ?? IMap<number, Value>();
      if (f.a === Attr.attrPreds) props = props.set(f.e, current.set(f.a, withPred(current.get(f.a) as Sym[] | undefined, f.v as Sym, f.added)));
      else props = props.set(f.e, f.added ? current.set(f.a, f.v) : current.delete(f.a));
      if (f.a !== Attr.ident || !(f.v instanceof Keyword)) continue;
      if (f.added) {
        newIdents.add(f.e);
        renamed = renamed.delete(f.v.fqn); // a name taken by an entity names it alone
      } else oldIdents.set(f.e, f.v.fqn);
    }
    // a retracted ident is an old name only when the entity got a new one in the same facts (a rename)
    for (const [e, fqn] of oldIdents) if (newIdents.has(e) && !renamed.has(fqn)) renamed = renamed.set(fqn, e);
    return props === this.props && renamed === this.renamed ? this : new Schema(props, renamed);
  }

  attr(ref: number | Keyword | string): AttrInfo | undefined {
    // anything else (a symbol where a keyword belongs, from JS callers) names no attribute
    if (typeof ref !== 'number' && typeof ref !== 'string' && !(ref instanceof Keyword)) return undefined;
    const id = typeof ref === 'number' ? ref : this.entidOfIdent(ref);
    return id === undefined ? undefined : this.byId.get(id);
  }

  entidOfIdent(ident: Keyword | string): number | undefined {
    const fqn = fqnOf(ident);
    return this.idByIdent.get(fqn) ?? this.renamed.get(fqn);
  }

  ident(eid: number): Keyword | undefined {
    return this.identById.get(eid);
  }

  attrs(): AttrInfo[] {
    return [...this.byId.values()];
  }

  /** Composite tuple attributes (:db/tupleAttrs) by the attributes they are made of; built on first use. */
  private compositesByPart?: Map<number, AttrInfo[]>;

  /** The composite tuple attributes that attribute `a` is part of. */
  compositesOf(a: number): readonly AttrInfo[] {
    return this.composites().get(a) ?? NO_ATTRS;
  }

  /** Whether any attribute is a composite tuple. */
  hasComposites(): boolean {
    return this.composites().size > 0;
  }

  private composites(): Map<number, AttrInfo[]> {
    if (!this.compositesByPart) {
      this.compositesByPart = new Map();
      for (const c of this.byId.values()) {
        for (const part of c.tupleAttrs ?? []) {
          const list = this.compositesByPart.get(part);
          if (list) list.push(c);
          else this.compositesByPart.set(part, [c]);
        }
      }
    }
    return this.compositesByPart;
  }

  /** Whether any attribute is :db/fulltext; computed on first use. */
  private anyFulltext?: boolean;

  hasFulltext(): boolean {
    this.anyFulltext ??= [...this.byId.values()].some((a) => a.fulltext);
    return this.anyFulltext;
  }

  /** The names of the predicates :db.attr/preds gives attribute `a`. */
  attrPreds(a: number): readonly Sym[] {
    return (this.props.get(a)?.get(Attr.attrPreds) as Sym[] | undefined) ?? NO_PREDS;
  }

  /** Attributes marked :db/noHistory. */
  isNoHistory(a: number): boolean {
    return this.byId.get(a)?.noHistory ?? false;
  }

  private attrInfo(id: number, ident: Keyword, p: Props): AttrInfo | undefined {
    // An entity is an attribute when it has a valueType or a cardinality; attributes used without
    // schema are created with :db/ident and :db/cardinality only. Plain idents (enums) have neither.
    const vt = p.get(Attr.valueType) as number | undefined;
    if (vt === undefined && p.get(Attr.cardinality) === undefined) return undefined;
    const typeName = (eid: number | undefined) => (eid === undefined ? undefined : (this.identById.get(eid)?.name as ValueType | undefined));
    const uniq = p.get(Attr.unique) as number | undefined;
    const tupleTypes = p.get(Attr.tupleTypes) as Keyword[] | undefined;
    const tupleAttrs = p.get(Attr.tupleAttrs) as Keyword[] | undefined;
    return Object.freeze({
      id,
      ident,
      valueType: vt === undefined ? null : (typeName(vt) ?? null),
      cardinality: p.get(Attr.cardinality) === Enum.cardinalityMany ? 'many' : 'one',
      unique: uniq === Enum.uniqueIdentity ? 'identity' : uniq === Enum.uniqueValue ? 'value' : null,
      isComponent: p.get(Attr.isComponent) === true,
      index: p.get(Attr.index) === true,
      noHistory: p.get(Attr.noHistory) === true,
      fulltext: p.get(Attr.fulltext) === true,
      doc: p.get(Attr.doc) as string | undefined,
      tupleType: typeName(p.get(Attr.tupleType) as number | undefined),
      tupleTypes: tupleTypes?.map((k) => k.name as ValueType),
      tupleAttrs: tupleAttrs?.map((k) => this.entidOfIdent(k) ?? -1),
    } satisfies AttrInfo);
  }
}

function fqnOf(ref: Keyword | string): string {
  if (ref instanceof Keyword) return ref.fqn;
  return ref.startsWith(':') ? ref.slice(1) : ref;
}

/**
 * Whether a retraction of `a` keeps a history entry: not when the attribute is :db/noHistory
 * before or after the transaction. One rule for the writer, rebuilds, log replay and replicas,
 * so that they all make the same indexes from the same log.
 */
export function keepsHistory(a: number, before: Schema, after: Schema): boolean {
  return !before.isNoHistory(a) && !after.isNoHistory(a);
}
