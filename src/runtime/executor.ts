// Where a predictor's code runs: the PredictorExecutor interface, and InProcessExecutor, which runs
// setup and predictions in this thread, each in its own scope and log capture (state: runtime.ts),
// and batches of predictions in one `predictBatch` call (executeBatch).
import { CancelationError } from '../errors.js';
import type { LoadedTarget } from '../load/load-module.js';
import { captureLogs, outsidePrediction, predictorInThisThread, runPredictionCode, type LogSource } from './log-capture.js';
import type { MetricsObject } from '../predictor/metrics.js';
import { OutputChecker } from '../schema/output-check.js';
import { BatchScope, PredictionScope, type MetricEvent, type Scope } from '../predictor/scope.js';
import { CancelToken } from '../native/addon.js';
import { KeyedTable } from './keyed-table.js';

/** Where a running prediction's events go, as they happen. */
export interface ExecutionSink {
  /**
   * One streamed output item. A returned promise makes a generator's next step wait
   * (backpressure). A non-streamed predictor's one value never comes here: the result carries it.
   */
  output(item: unknown): void | Promise<void>;
  /**
   * Several streamed items in order, as one call (a batch from the worker thread: one send into
   * the channel instead of one per item); when absent, `output` is called for each in turn. An
   * item that fails does not keep the items after it from being taken.
   */
  outputs?(items: readonly unknown[]): void | Promise<void>;
  log(text: string, source: LogSource): void;
  metric(event: MetricEvent, metrics: MetricsObject): void;
}

export interface ExecutionJob {
  input: Record<string, unknown>;
  context?: Record<string, string>;
  /** Its prediction's cancel token's id (prediction.ts `tokenId`): the key executors know it by. */
  tokenId: number;
}

export type ExecutionResult = { metrics: MetricsObject } & (
  { status: 'succeeded'; output: unknown; streamed: boolean } | { status: 'failed'; error: string } | { status: 'canceled' }
);

/** A generator step quicker than this (ms, its item's trip to the sink included) is quick. */
const QUICK_STEP_MS = 0.05;
/** Quick steps in a row after which the Rust token is read anyway. */
const CANCEL_CHECK_STEPS = 32;

/** A generator's iterator, or any async iterable's: the shapes of a streamed output. */
function streamOf(value: unknown): Iterator<unknown> | AsyncIterator<unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  if (Symbol.asyncIterator in value) return (value as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  if ((value as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Generator') {
    return value as Iterator<unknown>;
  }
  return undefined;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Where the predictor's code runs: in this thread (`InProcessExecutor`) or in a worker thread
 * (`WorkerExecutor`), so that a busy predictor never stalls the server's event loop.
 */
export interface PredictorExecutor {
  setup(weights: string | undefined, onLog: (text: string, source: LogSource) => void): Promise<void>;
  execute(job: ExecutionJob, sink: ExecutionSink): Promise<ExecutionResult>;
  /**
   * Runs a batching predictor's (`static batch`) predictions in one `predictBatch` call: one
   * result per job, in order, each ending on its own (`sinks[i]` is job i's; what the batch
   * logs and records goes to every sink). A job's token cancels it alone (`cancel`).
   */
  executeBatch(jobs: ExecutionJob[], sinks: ExecutionSink[]): Promise<ExecutionResult>[];
  /** This prediction's token was cancelled: abort its scope's signal, on the predictor's thread. */
  cancel(tokenId: number): void;
  /**
   * The grace period after a cancel is over and the prediction's code still runs: stop it by
   * force if this executor can (true: its execution then settles `canceled`); false if it cannot.
   */
  stop(tokenId: number): boolean;
  healthcheck(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Runs a predictor's code in this thread: setup once, then predictions, each inside its own scope
 * (metrics, context, cancellation) and log capture.
 */
export class InProcessExecutor implements PredictorExecutor {
  readonly target: LoadedTarget;
  #echoLogs: boolean;
  /**
   * Each running prediction's scope, by its token's id (to abort its signal on a cancel), and for
   * a single prediction how to fail it from outside its code (a batch's: `#faults`).
   */
  readonly #running = new KeyedTable<number, { scope: PredictionScope; fail: ((error: unknown) => void) | undefined }>();
  /** The batch each batched prediction runs in, by its token's id (cancelled when all its items are). */
  readonly #batches = new Map<number, BatchScope>();
  /** How to fail each running batch from outside its code (an error escaped its async context). */
  readonly #faults = new Map<Scope, (error: unknown) => void>();
  readonly #outputs: OutputChecker;

  constructor(target: LoadedTarget, options: { echoLogs?: boolean } = {}) {
    this.target = target;
    this.#echoLogs = options.echoLogs ?? false;
    this.#outputs = new OutputChecker(target.output);
    this.#releaseCapture = predictorInThisThread();
  }

  /** Keeps this thread's log capture on while this predictor may run here (`stopCapturing`). */
  readonly #releaseCapture: () => void;

  /**
   * Fails the prediction running in `scope` with `error` (an uncaught exception or unhandled
   * rejection raised in its async context: a timer it set, a promise it dropped). Its code may
   * run on, unheard. False when no prediction of this executor runs in that scope.
   */
  failPrediction(scope: Scope, error: unknown): boolean {
    const running = scope instanceof PredictionScope ? this.#running.get(scope.tokenId) : undefined;
    const fail = running?.scope === scope ? running.fail : this.#faults.get(scope);
    fail?.(error);
    return fail !== undefined;
  }

  /** Runs `setup(weights)` if the predictor has one; what it prints goes to `onLog`. */
  async setup(weights: string | undefined, onLog: (text: string, source: LogSource) => void): Promise<void> {
    const { instance } = this.target;
    if (typeof instance.setup === 'function') await captureLogs(onLog, () => instance.setup!(weights), this.#echoLogs);
    this.#outputs.prepare();
  }

  async healthcheck(): Promise<boolean> {
    const { instance } = this.target;
    if (typeof instance.healthcheck !== 'function') return true;
    return Boolean(await instance.healthcheck());
  }

  async close(): Promise<void> {
    this.#releaseCapture();
  }

  /** Aborts the scope's signal of the prediction holding this token (after a cancel). */
  cancel(tokenId: number): void {
    this.#running.get(tokenId)?.scope.cancel();
    this.#batches.get(tokenId)?.itemCanceled();
  }

  /** Code in this thread cannot be stopped from outside: it is left to finish alone. */
  stop(_tokenId: number): boolean {
    return false;
  }

  execute(job: ExecutionJob, sink: ExecutionSink): Promise<ExecutionResult> {
    return new Promise((resolve) => this.run(job, sink, resolve));
  }

  /**
   * `execute` with a callback, called once with the result (at once when `predict` returns a
   * plain value). A `predict` that returns a value or a promise of one ends in one reaction to its
   * own promise: an async runner around it made ~8 promises per prediction, and on a thread that
   * captures logs each promise pays the hooks of both AsyncLocalStorages (~11% of the worker's CPU
   * per echo request in perf; benches/README.md "HTTP server").
   */
  run(job: ExecutionJob, sink: ExecutionSink, onResult: (result: ExecutionResult) => void): void {
    // After a fault the prediction is over, though its code may still log or yield: drop that.
    let over = false;
    const events: ExecutionSink = {
      output: (item) => (over ? undefined : sink.output(item)),
      log: (text, source) => {
        if (!over) sink.log(text, source);
      },
      metric: (event, metrics) => {
        if (!over) sink.metric(event, metrics);
      },
    };
    const scope = new PredictionScope({
      context: job.context,
      cancelToken: job.tokenId,
      onMetric: (event) => events.metric(event, scope.metricsStore.toJSON()),
    });
    const inScope = <T>(fn: () => T): T => runPredictionCode(scope, (text, source) => events.log(text, source), fn, this.#echoLogs);
    const metrics = () => scope.metricsStore.toJSON();
    const end = (result: ExecutionResult): void => {
      if (over) return;
      over = true;
      this.#running.delete(job.tokenId);
      onResult(result);
    };
    // What the predictor threw or rejected with, or a fault (`failPrediction`), whichever comes first.
    const fail = (error: unknown): void => {
      if (over) return;
      if (scope.canceled) return end({ status: 'canceled', metrics: metrics() });
      if (this.#echoLogs === false && error instanceof Error && error.stack) {
        sink.log(`${error.stack}\n`, 'stderr');
      }
      end({ status: 'failed', error: errorMessage(error), metrics: metrics() });
    };
    // What `predict` gave: a stream runs on in the scope; a value is checked here, in the
    // predictor's thread, and travels once, in the result.
    const settled = (value: unknown): void => {
      if (over) return;
      const iterator = streamOf(value);
      if (iterator !== undefined) {
        inScope(() => this.#stream(iterator, scope, events)).then(end, fail);
        return;
      }
      try {
        if (!scope.canceled) this.#outputs.value(value);
      } catch (error) {
        return fail(error);
      }
      if (scope.canceled) return end({ status: 'canceled', metrics: metrics() });
      end({ status: 'succeeded', output: value, streamed: false, metrics: metrics() });
    };
    this.#running.set(job.tokenId, { scope, fail });
    const begin = (): void => {
      const method = this.target.instance[this.target.method] as (input: Record<string, unknown>) => unknown;
      let value: unknown;
      try {
        value = inScope(() => method.call(this.target.instance, job.input));
      } catch (error) {
        return fail(error);
      }
      // `Promise.resolve` hands a native promise back as it is: one reaction either way.
      if (isThenable(value)) Promise.resolve(value).then(settled, fail);
      else settled(value);
    };
    // Only until the output checks are compiled (output-check.ts): the first predictions.
    const ready = this.#outputs.ready;
    if (ready === undefined) begin();
    else ready.then(begin, fail);
  }

  /** Takes a streamed output's items to the sink; runs in the prediction's scope. */
  async #stream(
    iterator: Iterator<unknown> | AsyncIterator<unknown>,
    scope: PredictionScope,
    events: ExecutionSink,
  ): Promise<ExecutionResult> {
    let stepStart = performance.now();
    // Not quick: the first step reads the token (cancelled before the generator started).
    let quickSteps = CANCEL_CHECK_STEPS;
    for (let index = 0; ; index += 1) {
      // Reading the Rust token is an N-API call (~0.5 µs, a quarter of a token's worker
      // time in benches/stream), so in a steady fast stream it is read every
      // CANCEL_CHECK_STEPS quick steps: a cancel is seen within that many steps of under
      // QUICK_STEP_MS each (1.6 ms of generator time). After a slower step (a model's
      // step, a wait for the client) and after this thread's own cancel, at once.
      const now = performance.now();
      const quick = quickSteps < CANCEL_CHECK_STEPS && now - stepStart < QUICK_STEP_MS;
      quickSteps = quick ? quickSteps + 1 : 0;
      stepStart = now;
      if (scope.cancelRequested || (!quick && scope.canceled)) {
        await iterator.return?.(undefined);
        throw new CancelationError();
      }
      const step = await iterator.next();
      if (step.done) break;
      this.#outputs.item(step.value, index);
      // Awaited only when the sink waits (backpressure): the worker's sink returns nothing
      // while its window has room, which saves a promise and a turn per item.
      // The runner's own work (encoding, events, webhooks) must not land in the prediction's logs.
      const taken = outsidePrediction(() => events.output(step.value));
      if (taken !== undefined) await taken;
    }
    // The items went to the sink one by one; whoever keeps the output array keeps it there.
    const metrics = scope.metricsStore.toJSON();
    if (scope.canceled) return { status: 'canceled', metrics };
    return { status: 'succeeded', output: undefined, streamed: true, metrics };
  }

  executeBatch(jobs: ExecutionJob[], sinks: ExecutionSink[]): Promise<ExecutionResult>[] {
    // After the batch is over its code may still log or record: drop that.
    let over = false;
    const items = jobs.map((job, index) => {
      const scope: PredictionScope = new PredictionScope({
        context: job.context,
        cancelToken: job.tokenId,
        onMetric: (event) => over || sinks[index]!.metric(event, scope.metricsStore.toJSON()),
      });
      // Set, not recorded: it is in the item's metrics from the start, without an event of its own.
      scope.metricsStore.record('batch_size', jobs.length);
      return scope;
    });
    // Rust work started for the whole batch obeys this token: cancelled once every item is.
    const batchToken = new CancelToken();
    const batch = new BatchScope(items, batchToken);
    for (const [index, job] of jobs.entries()) {
      this.#running.set(job.tokenId, { scope: items[index]!, fail: undefined });
      this.#batches.set(job.tokenId, batch);
    }
    if (batch.canceled) batch.itemCanceled();
    const faulted = new Promise<never>((_, reject) => this.#faults.set(batch, reject));
    const everyLog = (text: string, source: LogSource) => {
      if (!over) for (const sink of sinks) sink.log(text, source);
    };
    const ended = (index: number, status: 'canceled' | 'failed', error: string): ExecutionResult => {
      const metrics = items[index]!.metricsStore.toJSON();
      return items[index]!.canceled || status === 'canceled' ? { status: 'canceled', metrics } : { status: 'failed', error, metrics };
    };
    const run = async (): Promise<ExecutionResult[]> => {
      try {
        const method = this.target.instance.predictBatch as (inputs: Record<string, unknown>[]) => unknown;
        const ready = this.#outputs.ready;
        if (ready !== undefined) await ready;
        const value = await Promise.race([
          runPredictionCode(
            batch,
            everyLog,
            async () =>
              method.call(
                this.target.instance,
                jobs.map((job) => job.input),
              ),
            this.#echoLogs,
          ),
          faulted,
        ]);
        if (!Array.isArray(value)) {
          const got = value === null ? 'null' : typeof value;
          const error = `predictBatch must return an array with one output per input (${jobs.length} inputs), got ${got}`;
          return jobs.map((_, index) => ended(index, 'failed', error));
        }
        if (value.length !== jobs.length) {
          const error = `predictBatch returned ${value.length} outputs for ${jobs.length} inputs: it must return one output per input, in order`;
          return jobs.map((_, index) => ended(index, 'failed', error));
        }
        return value.map((output: unknown, index): ExecutionResult => {
          if (items[index]!.canceled) return ended(index, 'canceled', '');
          // An Error element fails its own prediction alone, as if its predict() had thrown it.
          if (output instanceof Error) {
            if (this.#echoLogs === false && output.stack) sinks[index]!.log(`${output.stack}\n`, 'stderr');
            return ended(index, 'failed', errorMessage(output));
          }
          try {
            this.#outputs.value(output);
          } catch (error) {
            return ended(index, 'failed', errorMessage(error));
          }
          return { status: 'succeeded', output, streamed: false, metrics: items[index]!.metricsStore.toJSON() };
        });
      } catch (error) {
        if (this.#echoLogs === false && error instanceof Error && error.stack) everyLog(`${error.stack}\n`, 'stderr');
        return jobs.map((_, index) => ended(index, batch.canceled ? 'canceled' : 'failed', errorMessage(error)));
      } finally {
        over = true;
        for (const job of jobs) {
          this.#running.delete(job.tokenId);
          this.#batches.delete(job.tokenId);
        }
        this.#faults.delete(batch);
        batchToken.release();
      }
    };
    const results = run();
    return jobs.map((_, index) => results.then((all) => all[index]!));
  }
}
