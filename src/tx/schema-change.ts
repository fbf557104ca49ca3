// A transaction's schema changes against Datomic's rules (docs.datomic.com/schema/schema-change.html):
// what a schema attribute may be set to, what never changes, what a new attribute needs, and
// what the data must already satisfy (unique values, one value per entity).
import { printEdn } from '../../query-lang/edn/printer.js';
import type { AttrInfo, Value } from '../db/api.js';
import { Attr, Enum, typeEid, VALUE_TYPES, type Schema } from '../db/schema.js';
import { sameValue, toDatom, rawValueKey, type RawDatom } from '../storage/encoding.js';
import { txError, type FormRef } from './errors.js';

const TYPE_IDS = new Set(VALUE_TYPES.map(typeEid));
/** Types a tuple does not hold: they have no key inside a tuple's (value-keys.ts). */
const NOT_IN_TUPLES: ReadonlySet<string> = new Set(['bigdec', 'uri', 'bytes']);
const SCHEMA_REFS: Record<number, Set<number>> = {
  [Attr.valueType]: TYPE_IDS,
  [Attr.tupleType]: TYPE_IDS,
  [Attr.cardinality]: new Set([Enum.cardinalityOne, Enum.cardinalityMany]),
  [Attr.unique]: new Set([Enum.uniqueIdentity, Enum.uniqueValue]),
};

/** A schema datom of a transaction, with the operation that asserted or retracted it (if any). */
export interface SchemaFact {
  e: number;
  a: number;
  v: Value;
  added: boolean;
  form: FormRef | undefined;
}

/** What the checks read of the transaction being built. */
export interface SchemaChangeData {
  /** The schema before the transaction. */
  readonly before: Schema;
  /** Attributes the transaction creates for their use without schema (ident and cardinality only). */
  readonly implicitAttrs: ReadonlySet<number>;
  /** The transaction's new datoms of `attr`. */
  assertionsOf(attr: AttrInfo): RawDatom[];
  /** Whether the store keys decimals by value (format 6 on): older formats hold no :db.type/bigdec. */
  readonly decimalKeys: boolean;
  /** The stored datoms of `attr` that the transaction does not retract, in `index` order. */
  keptDatoms(attr: AttrInfo, index: 'aevt' | 'avet'): Iterable<RawDatom>;
}

/** Refuse the schema changes of a transaction that Datomic refuses (tx/invalid-schema and the data conflicts). */
export function validateSchemaChange(facts: SchemaFact[], after: Schema, tx: SchemaChangeData): void {
  const given = new Set(facts.map((f) => `${f.e}|${f.a}|${f.added}`));
  const has = (e: number, a: number, added: boolean) => given.has(`${e}|${a}|${added}`);
  const newAttrs = new Map<number, FormRef | undefined>();
  for (const f of facts) {
    const attr = after.attr(f.e);
    const before = tx.before.attr(f.e);
    const invalid = (why: string) => txError('tx/invalid-schema', why, f.form);
    if (attr && !before && !tx.implicitAttrs.has(f.e)) newAttrs.set(f.e, newAttrs.get(f.e) ?? f.form);
    if (!f.added && before && (f.a === Attr.valueType || f.a === Attr.cardinality) && !has(f.e, f.a, true)) {
      throw invalid(`the ${tx.before.ident(f.a)} of ${before.ident} cannot be retracted, only changed`);
    }
    if (f.added && f.a === Attr.isComponent && attr?.isComponent && attr.valueType !== 'ref') {
      throw invalid(`${attr.ident} cannot be :db/isComponent: only ref attributes can`);
    }
    if (f.added && (f.a === Attr.unique || f.a === Attr.valueType) && attr?.unique && attr.valueType === 'bytes') {
      throw invalid(`${attr.ident} cannot be :db/unique: :db.type/bytes values are not unique (as in Datomic)`);
    }
    if (f.added && (f.a === Attr.index || f.a === Attr.valueType) && attr?.index && attr.valueType === 'bytes') {
      throw invalid(`${attr.ident} cannot be :db/index: :db.type/bytes values are not indexed by value (as in Datomic)`);
    }
    if (f.added && f.a === Attr.unique && attr?.unique && before && !before.unique) checkValuesUnique(attr, f.form, tx);
    if (f.added && f.a === Attr.cardinality && attr?.cardinality === 'one' && before?.cardinality === 'many') checkOneValueEach(attr, f.form, tx);
    if (f.added && f.a === Attr.cardinality && attr?.cardinality === 'many' && after.compositesOf(f.e).length > 0) {
      throw invalid(`${attr.ident} is part of a composite tuple, so it stays cardinality one`);
    }
    if ((f.a === Attr.tupleAttrs || f.a === Attr.tupleType || f.a === Attr.tupleTypes || f.a === Attr.fulltext) && before) {
      throw invalid(`the ${tx.before.ident(f.a)} of ${before.ident} can never change`);
    }
    if (f.added && f.a === Attr.tupleAttrs && attr?.tupleAttrs) checkComposite(attr, after, f.form);
    const allowed = SCHEMA_REFS[f.a];
    if (f.added && allowed && !allowed.has(f.v as number)) {
      throw invalid(`${tx.before.ident(f.a)} cannot be ${after.ident(f.v as number) ?? f.v}`);
    }
    const tupleTypes = attr ? [...(attr.tupleTypes ?? []), ...(attr.tupleType ? [attr.tupleType] : [])] : [];
    if (f.added && (f.a === Attr.tupleType || f.a === Attr.tupleTypes) && tupleTypes.some((t) => NOT_IN_TUPLES.has(t))) {
      throw invalid(`${attr!.ident}: a tuple cannot hold :db.type/bigdec, uri or bytes values (they have no key inside a tuple's)`);
    }
    if (f.added && f.a === Attr.valueType && attr?.valueType === 'bigdec' && !tx.decimalKeys) {
      throw txError(
        'tx/type-needs-format',
        `${attr.ident} cannot be :db.type/bigdec: this database's format (before 6) has no key for decimals; export it and import it into a new database to upgrade`,
        f.form,
      );
    }
    if (f.a === Attr.valueType && f.added && before?.valueType) {
      if (before.valueType !== attr?.valueType || has(f.e, Attr.valueType, false)) throw invalid(`the :db/valueType of ${before.ident} cannot change`);
    }
  }
  // Datomic: "Every new attribute is described by three required attributes" (ident, valueType,
  // cardinality). A new attribute without a valueType is factlog's attribute without schema, the
  // kind first use makes and export/import replays as datoms, so only the cardinality is required.
  for (const [e, form] of newAttrs) {
    if (!has(e, Attr.cardinality, true)) throw txError('tx/invalid-schema', `the new attribute ${after.ident(e)} needs a :db/cardinality`, form);
    const attr = after.attr(e)!;
    if (attr.fulltext && attr.valueType !== 'string') {
      throw txError('tx/invalid-schema', `${attr.ident} cannot be :db/fulltext: only :db.type/string attributes can`, form);
    }
    if (attr.valueType === 'tuple' && !attr.tupleType && !attr.tupleTypes && !attr.tupleAttrs) {
      throw txError('tx/invalid-schema', `the new tuple attribute ${attr.ident} needs :db/tupleType, :db/tupleTypes or :db/tupleAttrs`, form);
    }
  }
}

/** A composite tuple is cardinality one and made of 2 to 8 existing cardinality-one, non-tuple attributes. */
function checkComposite(composite: AttrInfo, after: Schema, form: FormRef | undefined): void {
  const parts = composite.tupleAttrs!.map((id) => (id < 0 ? undefined : after.attr(id)));
  const invalid = (why: string) => txError('tx/invalid-schema', `composite tuple ${composite.ident}: ${why}`, form);
  if (composite.cardinality !== 'one') throw invalid('it must be cardinality one');
  if (parts.length < 2 || parts.length > 8) throw invalid('it needs 2 to 8 attributes');
  for (const part of parts) {
    if (!part) throw invalid('each of its :db/tupleAttrs must be an attribute defined before');
    if (part.cardinality !== 'one' || part.valueType === 'tuple') throw invalid(`${part.ident} is cardinality many or a tuple`);
  }
}

/**
 * Making an attribute unique needs its values to be unique already (as Datomic requires): the
 * stored ones this tx keeps and the ones it asserts.
 */
function checkValuesUnique(attr: AttrInfo, form: FormRef | undefined, tx: SchemaChangeData): void {
  const clash = (x: RawDatom, y: RawDatom) => txError('tx/unique-conflict', `${attr.ident} cannot become unique: entities ${x.e} and ${y.e} both have ${printEdn(toDatom(x).v)}`, form);
  const added = new Map<string, RawDatom>();
  for (const raw of tx.assertionsOf(attr)) {
    const other = added.get(rawValueKey(raw));
    if (other) throw clash(other, raw);
    added.set(rawValueKey(raw), raw);
  }
  let last: RawDatom | undefined;
  for (const raw of tx.keptDatoms(attr, 'avet')) {
    const other = last && sameValue(last, raw) ? last : added.get(rawValueKey(raw));
    if (other && other.e !== raw.e) throw clash(other, raw);
    last = raw;
  }
}

/**
 * Cardinality many -> one needs each entity to hold at most one value once this tx applies
 * (Datomic: "first change your data so the invariant you want becomes true"). The tx's own
 * assertions were made under cardinality many, so they count as well.
 */
function checkOneValueEach(attr: AttrInfo, form: FormRef | undefined, tx: SchemaChangeData): void {
  const several = (e: number) => txError('tx/cardinality-conflict', `${attr.ident} cannot become cardinality one: entity ${e} has several values`, form);
  const added = new Set<number>();
  for (const raw of tx.assertionsOf(attr)) {
    if (added.has(raw.e)) throw several(raw.e);
    added.add(raw.e);
  }
  let last: RawDatom | undefined;
  for (const raw of tx.keptDatoms(attr, 'aevt')) {
    if (last?.e === raw.e || added.has(raw.e)) throw several(raw.e);
    last = raw;
  }
}
