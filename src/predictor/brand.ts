/**
 * `instanceof` that holds across copies of cog-node in one process. A predictor's file may import
 * its own copy (another install, a test runner's module graph), so the `Path` it returns need not
 * be the runtime's `Path` class. Branded classes carry a registered symbol on their prototype,
 * and `instanceof` checks for the symbol instead of the prototype chain.
 */
export function brand(target: abstract new (...args: never[]) => unknown, name: string): void {
  const symbol = Symbol.for(`cog-node.${name}`);
  Object.defineProperty(target.prototype, symbol, { value: true });
  Object.defineProperty(target, Symbol.hasInstance, {
    value(this: unknown, value: unknown): boolean {
      // A user's subclass keeps the ordinary check: `x instanceof MySubclass`.
      if (this !== target) return Function.prototype[Symbol.hasInstance].call(this, value);
      return (typeof value === 'object' || typeof value === 'function') && value !== null && symbol in value;
    },
  });
}

/** One value per process, shared by every copy of cog-node loaded in it. */
export function processSingleton<T>(name: string, create: () => T): T {
  const key = Symbol.for(`cog-node.${name}`);
  const registry = globalThis as unknown as Record<symbol, T | undefined>;
  return (registry[key] ??= create());
}
