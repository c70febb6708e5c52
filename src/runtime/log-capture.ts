// A prediction's logs: what code writes to stdout/stderr (console.* included) goes to the
// prediction (or setup) it runs in, found through AsyncLocalStorage; other writes pass unchanged.
import { AsyncLocalStorage } from 'node:async_hooks';

export type LogSource = 'stdout' | 'stderr';
export type LogSink = (text: string, source: LogSource) => void;

interface Capture {
  sink: LogSink;
  /** Also write to the real stderr (the CLI shows logs as they happen; its stdout is for the output alone). */
  echo: boolean;
}

const captures = new AsyncLocalStorage<Capture>();
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
      const capture = captures.getStore();
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
  install();
  return captures.run({ sink, echo }, fn);
}

/** Runs `fn` with no capture: what it writes goes to the real streams (no store: see outsideScope). */
export function outsideCapture<T>(fn: () => T): T {
  return captures.run(undefined as unknown as Capture, fn);
}
