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
  };
}

/** A folder holding cog.yaml, not a module: a project folder may be named like one (`chart.js/`). */
function isFolder(source: string): boolean {
  return !REFERENCE.test(source) || statSync(source, { throwIfNoEntry: false })?.isDirectory() === true;
}
