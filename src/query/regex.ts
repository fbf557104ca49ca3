// Regular expressions of the query functions (re-find, re-matches, re-seq, re-pattern, split),
// matched by RE2 (the re2js port) in time linear in the input: a JS RegExp backtracks, and a
// pattern such as (a|aa)+$ on a long string would block the process past any query timeout.
import { RE2JS, RE2JSSyntaxException } from 're2js';
import { QueryError } from './errors.js';

/** Compiled patterns by flags and source: a query applies one pattern to many rows. */
const compiled = new Map<string, RE2JS>();
const CACHE_MAX = 1000;

/** RE2's flags for a JS RegExp's (i, m, s); g, y and u change nothing in what a match is. */
function flagsOf(js: string): number {
  let f = 0;
  if (js.includes('i')) f |= RE2JS.CASE_INSENSITIVE;
  if (js.includes('m')) f |= RE2JS.MULTILINE;
  if (js.includes('s')) f |= RE2JS.DOTALL;
  return f;
}

/** Why RE2 refuses a pattern a backtracking engine takes, when that is the reason. */
function unsupported(message: string): string | null {
  if (/invalid escape sequence: `\\[1-9]/.test(message)) return 'backreferences';
  if (/`\(\?[=!]/.test(message)) return 'lookahead';
  if (/`\(\?<[=!]/.test(message)) return 'lookbehind';
  if (/invalid or unsupported Perl syntax/.test(message)) return 'this construct';
  if (/invalid nested repetition operator: `[*+?}]\+/.test(message)) return 'possessive quantifiers';
  return null;
}

/** The RE2 pattern for a source and JS flags, or a coded error saying why there is none. */
export function compileRegex(source: string, jsFlags = ''): RE2JS {
  const key = jsFlags + '/' + source;
  let p = compiled.get(key);
  if (p) return p;
  try {
    p = RE2JS.compile(source, flagsOf(jsFlags));
  } catch (e) {
    if (!(e instanceof RE2JSSyntaxException)) throw e;
    const what = unsupported(e.message);
    if (what) {
      throw new QueryError('query/unsupported-regex', `Regex #"${source}" uses ${what}, which factlog's regex engine (RE2, linear time) does not support: ${e.message}`);
    }
    throw new QueryError('query/invalid-regex', `Invalid regex #"${source}": ${e.message}`);
  }
  if (compiled.size >= CACHE_MAX) compiled.clear();
  compiled.set(key, p);
  return p;
}

/** A regex argument: a RegExp (re-pattern's result or an input), a string, or an EDN #"..." value. */
export function toRe2(re: unknown, describe: (x: unknown) => string): RE2JS {
  if (re instanceof RegExp) return compileRegex(re.source, re.flags);
  if (typeof re === 'string') return compileRegex(re);
  if (re && typeof re === 'object' && 'tag' in re && 'value' in re && typeof (re as { value: unknown }).value === 'string') {
    return compileRegex((re as { value: string }).value);
  }
  throw new QueryError('query/type-error', `expected a regex, got ${describe(re)}`);
}

/** Leading inline flags (?ims) as RegExp flags: Java writes them in the pattern, JS beside it. */
const INLINE_FLAGS = /^\(\?([ims]+)\)/;

/**
 * re-pattern: a JS RegExp for the source, checked by RE2 first (what it refuses is refused here,
 * not at the first match). Leading inline flags become the RegExp's flags.
 */
export function rePattern(source: string): RegExp {
  compileRegex(source);
  const m = INLINE_FLAGS.exec(source);
  const [body, flags] = m ? [source.slice(m[0].length), [...new Set(m[1])].join('')] : [source, ''];
  try {
    return new RegExp(body, flags);
  } catch (e) {
    throw new QueryError('query/invalid-regex', `Regex #"${source}" has no JS RegExp form (${(e as Error).message}); give it to re-find as a string instead`);
  }
}

/** The match as Clojure gives it: the matched text, or [whole, group1, ...] (nil for a group that took no part). */
function matchResult(m: ReturnType<RE2JS['matcher']>): unknown {
  const n = m.groupCount();
  if (n === 0) return m.group(0);
  const out: unknown[] = [];
  for (let i = 0; i <= n; i++) out.push(m.group(i) ?? null);
  return out;
}

export function reFind(re: RE2JS, s: string): unknown {
  const m = re.matcher(s);
  return m.find() ? matchResult(m) : null;
}

export function reMatches(re: RE2JS, s: string): unknown {
  const m = re.matcher(s);
  return m.matches() ? matchResult(m) : null;
}

export function reSeq(re: RE2JS, s: string): unknown[] | null {
  const m = re.matcher(s);
  const out: unknown[] = [];
  while (m.find()) out.push(matchResult(m));
  return out.length ? out : null;
}

/** clojure.string/split: Java's split, trailing empty strings dropped. */
export function reSplit(re: RE2JS, s: string): string[] {
  return re.split(s, 0);
}
