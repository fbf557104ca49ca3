// Tx data -> the datoms one transaction asserts and retracts, checked against a db value:
// attributes resolved (created for schemaless use), tempids upserted or allocated, lookup refs
// resolved, redundant datoms dropped, cardinality-one values replaced, uniqueness enforced.
// Pure with respect to storage: it only reads through the Db it is given.
import { Keyword, Sym } from '../../query-lang/edn/types.js';
import { describeThrown, FactlogError } from '../../query-lang/errors.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import { isStackOverflow } from '../../query-lang/edn/lexer.js';
import type { AttrInfo, Datom, Value } from '../db/api.js';
import type { Db } from '../db/db.js';
import { setOwn } from '../db/own-keys.js';
import { Attr, Enum, FIRST_USER_EID, isSchemaAttr, isSystemEntity, type Schema } from '../db/schema.js';
import { encodeValue, factKey, isLongMarker, sameValue, Tag, toDatom, tToTx, TX_BASE, unstorablePayload, type RawDatom } from '../storage/encoding.js';
import { txError, type FormRef, type TxError } from './errors.js';
import { describe, EntityValue, readTxData, toOps, TX_TEMPID, type EntityArg, type Op } from './txdata.js';
import { coerceValue, tupleRefSlots } from './values.js';
import { validateSchemaChange, type SchemaChangeData, type SchemaFact } from './schema-change.js';
import { expandTxFns, NO_FUNCTIONS, type TxFunctions } from './tx-functions.js';
import { checkAttrPreds, checkEntitySpecs, type EnsureRequest } from './predicates.js';
import { Overlay } from '../db/overlay.js';
import { checkExcisions, normalizeExcisions, type ExcisionMode } from './excise.js';

export interface PrepareOptions {
  /** The t this transaction will get. */
  t: number;
  nextEid: number;
  /** :db/txInstant of the previous transaction, ms. */
  lastInstant: number;
  strictSchema: boolean;
  now?: number;
  /** The transaction functions and predicates the tx data may call (default: none). */
  functions?: TxFunctions;
  /** Whether excision requests are refused (the default), or checked or committed by feed/excise.ts, which rewrites the files. */
  excise?: ExcisionMode;
}

export interface PreparedTx {
  t: number;
  tx: number;
  instant: number;
  /** New datoms (tx = this transaction). */
  asserted: RawDatom[];
  /** Datoms ended by this transaction, as they were asserted (tx = the asserting transaction). */
  retracted: RawDatom[];
  tempids: Record<string, number>;
  nextEid: number;
  schema: Schema;
  /** The report's datoms: retractions (added false) then assertions, all with this tx. */
  txData(): Datom[];
}

export function prepareTx(db: Db, input: unknown, options: PrepareOptions): PreparedTx {
  try {
    const forms = expandTxFns(db, normalizeExcisions(readTxData(input)), options.functions ?? NO_FUNCTIONS);
    const prepared = new TxBuilder(db, options).build(toOps(forms, db.schema));
    checkExcisions(db, prepared.asserted, prepared.retracted, options.excise ?? 'refuse');
    return prepared;
  } catch (err) {
    throw asTxError(err, typeof input !== 'string');
  }
}

/**
 * A failure while the tx data is read is the data's: JS data that refers to itself (o.friend = o)
 * or nests past the stack, and JS data whose reading throws (a Proxy's trap, a getter), which the
 * builder reads up to the end. Nothing is written either way.
 */
function asTxError(err: unknown, fromJsData: boolean): unknown {
  if (err instanceof FactlogError) return err;
  if (isStackOverflow(err)) return txError('tx/invalid-data', 'tx data nested too deep, or cyclic');
  if (!fromJsData) return err;
  const error = txError('tx/invalid-data', `reading the tx data threw ${describeThrown(err)}`);
  error.cause = err;
  return error;
}

class TxBuilder implements SchemaChangeData {
  private readonly tx: number;
  private schema: Schema;
  private nextEid: number;
  private readonly firstNewEid: number;
  private readonly tempids = new Map<string, number>();
  /**
   * Every fact this tx asserts, by entity then attribute (number-keyed: no string key per datom).
   * `form` is set for facts asserted by an operation (redundant or not: asserting and retracting
   * one fact is a conflict, two of them in a cardinality-one slot are too); `listed` for facts
   * that are new and go into `assertions`.
   */
  private readonly facts = new FactTable();
  /** The new datoms, in the order they were first asserted. */
  private readonly assertions: RawDatom[] = [];
  private readonly retractions = new Map<string, RawDatom>();
  /** Retractions of facts that do not hold: no-ops, unless this tx asserts the same fact. */
  private readonly unheldRetractions: RawDatom[] = [];
  /** The operations that retract schema facts, by factKey, for the schema checks' errors. */
  private readonly schemaRetractionForms = new Map<string, FormRef>();
  /** Attributes this tx creates for their use without schema (ident and cardinality only). */
  readonly implicitAttrs = new Set<number>();
  /** Format 6 on (the key codec that keys tuples in order keys decimals by value too). */
  get decimalKeys(): boolean {
    return this.db.ctx.store.keyCodec.orderedTuples;
  }
  private readonly uniqueChecks: { attr: AttrInfo; raw: RawDatom; form: FormRef }[] = [];
  private definedIdents = new Set<string>();
  private readonly functions: TxFunctions;
  /** The entities this tx asks to satisfy an entity spec (:db/ensure, never stored). */
  private readonly ensures: EnsureRequest[] = [];

  constructor(
    private readonly db: Db,
    private readonly options: PrepareOptions,
  ) {
    this.tx = tToTx(options.t);
    this.schema = db.schema;
    this.nextEid = options.nextEid;
    this.firstNewEid = options.nextEid;
    this.functions = options.functions ?? NO_FUNCTIONS;
  }

  build(ops: Op[]): PreparedTx {
    for (const o of ops) {
      if (o.op === 'add' && o.a instanceof Keyword && o.a.fqn === 'db/ident' && o.v instanceof Keyword) this.definedIdents.add(o.v.fqn);
    }
    const attrs = ops.map((o) => (o.op === 'retract-entity' ? null : this.resolveAttr(o.a, o.form)));
    this.upsertTempids(ops, attrs);
    this.allocateTempids(ops);
    ops.forEach((o, i) => this.apply(o, attrs[i]));
    this.updateCompositeTuples();
    this.checkConflicts();
    this.checkUniqueness();
    const instant = this.txInstant();
    const prepared = this.finish(instant);
    if (this.ensures.length > 0) checkEntitySpecs(this.dbAfter(prepared), this.ensures, this.functions);
    return prepared;
  }

  /** The database as this tx leaves it, speculatively (what entity predicates are given). */
  private dbAfter(p: PreparedTx): Db {
    const base = this.db.overlay ?? Overlay.empty(this.db.basisT, this.db.schema, this.options.nextEid);
    return this.db.withOverlay(base.extend(p.t, p.asserted, p.retracted, p.schema, p.nextEid));
  }

  // ---------------- attributes ----------------

  private resolveAttr(a: Keyword | number, form: FormRef): AttrInfo {
    const found = this.schema.attr(a);
    if (found) return found;
    if (typeof a === 'number') throw txError('tx/unknown-attribute', `no attribute with id ${a}`, form);
    if (a.isReverse) throw txError('tx/invalid-data', `reverse attribute ${a} is only allowed as a map key`, form);
    if (this.definedIdents.has(a.fqn)) {
      throw txError('tx/attribute-in-same-tx', `attribute ${a} is defined in this transaction; transact schema first`, form);
    }
    if (this.options.strictSchema) throw txError('tx/unknown-attribute', `unknown attribute ${a} (strict schema)`, form);
    if (a.ns === 'db' || a.ns?.startsWith('db.')) {
      throw txError('tx/unknown-attribute', `unknown attribute ${a}: the :db namespaces are the system's, so it is not made on first use`, form);
    }
    if (this.schema.entidOfIdent(a) !== undefined) throw txError('tx/unknown-attribute', `${a} is an ident, not an attribute`, form);
    // used without schema: create the attribute (cardinality one, any scalar) in this transaction
    const id = this.nextEid++;
    this.implicitAttrs.add(id);
    const identRaw = this.raw(id, this.schema.attr(Attr.ident)!, a);
    const cardRaw = this.raw(id, this.schema.attr(Attr.cardinality)!, Enum.cardinalityOne);
    this.list(this.factOf(identRaw));
    this.list(this.factOf(cardRaw));
    this.schema = this.schema.apply([
      { e: id, a: Attr.ident, v: a, added: true },
      { e: id, a: Attr.cardinality, v: Enum.cardinalityOne, added: true },
    ]);
    return this.schema.attr(id)!;
  }

  // ---------------- tempids ----------------

  /** Tempids asserting a :db.unique/identity value that exists take that entity (upsert). */
  private upsertTempids(ops: Op[], attrs: (AttrInfo | null)[]): void {
    const byValue = new Map<string, string>();
    ops.forEach((o, i) => {
      const attr = attrs[i];
      if (o.op !== 'add' || o.e.kind !== 'tempid' || attr?.unique !== 'identity') return;
      if (attr.valueType === 'ref' && !this.isResolvableRef(o.v)) return;
      const v = attr.valueType === 'ref' ? this.resolveRefValue(o.v, o.form) : coerceValue(attr, o.v, o.form);
      const [tag, payload] = encodeValue(v, attr.valueType);
      let existing: number | undefined;
      for (const d of this.db.scan('avet', [attr.id, tag, payload])) existing = d.e;
      const key = o.e.key;
      if (existing !== undefined) this.bindTempid(key, existing, o.form);
      else {
        const vk = `${attr.id}|${tag}|${String(payload)}`;
        const other = byValue.get(vk);
        if (other && other !== key) this.unify.set(key, other);
        else byValue.set(vk, key);
      }
    });
  }

  /** Tempids that name the same new entity through a shared unique identity value. */
  private readonly unify = new Map<string, string>();

  private bindTempid(key: string, eid: number, form: FormRef): void {
    const prev = this.tempids.get(key);
    if (prev !== undefined && prev !== eid) {
      throw txError('tx/unique-conflict', `tempid ${key} upserts to two entities (${prev} and ${eid})`, form);
    }
    this.tempids.set(key, eid);
  }

  /** Every tempid used as an entity gets a new id; one only used as a value is an error. */
  private allocateTempids(ops: Op[]): void {
    for (const o of ops) {
      if (o.e.kind !== 'tempid' || (o.op !== 'add' && o.op !== 'cas')) continue;
      const key = o.e.key;
      if (this.tempids.has(key)) continue;
      const via = this.unify.get(key);
      if (via !== undefined && this.tempids.has(via)) this.tempids.set(key, this.tempids.get(via)!);
      else this.tempids.set(key, this.nextEid++);
      if (via !== undefined && !this.tempids.has(via)) this.tempids.set(via, this.tempids.get(key)!);
    }
    for (const o of ops) {
      const dangling = this.danglingTempidOf(o);
      if (dangling !== undefined) {
        throw txError('tx/dangling-tempid', `tempid ${JSON.stringify(dangling)} is used only as a value, never as an entity`, o.form);
      }
    }
  }

  /** A tempid `o` uses (as entity, entity value or ref string) that names no entity of this tx. */
  private danglingTempidOf(o: Op): string | undefined {
    if (o.e.kind === 'tempid' && !this.tempids.has(o.e.key)) return o.e.key;
    if (o.op !== 'add' && o.op !== 'retract' && o.op !== 'cas') return undefined;
    const v = o.v;
    if (v instanceof EntityValue) return v.arg.kind === 'tempid' && !this.tempids.has(v.arg.key) ? v.arg.key : undefined;
    if (o.op !== 'retract' && typeof v === 'string' && isTempidString(v) && !this.tempids.has(v) && this.isRefAttr(o.a)) return v;
    return undefined;
  }

  private isRefAttr(a: Keyword | number): boolean {
    return this.schema.attr(a)?.valueType === 'ref';
  }

  // ---------------- entities and values ----------------

  private resolveEntity(arg: EntityArg, form: FormRef): number {
    switch (arg.kind) {
      case 'tx':
        return this.tx;
      case 'tempid': {
        const id = this.tempids.get(arg.key);
        if (id === undefined) throw txError('tx/dangling-tempid', `tempid ${JSON.stringify(arg.key)} names no entity`, form);
        return id;
      }
      case 'ident': {
        const id = this.schema.entidOfIdent(arg.ident);
        if (id === undefined) throw txError('tx/unknown-ident', `no entity has ident ${arg.ident}`, form);
        return id;
      }
      case 'lookup': {
        if (!(arg.attr instanceof Keyword) && typeof arg.attr !== 'number' && typeof arg.attr !== 'string') {
          throw txError('tx/invalid-entity', `a lookup ref names its attribute with a keyword, not ${describe(arg.attr).text}`, form);
        }
        const attr = this.schema.attr(arg.attr as Keyword | number | string);
        if (!attr) throw txError('tx/unknown-attribute', `unknown attribute in lookup ref`, form);
        if (!attr.unique) throw txError('tx/invalid-entity', `lookup ref attribute ${attr.ident} is not :db/unique`, form);
        const v = attr.valueType === 'ref' ? this.resolveRefValue(arg.value, form) : coerceValue(attr, arg.value, form);
        const [tag, payload] = encodeValue(v, attr.valueType);
        for (const d of this.db.scan('avet', [attr.id, tag, payload])) return d.e;
        throw txError('tx/lookup-ref-not-found', `no entity with ${attr.ident} ${JSON.stringify(String(arg.value))}`, form);
      }
      case 'id':
        if (!this.isKnownId(arg.id)) throw txError('tx/invalid-entity', `entity id ${arg.id} does not exist`, form);
        return arg.id;
    }
  }

  private isKnownId(id: number): boolean {
    if (id >= TX_BASE) return id <= this.tx;
    if (id < FIRST_USER_EID) return this.schema.ident(id) !== undefined || this.hasDatoms(id);
    return id < this.nextEid;
  }

  private hasDatoms(e: number): boolean {
    for (const _ of this.db.scan('eavt', [e])) return true;
    return false;
  }

  private isResolvableRef(v: unknown): boolean {
    if (v instanceof EntityValue) return v.arg.kind !== 'tempid' || this.tempids.has(v.arg.key);
    if (typeof v === 'string') return !isTempidString(v) || this.tempids.has(v);
    if (typeof v === 'number') return v >= 0;
    return true;
  }

  private resolveRefValue(v: unknown, form: FormRef): number {
    if (v instanceof EntityValue) return this.resolveEntity(v.arg, form);
    if (typeof v === 'string' && isTempidString(v)) return this.resolveEntity({ kind: 'tempid', key: v, explicit: true }, form);
    if (v === TX_TEMPID) return this.tx;
    if (typeof v === 'string') return this.resolveEntity({ kind: 'ident', ident: Keyword.of(v) }, form);
    if (typeof v === 'number' && v < 0) return this.resolveEntity({ kind: 'tempid', key: String(v), explicit: true }, form);
    if (typeof v === 'number') return this.resolveEntity({ kind: 'id', id: v }, form);
    if (v instanceof Keyword) return this.resolveEntity({ kind: 'ident', ident: v }, form);
    if (Array.isArray(v) && v.length === 2) return this.resolveEntity({ kind: 'lookup', attr: keywordish(v[0]), value: v[1] }, form);
    throw txError('tx/invalid-value', `${describe(v).text} is not a reference to an entity`, form);
  }

  private valueFor(attr: AttrInfo, v: unknown, form: FormRef): Value {
    if (attr.valueType === 'ref') return this.resolveRefValue(v, form);
    if (typeof v === 'string') v = namedInJsData(attr, v);
    if (v instanceof EntityValue) throw txError('tx/invalid-value', `${attr.ident} is not a ref attribute; a nested map needs one`, form);
    const value = coerceValue(attr, v, form);
    if (attr.valueType === 'tuple' && tupleRefSlots(attr)) this.checkTupleRefs(attr, value as Value[], form);
    return value;
  }

  /** A tuple's ref elements are ids of entities that exist. */
  private checkTupleRefs(attr: AttrInfo, tuple: Value[], form: FormRef): void {
    tuple.forEach((v, i) => {
      const type = attr.tupleTypes?.[i] ?? attr.tupleType;
      if (type === 'ref' && !this.isKnownId(v as number)) {
        throw txError('tx/invalid-entity', `entity id ${v} in a ${attr.ident} tuple does not exist`, form);
      }
    });
  }

  private raw(e: number, attr: AttrInfo, v: Value): RawDatom {
    const [tag, payload] = encodeValue(v, attr.valueType);
    return { e, a: attr.id, tag, payload, tx: this.tx };
  }

  // ---------------- operations ----------------

  private apply(o: Op, attr: AttrInfo | null): void {
    if (attr?.tupleAttrs) {
      const parts = attr.tupleAttrs.map((a) => this.schema.ident(a)).join(' ');
      throw txError('tx/invalid-data', `${attr.ident} is a composite tuple, kept up to date from ${parts}: it cannot be asserted or retracted directly`, o.form);
    }
    const e = this.resolveEntity(o.e, o.form);
    if (isSystemEntity(e)) throw this.systemEntityError(e, o.form);
    if (attr?.id === Attr.txInstant && (o.op !== 'add' || e !== this.tx)) throw txInstantError(o.form);
    if (attr?.id === Attr.ensure) return this.ensure(o, e);
    switch (o.op) {
      case 'add':
        return this.add(e, attr!, this.valueFor(attr!, o.v, o.form), o.form);
      case 'retract':
        return this.retract(this.raw(e, attr!, this.valueFor(attr!, o.v, o.form)), o.form);
      case 'retract-attr':
        for (const r of this.currentValues(e, attr!)) this.retract(r, o.form);
        return;
      case 'retract-entity':
        return this.retractEntity(e, o.form, new Set());
      case 'cas':
        return this.cas(e, attr!, o.old, o.v, o.form);
    }
  }

  /** :db/ensure is virtual, as in Datomic: asserting it asks for a check at the end of the tx, and stores nothing. */
  private ensure(o: Op, e: number): void {
    if (o.op !== 'add') {
      throw txError('tx/invalid-data', `:db/ensure is virtual: it is asserted to check an entity spec, never stored, so never retracted`, o.form);
    }
    this.ensures.push({ e, spec: this.resolveRefValue(o.v, o.form), form: o.form });
  }

  /**
   * The bootstrap's attributes and enums are the system's, as in Datomic: a change to one (a
   * retracted :db/valueType, a renamed :db/ident, a unique :db/txInstant) would break every later
   * transaction, so no datom about them is asserted or retracted, :db/doc included.
   */
  private systemEntityError(e: number, form: FormRef): TxError {
    const name = this.schema.ident(e)?.toString() ?? `entity ${e}`;
    return txError('tx/system-entity', `${name} is a system entity: the bootstrap schema cannot be changed`, form);
  }

  private add(e: number, attr: AttrInfo, v: Value, form: FormRef): void {
    if (this.functions.checkAttrPreds) {
      const preds = this.schema.attrPreds(attr.id);
      if (preds.length > 0) checkAttrPreds(attr, preds, v, this.functions, form);
    }
    const raw = this.raw(e, attr, v);
    if (isLongMarker(raw.payload)) {
      throw txError('tx/invalid-value', `a ${attr.ident} value has the reserved shape of a long-value marker`, form);
    }
    const unstorable = unstorablePayload(raw.payload, this.db.ctx.store.exactValues);
    if (unstorable) throw txError('tx/invalid-value', `${attr.ident}: ${unstorable}`, form);
    let fact: AssertedFact | undefined;
    for (let f = this.facts.first(e); f !== undefined; f = f.next) {
      if (f.raw.a !== raw.a) continue;
      if (sameValue(f.raw, raw)) fact = f;
      else if (attr.cardinality === 'one' && f.form !== undefined) {
        throw txError('tx/cardinality-conflict', `two values for cardinality-one ${attr.ident} of entity ${e}`, form);
      }
    }
    if (fact === undefined) this.facts.add((fact = { raw, form, listed: false, next: undefined, last: undefined }));
    else fact.form = form;
    if (attr.cardinality === 'one' && !this.isNew(e)) {
      for (const old of this.currentValues(e, attr)) if (!sameValue(old, raw)) this.retractStored(old, form);
    }
    if (attr.unique) this.uniqueChecks.push({ attr, raw, form });
    if (fact.listed || this.exists(raw)) return;
    this.list(fact);
  }

  /** The fact record of `raw` (created unasserted when new). */
  private factOf(raw: RawDatom): AssertedFact {
    const known = this.facts.find(raw);
    if (known) return known;
    const fact: AssertedFact = { raw, form: undefined, listed: false, next: undefined, last: undefined };
    this.facts.add(fact);
    return fact;
  }

  /** Make `fact` one of the new datoms (once). */
  private list(fact: AssertedFact): void {
    if (fact.listed) return;
    fact.listed = true;
    this.assertions.push(fact.raw);
  }

  private checkConflicts(): void {
    for (const raw of this.unheldRetractions) {
      const asserted = this.assertedFact(raw);
      if (asserted) throw txError('tx/datom-conflict', `the same datom is asserted and retracted`, asserted.form);
    }
    if (this.retractions.size === 0) return;
    for (const f of this.facts.all()) {
      if (f.form !== undefined && this.retractions.has(factKey(f.raw))) {
        throw txError('tx/datom-conflict', `the same datom is asserted and retracted`, f.form);
      }
    }
  }

  /** The operation's assertion of `raw` in this tx, if any. */
  private assertedFact(raw: RawDatom): AssertedFact | undefined {
    const fact = this.facts.find(raw);
    return fact?.form !== undefined ? fact : undefined;
  }

  private retract(raw: RawDatom, form: FormRef): void {
    const stored = this.findStored(raw);
    if (stored) this.retractStored(stored, form);
    // Retracting a fact that does not hold is a no-op, as in Datomic; asserting it too is a conflict.
    else this.unheldRetractions.push(raw);
  }

  private retractStored(stored: RawDatom, form?: FormRef): void {
    const key = factKey(stored);
    this.retractions.set(key, stored);
    if (form && isSchemaAttr(stored.a)) this.schemaRetractionForms.set(key, form);
  }

  private retractEntity(e: number, form: FormRef, seen: Set<number>): void {
    if (seen.has(e)) return;
    if (isSystemEntity(e)) throw this.systemEntityError(e, form);
    seen.add(e);
    for (const d of this.db.datoms('eavt', e)) {
      if (d.a === Attr.txInstant) throw txInstantError(form);
      const attr = this.schema.attr(d.a)!;
      this.retractStored({ ...this.raw(d.e, attr, d.v), tx: d.tx }, form);
      if (attr.isComponent && attr.valueType === 'ref') this.retractEntity(d.v as number, form, seen);
    }
    for (const d of this.db.datoms('vaet', e)) {
      const attr = this.schema.attr(d.a)!;
      this.retractStored({ ...this.raw(d.e, attr, d.v), tx: d.tx }, form);
    }
  }

  private cas(e: number, attr: AttrInfo, oldArg: unknown, newArg: unknown, form: FormRef): void {
    if (attr.cardinality !== 'one') throw txError('tx/invalid-data', `:db/cas needs a cardinality-one attribute, ${attr.ident} is many`, form);
    const current = this.currentValues(e, attr);
    const expected = oldArg === null || oldArg === undefined ? null : factKey(this.raw(e, attr, this.valueFor(attr, oldArg, form)));
    const actual = current.length ? factKey(current[0]) : null;
    if (expected !== actual) {
      const now = current.length ? printEdn(toDatom(current[0]).v) : 'nil';
      throw txError('tx/cas-failed', `compare-and-swap failed: ${attr.ident} of ${e} is ${now}`, form);
    }
    this.add(e, attr, this.valueFor(attr, newArg, form), form);
  }

  // ---------------- composite tuples ----------------

  /**
   * Composite tuples (:db/tupleAttrs) follow their parts, as in Datomic: for each entity whose
   * parts this tx asserts or retracts, the tuple of the parts' values after the tx (nil for a
   * missing one) is asserted, or the tuple retracted once every part is gone.
   */
  private updateCompositeTuples(): void {
    if (!this.schema.hasComposites()) return;
    const touched = new Map<number, Map<AttrInfo, FormRef | undefined>>();
    const touch = (e: number, a: number, form: FormRef | undefined) => {
      for (const composite of this.schema.compositesOf(a)) {
        let byEntity = touched.get(e);
        if (!byEntity) touched.set(e, (byEntity = new Map()));
        if (!byEntity.has(composite) || form) byEntity.set(composite, form);
      }
    };
    for (const f of this.facts.all()) if (f.form !== undefined) touch(f.raw.e, f.raw.a, f.form);
    for (const r of this.retractions.values()) touch(r.e, r.a, undefined);
    for (const [e, composites] of touched) {
      for (const [composite, form] of composites) this.updateCompositeTuple(e, composite, form);
    }
  }

  private updateCompositeTuple(e: number, composite: AttrInfo, form: FormRef | undefined): void {
    const parts = composite.tupleAttrs!.map((a) => this.valueAfter(e, a));
    if (parts.some((v) => v !== null)) {
      this.add(e, composite, parts as Value, form ?? describe([Keyword.of('db/add'), e, composite.ident, parts]));
      return;
    }
    for (const old of this.currentValues(e, composite)) this.retractStored(old);
  }

  /** The value of cardinality-one attribute `a` of `e` once this tx applies; null when it has none. */
  private valueAfter(e: number, a: number): Value | null {
    for (let f = this.facts.first(e); f !== undefined; f = f.next) if (f.raw.a === a && f.form !== undefined) return toDatom(f.raw).v;
    const attr = this.schema.attr(a);
    if (!attr) return null;
    for (const d of this.currentValues(e, attr)) if (!this.retractions.has(factKey(d))) return toDatom(d).v;
    return null;
  }

  // ---------------- reading the db before ----------------

  private isNew(e: number): boolean {
    return e >= this.firstNewEid && e < TX_BASE;
  }

  /** Current datoms of (e, a), with the tx that asserted them. */
  private currentValues(e: number, attr: AttrInfo): RawDatom[] {
    if (this.isNew(e)) return [];
    const out: RawDatom[] = [];
    for (const d of this.db.scan('eavt', [e, attr.id])) out.push({ ...this.raw(e, attr, d.v), tx: d.tx });
    return out;
  }

  private findStored(raw: RawDatom): RawDatom | undefined {
    if (this.isNew(raw.e)) return undefined;
    // the stored payload: -0 where 0 was asked for (one value), so its exact key is retracted
    for (const d of this.db.scan('eavt', [raw.e, raw.a, raw.tag, raw.payload])) return { ...raw, payload: raw.tag === Tag.Number ? (d.v as number) : raw.payload, tx: d.tx };
    return undefined;
  }

  private exists(raw: RawDatom): boolean {
    return this.findStored(raw) !== undefined;
  }

  // ---------------- checks and result ----------------

  private checkUniqueness(): void {
    const owners = new Map<string, number>();
    for (const { attr, raw, form } of this.uniqueChecks) {
      const vk = `${raw.a}|${raw.tag}|${String(raw.payload)}`;
      const other = owners.get(vk);
      if (other !== undefined && other !== raw.e) {
        throw txError('tx/unique-conflict', `${attr.ident} ${String(raw.payload)} asserted for two entities (${other} and ${raw.e})`, form);
      }
      owners.set(vk, raw.e);
      for (const d of this.db.scan('avet', [raw.a, raw.tag, raw.payload])) {
        if (d.e === raw.e) continue;
        if (this.retractions.has(factKey({ ...raw, e: d.e }))) continue;
        throw txError('tx/unique-conflict', `${attr.ident} ${String(raw.payload)} already belongs to entity ${d.e}`, form);
      }
    }
  }

  private txInstant(): number {
    const instantAttr = this.schema.attr(Attr.txInstant)!;
    let given: AssertedFact | undefined;
    for (let f = this.facts.first(this.tx); f !== undefined && !given; f = f.next) if (f.raw.a === Attr.txInstant && f.listed) given = f;
    const last = this.options.lastInstant;
    const now = this.options.now ?? Date.now();
    if (given) {
      const ms = given.raw.payload as number;
      // Datomic: an explicit instant is not older than the previous transaction's, nor later than
      // the transactor's clock; a few seconds ahead is allowed for an export from another machine
      if (ms > now + FUTURE_INSTANT_TOLERANCE_MS) {
        const message = `:db/txInstant ${iso(ms)} is later than the clock (${iso(now)}): an explicit instant may be at most ${FUTURE_INSTANT_TOLERANCE_MS / 1000} s ahead`;
        throw txError('tx/instant-in-future', message, given.form);
      }
      if (ms < last) {
        // a database stamped ahead of the clock (by a wrong clock, or before this check) still takes transactions that leave the instant out
        const stuck = last > now ? `; the previous instant is ahead of the clock, so leave :db/txInstant out and the transaction gets that instant` : '';
        throw txError('tx/instant-backwards', `:db/txInstant ${iso(ms)} is before the previous transaction's ${iso(last)}${stuck}`, given.form);
      }
      return ms;
    }
    const instant = Math.max(now, last);
    this.list(this.factOf(this.raw(this.tx, instantAttr, new Date(instant))));
    return instant;
  }

  private finish(instant: number): PreparedTx {
    const asserted = this.assertions;
    const retracted = [...this.retractions.values()];
    const tx = this.tx;
    // only schema attributes' datoms change the schema; the tx field does not matter to it
    const schemaFacts: SchemaFact[] = [
      ...retracted.filter((r) => isSchemaAttr(r.a)).map((r) => ({ ...toDatom(r, false, tx), form: this.schemaRetractionForms.get(factKey(r)) })),
      ...asserted.filter((r) => isSchemaAttr(r.a)).map((r) => ({ ...toDatom(r, true), form: this.assertedFact(r)?.form })),
    ];
    const schema = this.schema.apply(schemaFacts);
    validateSchemaChange(schemaFacts, schema, this);
    const tempids: Record<string, number> = {};
    for (const [key, id] of this.tempids) if (!key.startsWith('#map-')) setOwn(tempids, key, id);
    // the report's datoms are made when asked for: a bulk load's would be 100,000s of objects
    const txData = (): Datom[] => {
      const datoms: Datom[] = new Array(retracted.length + asserted.length);
      let i = 0;
      for (const r of retracted) datoms[i++] = toDatom(r, false, tx);
      for (const r of asserted) datoms[i++] = toDatom(r, true);
      return datoms;
    };
    return { t: this.options.t, tx, instant, asserted, retracted, tempids, nextEid: this.nextEid, schema, txData };
  }

  /** The schema before this tx. */
  get before(): Schema {
    return this.db.schema;
  }

  /** The new datoms of `attr` (only for schema checks: it walks every new datom). */
  assertionsOf(attr: AttrInfo): RawDatom[] {
    return this.assertions.filter((r) => r.a === attr.id);
  }

  /** The stored datoms of `attr` that this tx does not retract, in `index` order. */
  *keptDatoms(attr: AttrInfo, index: 'aevt' | 'avet'): Generator<RawDatom> {
    for (const d of this.db.datoms(index, attr.id)) {
      const raw = { ...this.raw(d.e, attr, d.v), tx: d.tx };
      if (!this.retractions.has(factKey(raw))) yield raw;
    }
  }
}

/** How far ahead of the clock an explicit :db/txInstant may be. */
const FUTURE_INSTANT_TOLERANCE_MS = 10_000;

const iso = (ms: number) => new Date(ms).toISOString();

function txInstantError(form: FormRef): TxError {
  return txError('tx/invalid-data', `:db/txInstant is only asserted by a transaction on itself ("datomic.tx"), never retracted or changed later`, form);
}

interface AssertedFact {
  raw: RawDatom;
  /** The operation that asserted it; undefined for datoms the builder adds itself. */
  form: FormRef | undefined;
  /** In `assertions`: new, not already in the db. */
  listed: boolean;
  /** The entity's next fact (FactTable's chain). */
  next: AssertedFact | undefined;
  /** On an entity's first fact: its last one, where the chain grows. */
  last: AssertedFact | undefined;
}

/**
 * The facts a tx asserts, by entity: each entity's facts chained from its first, so that a bulk
 * load costs one map entry per entity and no arrays. An entity has few facts; one with many
 * values of a cardinality-many attribute was already checked value by value.
 */
class FactTable {
  private readonly firstByEntity = new Map<number, AssertedFact>();

  first(e: number): AssertedFact | undefined {
    return this.firstByEntity.get(e);
  }

  add(fact: AssertedFact): void {
    const first = this.firstByEntity.get(fact.raw.e);
    if (first === undefined) {
      fact.last = fact;
      this.firstByEntity.set(fact.raw.e, fact);
    } else {
      first.last!.next = fact;
      first.last = fact;
    }
  }

  /** The fact of the same entity, attribute and value as `raw`. */
  find(raw: RawDatom): AssertedFact | undefined {
    for (let f = this.firstByEntity.get(raw.e); f !== undefined; f = f.next) if (f.raw.a === raw.a && sameValue(f.raw, raw)) return f;
    return undefined;
  }

  *all(): Generator<AssertedFact> {
    for (const first of this.firstByEntity.values()) for (let f: AssertedFact | undefined = first; f !== undefined; f = f.next) yield f;
  }
}

/**
 * What a string names as the value of a ref attribute: a tempid, unless it is "datomic.tx" (this
 * transaction) or ':ns/name' (an ident, as keywords are written in plain JS data).
 */
function isTempidString(v: string): boolean {
  return v !== TX_TEMPID && !v.startsWith(':');
}

/** In JS data, predicates and required attributes are named by strings: 'bank/ok?', ':acct/id'. */
function namedInJsData(attr: AttrInfo, v: string): unknown {
  if (attr.id === Attr.attrPreds || attr.id === Attr.entityPreds) return Sym.of(v);
  if (attr.id === Attr.entityAttrs && v.length > 0) return Keyword.of(v);
  return v;
}

function keywordish(x: unknown): unknown {
  return typeof x === 'string' ? Keyword.of(x) : x;
}
