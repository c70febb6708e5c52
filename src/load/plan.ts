// Where the predictor comes from, answered once for every entry point: a class or function, a
// `file.ts:Name` reference or a folder holding cog.yaml becomes one plain plan, with one rule for
// what wins: an explicit option, then the real environment, then cog.yaml, then the predictor.
import { statSync } from 'node:fs';
import { readConfig, type CogConfig } from './cog-yaml.js';
import { applyEnvironment, readSettings, type Settings } from './settings.js';

export type RunKind = 'predict' | 'train';

/** `predict.ts`, `predict.ts:Predictor`, `dist/predict.mjs:Run`: a module reference, not a folder. */
const REFERENCE = /\.(?:[cm]?[jt]sx?)(?::[\w$]+)?$/;

/** What the caller chose in code (or on the command line): these win over the environment. */
export interface PlanOptions {
  /** Where a single source (a reference, a class) goes; default `predict`. */
  kind?: RunKind;
  concurrency?: number;
  setupTimeout?: number;
  weights?: string;
  cancelGracePeriod?: number;
  instances?: number;
  queueMax?: number;
  predictTimeout?: number;
}

/** How each runtime of the plan is set up. */
export interface RuntimePlan {
  /** Predictions in flight at once; undefined: the predictor's own `static concurrency`, else 1. */
  concurrency: number | undefined;
  /** Seconds setup may take; 0: no limit. */
  setupTimeout: number;
  weights: string | undefined;
  /** Seconds a cancelled prediction may run on. */
  cancelGracePeriod: number;
  /** The worker thread's JS heap limit (MB); 0: V8's own. */
  workerMaxHeapMb: number;
  /** Model instances (worker threads), each with its own setup(). */
  instances: number;
  /** Predictions that may wait for a slot; 0: Cog's 409 at capacity. */
  queueMax: number;
  /** Seconds from creation (waiting and running); undefined: no limit. */
  predictTimeout: number | undefined;
  /** Finished predictions kept for polling: at most `count`, for at most `seconds`. */
  retention: { count: number; seconds: number };
}

/** Tracing, decided once: off (and why), or where spans go and which are kept. */
export type TracingPlan =
  | { enabled: false; why: string }
  | {
      enabled: true;
      /** The full URL spans are POSTed to (OTLP/HTTP, JSON). */
      url: string;
      headers: Readonly<Record<string, string>>;
      /** An OpenTelemetry sampler name (`parentbased_always_off` unless told). */
      sampler: string;
      /** The ratio of the `*traceidratio` samplers. */
      ratio: number;
      serviceName: string;
    };

/**
 * Tracing's rule, as Cog 0.23's: off unless cog.yaml's `observability.traces` (or
 * `COG_TRACE_ENABLED=true`) turns it on and a collector endpoint is set; `COG_TRACE_ENABLED=false`,
 * `OTEL_SDK_DISABLED=true` and `OTEL_TRACES_EXPORTER=none` turn it off whatever else says. The
 * sampler: `OTEL_TRACES_SAMPLER` > cog.yaml > `parentbased_always_off`.
 */
export function tracingPlan(settings: Settings, traces: CogConfig['traces'] | undefined): TracingPlan {
  if (settings.traceEnabled === false) return { enabled: false, why: 'COG_TRACE_ENABLED=false' };
  if (settings.otelSdkDisabled) return { enabled: false, why: 'OTEL_SDK_DISABLED=true' };
  if (settings.otelTracesExporter === 'none') return { enabled: false, why: 'OTEL_TRACES_EXPORTER=none' };
  if (!(settings.traceEnabled ?? traces?.enabled ?? false)) return { enabled: false, why: 'not enabled (cog.yaml observability.traces)' };
  const base = settings.otlpEndpoint;
  const url = settings.otlpTracesEndpoint ?? (base === undefined ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`);
  if (url === undefined) return { enabled: false, why: 'no collector: set OTEL_EXPORTER_OTLP_ENDPOINT' };
  const sampler = settings.otelTracesSampler ?? traces?.sampler ?? 'parentbased_always_off';
  const ratio = Number.parseFloat(settings.otelTracesSamplerArg ?? traces?.samplerArg ?? '1');
  return {
    enabled: true,
    url,
    headers: settings.otlpHeaders,
    sampler,
    ratio: Number.isFinite(ratio) && ratio >= 0 && ratio <= 1 ? ratio : 1,
    serviceName: settings.otelServiceName,
  };
}

/** One plain answer to "what runs, from where, with what". */
export interface PredictorPlan<T> {
  /** The predictor and the trainer; a string is a reference resolved against `cwd`. */
  predict?: T | string;
  train?: T | string;
  /** The folder references resolve against: cog.yaml's, else the current one. */
  cwd: string;
  /** cog.yaml, when the source was a folder. */
  config?: CogConfig;
  /** cog.yaml's `environment:`, applied under the real environment (which wins). */
  environment: Readonly<Record<string, string>>;
  /** Read once, after `environment` was applied. */
  settings: Settings;
  runtime: RuntimePlan;
  tracing: TracingPlan;
}

/**
 * Resolves a source: a folder (cog.yaml names the targets, its `environment:` is applied where the
 * real environment leaves a variable unset), a reference (`options.kind` says which target it
 * is), or `{ predict, train }` (references or code). Concurrency: `options.concurrency` >
 * `COG_MAX_CONCURRENCY` > cog.yaml's `concurrency.max` > the predictor's `static concurrency` > 1.
 */
export function resolvePlan<T>(source: string | { predict?: T | string; train?: T | string }, options: PlanOptions = {}): PredictorPlan<T> {
  let parts: { predict?: T | string; train?: T | string };
  let config: CogConfig | undefined;
  if (typeof source === 'string' && isFolder(source)) {
    config = readConfig(source);
    applyEnvironment(config.environment);
    parts = { predict: config.predict, train: config.train };
  } else if (typeof source === 'string') {
    parts = { [options.kind ?? 'predict']: source };
  } else {
    parts = source;
  }
  const settings = readSettings();
  return {
    ...parts,
    cwd: config?.dir ?? process.cwd(),
    config,
    environment: config?.environment ?? {},
    settings,
    runtime: {
      concurrency: options.concurrency ?? settings.maxConcurrency ?? config?.concurrency.max,
      setupTimeout: options.setupTimeout ?? settings.setupTimeout,
      weights: options.weights ?? settings.weights,
      cancelGracePeriod: options.cancelGracePeriod ?? settings.cancelGracePeriod,
      workerMaxHeapMb: settings.workerMaxHeapMb,
      instances: options.instances ?? settings.instances ?? config?.concurrency.instances ?? 1,
      queueMax: options.queueMax ?? settings.queueMax ?? config?.queue.max ?? 0,
      predictTimeout: options.predictTimeout ?? settings.predictTimeout ?? config?.predictTimeout,
      retention: { count: settings.predictionRetention, seconds: settings.predictionRetentionSeconds },
    },
    tracing: tracingPlan(settings, config?.traces),
  };
}

/** A folder holding cog.yaml, not a module: a project folder may be named like one (`chart.js/`). */
function isFolder(source: string): boolean {
  return !REFERENCE.test(source) || statSync(source, { throwIfNoEntry: false })?.isDirectory() === true;
}
