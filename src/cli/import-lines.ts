// One line of an export file (transfer.ts) read into a transaction's datoms: JSON lines or EDN.
import { printEdn } from '../../query-lang/edn/printer.js';
import { readEdn } from '../../query-lang/edn/reader.js';
import { Keyword } from '../../query-lang/edn/types.js';
import { CliError } from './common.js';
import { decodeJsonValue, JsonValueError } from './json-values.js';

/** What reads an export's lines into a database (one line at a time or in batches). */
export interface LineImporter {
  /** Transactions imported so far. */
  readonly count: number;
  importLines(lines: { line: string; lineNo: number }[]): Promise<void>;
}

export interface ImportedDatom {
  e: number;
  attr: Keyword;
  v: unknown;
  added: boolean;
  /** Known from a JSON #ref tag; EDN lines leave it to the schema. */
  ref: boolean;
}

export interface ImportedTx {
  t: number;
  tx: number | undefined;
  datoms: ImportedDatom[];
}

export function parseLine(line: string, lineNo: number): ImportedTx {
  const text = line.trim();
  const bad = (why: string) => new CliError('cli/import', `line ${lineNo}: ${why}`);
  if (text.startsWith('{"') || text.startsWith('{ "')) {
    let o: any;
    try {
      o = JSON.parse(text);
    } catch (err) {
      throw bad(`invalid JSON: ${(err as Error).message}`);
    }
    if (!Number.isInteger(o.t) || !Array.isArray(o.datoms)) throw bad('expected {"t": ..., "datoms": [...]}');
    const datoms = o.datoms.map((d: unknown) => {
      if (!Array.isArray(d) || d.length !== 4 || typeof d[0] !== 'number' || typeof d[1] !== 'string' || typeof d[3] !== 'boolean') {
        throw bad(`a datom is [e ":attr" value added], got ${JSON.stringify(d)}`);
      }
      let decoded;
      try {
        decoded = decodeJsonValue(d[2]);
      } catch (err) {
        if (err instanceof JsonValueError) throw bad(err.message);
        throw err;
      }
      const { v, ref } = decoded;
      return { e: d[0], attr: Keyword.of(d[1]), v, added: d[3], ref };
    });
    return { t: o.t, tx: o.tx, datoms };
  }
  let m: unknown;
  try {
    m = readEdn(text);
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (!(m instanceof Map)) throw bad('expected a map {:t ... :datoms [...]}');
  const t = m.get(Keyword.of('t'));
  const datoms = m.get(Keyword.of('datoms'));
  if (typeof t !== 'number' || !Array.isArray(datoms)) throw bad('expected {:t ... :datoms [...]}');
  return {
    t,
    tx: m.get(Keyword.of('tx')) as number | undefined,
    datoms: datoms.map((d) => {
      if (!Array.isArray(d) || d.length !== 4 || typeof d[0] !== 'number' || !(d[1] instanceof Keyword) || typeof d[3] !== 'boolean') {
        throw bad(`a datom is [e :attr value added], got ${printEdn(d)}`);
      }
      return { e: d[0], attr: d[1], v: d[2], added: d[3], ref: false };
    }),
  };
}
