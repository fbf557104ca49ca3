// Output: aligned tables for people, EDN and JSON for programs. Shared by the CLI and the REPL.
import { BigDec, Char, EdnList, Keyword, Sym, Tagged, Uuid } from '../../query-lang/edn/types.js';
import { printEdn } from '../../query-lang/edn/printer.js';
import type { Query } from '../../query-lang/datalog/ast.js';
import { printFindElem } from '../query/print.js';

export type OutputFormat = 'table' | 'edn' | 'json';

/** The format to use when none is given: tables for a terminal, EDN for pipes. */
export function defaultFormat(explicit: string | undefined, allowed: OutputFormat[] = ['table', 'edn', 'json']): OutputFormat {
  if (explicit === undefined) return process.stdout.isTTY && allowed.includes('table') ? 'table' : allowed.includes('edn') ? 'edn' : allowed[0]!;
  if (!(allowed as string[]).includes(explicit)) {
    throw new Error(`unknown format ${JSON.stringify(explicit)} (one of ${allowed.join(', ')})`);
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

/** JSON-friendly form: keywords ":ns/name", instants ISO, uuids strings, bigints as strings, sets as arrays. */
export function toJsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v !== 'object') return v;
  if (v instanceof Keyword || v instanceof Sym || v instanceof Uuid || v instanceof Char || v instanceof BigDec) return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v instanceof EdnList) return v.items.map(toJsonValue);
  if (v instanceof Set) return [...v].map(toJsonValue);
  if (v instanceof Tagged) return { [`#${v.tag}`]: toJsonValue(v.value) };
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, val] of v) o[typeof k === 'string' ? k : cell(k)] = toJsonValue(val);
    return o;
  }
  const o: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) o[k] = toJsonValue(val);
  return o;
}

/** An aligned text table. Numbers are right-aligned. */
export function renderTable(columns: string[], rows: unknown[][]): string {
  const text = rows.map((r) => r.map((c) => cell(c).replace(/\n/g, '\\n')));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => (r[i] ?? '').length)));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || typeof r[i] === 'bigint'));
  const fmt = (cells: string[], header = false) =>
    cells
      .map((c, i) => (numeric[i] && !header ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join(' | ')
      .trimEnd();
  const lines = [fmt(columns, true), widths.map((w) => '-'.repeat(w)).join('-+-')];
  for (const r of text) lines.push(fmt(r));
  return lines.join('\n');
}

/** Rows of named columns in a format: a table, one EDN map per line, or JSON lines. */
export function renderRows(columns: string[], rows: unknown[][], format: OutputFormat): string {
  if (format === 'table') return renderTable(columns, rows);
  const lines = rows.map((r) => {
    if (format === 'json') {
      const o: Record<string, unknown> = {};
      columns.forEach((c, i) => (o[c] = toJsonValue(r[i])));
      return JSON.stringify(o);
    }
    return '{' + columns.map((c, i) => `:${c} ${edn(r[i])}`).join(', ') + '}';
  });
  return lines.join('\n');
}

/** A query result as columns and rows, whatever its find spec. */
export function resultTable(query: Query, result: unknown): { columns: string[]; rows: unknown[][]; scalar: boolean } {
  const find = query.find;
  if (query.returnMap && Array.isArray(result) && result.every((r) => r !== null && typeof r === 'object' && !Array.isArray(r))) {
    const columns = [...new Set(result.flatMap((r) => Object.keys(r as object)))];
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
  else if (format === 'json') text = JSON.stringify(toJsonValue(value));
  else if (Array.isArray(value) && !table.scalar) text = value.length === 0 ? '[]' : '[' + value.map(edn).join('\n ') + ']';
  else text = edn(value ?? null);
  return { text, count: rows.length, total };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
