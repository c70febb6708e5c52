// The model instances of `concurrency.instances: N`: N worker threads, each loading the predictor
// and running its own setup(). InstancePool routes each prediction to the least-loaded ready one,
// keeps which instance runs it (by its cancel token id), and replaces a dead one while the rest serve.
import { errorMessage, type ExecutionJob, type ExecutionResult, type ExecutionSink, type PredictorExecutor } from '../executor.js';
import type { PredictorInfo } from '../../load/load-module.js';
import type { LogSource } from '../log-capture.js';
import { WorkerExecutor, type WorkerDeath, type WorkerExecutorOptions } from './host.js';

/**
 * `setting-up`: its first setup or the one after a replacement; `ready`: takes predictions;
 * `replacing`: its worker died and a new one is loading; `failed`: its replacement failed to load
 * or set up, it takes no predictions again.
 */
type InstanceState = 'setting-up' | 'ready' | 'replacing' | 'failed';

interface Instance {
  readonly index: number;
  readonly executor: WorkerExecutor;
  state: InstanceState;
  /** Predictions running on it now: the load the router compares. */
  running: number;
}

export interface InstancePoolOptions extends Omit<WorkerExecutorOptions, 'instance'> {
  /** How many instances (>= 1). */
  count: number;
}

/** N `WorkerExecutor`s behind one `PredictorExecutor`. */
export class InstancePool implements PredictorExecutor {
  readonly #instances: Instance[];
  /** The instance each running prediction was sent to, by its cancel token's id. */
  readonly #byToken = new Map<number, Instance>();
  /** What the first setup was given: a replaced instance runs setup again with the same. */
  #setup: { weights: string | undefined; onLog: (text: string, source: LogSource) => void } | undefined;
  #closing = false;
  /**
   * Told when no instance is ready any more (`ready` false, with why) and when one is ready again
   * after that: while at least one instance is ready, a replacement is this pool's business only.
   */
  onReadiness: ((ready: boolean, reason: string) => void) | undefined;
  /** Told each time an instance is replaced (cog_worker_restarts_total counts them). */
  onReplaced: ((reason: WorkerDeath) => void) | undefined;

  private constructor(executors: WorkerExecutor[]) {
    this.#instances = executors.map((executor, index) => ({ index, executor, state: 'setting-up', running: 0 }));
    for (const instance of this.#instances) {
      instance.executor.onDeath = (reason, message) => void this.#replace(instance, reason, message);
    }
  }

  /** Starts `count` workers, each loading the predictor; rejects with the first load error. */
  static async start(options: InstancePoolOptions): Promise<{ pool: InstancePool; info: PredictorInfo }> {
    const { count, ...workerOptions } = options;
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, index) => WorkerExecutor.start({ ...workerOptions, instance: { index, count } })),
    );
    const loaded = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(loaded.map(({ executor }) => executor.close()));
      throw failed.reason;
    }
    return { pool: new InstancePool(loaded.map(({ executor }) => executor)), info: loaded[0]!.info };
  }

  get count(): number {
    return this.#instances.length;
  }

  /** Instances taking predictions now. */
  get ready(): number {
    return this.#instances.filter((instance) => instance.state === 'ready').length;
  }

  /** Runs setup in every instance at once; settles when all have set up, or with the first failure. */
  async setup(weights: string | undefined, onLog: (text: string, source: LogSource) => void): Promise<void> {
    this.#setup = { weights, onLog };
    await Promise.all(
      this.#instances.map(async (instance) => {
        instance.state = 'setting-up';
        await instance.executor.setup(weights, onLog);
        instance.state = 'ready';
      }),
    );
  }

  /** A ready instance's worker crashed or hung: load a new one and set it up, the others serving. */
  async #replace(instance: Instance, reason: WorkerDeath, message: string): Promise<void> {
    // A death during setup is that setup's failure (the runtime's), not a replacement's.
    if (this.#closing || instance.state !== 'ready') return;
    instance.state = 'replacing';
    const setup = this.#setup!;
    const why = reason === 'hung' ? 'was stopped (a canceled prediction ignored the grace period)' : `crashed (${message})`;
    setup.onLog(`model instance ${instance.index} ${why}; replacing it\n`, 'stderr');
    this.onReplaced?.(reason);
    if (this.ready === 0) this.onReadiness?.(false, `every model instance is down; instance ${instance.index} ${why}`);
    try {
      await instance.executor.restart();
      instance.state = 'setting-up';
      await instance.executor.setup(setup.weights, setup.onLog);
    } catch (error) {
      if (this.#closing) return;
      instance.state = 'failed';
      setup.onLog(`model instance ${instance.index} could not be replaced: ${errorMessage(error)}\n`, 'stderr');
      return;
    }
    if (this.#closing) return;
    instance.state = 'ready';
    if (this.ready === 1) this.onReadiness?.(true, `model instance ${instance.index} is ready again`);
  }

  /** The least-loaded ready instance (fewest predictions running; ties: the lowest index). */
  #pick(): Instance | undefined {
    let best: Instance | undefined;
    for (const instance of this.#instances) {
      if (instance.state === 'ready' && (best === undefined || instance.running < best.running)) best = instance;
    }
    return best;
  }

  async execute(job: ExecutionJob, sink: ExecutionSink): Promise<ExecutionResult> {
    const instance = this.#pick();
    if (instance === undefined) {
      return { status: 'failed', error: 'No model instance is ready: every instance is being replaced', metrics: {} };
    }
    instance.running += 1;
    this.#byToken.set(job.tokenId, instance);
    try {
      return await instance.executor.execute(job, sink);
    } finally {
      instance.running -= 1;
      this.#byToken.delete(job.tokenId);
    }
  }

  /** A batch runs in one instance (the least-loaded ready one), counted there as one running. */
  executeBatch(jobs: ExecutionJob[], sinks: ExecutionSink[]): Promise<ExecutionResult>[] {
    const instance = this.#pick();
    if (instance === undefined) {
      const error = 'No model instance is ready: every instance is being replaced';
      return jobs.map(() => Promise.resolve({ status: 'failed', error, metrics: {} }));
    }
    instance.running += 1;
    for (const job of jobs) this.#byToken.set(job.tokenId, instance);
    const results = instance.executor.executeBatch(jobs, sinks);
    void Promise.allSettled(results).then(() => {
      instance.running -= 1;
      for (const job of jobs) this.#byToken.delete(job.tokenId);
    });
    return results;
  }

  cancel(tokenId: number): void {
    this.#byToken.get(tokenId)?.executor.cancel(tokenId);
  }

  /** Stops the instance running it (replaced then, the others serving on). */
  stop(tokenId: number): boolean {
    return this.#byToken.get(tokenId)?.executor.stop(tokenId) ?? false;
  }

  /** Healthy when every ready instance's `healthcheck()` passes; the first failure is the answer. */
  async healthcheck(): Promise<boolean> {
    const ready = this.#instances.filter((instance) => instance.state === 'ready');
    if (ready.length === 0) throw new Error('no model instance is ready');
    const results = await Promise.all(ready.map((instance) => instance.executor.healthcheckResult()));
    const failed = results.find((result) => !result.healthy);
    if (failed?.error !== undefined) throw new Error(failed.error);
    return failed === undefined;
  }

  async close(): Promise<void> {
    this.#closing = true;
    await Promise.all(this.#instances.map((instance) => instance.executor.close()));
  }
}
