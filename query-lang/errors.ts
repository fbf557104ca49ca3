// Every error factlog throws on purpose is a FactlogError with a stable `code`.
import type { SourcePos } from './edn/types.js';

export class FactlogError extends Error {
  /** Stable machine-readable code, e.g. 'edn/syntax', 'tx/unique-conflict'. */
  readonly code: string;
  /** Where in the source text the offending form starts, when known. */
  readonly pos?: SourcePos;
  /** The offending form, printed as EDN, when there is one. */
  readonly form?: string;

  constructor(code: string, message: string, details: { pos?: SourcePos; form?: string } = {}) {
    const where = details.pos ? ` (at ${details.pos.line}:${details.pos.column})` : '';
    super(message + where);
    this.name = new.target.name;
    this.code = code;
    this.pos = details.pos;
    this.form = details.form;
  }
}

/** What user code threw, for a message: an Error's name and message, else the value as text. */
export function describeThrown(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return 'a value that cannot be printed';
  }
}
