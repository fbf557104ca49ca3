// Output: aligned tables for people, EDN and JSON for programs. Shared by the CLI and the REPL.
import { printEdn } from '../../query-lang/edn/printer.js';
import { BigDec } from '../../query-lang/edn/types.js';
import type { Query } from '../../query-lang/datalog/ast.js';
import { printFindElem } from '../query/print.js';
import { FactlogError } from '../../query-lang/errors.js';
import { encodeJsonObject, encodeJsonValue } from './json-values.js';

export type OutputFormat = 'table' | 'edn' | 'json';

/** The format to use when none is given: tables for a terminal, EDN for pipes. */
export function defaultFormat(explicit: string | undefined, allowed: OutputFormat[] = ['table', 'edn', 'json']): OutputFormat {
  if (explicit === undefined) return process.stdout.isTTY && allowed.includes('table') ? 'table' : allowed.includes('edn') ? 'edn' : allowed[0]!;
  if (!(allowed as string[]).includes(explicit)) {
    throw new FactlogError('cli/invalid-format', `unknown format ${JSON.stringify(explicit)} (one of ${allowed.join(', ')})`);
  }
  return explicit as OutputFormat;
}

/** EDN text of a value, falling back to String() for what EDN cannot print. */
export function edn(v: unknown): string {
  try {
    return printEdn(v);
  } catch {
    return String(v);
  }
}

/** A table cell: strings as they are, everything else as EDN. */
export function cell(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  return edn(v);
}

/** A value, row or result as --format json prints it: tagged JSON (json-values.ts), lossless. */
export function toJsonValue(v: unknown): unknown {
  return encodeJsonValue(v);
}

/** An aligned text table. Numbers are right-aligned; control characters are shown escaped. */
export function renderTable(columns: string[], rows: unknown[][]): string {
  const header = columns.map(escapeControls);
  const text = rows.map((r) => r.map((c) => escapeControls(cell(c))));
  const widths = header.map((c, i) => Math.max(displayWidth(c), ...text.map((r) => displayWidth(r[i] ?? ''))));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint' || r[i] instanceof BigDec));
  const fmt = (cells: string[], isHeader = false) =>
    cells
      .map((c, i) => {
        const pad = ' '.repeat(widths[i]! - displayWidth(c));
        return numeric[i] && !isHeader ? pad + c : c + pad;
      })
      .join(' | ')
      .trimEnd();
  const lines = [fmt(header, true), widths.map((w) => '-'.repeat(w)).join('-+-')];
  for (const r of text) lines.push(fmt(r));
  return lines.join('\n');
}

const NAMED_CONTROLS: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
// C0 and C1 controls and DEL, which a terminal would act on (an escape sequence can recolour or
// clear the screen), and the separators and bidi overrides that would move text around
const CONTROL = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** Text with control characters written as escapes (\t, \r, \n, \u001b...), for one table cell. */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => NAMED_CONTROLS[c] ?? `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** A grapheme of combining marks and format characters (zero-width joiner, soft hyphen...) alone. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}]+$/u;
/** Emoji shown as pictures: two columns, like wide characters. */
const EMOJI = /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|\p{Regional_Indicator}/u;
/** East Asian Wide and Fullwidth blocks (Unicode EastAsianWidth.txt, W and F, emoji aside). */
const WIDE: [number, number][] = [
  [0x1100, 0x115f], // Hangul Jamo initial consonants
  [0x2e80, 0x303e], // CJK radicals, Kangxi, ideographic description, CJK symbols and punctuation
  [0x3041, 0x33ff], // Hiragana, Katakana, Bopomofo, Hangul compatibility Jamo, Kanbun, CJK compatibility
  [0x3400, 0x4dbf], // CJK extension A
  [0x4e00, 0x9fff], // CJK unified ideographs
  [0xa000, 0xa4cf], // Yi
  [0xa960, 0xa97f], // Hangul Jamo extended A
  [0xac00, 0xd7a3], // Hangul syllables
  [0xf900, 0xfaff], // CJK compatibility ideographs
  [0xfe10, 0xfe19], // vertical forms
  [0xfe30, 0xfe6f], // CJK compatibility forms, small form variants
  [0xff00, 0xff60], // fullwidth forms
  [0xffe0, 0xffe6], // fullwidth signs
  [0x16fe0, 0x16fe4], // ideographic symbols
  [0x17000, 0x18cff], // Tangut, Khitan
  [0x1b000, 0x1b2ff], // Kana supplement and extensions, Nushu
  [0x1f200, 0x1f2ff], // enclosed ideographic supplement
  [0x20000, 0x3fffd], // CJK extensions B and later
];

/**
 * Columns a text takes on a terminal: East Asian wide and fullwidth characters and emoji 2,
 * combining marks 0, everything else 1 (control characters are escaped before this is asked).
 */
export function displayWidth(text: string): number {
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += graphemeWidth(segment);
  return width;
}

function graphemeWidth(grapheme: string): number {
  if (ZERO_WIDTH.test(grapheme)) return 0;
  if (EMOJI.test(grapheme)) return 2;
  const cp = grapheme.codePointAt(0)!;
  return WIDE.some(([lo, hi]) => cp >= lo && cp <= hi) ? 2 : 1;
}

/** Rows of named columns in a format: a table, one EDN map per line, or JSON lines. */
export function renderRows(columns: string[], rows: unknown[][], format: OutputFormat): string {
  if (format === 'table') return renderTable(columns, rows);
  const lines = rows.map((r) => {
    if (format === 'json') {
      return JSON.stringify(encodeJsonObject(Object.fromEntries(columns.map((c, i) => [c, r[i]])), false));
    }
    return '{' + columns.map((c, i) => `:${c} ${edn(r[i])}`).join(', ') + '}';
  });
  return lines.join('\n');
}

/** A query result as columns and rows, whatever its find spec. */
export function resultTable(query: Query, result: unknown): { columns: string[]; rows: unknown[][]; scalar: boolean } {
  const find = query.find;
  if (query.returnMap && Array.isArray(result) && result.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    // the names from :keys/:strs/:syms, so that a result without rows still has its header
    const columns = query.returnMap.names;
    return { columns, rows: result.map((r) => columns.map((c) => (r as Record<string, unknown>)[c])), scalar: false };
  }
  switch (find.kind) {
    case 'find-rel':
      return { columns: find.elements.map(printFindElem), rows: (result as unknown[][]).map((r) => [...r]), scalar: false };
    case 'find-tuple':
      return { columns: find.elements.map(printFindElem), rows: result === null || result === undefined ? [] : [[...(result as unknown[])]], scalar: true };
    case 'find-coll':
      return { columns: [printFindElem(find.element)], rows: (result as unknown[]).map((v) => [v]), scalar: false };
    case 'find-scalar':
      return { columns: [printFindElem(find.element)], rows: result === null || result === undefined ? [] : [[result]], scalar: true };
  }
}

/** Print a query result. `limit` keeps the first rows of a relation or collection. */
export function renderResult(query: Query, result: unknown, format: OutputFormat, limit?: number): { text: string; count: number; total: number } {
  const table = resultTable(query, result);
  const total = table.rows.length;
  const rows = limit === undefined ? table.rows : table.rows.slice(0, limit);
  let value: unknown = result;
  if (limit !== undefined && Array.isArray(result) && !table.scalar) value = result.slice(0, limit);
  let text: string;
  if (format === 'table') text = renderTable(table.columns, rows);
  else if (format === 'json') text = JSON.stringify(resultJson(query, value));
  else if (Array.isArray(value) && !table.scalar) text = value.length === 0 ? '[]' : '[' + value.map(edn).join('\n ') + ']';
  else text = edn(value ?? null);
  return { text, count: rows.length, total };
}

/** A query result in JSON: relations, collections and tuples as arrays (of rows), each value tagged. */
function resultJson(query: Query, value: unknown): unknown {
  // a row of :keys / :strs / :syms is an object of its columns; an array in it is a tuple value
  const row = (r: unknown) =>
    r !== null && typeof r === 'object' && !Array.isArray(r) ? encodeJsonObject(r as Record<string, unknown>, false) : (r as unknown[]).map((x) => encodeJsonValue(x));
  switch (query.find.kind) {
    case 'find-scalar':
      return encodeJsonValue(value);
    case 'find-coll':
      return (value as unknown[]).map((x) => encodeJsonValue(x));
    case 'find-tuple':
      return value === null || value === undefined ? null : row(value);
    case 'find-rel':
      return (value as unknown[]).map(row);
  }
}

/**
 * A transaction's tempids as EDN map entries. The report keys them as strings, so a negative
 * number given as a tempid (-1) is printed as a number again (a string tempid "-1" is taken for it).
 */
export function tempidEntries(tempids: Record<string, number>): string[] {
  return Object.entries(tempids).map(([key, id]) => `${edn(/^-\d+$/.test(key) ? Number(key) : key)} ${id}`);
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
