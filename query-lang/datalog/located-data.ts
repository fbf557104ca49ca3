// A query, rule set or pull pattern given as EDN data -> the form reading its printed text would
// give (fresh collections, plain objects as maps), with where each collection's parts are in that
// text: one walk beside the printer's rules, so the text is printed once and never read back.
import { canonicalKey, isReadableName, printEdn } from '../edn/printer.js';
import { readEdn, type FormLayout, type LocatedForm } from '../edn/reader.js';
import { EdnSyntaxError } from '../edn/errors.js';
import { EdnList, isPlainObject, Keyword, Sym, Tagged, type EdnValue, type SourcePos } from '../edn/types.js';

/** `data` located in `text`, which is printEdn(data) (one line: a column is an offset). */
export function locateData(data: unknown, text: string): LocatedForm {
  const walk = new LocatingWalk();
  const value = walk.copy(data);
  return { text, value, pos: at(0), layouts: walk.layouts };
}

function at(offset: number): SourcePos {
  return { line: 1, column: offset + 1, offset };
}

class LocatingWalk {
  offset = 0;
  readonly layouts = new Map<object, FormLayout>();

  copy(x: unknown): EdnValue {
    if (Array.isArray(x)) return this.seq(x, (items) => items);
    if (x instanceof EdnList) return this.seq(x.items, (items) => new EdnList(items));
    if (x instanceof Map) return this.map([...x]);
    if (isPlainObject(x)) return this.map(Object.entries(x).map(([k, v]) => [plainKey(k), v]));
    if (x instanceof PlainKey) {
      if (x.value instanceof Keyword && !isReadableName(x.value)) {
        throw new EdnSyntaxError(`expected a keyword like :name or :ns/name but found '${x.text}'`, { pos: at(this.offset) });
      }
      this.offset += x.text.length;
      return x.value;
    }
    const text = printEdn(x);
    const value = readBack(x, text, this.offset);
    this.offset += text.length;
    return value;
  }

  /** `[a b]` or `(a b)`: one space between items. */
  seq(xs: readonly unknown[], make: (items: EdnValue[]) => EdnValue): EdnValue {
    const start = this.offset++;
    const items: EdnValue[] = [];
    const positions: SourcePos[] = [];
    xs.forEach((x, i) => {
      if (i > 0) this.offset++;
      positions.push(at(this.offset));
      items.push(this.copy(x));
    });
    const form = make(items);
    this.layouts.set(form as object, { start: at(start), items: positions, end: at(this.offset++) });
    return form;
  }

  /** `{k v, k v}`: a space inside an entry, a comma and a space between entries. */
  map(entries: [unknown, unknown][]): EdnValue {
    const start = this.offset++;
    const m = new Map<EdnValue, EdnValue>();
    const positions: SourcePos[] = [];
    entries.forEach(([k, v], i) => {
      if (i > 0) this.offset += 2;
      positions.push(at(this.offset));
      const key = this.copy(k);
      this.offset++;
      positions.push(at(this.offset));
      m.set(key, this.copy(v));
    });
    if (m.size !== entries.length || hasEqualKeys(m)) {
      throw new EdnSyntaxError('expected distinct map keys but found a duplicate key', { pos: at(start) });
    }
    this.layouts.set(m, { start: at(start), items: positions, end: at(this.offset++) });
    return m;
  }
}

/** A plain object's key as printed (a keyword when it can be, else a string: the printer decides) and as read. */
class PlainKey {
  constructor(
    readonly text: string,
    readonly value: EdnValue,
  ) {}
}

function plainKey(k: string): PlainKey {
  const text = printEdn({ [k]: null }).slice(1, -' nil}'.length);
  return new PlainKey(text, text.startsWith(':') ? Keyword.of(k) : k);
}

/** What the reader gives for the printed text of an atom (or of a set or tagged value, read back whole). */
function readBack(x: unknown, text: string, offset: number): EdnValue {
  if (x === undefined || x === null) return null;
  if (x instanceof Date) return new Date(x.getTime());
  if (typeof x !== 'object' || x instanceof Keyword || x instanceof Sym) return x as EdnValue;
  return x instanceof Set || x instanceof Tagged ? readWhole(text, offset) : (x as EdnValue);
}

/** A set or tagged value read back, a refusal placed where the value is in the whole text. */
function readWhole(text: string, offset: number): EdnValue {
  try {
    return readEdn(text);
  } catch (err) {
    if (!(err instanceof EdnSyntaxError) || !err.pos) throw err;
    const message = err.message.replace(/ \(at \d+:\d+\)$/, '');
    throw new EdnSyntaxError(message, { pos: at(offset + err.pos.offset), code: err.code as 'edn/syntax' });
  }
}

/** Composite keys equal as EDN values (`[1]` twice) are one key to the reader. */
function hasEqualKeys(m: Map<EdnValue, EdnValue>): boolean {
  const composite = [...m.keys()].filter((k) => k !== null && typeof k === 'object' && !(k instanceof Keyword) && !(k instanceof Sym));
  return composite.length > 1 && new Set(composite.map((k) => canonicalKey(k))).size !== composite.length;
}
