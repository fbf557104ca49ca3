import { FactlogError } from '../errors.js';
import type { SourcePos } from './types.js';

/** A malformed EDN text. Codes: 'edn/syntax', 'edn/too-deep'. */
export class EdnSyntaxError extends FactlogError {
  constructor(message: string, details: { pos?: SourcePos; form?: string; code?: 'edn/syntax' | 'edn/too-deep' | 'edn/too-long' } = {}) {
    super(details.code ?? 'edn/syntax', message, details);
  }
}

/** A value printEdn cannot print (invalid Date, function, symbol, cyclic structure ...). Code 'edn/unprintable'. */
export class EdnPrintError extends FactlogError {
  constructor(message: string) {
    super('edn/unprintable', message);
  }
}
