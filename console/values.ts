// Values as the server sends them (tagged JSON, see src/cli/json-values.ts) shown as EDN text, and
// query results exported as EDN, JSON and CSV. Pure: no DOM, unit-tested in test/console-values.test.ts.

/** A value in tagged JSON: JSON's own scalars, or a one-key object tagged "#kw", "#inst"... */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const EDN_STRING_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A string as an EDN string literal. */
export function ednString(s: string): string {
  return '"' + s.replace(/["\\\n\r\t]/g, (c) => EDN_STRING_ESCAPES[c]!) + '"';
}

/** The tag of a tagged value ("#kw"...), or null for an untagged object. */
function tagOf(o: { [key: string]: Json }): string | null {
  const keys = Object.keys(o);
  return keys.length === 1 && keys[0]!.startsWith('#') ? keys[0]! : null;
}

/** A value as EDN text; plain objects (pull results, entities) print as maps with keyword keys. */
export function ednOf(v: Json | undefined): string {
  if (v === null || v === undefined) return 'nil';
  if (typeof v === 'string') return ednString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(ednOf).join(' ') + ']';
  const tag = tagOf(v);
  if (tag === null)
    return (
      '{' +
      Object.entries(v)
        .map(([k, x]) => `${k.startsWith(':') ? k : ':' + k} ${ednOf(x)}`)
        .join(', ') +
      '}'
    );
  const p = v[tag]!;
  const items = (): string => (Array.isArray(p) ? p.map(ednOf).join(' ') : '');
  switch (tag) {
    case '#kw':
      return ':' + String(p);
    case '#sym':
    case '#ref':
      return String(p);
    case '#inst':
      return `#inst ${ednString(String(p))}`;
    case '#uuid':
      return `#uuid ${ednString(String(p))}`;
    case '#bigint':
      return `${String(p)}N`;
    case '#bigdec':
      return `${String(p)}M`;
    case '#double':
      return p === '-0' ? '-0.0' : `##${p === 'Infinity' ? 'Inf' : p === '-Infinity' ? '-Inf' : 'NaN'}`;
    case '#char':
      return '\\' + String(p);
    case '#tuple':
      return '[' + items() + ']';
    case '#set':
      return '#{' + items() + '}';
    case '#list':
      return '(' + items() + ')';
    case '#map':
      return '{' + (Array.isArray(p) ? p.map((kv) => (Array.isArray(kv) ? `${ednOf(kv[0])} ${ednOf(kv[1])}` : '')).join(', ') : '') + '}';
    case '#tagged':
      return Array.isArray(p) ? `#${String(p[0])} ${ednOf(p[1])}` : 'nil';
  }
  return JSON.stringify(v);
}

/** A value as a table cell or CSV field shows it: strings as they are, keywords with their colon, dates as ISO. */
export function textOf(v: Json | undefined): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    if ('#inst' in v && tagOf(v)) return String(v['#inst']);
    if ('#uuid' in v && tagOf(v)) return String(v['#uuid']);
  }
  return ednOf(v);
}

/** A keyword's name ("person/name") when `v` is one, else null. */
export function keywordOf(v: Json | undefined): string | null {
  return v && typeof v === 'object' && !Array.isArray(v) && typeof v['#kw'] === 'string' && tagOf(v) ? v['#kw'] : null;
}

/** A number that may be an entity id: an integer (a ref arrives as a plain number or tagged #ref). */
export function entityIdOf(v: Json | undefined): number | null {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (v && typeof v === 'object' && !Array.isArray(v) && typeof v['#ref'] === 'number') return v['#ref'];
  return null;
}

/** A number for a chart: numbers, bigints and bigdecs; null for anything else. */
export function numericOf(v: Json | undefined): number | null {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const n = v['#bigint'] ?? v['#bigdec'];
    if (typeof n === 'string') return Number(n);
  }
  return null;
}

/** How a :find returns its result: a relation (rows), a collection, one tuple, or one scalar. */
export type FindShape = 'relation' | 'collection' | 'tuple' | 'scalar';

/** The columns of a query's :find as written (variables, aggregates, pulls) and its shape. */
export function findSpec(query: string): { columns: string[]; shape: FindShape } {
  const m = /:find\s+([\s\S]*?)(?=\s:(?:in|where|with|keys|strs|syms|timeout)\b|\]\s*$|$)/.exec(query);
  if (!m) return { columns: [], shape: 'relation' };
  let spec = m[1]!.trim();
  let shape: FindShape = 'relation';
  if (/^\[[\s\S]*\s\.\.\.\s*\]$/.test(spec)) [shape, spec] = ['collection', spec.slice(1, -1).replace(/\s*\.\.\.\s*$/, '')];
  else if (spec.startsWith('[') && spec.endsWith(']')) [shape, spec] = ['tuple', spec.slice(1, -1)];
  else if (/\s\.$/.test(spec)) [shape, spec] = ['scalar', spec.slice(0, -1)];
  return { columns: topLevelForms(spec), shape };
}

/** The forms of `text` separated by whitespace outside brackets. */
function topLevelForms(text: string): string[] {
  const forms: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (depth === 0 && /[\s,]/.test(c)) {
      if (cur) forms.push(cur);
      cur = '';
      continue;
    }
    if ('([{'.includes(c)) depth++;
    if (')]}'.includes(c)) depth--;
    cur += c;
  }
  if (cur) forms.push(cur);
  return forms;
}

/** A query result as table rows: a relation as it is, a collection one value per row, a tuple or scalar as one row. */
export function resultRows(result: Json, shape: FindShape): Json[][] {
  if (shape === 'relation') return Array.isArray(result) ? result.map((r) => (Array.isArray(r) ? r : [r])) : []; // a :keys row is one map
  if (shape === 'collection') return Array.isArray(result) ? result.map((v) => [v]) : [];
  if (result === null) return [];
  return shape === 'tuple' && Array.isArray(result) ? [result] : [[result]];
}

/** Rows as an EDN vector of vectors (what `factlog query --format edn` prints for a relation). */
export function rowsAsEdn(rows: Json[][]): string {
  return '[' + rows.map((r) => '[' + r.map(ednOf).join(' ') + ']').join('\n ') + ']';
}

/** Rows as JSON: tagged JSON, lossless, one row per line. */
export function rowsAsJson(rows: Json[][]): string {
  return '[' + rows.map((r) => JSON.stringify(r)).join(',\n ') + ']';
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a leading =, +, - or @ gets a quote mark so a spreadsheet does not run it as a formula. */
export function csvField(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) && !/^-?\d/.test(text) ? "'" + text : text;
  return /[",\r\n]/.test(safe) ? '"' + safe.replace(/"/g, '""') + '"' : safe;
}

/** Rows as CSV with a header line; CRLF line ends as RFC 4180 says. */
export function rowsAsCsv(columns: string[], rows: Json[][]): string {
  return [columns, ...rows.map((r) => r.map(textOf))].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
