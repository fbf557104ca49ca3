// Destructuring of values into binding forms (scalar, tuple, collection, relation), for :in and function outputs.
import type { Binding } from '../../query-lang/datalog/ast.js';
import { bindingVars } from './vars.js';
import { printBinding } from './print.js';
import { printValue } from './builtins.js';
import { queryError } from './errors.js';
import { valueKey } from './values.js';
import { EdnList } from '../../query-lang/edn/types.js';

type Assignment = Map<string, unknown>;

function seq(v: unknown): unknown[] | null {
  if (Array.isArray(v)) return v;
  if (v instanceof EdnList) return v.items;
  if (v instanceof Set) return [...v];
  if (v !== null && typeof v === 'object' && typeof (v as Iterable<unknown>)[Symbol.iterator] === 'function' && !(v instanceof Map)) {
    return [...(v as Iterable<unknown>)];
  }
  return null;
}

function merge(a: Assignment, b: Assignment): Assignment | null {
  const out = new Map(a);
  for (const [k, v] of b) {
    if (out.has(k) && valueKey(out.get(k)) !== valueKey(v)) return null;
    out.set(k, v);
  }
  return out;
}

function expand(b: Binding, value: unknown, form: object, dropNil: boolean): Assignment[] {
  switch (b.kind) {
    case 'var':
      if (dropNil && (value === null || value === undefined)) return [];
      return [new Map([[b.name, value]])];
    case 'blank':
      return [new Map()];
    case 'bind-tuple': {
      const xs = seq(value);
      if (!xs || xs.length < b.elements.length) {
        throw queryError('query/input-shape', `Cannot bind ${printValue(value)} to tuple ${printBinding(b)}`, form as never, printBinding(b));
      }
      let acc: Assignment[] = [new Map()];
      b.elements.forEach((el, i) => {
        const parts = expand(el, xs[i], form, dropNil);
        const next: Assignment[] = [];
        for (const a of acc)
          for (const p of parts) {
            const m = merge(a, p);
            if (m) next.push(m);
          }
        acc = next;
      });
      return acc;
    }
    case 'bind-coll': {
      const xs = seq(value);
      if (!xs) throw queryError('query/input-shape', `Cannot bind ${printValue(value)} to collection ${printBinding(b)}`, form as never, printBinding(b));
      return xs.flatMap((x) => expand(b.element, x, form, dropNil));
    }
    case 'bind-rel': {
      const xs = seq(value);
      if (!xs) throw queryError('query/input-shape', `Cannot bind ${printValue(value)} to relation ${printBinding(b)}`, form as never, printBinding(b));
      const tuple: Binding = { kind: 'bind-tuple', elements: b.elements };
      return xs.flatMap((x) => expand(tuple, x, form, dropNil));
    }
    default:
      throw queryError('query/invalid-binding', `${printBinding(b)} cannot be bound here`, form as never, printBinding(b));
  }
}

/** Rows aligned with `bindingVars(b)`. */
export function expandBinding(b: Binding, value: unknown, form: object, dropNil: boolean): unknown[][] {
  const vars = bindingVars(b);
  return expand(b, value, form, dropNil).map((a) => vars.map((v) => a.get(v)));
}
