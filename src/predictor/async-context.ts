// A prediction's async context: its scope (scope.ts) and where what it prints goes (log-capture.ts),
// in one AsyncLocalStorage shared by every copy of cog-node in the process. One store, not one each:
// while a store is enabled every promise pays its hooks (an async generator's step: 0.24 µs with
// none, 0.57 with one store, 0.92 with two, on Node 20).
import { AsyncLocalStorage } from 'node:async_hooks';
import { processSingleton } from './brand.js';
import type { Scope } from './scope.js';

/** Where a prediction's stdout/stderr writes go (log-capture.ts). */
export interface LogCapture {
  sink: (text: string, source: 'stdout' | 'stderr') => void;
  /** Also write to the real stderr (the CLI shows logs as they happen; its stdout is for the output alone). */
  echo: boolean;
}

export interface PredictionContext {
  readonly scope: Scope | undefined;
  readonly capture: LogCapture | undefined;
}

// Shared by every copy of cog-node in the process: a predictor's file may import its own copy
// (another install, a test runner's module graph) and must still see the runtime's scope.
const storage = processSingleton('prediction-context', () => new AsyncLocalStorage<PredictionContext>());

/** Outside any prediction and any capture. */
const NOWHERE: PredictionContext = Object.freeze({ scope: undefined, capture: undefined });

export function currentContext(): PredictionContext | undefined {
  return storage.getStore();
}

/**
 * Runs `fn` in this context. Leaving one is running in an empty store rather than `exit()`: on
 * Node 20 `exit` turns the promise hooks off and on again, which costs more than a store.
 */
export function runInContext<T>(context: PredictionContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Runs `fn` outside any prediction and capture: the runner's own work amid a prediction's. */
export function runOutside<T>(fn: () => T): T {
  return storage.run(NOWHERE, fn);
}

/** Turns the store off until the next `runInContext` (a thread where no prediction runs: log-capture.ts `stopCapturing`). */
export function disableContext(): void {
  storage.disable();
}
