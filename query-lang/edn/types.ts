// EDN value types that have no native JS counterpart.
// Mapping used everywhere in factlog:
//   nil -> null, true/false -> boolean, "str" -> string, 42 -> number (bigint past 2^53 or with N),
//   1.5 -> number, 1.5M -> BigDec, :kw -> Keyword (interned), sym -> Sym (interned),
//   \c -> Char, [..] -> Array, (..) -> EdnList, {..} -> Map, #{..} -> Set,
//   #inst -> Date, #uuid -> Uuid, #uri -> Uri, #bytes "base64" -> Uint8Array, other #tag -> Tagged.

export class Keyword {
  private static readonly table = new Map<string, Keyword>();
  /**
   * By the text asked for, colon or not: the common call, with a string of the caller's data that
   * already knows its hash, is one lookup instead of slicing off the colon and hashing the slice.
   */
  private static readonly byText = new Map<string, Keyword>();
  /** `fqn` is the keyword without its colon: 'person/name' or 'name'. */
  private constructor(
    readonly fqn: string,
    readonly ns: string | null,
    readonly name: string,
  ) {}

  /** Interned: `Keyword.of('a/b') === Keyword.of(':a/b')`. */
  static of(text: string): Keyword {
    const known = Keyword.byText.get(text);
    if (known) return known;
    const fqn = text.startsWith(':') ? text.slice(1) : text;
    let kw = Keyword.table.get(fqn);
    if (!kw) {
      const slash = fqn.indexOf('/');
      kw = slash > 0 ? new Keyword(fqn, fqn.slice(0, slash), fqn.slice(slash + 1)) : new Keyword(fqn, null, fqn);
      Keyword.table.set(fqn, kw);
    }
    Keyword.byText.set(text, kw);
    return kw;
  }

  /** True for reverse-reference attribute names like :person/_friend. */
  get isReverse(): boolean {
    return this.name.startsWith('_');
  }

  /** :person/_friend -> :person/friend (and back). */
  reverse(): Keyword {
    const name = this.isReverse ? this.name.slice(1) : '_' + this.name;
    return Keyword.of(this.ns ? `${this.ns}/${name}` : name);
  }

  toString(): string {
    return ':' + this.fqn;
  }

  toJSON(): string {
    return ':' + this.fqn;
  }
}

export class Sym {
  private static readonly table = new Map<string, Sym>();
  private constructor(readonly name: string) {}

  static of(name: string): Sym {
    let s = Sym.table.get(name);
    if (!s) {
      s = new Sym(name);
      Sym.table.set(name, s);
    }
    return s;
  }

  toString(): string {
    return this.name;
  }

  toJSON(): string {
    return this.name;
  }
}

export class Uuid {
  readonly value: string;
  constructor(value: string) {
    this.value = value.toLowerCase();
  }
  equals(other: unknown): boolean {
    return other instanceof Uuid && other.value === this.value;
  }
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

/** A URI (`#uri "urn:isbn:0451450523"`, :db.type/uri), kept as its text, as Java's URI keeps it. */
export class Uri {
  constructor(readonly value: string) {}
  equals(other: unknown): boolean {
    return other instanceof Uri && other.value === this.value;
  }
  toString(): string {
    return this.value;
  }
  toJSON(): string {
    return this.value;
  }
}

export class Char {
  constructor(readonly value: string) {}
  equals(other: unknown): boolean {
    return other instanceof Char && other.value === this.value;
  }
  toString(): string {
    return this.value;
  }
}

/** Arbitrary-precision decimal (`1.5M`), kept as its text. */
export class BigDec {
  constructor(readonly text: string) {}
  equals(other: unknown): boolean {
    return other instanceof BigDec && other.text === this.text;
  }
  toString(): string {
    return this.text;
  }
}

/** A parenthesised EDN list `( ... )`. */
export class EdnList {
  constructor(readonly items: EdnValue[]) {}
}

/** A tagged literal whose tag factlog does not know. */
export class Tagged {
  constructor(
    readonly tag: string,
    readonly value: EdnValue,
  ) {}
}

export type EdnValue =
  null | boolean | string | number | bigint | Keyword | Sym | Char | BigDec | Uuid | Uri | Uint8Array | Date | EdnValue[] | EdnList | Map<EdnValue, EdnValue> | Set<EdnValue> | Tagged;

/** A position in source text, 1-based line and column. */
export interface SourcePos {
  line: number;
  column: number;
  offset: number;
}

/** An object literal (or Object.create(null)): what JS data uses for maps. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}
