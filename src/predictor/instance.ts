// Which model instance this thread's predictor is (`this.instance`): one value per thread, set by
// the worker from its workerData before the predictor loads; `{ index: 0, count: 1 }` elsewhere.
import { processSingleton } from './brand.js';

/** One of the `count` model instances (`concurrency.instances`), each a worker with its own setup(). */
export interface ModelInstance {
  /** 0 .. count - 1: a GPU model picks `cuda:${index % cuda.deviceCount()}`. */
  readonly index: number;
  readonly count: number;
}

// Per thread (a worker has its own globalThis), shared by every copy of cog-node in it: a
// predictor's file may import its own copy and must still see the worker's value.
const current = processSingleton<{ value: ModelInstance }>('model-instance', () => ({ value: Object.freeze({ index: 0, count: 1 }) }));

/** This thread's model instance. */
export function currentInstance(): ModelInstance {
  return current.value;
}

/** Called once by a worker thread, before it loads the predictor. */
export function setCurrentInstance(instance: ModelInstance): void {
  current.value = Object.freeze({ index: instance.index, count: instance.count });
}
