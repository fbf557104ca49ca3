// Transaction functions and predicates registered on open, and the expansion of tx-function calls
// in tx data into the tx data they return (Datomic's semantics: each call sees the db before the tx).
import { EdnList, Keyword } from '../../query-lang/edn/types.js';
import { describeThrown, FactlogError } from '../../query-lang/errors.js';
import type { Db } from '../db/db.js';
import { txError, type FormRef } from './errors.js';
import { BUILT_IN_OPERATIONS, describe, keywordOf, noteFormOrigin, readTxData } from './txdata.js';

/** A transaction function: the db before the transaction and the call's arguments -> tx data. */
export type TxFn = (db: Db, ...args: any[]) => unknown;
/** An attribute predicate (value -> truthy) or an entity predicate ((db after, entity id) -> truthy). */
export type Predicate = (...args: any[]) => unknown;

export interface FunctionOptions {
  /** Transaction functions by name ('bank/transfer' or ':bank/transfer'), called as `[:bank/transfer ...]`. */
  txFns?: Record<string, TxFn>;
  /** Attribute and entity predicates by name, as `:db.attr/preds` and `:db.entity/preds` name them. */
  predicates?: Record<string, Predicate>;
}

/** What a transaction may call, by name without the colon. */
export interface TxFunctions {
  readonly txFns: ReadonlyMap<string, TxFn>;
  readonly predicates: ReadonlyMap<string, Predicate>;
  /**
   * Whether asserted values are checked against their attribute's predicates. An import replays
   * facts that were checked when first written, and needs no predicate registered.
   */
  readonly checkAttrPreds: boolean;
}

export const NO_FUNCTIONS: TxFunctions = { txFns: new Map(), predicates: new Map(), checkAttrPreds: true };

/** How deep tx-function calls may nest (a call in the tx data a call returned is one deeper). */
export const MAX_TX_FN_DEPTH = 64;
/** How many tx-function calls one transaction may make in all (a function calling itself twice doubles). */
export const MAX_TX_FN_CALLS = 100_000;

/** The registry of `open`'s options, checked: names that read as keywords, functions as values. */
export function functionRegistry(options: FunctionOptions, checkAttrPreds = true): TxFunctions {
  const txFns = namedFunctions(options.txFns, 'txFns');
  for (const name of txFns.keys()) {
    if (BUILT_IN_OPERATIONS.has(name)) throw invalidOption(`txFns: ${name} is a built-in operation`);
  }
  return { txFns, predicates: namedFunctions(options.predicates, 'predicates'), checkAttrPreds };
}

function namedFunctions<F>(given: Record<string, F> | undefined, option: string): Map<string, F> {
  const out = new Map<string, F>();
  if (given === undefined || given === null) return out;
  if (typeof given !== 'object') throw invalidOption(`${option} must be an object of name -> function`);
  for (const [name, fn] of Object.entries(given)) {
    const kw = keywordOf(name);
    if (!kw || !kw.ns) throw invalidOption(`${option}: ${JSON.stringify(name)} is not a namespaced name such as "bank/transfer"`);
    if (typeof fn !== 'function') throw invalidOption(`${option}: ${name} is ${typeof fn}, not a function`);
    out.set(kw.fqn, fn);
  }
  return out;
}

function invalidOption(message: string): FactlogError {
  return new FactlogError('conn/invalid-option', message);
}

/**
 * Replace every call of a registered transaction function in `forms` by the tx data it returns,
 * recursively. Every call gets the same `db`, the value before the transaction: as in Datomic, a
 * function sees neither the rest of the tx data nor what other functions return.
 */
export function expandTxFns(db: Db, forms: unknown[], fns: TxFunctions): unknown[] {
  if (fns.txFns.size === 0) return forms;
  return new Expansion(db, fns).expand(forms, []);
}

class Expansion {
  private calls = 0;

  constructor(
    private readonly db: Db,
    private readonly fns: TxFunctions,
  ) {}

  expand(forms: unknown[], chain: Keyword[]): unknown[] {
    let out: unknown[] | undefined;
    for (let i = 0; i < forms.length; i++) {
      const call = this.callOf(forms[i]);
      if (call === undefined) {
        out?.push(forms[i]);
        continue;
      }
      out ??= forms.slice(0, i);
      for (const form of this.run(call, chain)) out.push(form);
    }
    return out ?? forms;
  }

  /** The call `form` makes of a registered function, if it is one. */
  private callOf(form: unknown): { name: Keyword; fn: TxFn; args: unknown[]; form: FormRef } | undefined {
    const items = form instanceof EdnList ? form.items : Array.isArray(form) ? form : undefined;
    if (items === undefined || items.length === 0) return undefined;
    const name = keywordOf(items[0]);
    const fn = name && this.fns.txFns.get(name.fqn);
    return fn ? { name: name!, fn, args: items.slice(1), form: describe(form) } : undefined;
  }

  private run(call: { name: Keyword; fn: TxFn; args: unknown[]; form: FormRef }, chain: Keyword[]): unknown[] {
    const path = [...chain, call.name];
    if (path.length > MAX_TX_FN_DEPTH) {
      const cycle = new Set(path.map((k) => k.fqn)).size < path.length ? ' (a cycle?)' : '';
      const shown = path.slice(0, 6).join(' -> ');
      throw txError('tx/fn-too-deep', `transaction functions nested deeper than ${MAX_TX_FN_DEPTH} calls${cycle}: ${shown} -> ...`, call.form);
    }
    if (++this.calls > MAX_TX_FN_CALLS) {
      throw txError('tx/fn-too-deep', `more than ${MAX_TX_FN_CALLS} transaction function calls in one transaction`, call.form);
    }
    const forms = this.txDataOf(call, this.invoke(call));
    for (const form of forms) noteFormOrigin(form, call.name.toString());
    return this.expand(forms, path);
  }

  private invoke(call: { name: Keyword; fn: TxFn; args: unknown[]; form: FormRef }): unknown {
    let result: unknown;
    try {
      result = call.fn(this.db, ...call.args);
    } catch (err) {
      const error = txError('tx/fn-failed', `transaction function ${call.name} threw ${describeThrown(err)}`, call.form);
      error.cause = err;
      throw error;
    }
    if (isThenable(result)) {
      result.then(undefined, () => {}); // refused below; its rejection is no one's to handle
      throw txError(
        'tx/fn-async',
        `transaction function ${call.name} returned a Promise: transaction functions run inside the write transaction and return tx data synchronously`,
        call.form,
      );
    }
    return result;
  }

  /** What a function returned, as tx forms: a vector or list of forms, EDN text of one, or nil for none. */
  private txDataOf(call: { name: Keyword; form: FormRef }, result: unknown): unknown[] {
    if (result === null || result === undefined) return [];
    try {
      return readTxData(result);
    } catch (err) {
      if (!(err instanceof FactlogError)) throw err;
      const error = txError(err.code, `transaction function ${call.name} returned ${describe(result).text}, not tx data: ${err.message}`, call.form);
      error.cause = err;
      throw error;
    }
  }
}

export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}
