// Result objects keyed by user-chosen names (tempids, idents, :keys, pull's :as) keep every name as an own key.

/**
 * Set `key` on a plain result object as an own, enumerable property. Plain assignment of
 * "__proto__" would change the object's prototype instead and the key would be missing.
 */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
  else target[key] = value;
}
