// The stores of this process not closed yet: closed through the environment gate at exit.
import { EnvironmentGateError } from './env-gate.js';

/** What closing at exit needs of a store. */
export interface ClosableAtExit {
  /** Close without flushing; a process stopped inside the gate makes it throw EnvironmentGateError. */
  closeNow(): void;
}

/**
 * Stores not closed yet. At exit they are closed through the gate (env-gate.ts); lmdb-js would
 * otherwise close them in its own exit hook, outside it.
 */
const openStores = new Set<ClosableAtExit>();
let exitHookAdded = false;

export function closeAtExit(store: ClosableAtExit): void {
  if (!exitHookAdded) process.once('exit', () => [...openStores].forEach(closeAtExitNow));
  exitHookAdded = true;
  openStores.add(store);
}

export function isOpen(store: ClosableAtExit): boolean {
  return openStores.has(store);
}

/** Forgets a store being closed; false when it was closed already. */
export function forgetOpen(store: ClosableAtExit): boolean {
  return openStores.delete(store);
}

/** At exit, a process stopped inside the gate (storage/gate-stopped) is no reason to end with a stack trace. */
function closeAtExitNow(store: ClosableAtExit): void {
  try {
    store.closeNow();
  } catch (err) {
    if (!(err instanceof EnvironmentGateError)) throw err;
  }
}
