// How a predictor's Worker is made (its thread module, workerData, heap limit), and the one
// `cog-node serve` starts before anything else loads: parked, told what to load as soon as cog.yaml
// is read, what it says kept, until the runtime asks for a worker of those options and adopts it.
import { AsyncResource } from 'node:async_hooks';
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { environmentNow, readSettings } from '../../load/settings.js';
import { fromSource, ownModule } from '../../own-files.js';
import type { ToWorker, WorkerOptions } from './protocol.js';

// Run from TypeScript sources (tests): the worker needs tsx to load thread.ts.
const threadUrl = (): { url: URL; execArgv: string[] } => ({
  url: ownModule('runtime/worker/thread'),
  execArgv: fromSource ? ['--import', 'tsx'] : [],
});

/**
 * `workerData` undefined: the worker waits for a 'load' message (thread.ts). A parked one keeps its
 * stdout and stderr (`stdio`) until adopted; the others' go straight to this thread's.
 */
function construct(workerData: WorkerOptions | undefined, maxHeapMb: number, stdio = false): Worker {
  const { url, execArgv } = threadUrl();
  const resourceLimits = maxHeapMb > 0 ? { maxOldGenerationSizeMb: maxHeapMb } : undefined;
  return new Worker(url, { workerData, execArgv, resourceLimits, stdout: stdio, stderr: stdio });
}

/** The events the host listens to; the parked worker's are recorded in order and replayed to it. */
const EVENTS = ['message', 'error', 'exit'] as const;
const OUTPUTS = ['stdout', 'stderr'] as const;

/**
 * Writes to this thread's stdout or stderr in the async context of the caller (the runtime's load,
 * inside the server's log capture): what a worker prints while it imports the predictor is then
 * setup logs, as for a worker made there, whose output the Worker writes in its maker's context.
 */
function outputHere(source: (typeof OUTPUTS)[number]): { write: (chunk: Buffer) => void; stream: Writable } {
  const write = AsyncResource.bind((chunk: Buffer, done: () => void) => {
    if (process[source].write(chunk)) done();
    else process[source].once('drain', done);
  });
  return {
    write: (chunk) => write(chunk, () => undefined),
    stream: new Writable({ write: (chunk: Buffer, _encoding, done) => write(chunk, done) }),
  };
}

interface Parked {
  worker: Worker;
  /** Its heap limit, fixed when it was made: a runtime that wants another makes its own worker. */
  maxHeapMb: number;
  /** The options it was told to load (`key`), if it was. */
  told: string | undefined;
  /** Its events and output, in order. */
  said: [(typeof EVENTS)[number] | (typeof OUTPUTS)[number], unknown[]][];
  /** Stops recording them. */
  unlisten: (() => void)[];
}

let parked: Parked | undefined;

/**
 * `cog-node serve`, first of all: starts a worker that boots and imports the predictor's side of
 * cog-node while this thread still loads the addon, reads cog.yaml and imports the server; it is
 * told what to load once cog.yaml is read (`tellParkedWorker`), else when the runtime adopts it
 * (`predictorWorker`). Measured on the echo
 * predictor: both threads take ~100 ms to get there, and made at the runtime's request the
 * worker started only after the server's part, one after the other.
 */
export function prelaunchWorker(): void {
  if (parked !== undefined) return;
  // The heap limit as the environment sets it now; cog.yaml may set another (then it goes unused).
  const maxHeapMb = readSettings().workerMaxHeapMb;
  const worker = construct(undefined, maxHeapMb, true);
  // Until adopted it keeps no process alive: a `serve` that fails before its runtime exists still exits.
  worker.unref();
  const entry: Parked = { worker, maxHeapMb, told: undefined, said: [], unlisten: [] };
  for (const name of [...EVENTS, ...OUTPUTS]) {
    const listener = (...args: unknown[]) => void entry.said.push([name, args]);
    const emitter = name === 'stdout' || name === 'stderr' ? worker[name] : worker;
    const event = emitter === worker ? name : 'data';
    emitter.on(event, listener);
    entry.unlisten.push(() => emitter.off(event, listener));
  }
  parked = entry;
}

const key = (workerData: WorkerOptions): string =>
  JSON.stringify([workerData.ref, workerData.cwd, workerData.kind, workerData.echoLogs, workerData.instance ?? null]);

/** Tells it what to load, with the environment a worker made now would get (cog.yaml's applied). */
function tell(entry: Parked, workerData: WorkerOptions): void {
  entry.told = key(workerData);
  entry.worker.postMessage({ type: 'load', options: workerData, env: environmentNow() } satisfies ToWorker);
}

/**
 * Once cog.yaml is read, before the server's modules load: the parked worker starts loading the
 * predictor the runtime will ask for (a real model's imports then overlap the server's too).
 */
export function tellParkedWorker(workerData: WorkerOptions, maxHeapMb: number): void {
  if (parked !== undefined && parked.told === undefined && parked.maxHeapMb === maxHeapMb) tell(parked, workerData);
}

/**
 * A worker loading these options: the parked one when it fits (same heap limit; told these
 * options, or nothing yet). `attach` adds the host's listeners, anything it said while parked is
 * replayed to them, and it is told what to load if it was not. Else a new one.
 */
export function predictorWorker(workerData: WorkerOptions, maxHeapMb: number, attach: (worker: Worker) => void): Worker {
  const entry = parked;
  if (entry === undefined || entry.maxHeapMb !== maxHeapMb || (entry.told !== undefined && entry.told !== key(workerData))) {
    const worker = construct(workerData, maxHeapMb);
    attach(worker);
    return worker;
  }
  parked = undefined;
  const { worker, said } = entry;
  for (const stop of entry.unlisten) stop();
  worker.ref();
  attach(worker);
  const output = { stdout: outputHere('stdout'), stderr: outputHere('stderr') };
  for (const [name, args] of said) {
    if (name === 'stdout' || name === 'stderr') output[name].write(args[0] as Buffer);
    else worker.emit(name, ...args);
  }
  for (const name of OUTPUTS) worker[name].pipe(output[name].stream);
  if (entry.told === undefined) tell(entry, workerData);
  return worker;
}

/** Ends the parked worker if nobody adopted it (a gateway, or another heap limit, ran no predictor in it). */
export async function discardParkedWorker(): Promise<void> {
  const entry = parked;
  parked = undefined;
  await entry?.worker.terminate();
}
