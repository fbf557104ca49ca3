// A query's inputs in its :in order, from a db and the other arguments given apart (a server
// request's "args", a command line's EDN arguments): `$` takes the db, every other binding the next one.
import type { Binding } from '../../query-lang/datalog/ast.js';

export interface PlacingInputs<A> {
  /** An argument as the binding at `position` (0-based among the non-$ bindings) takes it. */
  read(arg: A, position: number, binding: Binding): unknown;
  /** Fewer arguments than the query's bindings besides $. */
  missing(binding: Binding, expected: number): Error;
  /** More arguments than the query takes. */
  extra(taken: number, given: number): Error;
}

export function placeInputs<A>(ins: readonly Binding[], db: unknown, args: readonly A[], how: PlacingInputs<A>): unknown[] {
  const bindings: readonly Binding[] = ins.length ? ins : [{ kind: 'src', name: '$' } as Binding];
  const inputs: unknown[] = [];
  let next = 0;
  for (const b of bindings) {
    if (b.kind === 'src' && b.name === '$') inputs.push(db);
    else {
      if (next >= args.length) throw how.missing(b, bindings.length - 1);
      inputs.push(how.read(args[next]!, next, b));
      next++;
    }
  }
  if (next < args.length) throw how.extra(next, args.length);
  return inputs;
}
