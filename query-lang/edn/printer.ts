// EDN printer: printEdn(x) produces text that readEdn reads back to a deep-equal value.
import { Keyword, type Sym } from './types.js';
import { EdnPrintError } from './errors.js';
import { readEdn } from './reader.js';
import { printWith, rawName } from './print-core.js';

export { canonicalKey, MAX_PRINT_DEPTH, printString } from './print-core.js';

/** Whether each keyword or symbol (interned, so few) prints as text that reads back as itself. */
const readsBack = new Map<Keyword | Sym, boolean>();

/**
 * A keyword's or symbol's text, refused when it would not read back as the same one (':a;b'
 * reads as :a, 'nil' as nil, '12' as a number): stored tuples and exports hold printed text.
 */
function printName(name: Keyword | Sym): string {
  const text = rawName(name);
  if (!isReadableName(name)) throw new EdnPrintError(`${name instanceof Keyword ? 'keyword' : 'symbol'} ${JSON.stringify(text)} would not read back as itself`);
  return text;
}

/** True when the keyword or symbol prints as EDN that reads back as itself. */
export function isReadableName(name: Keyword | Sym): boolean {
  let ok = readsBack.get(name);
  if (ok === undefined) {
    const text = rawName(name);
    try {
      ok = readEdn(text) === name;
    } catch {
      ok = false;
    }
    readsBack.set(name, ok);
  }
  return ok;
}

/** Print a value as EDN text. Throws EdnPrintError ('edn/unprintable') for values EDN cannot express. */
export function printEdn(value: unknown): string {
  return printWith(value, printName);
}
