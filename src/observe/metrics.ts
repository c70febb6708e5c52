// `CogMetrics`: one Prometheus registry per server (never prom-client's global one, so tests and
// embedding apps can run several), the cog_* metrics in it, and the `GET /metrics` handler that
// `serve`, the gateway and the queue worker's `--port` all mount. It listens to runtimes
// (`RuntimeObserver`); the counts it reads at scrape time come from their owners, not from here.
// prom-client is loaded at the first scrape (or the first read of `registry`), not at start:
// importing it (and the @opentelemetry/api it requires) cost 35-50 ms of CPU and ~8.5 MiB resident
// on the server's thread, a third of what cog-node added to a start. Until then what happened is
// kept (`#pending`) and replayed into the registry when it is made, so the first scrape reports
// what an eager registry would have. What every prediction adds (its count by status, its queue
// and run times, batch sizes) is counted here in plain numbers and shown at scrape time.
import { createRequire } from 'node:module';
import {
  PerformanceObserver,
  constants as perfConstants,
  monitorEventLoopDelay,
  type IntervalHistogram,
  type PerformanceEntry,
} from 'node:perf_hooks';
import type { Context } from 'hono';
import type * as PromClient from 'prom-client';
import type { Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';
import type { Prediction, PredictionResponse } from '../runtime/prediction.js';
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
 * Observations kept before the registry exists. Past this many, the registry is made at once (a
 * server this busy is long past its start; the list stays small).
 */
const PENDING_MAX = 1024;

/** prom-client's GC kinds (its lib/metrics/gc.js), for GCs seen before it was loaded. */
const GC_KINDS: Record<number, string> = {
  [perfConstants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [perfConstants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [perfConstants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [perfConstants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** The registry and the cog_* metrics in it, once prom-client is loaded. */
interface Loaded {
  registry: Registry;
  setupSeconds: Histogram<'status'>;
  restarts: Counter;
}

/** A terminal status, as `cog_predictions_total` counts it. */
const STATUSES = ['succeeded', 'failed', 'canceled'] as const;

/** One line of a histogram's exposition, as prom-client's registry formats it. */
interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram without labels, counted in plain numbers (a bucket search and two additions per
 * observation) and shown in a prom-client registry as its own Histogram shows one (`get`): per
 * prediction, prom-client's Counter and Histograms (label hashing, a closure each) were ~3% of
 * the server's thread under wrk c=16.
 */
class CountedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  /** Observations per bucket (not cumulative): `counts[i]` had `bounds[i - 1] < value <= bounds[i]`. */
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    bounds: readonly number[],
  ) {
    this.#bounds = bounds;
    this.#counts = bounds.map(() => 0);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const bounds = this.#bounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]!) index++;
    if (index < bounds.length) this.#counts[index]! += 1;
    // In observation order, as prom-client adds them: the same float.
    this.#sum += value;
    this.#count += 1;
  }

  /** prom-client's shape of a Histogram's values (its `getForPromString`): cumulative buckets, +Inf, sum, count. */
  get(): { name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' } {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const values: HistogramValue[] = this.#bounds.map((le, index) => {
      cumulative += this.#counts[index]!;
      return { labels: { le }, value: cumulative, metricName: bucket };
    });
    values.push(
      { labels: { le: '+Inf' }, value: this.#count, metricName: bucket },
      { labels: {}, value: this.#sum, metricName: `${this.name}_sum` },
      { labels: {}, value: this.#count, metricName: `${this.name}_count` },
    );
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sum = 0;
    this.#count = 0;
  }
}

/**
 * What the default process metrics would have seen since this object was made: the CPU used, the
 * GCs, the event loop's delay. prom-client's own collectors start when it loads; these fill in
 * the time before, so the first scrape's figures cover the same span as an eager registry's.
 */
interface EarlyProcess {
  cpu: NodeJS.CpuUsage;
  gc: PerformanceObserver;
  loopDelay: IntervalHistogram;
}

/**
 * The cog_* metrics of one server. A runtime is watched with `watch(runtime)`; code that runs
 * predictions elsewhere (a queue worker's jobs, a gateway) can call `predictionEnded`,
 * `batchRan`, `setupEnded` and `workerRestarted` itself, and add a `LoadSource`.
 */
export class CogMetrics implements RuntimeObserver {
  readonly #sources = new Set<LoadSource>();
  readonly #processMetrics: boolean;
  #loaded: Loaded | undefined;
  /** What happened before the registry was made, in order. */
  #pending: ((loaded: Loaded) => void)[] = [];
  #early: EarlyProcess | undefined;
  /** `cog_predictions_total` by status, counted here (shown through the registry's Counter). */
  readonly #ended: Record<(typeof STATUSES)[number], number> = { succeeded: 0, failed: 0, canceled: 0 };
  readonly #queueSeconds = new CountedHistogram(
    'cog_prediction_queue_seconds',
    'Seconds an ended prediction waited from creation until it began to run (its whole life if it never ran)',
    SECOND_BUCKETS,
  );
  readonly #runSeconds = new CountedHistogram(
    'cog_prediction_run_seconds',
    'Seconds an ended prediction ran (its predict_time), for those that began to run',
    SECOND_BUCKETS,
  );
  readonly #batchSize = new CountedHistogram(
    'cog_batch_size',
    'Predictions run together in one call of the predictor (1 without batching)',
    BATCH_BUCKETS,
  );

  constructor(options: CogMetricsOptions = {}) {
    this.#processMetrics = options.processMetrics ?? true;
    if (this.#processMetrics) {
      const gc = new PerformanceObserver((list) => this.#gcSeen(list.getEntries()));
      gc.observe({ entryTypes: ['gc'] });
      const loopDelay = monitorEventLoopDelay();
      loopDelay.enable();
      this.#early = { cpu: process.cpuUsage(), gc, loopDelay };
    }
  }

  /** This server's Prometheus registry (made, and prom-client loaded, on first read). */
  get registry(): Registry {
    return this.#load().registry;
  }

  #record(op: (loaded: Loaded) => void): void {
    if (this.#loaded !== undefined) return op(this.#loaded);
    this.#pending.push(op);
    if (this.#pending.length >= PENDING_MAX) this.#load();
  }

  #gcSeen(entries: readonly PerformanceEntry[]): void {
    for (const entry of entries) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1];
      const seconds = entry.duration / 1000;
      this.#record((loaded) =>
        (loaded.registry.getSingleMetric('nodejs_gc_duration_seconds') as Histogram<'kind'> | undefined)?.observe({ kind }, seconds),
      );
    }
  }

  #load(): Loaded {
    if (this.#loaded !== undefined) return this.#loaded;
    const prom = createRequire(import.meta.url)('prom-client') as typeof PromClient;
    const registry = new prom.Registry();
    const registers = [registry];
    const ended = this.#ended;
    new prom.Counter({
      name: 'cog_predictions_total',
      help: 'Predictions ended, by terminal status (succeeded, failed, canceled)',
      labelNames: ['status'],
      registers,
      // The counts are this object's; the Counter shows them (every status, 0 included).
      collect() {
        this.reset();
        for (const status of STATUSES) this.inc({ status }, ended[status]);
      },
    });
    for (const histogram of [this.#queueSeconds, this.#runSeconds, this.#batchSize]) {
      registry.registerMetric(histogram as unknown as Metric);
    }
    const setupSeconds = new prom.Histogram({
      name: 'cog_setup_seconds',
      help: 'Seconds each setup() took (a replaced worker sets up again), by outcome',
      labelNames: ['status'],
      buckets: SETUP_BUCKETS,
      registers,
    });
    const restarts = new prom.Counter({
      name: 'cog_worker_restarts_total',
      help: 'Predictor workers replaced (crashed, or stopped past the cancel grace period)',
      registers,
    });
    const sources = this.#sources;
    const sum = (read: (source: LoadSource) => number) => [...sources].reduce((total, source) => total + read(source), 0);
    new prom.Gauge({
      name: 'cog_predictions_running',
      help: 'Predictions whose code runs now',
      registers,
      collect() {
        this.set(sum((source) => source.running()));
      },
    });
    new prom.Gauge({
      name: 'cog_predictions_waiting',
      help: 'Predictions waiting for a slot now',
      registers,
      collect() {
        this.set(sum((source) => source.waiting()));
      },
    });
    const early = this.#early;
    if (this.#processMetrics) {
      const cpu = process.cpuUsage(early?.cpu);
      prom.collectDefaultMetrics({ register: registry });
      if (early !== undefined) this.#takeOverEarly(registry, early, cpu);
    }
    const loaded: Loaded = { registry, setupSeconds, restarts };
    this.#loaded = loaded;
    for (const op of this.#pending) op(loaded);
    this.#pending = [];
    return loaded;
  }

  /** prom-client's collectors run from now on; what ours saw before is added to their figures. */
  #takeOverEarly(registry: Registry, early: EarlyProcess, cpu: NodeJS.CpuUsage): void {
    this.#gcSeen(early.gc.takeRecords());
    early.gc.disconnect();
    this.#early = undefined;
    const counter = (name: string) => registry.getSingleMetric(name) as Counter | undefined;
    counter('process_cpu_user_seconds_total')?.inc(cpu.user / 1e6);
    counter('process_cpu_system_seconds_total')?.inc(cpu.system / 1e6);
    counter('process_cpu_seconds_total')?.inc((cpu.user + cpu.system) / 1e6);
    // The event loop's delay gauges describe the time since the last scrape: for the first, the
    // time since this object was made, which only our histogram saw (prom-client's is empty yet).
    const lag = registry.getSingleMetric('nodejs_eventloop_lag_seconds') as (Gauge & { collect?: () => unknown }) | undefined;
    const ownCollect = lag?.collect;
    if (lag === undefined || ownCollect === undefined) {
      early.loopDelay.disable();
      return;
    }
    const gauge = (name: string) => registry.getSingleMetric(name) as Gauge | undefined;
    lag.collect = function (this: Gauge) {
      lag.collect = ownCollect;
      const start = process.hrtime.bigint();
      setImmediate(() => this.set(Number(process.hrtime.bigint() - start) / 1e9));
      const histogram = early.loopDelay;
      gauge('nodejs_eventloop_lag_min_seconds')?.set(histogram.min / 1e9);
      gauge('nodejs_eventloop_lag_max_seconds')?.set(histogram.max / 1e9);
      gauge('nodejs_eventloop_lag_mean_seconds')?.set(histogram.mean / 1e9);
      gauge('nodejs_eventloop_lag_stddev_seconds')?.set(histogram.stddev / 1e9);
      gauge('nodejs_eventloop_lag_p50_seconds')?.set(histogram.percentile(50) / 1e9);
      gauge('nodejs_eventloop_lag_p90_seconds')?.set(histogram.percentile(90) / 1e9);
      gauge('nodejs_eventloop_lag_p99_seconds')?.set(histogram.percentile(99) / 1e9);
      histogram.disable();
    };
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

  /** RuntimeObserver: a prediction ended. */
  ended(prediction: Prediction, response: PredictionResponse): void {
    this.predictionEnded(response.status, response.metrics, response.started_at !== undefined);
  }

  /** A prediction ended: counted by status, its wait and (if it ran) its run time observed. */
  predictionEnded(status: string, metrics: { predict_time?: unknown; queue_time?: unknown }, ran: boolean): void {
    if (status === 'succeeded' || status === 'failed' || status === 'canceled') this.#ended[status] += 1;
    const queueTime = metrics.queue_time;
    const predictTime = metrics.predict_time;
    if (typeof queueTime === 'number') this.#queueSeconds.observe(queueTime);
    if (ran && typeof predictTime === 'number') this.#runSeconds.observe(predictTime);
  }

  /** RuntimeObserver: `size` predictions ran in one call of the predictor (1 without batching). */
  batchRan(size: number): void {
    this.#batchSize.observe(size);
  }

  /** RuntimeObserver: a setup ended (succeeded or failed). */
  setupEnded(state: Readonly<SetupState>): void {
    const seconds = (Date.parse(state.completed_at ?? state.started_at) - Date.parse(state.started_at)) / 1000;
    const status = state.status;
    this.#record((loaded) => loaded.setupSeconds.observe({ status }, Math.max(0, seconds)));
  }

  /** RuntimeObserver: a worker was replaced. */
  workerRestarted(): void {
    this.#record((loaded) => loaded.restarts.inc());
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
