// A query or rule set written as plain JS data -> EDN data. Tx data and pull patterns take JS
// strings for keywords; a query also needs symbols and lists, so a string is read by its shape,
// as EDN text would be: '?x' a variable, '$' or '$name' a source, '%' the rules, '_' a blank,
// '...' and '.' find and binding markers, ':ns/name' a keyword; any other string is a string
// constant. Where EDN has a list, JS has an array whose first element is a name: a function
// call (`[['>', '?age', 21]]`), an aggregate or pull in :find (`['count', '?e']`), a rule call
// (`['friends', '?a', '?b']`) or not/or/and (`['not', ['?e', ':banned', true]]`). A name as the
// pattern of a pull (`['pull', '?e', 'pat']`) is a pattern name bound in :in. Data holding a
// Sym already is EDN data and is left as it is.
import { EdnList, isPlainObject, Keyword, Sym, type EdnValue } from '../edn/types.js';
import { convertOrLeave, pullPatternFromJs } from './pull-data.js';

const SECTIONS = new Set(['find', 'keys', 'strs', 'syms', 'with', 'in', 'where']);
const CLAUSE_FORMS = new Set(['not', 'or', 'and']);
const JOIN_FORMS = new Set(['not-join', 'or-join']);

export function queryFromJs(query: unknown): unknown {
  return holdsSym(query) ? query : convertOrLeave(query, convertQuery);
}

function convertQuery(query: unknown): unknown {
  if (Array.isArray(query)) return vectorQueryFromJs(query);
  const entries = query instanceof Map ? [...query] : isPlainObject(query) ? Object.entries(query) : null;
  if (!entries) return query;
  return new Map(entries.map(([k, v]) => sectionFromJs(k, v)));
}

/** `[[(name ?a ?b) clause ...] ...]` as `[[['name', '?a', '?b'], clause, ...], ...]`. */
export function rulesFromJs(rules: unknown): unknown {
  return holdsSym(rules) || !Array.isArray(rules) ? rules : convertOrLeave(rules, convertRules);
}

function convertRules(rules: unknown): unknown {
  return (rules as unknown[]).map((rule) => {
    if (!Array.isArray(rule) || !Array.isArray(rule[0]) || !isName(rule[0][0])) return rule;
    const [name, ...vars] = rule[0];
    return [list(name as string, vars.map(bindingFromJs)), ...rule.slice(1).map(clauseFromJs)];
  });
}

function vectorQueryFromJs(query: unknown[]): unknown[] {
  let section = '';
  return query.map((item) => {
    const name = sectionName(item);
    if (name) {
      section = name;
      return Keyword.of(name);
    }
    return sectionItemFromJs(section, item);
  });
}

function sectionFromJs(key: unknown, value: unknown): [unknown, unknown] {
  const name = sectionName(key);
  if (!name) return [key, value];
  return [Keyword.of(name), Array.isArray(value) ? value.map((item) => sectionItemFromJs(name, item)) : value];
}

function sectionName(x: unknown): string | undefined {
  const name = x instanceof Keyword ? x.fqn : typeof x === 'string' ? x.replace(/^:/, '') : undefined;
  return name !== undefined && SECTIONS.has(name) ? name : undefined;
}

function sectionItemFromJs(section: string, item: unknown): unknown {
  switch (section) {
    case 'find':
      return findElementFromJs(item);
    case 'where':
      return clauseFromJs(item);
    case 'in':
    case 'with':
    case 'keys':
    case 'strs':
    case 'syms':
      return bindingFromJs(item);
    default:
      return item;
  }
}

function findElementFromJs(x: unknown): unknown {
  if (typeof x === 'string') return Sym.of(x);
  if (!Array.isArray(x)) return x;
  if (!isName(x[0])) return x.map(findElementFromJs); // [?a ?b] or [?a ...]
  const [name, ...args] = x;
  if (name === 'pull')
    return list(
      'pull',
      args.map((a) => (Array.isArray(a) ? pullPatternFromJs(a) : isName(a) ? Sym.of(a) : termFromJs(a))),
    );
  return list(name as string, args.map(termFromJs));
}

function clauseFromJs(x: unknown): unknown {
  if (!Array.isArray(x)) return x;
  const head = x[0];
  // ($src not ...), ($src rule ?a): a source before a list's name
  if (typeof head === 'string' && head.startsWith('$') && isName(x[1])) return new EdnList([Sym.of(head), ...listFromJs(x.slice(1)).items]);
  if (isName(head)) return listFromJs(x);
  if (Array.isArray(head) && isName(head[0])) {
    const [fn, ...args] = head;
    return [list(fn as string, args.map(termFromJs)), ...x.slice(1).map(bindingFromJs)];
  }
  return x.map(termFromJs);
}

/** not/or/and, not-join/or-join, or a rule call. */
function listFromJs(x: unknown[]): EdnList {
  const [name, ...rest] = x as [string, ...unknown[]];
  if (CLAUSE_FORMS.has(name)) return list(name, rest.map(clauseFromJs));
  if (JOIN_FORMS.has(name)) return list(name, [bindingFromJs(rest[0]), ...rest.slice(1).map(clauseFromJs)]);
  return list(name, rest.map(termFromJs));
}

function list(name: string, items: unknown[]): EdnList {
  return new EdnList([Sym.of(name), ...(items as EdnValue[])]);
}

/** A variable, source, blank or marker in a binding place; arrays nest. */
function bindingFromJs(x: unknown): unknown {
  if (typeof x === 'string') return Sym.of(x);
  return Array.isArray(x) ? x.map(bindingFromJs) : x;
}

/** A pattern or argument position: variables, sources and keywords by their shape, other strings constants. */
function termFromJs(x: unknown): unknown {
  if (typeof x === 'string') {
    if (x.startsWith('?') || x.startsWith('$') || x === '_' || x === '%' || x === '...') return Sym.of(x);
    return x.startsWith(':') && x.length > 1 ? Keyword.of(x) : x;
  }
  return Array.isArray(x) ? x.map(termFromJs) : x;
}

/** The name at the head of a list: a string that is no variable, source, keyword or marker. */
function isName(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && !/^[?$:%_]/.test(x) && x !== '...' && x !== '.';
}

function holdsSym(x: unknown, depth = 0): boolean {
  if (x instanceof Sym) return true;
  if (depth > 64 || x === null || typeof x !== 'object') return false;
  if (Array.isArray(x)) return x.some((item) => holdsSym(item, depth + 1));
  if (x instanceof EdnList) return true;
  if (x instanceof Map) return [...x].some(([k, v]) => holdsSym(k, depth + 1) || holdsSym(v, depth + 1));
  return isPlainObject(x) && Object.values(x).some((v) => holdsSym(v, depth + 1));
}
