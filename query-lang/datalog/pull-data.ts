// A pull pattern written as plain JS data -> EDN data, by what each place of the pull grammar
// holds: where an attribute goes, a string names one (':ns/name' or 'ns/name', as in tx data);
// "*" is the wildcard and "..." unbounded recursion; an object maps attributes to sub-patterns.
// Option values (`[':a', ':as', 'A']`, `':default'`) stay as given. Printed as they are, JS
// strings would be EDN strings, which name no attribute in the grammar.
import { isPlainObject, Keyword, Sym } from '../edn/types.js';

export function pullPatternFromJs(pattern: unknown): unknown {
  return convertOrLeave(pattern, patternFromJs);
}

/**
 * `convert(data)`, or `data` itself when it is nested too deep to convert (or cyclic): the printer
 * then refuses it with its own error (edn/unprintable), as it did before data was converted.
 */
export function convertOrLeave(data: unknown, convert: (data: unknown) => unknown): unknown {
  try {
    return convert(data);
  } catch (err) {
    if (err instanceof RangeError) return data;
    throw err;
  }
}

function patternFromJs(pattern: unknown): unknown {
  return Array.isArray(pattern) ? pattern.map(pullElementFromJs) : pattern;
}

function pullElementFromJs(x: unknown): unknown {
  if (typeof x === 'string') return x === '*' ? Sym.of('*') : Keyword.of(x);
  if (Array.isArray(x)) return attrWithOptionsFromJs(x);
  if (x instanceof Map) return new Map([...x].map(([k, v]) => [attrSpecFromJs(k), subPatternFromJs(v)]));
  if (isPlainObject(x)) return new Map(Object.entries(x).map(([k, v]) => [attrSpecFromJs(k), subPatternFromJs(v)]));
  return x;
}

function attrSpecFromJs(key: unknown): unknown {
  if (typeof key === 'string') return Keyword.of(key);
  return Array.isArray(key) ? attrWithOptionsFromJs(key) : key;
}

/** `[attr, option, value, option, value ...]`: the attribute and the option names are keywords, an :xform's value a symbol. */
function attrWithOptionsFromJs(x: unknown[]): unknown[] {
  return x.map((part, i) => {
    if (typeof part !== 'string') return part;
    if (i === 0 || i % 2 === 1) return Keyword.of(part);
    // an :xform names a function: a symbol, as in EDN
    return /^:?xform$/.test(String(x[i - 1])) ? Sym.of(part) : part;
  });
}

function subPatternFromJs(v: unknown): unknown {
  if (Array.isArray(v)) return patternFromJs(v);
  return v === '...' ? Sym.of('...') : v;
}
