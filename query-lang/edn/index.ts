export * from './types.js';
export { EdnSyntaxError, EdnPrintError } from './errors.js';
export { readEdn, readAllEdn, positionOf, setPositionOf, MAX_EDN_DEPTH } from './reader.js';
export { printEdn, canonicalKey, MAX_PRINT_DEPTH } from './printer.js';
export { ednLexer, tokenize, allTokens } from './lexer.js';
