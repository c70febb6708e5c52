// A prediction's logs: what code writes to stdout/stderr (console.* included) goes to the
// prediction (or setup) it runs in, found through its async context (async-context.ts); other
// writes pass unchanged.
import { currentContext, disableContext, runInContext, runOutside } from '../predictor/async-context.js';
import type { Scope } from '../predictor/scope.js';

export type LogSource = 'stdout' | 'stderr';
export type LogSink = (text: string, source: LogSource) => void;

let installed = false;
let beforeEcho: (() => void) | undefined;

/** Runs `fn` before each echoed log write (the CLI's status line erases itself; undefined: nothing). */
export function onEcho(fn: (() => void) | undefined): void {
  beforeEcho = fn;
}

/**
 * Routes what code writes to stdout/stderr (console.* included) to the sink of the prediction
 * (or setup) it runs in, found through AsyncLocalStorage: concurrent predictions never see each
 * other's lines. Writes outside any capture go to the real streams unchanged.
 */
function install(): void {
  if (installed) return;
  installed = true;
  const stderr = process.stderr.write.bind(process.stderr) as (...args: unknown[]) => boolean;
  for (const source of ['stdout', 'stderr'] as const) {
    const stream = process[source];
    const original = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      const capture = currentContext()?.capture;
      if (capture === undefined) return original(chunk, ...rest);
      const encoding = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(encoding);
      capture.sink(text, source);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (capture.echo) {
        beforeEcho?.();
        return stderr(chunk, ...rest);
      }
      callback?.();
      return true;
    }) as typeof stream.write;
  }
}

export function captureLogs<T>(sink: LogSink, fn: () => T, echo = false): T {
  return runPredictionCode(currentContext()?.scope, sink, fn, echo);
}

/** Runs a prediction's code in `scope`, what it prints going to `sink`: one context for both, not a capture around a scope. */
export function runPredictionCode<T>(scope: Scope | undefined, sink: LogSink, fn: () => T, echo = false): T {
  install();
  return runInContext({ scope, capture: { sink, echo } }, fn);
}

/**
 * Turns this thread's capture off until the next `captureLogs`, for a thread where no capture is
 * running and none is needed (the server's, once its predictors run in worker threads): while an
 * async context's AsyncLocalStorage is enabled every promise pays its hooks, ~3% of the server thread's CPU per
 * echo request (promiseInitHook, _propagate; benches/README.md "HTTP server").
 */
export function stopCapturing(): void {
  // A prediction run in this thread may still be awaiting: disabling would send its lines out.
  if (inThisThread > 0) return;
  disableContext();
}

/** Predictors that run in this thread (embedded, `--in-process`): while any does, capture stays on. */
let inThisThread = 0;

/** Says that a predictor runs in this thread from now on (until the returned function is called). */
export function predictorInThisThread(): () => void {
  inThisThread += 1;
  let released = false;
  return () => {
    if (!released) inThisThread -= 1;
    released = true;
  };
}

/** Runs `fn` with no capture: what it writes goes to the real streams. */
export function outsideCapture<T>(fn: () => T): T {
  return runInContext({ scope: currentContext()?.scope, capture: undefined }, fn);
}

/** Runs `fn` outside any prediction: no scope, no capture (the runner's own work amid a prediction's). */
export const outsidePrediction: <T>(fn: () => T) => T = runOutside;
