// How a predictor's Worker is made (its thread module, workerData, heap limit), and the workers
// `cog-node serve` starts before the server's own modules load: parked, what they say kept, until
// the runtime asks for a worker of the same options and adopts one.
import { Worker } from 'node:worker_threads';
import { resolvePlan, type PlanOptions } from '../../load/plan.js';
import type { WorkerOptions } from './protocol.js';

const threadUrl = (): { url: URL; execArgv: string[] } => {
  // Run from TypeScript sources (tests): the worker needs tsx to load thread.ts.
  if (import.meta.url.endsWith('.ts')) return { url: new URL('./thread.ts', import.meta.url), execArgv: ['--import', 'tsx'] };
  return { url: new URL('./thread.js', import.meta.url), execArgv: [] };
};

function construct(workerData: WorkerOptions, maxHeapMb: number): Worker {
  const { url, execArgv } = threadUrl();
  const resourceLimits = maxHeapMb > 0 ? { maxOldGenerationSizeMb: maxHeapMb } : undefined;
  return new Worker(url, { workerData, execArgv, resourceLimits });
}

/** The events the host listens to; a parked worker's are recorded in order and replayed to it. */
const EVENTS = ['message', 'error', 'exit'] as const;

interface Parked {
  worker: Worker;
  said: [(typeof EVENTS)[number], unknown[]][];
  listeners: ((...args: unknown[]) => void)[];
}

/** Parked workers by their options (`key`). */
const parked = new Map<string, Parked>();

const key = (workerData: WorkerOptions, maxHeapMb: number): string =>
  JSON.stringify([workerData.ref, workerData.cwd, workerData.kind, workerData.echoLogs, workerData.instance ?? null, maxHeapMb]);

/** Starts a worker for these options now and parks it (see `predictorWorker`). */
function park(workerData: WorkerOptions, maxHeapMb: number): void {
  const id = key(workerData, maxHeapMb);
  if (parked.has(id)) return;
  const worker = construct(workerData, maxHeapMb);
  // Until adopted it keeps no process alive: a `serve` that fails before its runtime exists still exits.
  worker.unref();
  const entry: Parked = { worker, said: [], listeners: [] };
  for (const name of EVENTS) {
    const listener = (...args: unknown[]) => void entry.said.push([name, args]);
    entry.listeners.push(listener);
    worker.on(name, listener);
  }
  parked.set(id, entry);
}

/**
 * A worker for these options: a parked one when there is one (`attach` adds the host's listeners,
 * then everything it said while parked is replayed to them, in order), else a new one.
 */
export function predictorWorker(workerData: WorkerOptions, maxHeapMb: number, attach: (worker: Worker) => void): Worker {
  const id = key(workerData, maxHeapMb);
  const entry = parked.get(id);
  if (entry === undefined) {
    const worker = construct(workerData, maxHeapMb);
    attach(worker);
    return worker;
  }
  parked.delete(id);
  const { worker, said, listeners } = entry;
  EVENTS.forEach((name, index) => worker.off(name, listeners[index]!));
  worker.ref();
  attach(worker);
  for (const [name, args] of said) worker.emit(name, ...args);
  return worker;
}

/** Ends the parked workers nobody adopted (the options the server used turned out different). */
export async function discardParkedWorkers(): Promise<void> {
  const left = [...parked.values()];
  parked.clear();
  await Promise.all(left.map(({ worker }) => worker.terminate()));
}

/**
 * `cog-node serve`: starts the workers that serving `cwd`'s cog.yaml will ask for, so that the
 * predictor's thread loads while this one still imports the server (measured on the echo
 * predictor: the server's imports took ~180 ms before its worker was made, and the worker then
 * ~100 ms more, one after the other). The same rules as the server's runtimes (server/source.ts,
 * runtime.ts): a reference runs in workers unless in-process; a trainer in one; a gateway
 * (`--redis`) in none. A mismatch only wastes a worker, which the caller discards once serving.
 */
export function prelaunchServe(cwd: string, options: PlanOptions & { inProcess?: boolean; redis?: string }): void {
  if (options.inProcess) return;
  let plan: ReturnType<typeof resolvePlan<never>>;
  try {
    plan = resolvePlan<never>(cwd, options);
  } catch {
    // A broken cog.yaml is the server's to report, as before.
    return;
  }
  if ((options.redis ?? plan.settings.redisUrl) !== undefined) return;
  const maxHeapMb = plan.runtime.workerMaxHeapMb;
  for (const kind of ['predict', 'train'] as const) {
    const ref = plan[kind];
    if (typeof ref !== 'string') continue;
    const count = kind === 'train' ? 1 : Math.max(1, plan.runtime.instances);
    for (let index = 0; index < count; index += 1) {
      const instance = count > 1 ? { index, count } : undefined;
      park({ ref, cwd: plan.cwd, kind, echoLogs: false, ...(instance && { instance }) }, maxHeapMb);
    }
  }
}
