// A lazy, navigable view of one entity in one Db value: attributes are read on access,
// refs come back as entities (enums as their keywords), `_attr` walks references backwards.
import { Keyword } from '../../query-lang/edn/types.js';
import type { AttrInfo, AttrRef, Datom, Entity, Value } from './api.js';
import type { Db } from './db.js';
import { setOwn } from './own-keys.js';

export class LazyEntity implements Entity {
  constructor(
    private readonly db: Db,
    readonly id: number,
  ) {}

  get(attrRef: AttrRef): unknown {
    const kw = typeof attrRef === 'number' ? this.db.ident(attrRef) : Keyword.of(String(attrRef));
    if (!kw) return undefined;
    if (kw.fqn === 'db/id') return this.id;
    if (kw.isReverse) return this.reverse(kw.reverse());
    const attr = this.db.attr(kw);
    return attr ? this.valueOf(attr) : undefined;
  }

  private valueOf(attr: AttrInfo): unknown {
    const values = [...this.db.datoms('eavt', this.id, attr.id)].map((d) => this.wrap(attr, d.v));
    if (attr.cardinality === 'many') return values.length ? new Set(values) : undefined;
    return values[0];
  }

  /** Entities whose `attr` points at this one; one entity for a component attribute. */
  private reverse(kw: Keyword): unknown {
    const attr = this.db.attr(kw);
    if (!attr || attr.valueType !== 'ref') return undefined;
    const sources = [...this.db.datoms('vaet', this.id, attr.id)].map((d) => new LazyEntity(this.db, d.e));
    if (attr.isComponent) return sources[0];
    return sources.length ? new Set(sources) : undefined;
  }

  /** A ref as an entity; a ref to an enum (an entity with a :db/ident) as its keyword, as Datomic's entities give it. */
  private wrap(attr: AttrInfo, v: Value): unknown {
    if (attr.valueType !== 'ref') return v;
    return this.db.ident(v as number) ?? new LazyEntity(this.db, v as number);
  }

  keys(): Keyword[] {
    const seen = new Set<number>();
    for (const d of this.db.datoms('eavt', this.id)) seen.add(d.a);
    return [...seen].map((a) => this.db.ident(a)!).filter(Boolean);
  }

  /** Every datom about this entity, in EAVT order. */
  datoms(): Datom[] {
    return [...this.db.datoms('eavt', this.id)];
  }

  /** Plain object: 'ns/name' keys, refs as { 'db/id': n } except components, which nest, and enums, which are keywords. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { 'db/id': this.id };
    for (const kw of this.keys()) {
      const attr = this.db.attr(kw)!;
      const plain = (v: unknown) =>
        v instanceof LazyEntity ? (attr.isComponent ? v.toJSON() : { 'db/id': v.id }) : v;
      // by the attribute, not its name: get(':__proto__') would read the name as a reverse ref
      const value = this.valueOf(attr);
      setOwn(out, kw.fqn, value instanceof Set ? [...value].map(plain) : plain(value));
    }
    return out;
  }

  toString(): string {
    return `#factlog/entity {:db/id ${this.id}}`;
  }
}
