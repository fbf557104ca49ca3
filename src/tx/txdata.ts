// Tx data (EDN text or JS data) -> flat operations. Map forms are expanded here, nested maps and
// reverse keys included, using the schema to tell refs and cardinality-many attributes apart.
import { EdnList, isPlainObject, Keyword, type SourcePos } from '../../query-lang/edn/types.js';
import { elementPositions, positionOf, readEdn } from '../../query-lang/edn/reader.js';
import { isReadableName, printEdn } from '../../query-lang/edn/printer.js';
import type { AttrInfo } from '../db/api.js';
import { Attr, type Schema } from '../db/schema.js';
import { EXCISE_ALONE, txError, type FormRef } from './errors.js';

/** The tempid naming the transaction entity itself. */
export const TX_TEMPID = 'datomic.tx';

/** An entity as written: an id, a tempid, an ident or a lookup ref; resolved later. */
export type EntityArg =
  { kind: 'id'; id: number } | { kind: 'tempid'; key: string; explicit: boolean } | { kind: 'ident'; ident: Keyword } | { kind: 'lookup'; attr: unknown; value: unknown } | { kind: 'tx' };

export type Op =
  | { op: 'add' | 'retract'; e: EntityArg; a: Keyword | number; v: unknown; form: FormRef }
  | { op: 'retract-attr'; e: EntityArg; a: Keyword | number; form: FormRef }
  | { op: 'retract-entity'; e: EntityArg; form: FormRef }
  | { op: 'cas'; e: EntityArg; a: Keyword | number; old: unknown; v: unknown; form: FormRef };

const OPS: Record<string, 'add' | 'retract' | 'retract-entity' | 'cas'> = {
  'db/add': 'add',
  'db/retract': 'retract',
  'db/retractEntity': 'retract-entity',
  'db.fn/retractEntity': 'retract-entity',
  'db/cas': 'cas',
  'db.fn/cas': 'cas',
};

/** The operations every transaction knows, by name without the colon (a tx function may not take one). */
export const BUILT_IN_OPERATIONS: ReadonlySet<string> = new Set(Object.keys(OPS));

/** Read tx data from EDN text, or take JS data as it is; the result is a list of forms. */
export function readTxData(input: unknown): unknown[] {
  const data = typeof input === 'string' ? readEdn(input) : input;
  const forms = data instanceof EdnList ? data.items : data;
  if (!Array.isArray(forms)) {
    throw txError('tx/invalid-data', 'tx data must be a vector (or list) of forms', describe(data));
  }
  if (typeof input === 'string') sourceTexts.set(forms, input);
  return forms;
}

/** The EDN text tx forms were read from, for the position of a form that is an atom. */
const sourceTexts = new WeakMap<unknown[], string>();

/** Names forms[i], with its position in the text it was read from even when it is an atom (42). */
function describeForm(forms: unknown[], i: number): FormRef {
  const text = sourceTexts.get(forms);
  return new LazyFormRef(forms[i], text === undefined ? undefined : () => elementPositions(text)[i]);
}

/** Names a form for error messages; printing is deferred until an error needs the text. */
export function describe(form: unknown): FormRef {
  return new LazyFormRef(form);
}

/** The transaction function whose tx data a form came from, for error messages ("... (from :bank/transfer)"). */
const formOrigins = new WeakMap<object, string>();

export function noteFormOrigin(form: unknown, origin: string): void {
  if (form !== null && typeof form === 'object' && !formOrigins.has(form)) formOrigins.set(form, origin);
}

class LazyFormRef implements FormRef {
  private printed?: string;
  constructor(
    private readonly form: unknown,
    /** Where an atom form (42, "s", :kw) was in the text: positionOf knows only collections. */
    private readonly atomPos?: () => SourcePos | undefined,
  ) {}

  get text(): string {
    if (this.printed === undefined) {
      this.printed = printableText(this.form);
      if (this.printed.length > 200) this.printed = this.printed.slice(0, 197) + '...';
      const origin = this.form !== null && typeof this.form === 'object' ? formOrigins.get(this.form) : undefined;
      if (origin !== undefined) this.printed += ` (from ${origin})`;
    }
    return this.printed;
  }

  get pos(): SourcePos | undefined {
    const f = this.form;
    return (f !== null && typeof f === 'object' ? positionOf(f as object) : undefined) ?? this.atomPos?.();
  }
}

/** A form as EDN, or as JS prints it when EDN cannot (a function, a cycle); never throws (a Proxy's trap). */
function printableText(form: unknown): string {
  try {
    return printEdn(form);
  } catch {
    try {
      return String(form);
    } catch {
      return '(unprintable JS value)';
    }
  }
}

/** Expand every form into flat operations. */
export function toOps(forms: unknown[], schema: Schema): Op[] {
  const ops: Op[] = [];
  const expander = new MapExpander(schema, ops);
  forms.forEach((form, i) => {
    if (isMapForm(form)) expander.expand(form, describe(form));
    else if (Array.isArray(form) || form instanceof EdnList) ops.push(listOp(form, describe(form)));
    else throw txError('tx/invalid-data', 'a tx form is a list [:db/add e a v] or a map', describeForm(forms, i));
  });
  return ops;
}

function listOp(form: unknown[] | EdnList, ref: FormRef): Op {
  const items = form instanceof EdnList ? form.items : form;
  const opName = keywordOf(items[0]);
  const op = opName && Object.hasOwn(OPS, opName.fqn) ? OPS[opName.fqn] : undefined; // not Object.prototype's constructor
  // a list-form excision reaches here only where it may not be: returned by a transaction function
  if (!op && opName?.fqn === 'db/excise') throw txError('tx/excise-not-alone', EXCISE_ALONE, ref);
  if (!op) {
    const why = opName ? ': it is no built-in operation and no transaction function of that name is registered' : '';
    throw txError('tx/unknown-operation', `unknown operation ${describe(items[0] ?? null).text}${why}`, ref);
  }
  const args = items.length - 1;
  const arity = ARITIES[op];
  if (!arity.includes(args)) throw txError('tx/invalid-data', `${opName} takes ${arity.join(' or ')} arguments, got ${args}`, ref);
  switch (op) {
    case 'add':
      return { op, e: entityArg(items[1], ref), a: attrArg(items[2], ref), v: listsAsVectors(items[3]), form: ref };
    case 'retract':
      if (args === 2) return { op: 'retract-attr', e: entityArg(items[1], ref), a: attrArg(items[2], ref), form: ref };
      return { op, e: entityArg(items[1], ref), a: attrArg(items[2], ref), v: listsAsVectors(items[3]), form: ref };
    case 'retract-entity':
      return { op, e: entityArg(items[1], ref), form: ref };
    case 'cas':
      return { op, e: entityArg(items[1], ref), a: attrArg(items[2], ref), old: listsAsVectors(items[3]), v: listsAsVectors(items[4]), form: ref };
  }
}

/** How many arguments each operation takes. */
const ARITIES: Record<'add' | 'retract' | 'retract-entity' | 'cas', number[]> = { add: [3], retract: [2, 3], 'retract-entity': [1], cas: [4] };

/** An entity position: id, tempid (string or negative number), ident keyword or lookup ref. */
export function entityArg(x: unknown, ref: FormRef): EntityArg {
  if (typeof x === 'number' && Number.isInteger(x)) {
    return x < 0 ? { kind: 'tempid', key: String(x), explicit: true } : { kind: 'id', id: x };
  }
  if (typeof x === 'string') return x === TX_TEMPID ? { kind: 'tx' } : { kind: 'tempid', key: x, explicit: true };
  if (x instanceof Keyword) return { kind: 'ident', ident: x };
  const items = x instanceof EdnList ? x.items : x;
  if (Array.isArray(items) && items.length === 2) return { kind: 'lookup', attr: items[0], value: items[1] };
  throw txError('tx/invalid-entity', `${describe(x).text} is not an entity id, tempid, ident or lookup ref`, ref);
}

function attrArg(x: unknown, ref: FormRef): Keyword | number {
  if (typeof x === 'number' && Number.isInteger(x) && x >= 0) return x;
  const kw = keywordOf(x);
  if (!kw) throw txError('tx/invalid-data', `${describe(x).text} is not an attribute`, ref);
  return kw;
}

/** Keywords, and in JS data also 'ns/name' or ':ns/name' strings. */
export function keywordOf(x: unknown): Keyword | null {
  const kw = x instanceof Keyword ? x : typeof x === 'string' && x.length > 1 && !/\s/.test(x) ? Keyword.of(x) : null;
  // a name that would not read back (':x/a]') would make an ident no export or query could name
  return kw && isReadableName(kw) ? kw : null;
}

export function isMapForm(x: unknown): x is Map<unknown, unknown> | Record<string, unknown> {
  return x instanceof Map || isPlainObject(x);
}

function mapEntries(m: Map<unknown, unknown> | Record<string, unknown>): [unknown, unknown][] {
  return m instanceof Map ? [...m.entries()] : Object.entries(m);
}

const DB_ID = Keyword.of('db/id');

class MapExpander {
  private implicit = 0;

  constructor(
    private readonly schema: Schema,
    private readonly ops: Op[],
  ) {}

  /** Expand one map form; returns the entity it describes. */
  expand(map: Map<unknown, unknown> | Record<string, unknown>, ref: FormRef): EntityArg {
    // one pass: each key read as a keyword once; :db/id may come anywhere in the map
    const attrs: [Keyword, unknown][] = [];
    let id: { value: unknown } | undefined;
    for (const [k, value] of mapEntries(map)) {
      const kw = keywordOf(k);
      if (kw === DB_ID) id = { value };
      else if (!kw) throw txError('tx/invalid-data', `map key ${describe(k).text} is not an attribute`, ref);
      else attrs.push([kw, listsAsVectors(value)]);
    }
    const e: EntityArg = id ? entityArg(id.value, ref) : { kind: 'tempid', key: `#map-${++this.implicit}`, explicit: false };
    if (attrs.length === 0 && !id) throw txError('tx/invalid-data', 'an entity map needs at least one attribute', ref);
    for (const [kw, value] of attrs) {
      if (kw.isReverse) this.expandReverse(e, kw.reverse(), value, ref);
      else for (const v of this.valuesOf(kw, value)) this.ops.push({ op: 'add', e, a: kw, v: this.nested(kw, v, ref), form: ref });
    }
    return e;
  }

  /** `{:person/_friend [a b]}`: a and b get :person/friend pointing here. */
  private expandReverse(target: EntityArg, forward: Keyword, value: unknown, ref: FormRef): void {
    const attr = this.schema.attr(forward);
    if (attr && attr.valueType !== 'ref') {
      throw txError('tx/invalid-data', `reverse attribute :${forward.ns}/_${forward.name} needs a ref attribute`, ref);
    }
    const sources = Array.isArray(value) && !isLookupRef(value) ? value : value instanceof Set ? [...value] : [value];
    for (const s of sources) {
      const e = isMapForm(s) ? this.expand(s, describe(s)) : entityArg(s, ref);
      this.ops.push({ op: 'add', e, a: forward, v: toValueArg(target), form: ref });
    }
  }

  /** The values a map entry stands for: several for cardinality-many collections. */
  private valuesOf(kw: Keyword, value: unknown): unknown[] {
    const attr: AttrInfo | undefined = this.schema.attr(kw);
    if (!attr || attr.cardinality !== 'many') return [value];
    if (value instanceof Set) return [...value];
    if (!Array.isArray(value)) return [value];
    if (attr.valueType === 'tuple') return isCollectionOfTuples(value) ? value : [value];
    // :db.excise/attrs names attributes only: [:p/name :p/tag] is two of them, never a lookup ref
    if (attr.valueType === 'ref' && isLookupRef(value) && !this.areTwoIdents(value) && attr.id !== Attr.exciseAttrs) return [value];
    return value;
  }

  /** [:color/red :color/blue] under a ref attribute: two enum values, as its head is no attribute. */
  private areTwoIdents(pair: unknown[]): boolean {
    return isKeywordish(pair[1]) && this.schema.attr(keywordOf(pair[0]) ?? '') === undefined;
  }

  /** A nested map under a ref attribute becomes its own entity. */
  private nested(kw: Keyword, v: unknown, ref: FormRef): unknown {
    if (!isMapForm(v)) return v;
    const attr = this.schema.attr(kw);
    if (attr && attr.valueType !== 'ref') {
      throw txError('tx/invalid-value', `a nested map needs a ref attribute, ${kw} is ${attr.valueType}`, ref);
    }
    return toValueArg(this.expand(v, describe(v)));
  }
}

/**
 * Datomic takes a list wherever it takes a vector in tx data: `{:aka ("a" "b")}` is two values, and a
 * list of lookup refs or nested maps is read as the vector would be. Maps inside are left as they are.
 */
export function listsAsVectors(v: unknown): unknown {
  if (v instanceof EdnList) return v.items.map(listsAsVectors);
  if (Array.isArray(v) && v.some((x) => x instanceof EdnList)) return v.map(listsAsVectors);
  return v;
}

/** A value that refers to an already-described entity (kept as an EntityArg marker). */
export class EntityValue {
  constructor(readonly arg: EntityArg) {}
}

function toValueArg(e: EntityArg): EntityValue {
  return new EntityValue(e);
}

/**
 * For a cardinality-many tuple attribute, `[["a" 1] ["b" 2]]` is two tuples and `["a" 1]` one:
 * a tuple's elements are scalars, never vectors.
 */
function isCollectionOfTuples(v: unknown[]): boolean {
  return v.every((x) => Array.isArray(x));
}

export function isLookupRef(v: unknown): boolean {
  const items = v instanceof EdnList ? v.items : v;
  if (!Array.isArray(items) || items.length !== 2 || Array.isArray(items[1])) return false;
  return isKeywordish(items[0]);
}

/** A keyword, or in JS data a ':ns/name' string. */
function isKeywordish(x: unknown): boolean {
  return x instanceof Keyword || (typeof x === 'string' && x.startsWith(':'));
}
