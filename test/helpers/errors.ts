// The code of the error a call throws, or 'no error': for tests that expect a coded refusal.
export function errorCode(f: () => unknown): string | undefined {
  try {
    const result = f();
    // a lazy iterable fails only when read
    if (result && typeof result === 'object' && Symbol.iterator in result && typeof (result as Iterable<unknown>)[Symbol.iterator] === 'function' && !Array.isArray(result)) {
      for (const _ of result as Iterable<unknown>) void _;
    }
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
}

/** The error `fn` throws, or a failure when it returns. */
export function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected an error');
}
