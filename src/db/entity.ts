// A lazy, navigable view of one entity in one Db value: attributes are read on access,
// refs come back as entities (enums as their keywords), `_attr` walks references backwards.
import { Keyword } from '../../query-lang/edn/types.js';
import type { AttrInfo, AttrRef, Datom, DbView, Entity, Value } from './api.js';
import { setOwn } from './own-keys.js';

export class LazyEntity implements Entity {
  /** Attribute id -> value, once touch() has read them all. */
  private touched?: Map<number, unknown>;

  constructor(
    private readonly db: DbView,
    readonly id: number,
  ) {}

  get(attrRef: AttrRef): unknown {
    const kw = typeof attrRef === 'number' ? this.db.ident(attrRef) : Keyword.of(String(attrRef));
    if (!kw) return undefined;
    if (kw.fqn === 'db/id') return this.id;
    if (kw.isReverse) return this.reverse(kw.reverse());
    const attr = this.db.attr(kw);
    if (!attr) return undefined;
    if (this.touched) return this.touched.get(attr.id);
    return this.valueOf(attr, this.db.datomArray('eavt', this.id, attr.id));
  }

  private valueOf(attr: AttrInfo, datoms: Datom[]): unknown {
    const values = datoms.map((d) => this.wrap(attr, d.v));
    if (attr.cardinality === 'many') return values.length ? new Set(values) : undefined;
    return values[0];
  }

  touch(): this {
    return this.touchWithin(new Set());
  }

  /** `seen`: the component entities touched on the way here, so a cycle of components ends. */
  private touchWithin(seen: Set<number>): this {
    if (this.touched || seen.has(this.id)) return this;
    seen.add(this.id);
    const byAttr = new Map<number, Datom[]>();
    for (const d of this.db.datomArray('eavt', this.id)) {
      const run = byAttr.get(d.a);
      if (run) run.push(d);
      else byAttr.set(d.a, [d]);
    }
    const touched = new Map<number, unknown>();
    for (const [a, datoms] of byAttr) {
      const attr = this.db.attr(a);
      if (!attr) continue;
      const value = this.valueOf(attr, datoms);
      touched.set(a, value);
      if (attr.isComponent) for (const v of value instanceof Set ? value : [value]) if (v instanceof LazyEntity) v.touchWithin(seen);
    }
    this.touched = touched;
    return this;
  }

  /** Entities whose `attr` points at this one; one entity for a component attribute. */
  private reverse(kw: Keyword): unknown {
    const attr = this.db.attr(kw);
    if (!attr || attr.valueType !== 'ref') return undefined;
    const sources = this.db.datomArray('vaet', this.id, attr.id).map((d) => new LazyEntity(this.db, d.e));
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
    for (const d of this.db.datomArray('eavt', this.id)) seen.add(d.a);
    return [...seen].map((a) => this.db.ident(a)!).filter(Boolean);
  }

  /** Every datom about this entity, in EAVT order. */
  datoms(): Datom[] {
    return this.db.datomArray('eavt', this.id);
  }

  /** Plain object: 'ns/name' keys, refs as { 'db/id': n } except components, which nest, and enums, which are keywords. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { 'db/id': this.id };
    for (const kw of this.keys()) {
      const attr = this.db.attr(kw)!;
      const plain = (v: unknown) => (v instanceof LazyEntity ? (attr.isComponent ? v.toJSON() : { 'db/id': v.id }) : v);
      // by the attribute, not its name: get(':__proto__') would read the name as a reverse ref
      const value = this.touched ? this.touched.get(attr.id) : this.valueOf(attr, this.db.datomArray('eavt', this.id, attr.id));
      setOwn(out, kw.fqn, value instanceof Set ? [...value].map(plain) : plain(value));
    }
    return out;
  }

  toString(): string {
    if (!this.touched) return `#factlog/entity {:db/id ${this.id}}`;
    const parts = [...this.touched].map(([a, v]) => `${this.db.ident(a)} ${v instanceof Set ? `#{${[...v].map(brief).join(' ')}}` : brief(v)}`);
    return `#factlog/entity {:db/id ${this.id}${parts.map((p) => ', ' + p).join('')}}`;
  }
}

/** A value as a touched entity prints it: nested entities by id. */
function brief(v: unknown): string {
  if (v instanceof LazyEntity) return `{:db/id ${v.id}}`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
