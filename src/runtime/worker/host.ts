// The server's side of the predictor's worker thread: runs setup, predictions and healthchecks
// there, and replaces the worker when it crashes or when the runtime says a cancelled prediction
// ignored its cancellation for longer than the grace period (`stop`). It keeps only the transport's
// bookkeeping per prediction (its sink and acks), keyed by the prediction's cancel token id.
import type { Worker } from 'node:worker_threads';
import { errorMessage, type ExecutionJob, type ExecutionResult, type ExecutionSink, type PredictorExecutor } from '../executor.js';
import type { PredictorInfo } from '../../load/load-module.js';
import type { LogSource } from '../log-capture.js';
import { cancelTokenCanceled } from '../../native/addon.js';
import { TurnBatch, eachDone, packPredict, type FromWorker, type ToWorker, type WorkerOptions } from './protocol.js';
import { fromPortable, toPortableShared } from './portable.js';
import { predictorWorker } from './prelaunch.js';
import { KeyedTable } from '../keyed-table.js';

export type WorkerDeath = 'crashed' | 'hung';

interface Pending {
  tokenId: number;
  sink: ExecutionSink;
  /** Output items are handed to the sink in order; the worker is acked as each batch is taken. */
  chain: Promise<void>;
  resolve: (result: ExecutionResult) => void;
  /** Items taken but not acked yet: acks go out once per event loop turn (a postMessage each). */
  unacked: number;
}

/** A pending prediction's chain before any output came: its result then settles it at once. */
const NO_OUTPUTS = Promise.resolve();

export interface WorkerExecutorOptions extends WorkerOptions {
  /** The worker's JS heap limit (MB); 0: V8's default. See `COG_WORKER_MAX_HEAP_MB` in settings.ts. */
  maxHeapMb?: number;
}

function crashMessage(error: Error, maxHeapMb: number): string {
  if ((error as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY') {
    return `Worker crashed: the predictor ran out of JS heap${maxHeapMb > 0 ? ` (limit ${maxHeapMb} MB, COG_WORKER_MAX_HEAP_MB)` : ''}`;
  }
  return `Worker crashed: ${errorMessage(error)}`;
}

export class WorkerExecutor implements PredictorExecutor {
  readonly options: WorkerExecutorOptions;
  #worker!: Worker;
  /** Predictions running in the worker, by their cancel token's id (the messages' `id`). */
  #pending = new KeyedTable<number, Pending>();
  #setup: { resolve: () => void; reject: (error: Error) => void; onLog: (text: string, source: LogSource) => void } | undefined;
  #healthchecks = new Map<number, (result: { healthy: boolean; error?: string }) => void>();
  #seq = 0;
  #closing = false;
  /** Predictions not posted yet: those of one event-loop turn go as one 'predicts' (`TurnBatch`). */
  readonly #predicts = new TurnBatch((items) => this.#worker?.postMessage({ type: 'predicts', items } satisfies ToWorker));
  /** Called when the worker died on its own or was stopped because it hung. */
  onDeath: ((reason: WorkerDeath, message: string) => void) | undefined;

  private constructor(options: WorkerExecutorOptions) {
    this.options = options;
  }

  /** Starts a worker and loads the predictor in it. Rejects with the load error. */
  static async start(options: WorkerExecutorOptions): Promise<{ executor: WorkerExecutor; info: PredictorInfo }> {
    const executor = new WorkerExecutor(options);
    const info = await executor.#spawn();
    return { executor, info };
  }

  #spawn(): Promise<PredictorInfo> {
    const { ref, cwd, kind, echoLogs, instance, maxHeapMb = 0 } = this.options;
    const workerData = { ref, cwd, kind, echoLogs, instance } satisfies WorkerOptions;
    return new Promise((resolve, reject) => {
      let loaded = false;
      // A worker `cog-node serve` started early replays what it said while parked once these listen.
      predictorWorker(workerData, maxHeapMb, (worker) => {
        this.#worker = worker;
        const receive = (message: FromWorker): void => {
          if (message.type === 'loaded') {
            loaded = true;
            resolve(message.info);
          } else if (message.type === 'load-failed') {
            reject(Object.assign(new Error(message.error), { stack: message.stack }));
          } else if (message.type === 'crashed') {
            // It is told, not trusted, to stop: the error may have left it in any state.
            if (!loaded) reject(Object.assign(new Error(message.error), { stack: message.stack }));
            else this.#died(worker, 'crashed', `Worker crashed: ${message.error}`);
            void worker.terminate();
          } else {
            this.#onMessage(message);
          }
        };
        worker.on('message', receive);
        worker.on('error', (error) => {
          if (!loaded) reject(error);
          else this.#died(worker, 'crashed', crashMessage(error, maxHeapMb));
        });
        worker.on('exit', (code) => {
          if (!loaded) reject(new Error(`the predictor's worker exited with code ${code} while loading`));
          else this.#died(worker, 'crashed', `Worker crashed: exited with code ${code}`);
        });
      });
    });
  }

  /** Settles what was running in a dead worker; the runtime then restarts it. */
  #died(worker: Worker, reason: WorkerDeath, message: string): void {
    if (worker !== this.#worker || this.#closing) return;
    this.#worker = undefined as unknown as Worker;
    // Meant for the dead worker: its predictions are settled below, and none may reach the next one.
    this.#predicts.clear();
    for (const pending of this.#pending.values()) {
      pending.resolve(
        cancelTokenCanceled(pending.tokenId) ? { status: 'canceled', metrics: {} } : { status: 'failed', error: message, metrics: {} },
      );
      this.#pending.delete(pending.tokenId);
    }
    this.#setup?.reject(new Error(message));
    this.#setup = undefined;
    for (const resolve of this.#healthchecks.values()) resolve({ healthy: false, error: message });
    this.#healthchecks.clear();
    this.onDeath?.(reason, message);
  }

  /** Replaces a dead worker with a new one (setup must run again). */
  async restart(): Promise<PredictorInfo> {
    if (this.#worker !== undefined) await this.#worker.terminate();
    return this.#spawn();
  }

  #post(message: ToWorker): void {
    this.#predicts.flush();
    this.#worker?.postMessage(message);
  }

  #ack(id: number, pending: Pending, count: number): void {
    pending.unacked += count;
    if (pending.unacked > count) return;
    setImmediate(() => {
      this.#post({ type: 'ack', id, count: pending.unacked });
      pending.unacked = 0;
    });
  }

  #onMessage(message: FromWorker): void {
    switch (message.type) {
      case 'setup-log':
        this.#setup?.onLog(message.text, message.source);
        break;
      case 'setup-done':
        if (message.error !== undefined) this.#setup?.reject(Object.assign(new Error(message.error), { stack: message.stack }));
        else this.#setup?.resolve();
        this.#setup = undefined;
        break;
      case 'outputs': {
        const pending = this.#pending.get(message.id);
        if (!pending) break;
        const { id, items } = message;
        // One step of the chain per batch: each item is taken (awaited) before the next, and the
        // worker is acked for the whole batch once all of it is taken.
        pending.chain = pending.chain
          .then(async () => {
            const { sink } = pending;
            // The sink's failure is the prediction's business, not the worker's.
            if (sink.outputs !== undefined) {
              await Promise.resolve(sink.outputs(items.map((item) => fromPortable(item)))).catch(() => undefined);
              return;
            }
            for (const item of items) {
              try {
                await sink.output(fromPortable(item));
              } catch {
                // As above.
              }
            }
          })
          .then(() => this.#ack(id, pending, items.length));
        break;
      }
      case 'log':
        this.#pending.get(message.id)?.sink.log(message.text, message.source);
        break;
      case 'metric':
        this.#pending.get(message.id)?.sink.metric(message.event, message.metrics);
        break;
      case 'dones':
        eachDone(message.items, (id, result) => this.#done(id, result));
        break;
      case 'healthcheck-result': {
        const resolve = this.#healthchecks.get(message.seq);
        this.#healthchecks.delete(message.seq);
        resolve?.({ healthy: message.healthy, error: message.error });
        break;
      }
    }
  }

  #done(id: number, result: ExecutionResult): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    // The message is this prediction's own (a structured clone): its output is restored in place.
    if (result.status === 'succeeded') result.output = fromPortable(result.output);
    // After the streamed items still on their way to the sink (two promises less without any).
    if (pending.chain === NO_OUTPUTS) pending.resolve(result);
    else void pending.chain.catch(() => undefined).then(() => pending.resolve(result));
  }

  setup(weights: string | undefined, onLog: (text: string, source: LogSource) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#setup = { resolve, reject, onLog };
      this.#post({ type: 'setup', weights });
    });
  }

  execute(job: ExecutionJob, sink: ExecutionSink): Promise<ExecutionResult> {
    const id = job.tokenId;
    return new Promise((resolve) => {
      this.#pending.set(id, { tokenId: id, sink, chain: NO_OUTPUTS, resolve, unacked: 0 });
      packPredict(this.#predicts.queue(), id, toPortableShared(job.input), job.context);
    });
  }

  executeBatch(jobs: ExecutionJob[], sinks: ExecutionSink[]): Promise<ExecutionResult>[] {
    const results = jobs.map(
      (job, index) =>
        new Promise<ExecutionResult>((resolve) => {
          this.#pending.set(job.tokenId, { tokenId: job.tokenId, sink: sinks[index]!, chain: NO_OUTPUTS, resolve, unacked: 0 });
        }),
    );
    const items = jobs.map((job) => ({ id: job.tokenId, input: toPortableShared(job.input), context: job.context ?? {} }));
    this.#post({ type: 'predict-batch', items });
    return results;
  }

  cancel(tokenId: number): void {
    if (this.#pending.has(tokenId)) this.#post({ type: 'cancel', id: tokenId });
  }

  /** It ignored cancellation: stop its worker (the only way to stop a busy JS loop). */
  stop(tokenId: number): boolean {
    const worker = this.#worker;
    // Closing, the worker is going anyway and settles nothing: the runtime ends the prediction.
    if (!this.#pending.has(tokenId) || worker === undefined || this.#closing) return false;
    this.#died(worker, 'hung', 'Worker restarted: a canceled prediction did not stop within the grace period');
    void worker.terminate();
    return true;
  }

  async healthcheck(): Promise<boolean> {
    const result = await this.healthcheckResult();
    if (!result.healthy && result.error !== undefined) throw new Error(result.error);
    return result.healthy;
  }

  healthcheckResult(): Promise<{ healthy: boolean; error?: string }> {
    const seq = this.#seq++;
    return new Promise((resolve) => {
      this.#healthchecks.set(seq, resolve);
      this.#post({ type: 'healthcheck', seq });
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#worker?.terminate();
  }
}
