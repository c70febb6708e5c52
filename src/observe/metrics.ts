// `CogMetrics`: one Prometheus registry per server (never prom-client's global one, so tests and
// embedding apps can run several), the cog_* metrics in it, and the `GET /metrics` handler that
// `serve`, the gateway and the queue worker's `--port` all mount. It listens to runtimes
// (`RuntimeObserver`); the counts it reads at scrape time come from their owners, not from here.
import type { Context } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Prediction } from '../runtime/prediction.js';
import type { PredictorRuntime, RuntimeObserver, SetupState } from '../runtime/runtime.js';

/** Seconds, from a fast echo (1 ms) to a long generation (10 min). */
const SECOND_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const SETUP_BUCKETS = [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/** Where the gauges are read at scrape time: a runtime, or the gateway's view of its queue. */
export interface LoadSource {
  /** Predictions whose code runs now. */
  running(): number;
  /** Predictions waiting for a slot (or in the durable queue). */
  waiting(): number;
}

export interface CogMetricsOptions {
  /** prom-client's default process metrics (CPU, memory, event loop lag, GC); default true. */
  processMetrics?: boolean;
}

/**
 * The cog_* metrics of one server. A runtime is watched with `watch(runtime)`; code that runs
 * predictions elsewhere (a queue worker's jobs, a gateway) can call `predictionEnded`,
 * `batchRan`, `setupEnded` and `workerRestarted` itself, and add a `LoadSource`.
 */
export class CogMetrics implements RuntimeObserver {
  readonly registry = new Registry();
  readonly #sources = new Set<LoadSource>();
  readonly #predictions: Counter<'status'>;
  readonly #queueSeconds: Histogram;
  readonly #runSeconds: Histogram;
  readonly #batchSize: Histogram;
  readonly #setupSeconds: Histogram<'status'>;
  readonly #restarts: Counter;

  constructor(options: CogMetricsOptions = {}) {
    const registers = [this.registry];
    this.#predictions = new Counter({
      name: 'cog_predictions_total',
      help: 'Predictions ended, by terminal status (succeeded, failed, canceled)',
      labelNames: ['status'],
      registers,
    });
    for (const status of ['succeeded', 'failed', 'canceled']) this.#predictions.inc({ status }, 0);
    this.#queueSeconds = new Histogram({
      name: 'cog_prediction_queue_seconds',
      help: 'Seconds an ended prediction waited from creation until it began to run (its whole life if it never ran)',
      buckets: SECOND_BUCKETS,
      registers,
    });
    this.#runSeconds = new Histogram({
      name: 'cog_prediction_run_seconds',
      help: 'Seconds an ended prediction ran (its predict_time), for those that began to run',
      buckets: SECOND_BUCKETS,
      registers,
    });
    this.#batchSize = new Histogram({
      name: 'cog_batch_size',
      help: 'Predictions run together in one call of the predictor (1 without batching)',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.#setupSeconds = new Histogram({
      name: 'cog_setup_seconds',
      help: 'Seconds each setup() took (a replaced worker sets up again), by outcome',
      labelNames: ['status'],
      buckets: SETUP_BUCKETS,
      registers,
    });
    this.#restarts = new Counter({
      name: 'cog_worker_restarts_total',
      help: 'Predictor workers replaced (crashed, or stopped past the cancel grace period)',
      registers,
    });
    const sources = this.#sources;
    const sum = (read: (source: LoadSource) => number) => [...sources].reduce((total, source) => total + read(source), 0);
    new Gauge({
      name: 'cog_predictions_running',
      help: 'Predictions whose code runs now',
      registers,
      collect() {
        this.set(sum((source) => source.running()));
      },
    });
    new Gauge({
      name: 'cog_predictions_waiting',
      help: 'Predictions waiting for a slot now',
      registers,
      collect() {
        this.set(sum((source) => source.waiting()));
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Watches a runtime: its predictions, setups and restarts, and its load at scrape time. Returns what stops it. */
  watch(runtime: PredictorRuntime): () => void {
    const source: LoadSource = {
      running: () => runtime.inFlightPredictions().filter((prediction) => prediction.status === 'processing').length,
      waiting: () => runtime.queue.waiting,
    };
    // A setup that ended before this was called is told now (the runtime told nobody yet).
    if (runtime.setupState.status !== 'starting') this.setupEnded(runtime.setupState);
    const unobserve = runtime.observe(this);
    const unsource = this.addSource(source);
    return () => {
      unobserve();
      unsource();
    };
  }

  /** Adds gauges' source (summed with the others); returns what removes it. */
  addSource(source: LoadSource): () => void {
    this.#sources.add(source);
    return () => this.#sources.delete(source);
  }

  /** RuntimeObserver: a prediction was admitted; it is counted when it ends. */
  admitted(prediction: Prediction): void {
    void prediction.done.then((response) => this.predictionEnded(response.status, response.metrics, prediction.startedAt !== undefined));
  }

  /** A prediction ended: counted by status, its wait and (if it ran) its run time observed. */
  predictionEnded(status: string, metrics: { predict_time?: unknown; queue_time?: unknown }, ran: boolean): void {
    this.#predictions.inc({ status });
    if (typeof metrics.queue_time === 'number') this.#queueSeconds.observe(metrics.queue_time);
    if (ran && typeof metrics.predict_time === 'number') this.#runSeconds.observe(metrics.predict_time);
  }

  /** RuntimeObserver: `size` predictions ran in one call of the predictor (1 without batching). */
  batchRan(size: number): void {
    this.#batchSize.observe(size);
  }

  /** RuntimeObserver: a setup ended (succeeded or failed). */
  setupEnded(state: Readonly<SetupState>): void {
    const seconds = (Date.parse(state.completed_at ?? state.started_at) - Date.parse(state.started_at)) / 1000;
    this.#setupSeconds.observe({ status: state.status }, Math.max(0, seconds));
  }

  /** RuntimeObserver: a worker was replaced. */
  workerRestarted(): void {
    this.#restarts.inc();
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** `GET /metrics` over `metrics`, as a Hono handler (mount it behind the origin guard). */
export function metricsHandler(metrics: CogMetrics): (c: Context) => Promise<Response> {
  return async (c) => c.body(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType });
}
