// Predictors inside your own app, without HTTP: `loadPredictor()` loads one and runs its setup;
// the LoadedPredictor it returns runs predictions (`run`, `predict`, `stream`) on its runtime.
import { CancelationError, PredictionError, PredictorLoadError } from './errors.js';
import { loadTarget, targetFrom, type LoadedTarget } from './load/load-module.js';
import { openApiDocument } from './schema/openapi.js';
import type { FileEncoder } from './runtime/output-files.js';
import { resolvePlan } from './load/plan.js';
import type { Prediction, PredictionResponse } from './runtime/prediction.js';
import { PredictorRuntime, type RuntimeOptions } from './runtime/runtime.js';

/** Options of one call. */
export interface PredictOptions {
  /** Aborting it cancels the prediction (its scope's signal aborts, Rust work stops). */
  signal?: AbortSignal;
  /** Strings the predictor sees as `this.scope.context`. */
  context?: Record<string, string>;
  id?: string;
  /** How output files are returned; default: `Path` objects. Pass `dataUriEncoder` for Cog's wire form. */
  encodeFile?: FileEncoder;
}

export interface LoadOptions extends RuntimeOptions {
  /** Load the trainer (cog.yaml's `train:`) instead of the predictor. */
  train?: boolean;
}

function settle(response: PredictionResponse): unknown {
  if (response.status === 'succeeded') return response.output;
  if (response.status === 'canceled') throw new CancelationError();
  throw new PredictionError(response);
}

/**
 * A predictor loaded once (setup has run) and called many times from an app, without HTTP:
 * `run()` for the output, `predict()` for Cog's whole prediction object, `stream()` for the
 * items of a generator as they come.
 */
export class LoadedPredictor {
  readonly runtime: PredictorRuntime;

  constructor(runtime: PredictorRuntime) {
    this.runtime = runtime;
  }

  /** The OpenAPI document Cog would serve for this predictor (built once, from the checked declaration). */
  get schema(): Record<string, unknown> {
    return openApiDocument(this.runtime.declaration);
  }

  /** Starts a prediction and returns it at once (events: start, output, log, metric, completed). */
  start(input: Record<string, unknown> = {}, options: PredictOptions = {}): Prediction {
    // The embedding app is the operator: its own paths (and `Path` objects) are trusted.
    return this.runtime.start(input, { ...options, validate: { allowLocalPaths: true } });
  }

  /** Cog's prediction object (status, output, logs, metrics...); failures are a status, not a throw. */
  async predict(input: Record<string, unknown> = {}, options: PredictOptions = {}): Promise<PredictionResponse> {
    return this.start(input, options).done;
  }

  /** The output; throws `PredictionError` on failure and `CancelationError` when cancelled. */
  async run(input: Record<string, unknown> = {}, options: PredictOptions = {}): Promise<unknown> {
    return settle(await this.predict(input, options));
  }

  /**
   * The output items as the predictor yields them; throws at the end like `run()`. The
   * iterator is a lossless consumer of the prediction's channel: when it is not read, the
   * generator's next `yield` waits. Leaving the loop early cancels the prediction.
   */
  async *stream(input: Record<string, unknown> = {}, options: PredictOptions = {}): AsyncGenerator<unknown, void, undefined> {
    const prediction = this.start(input, options);
    const consumer = prediction.events.reader({ lossless: true, replay: true });
    const items = prediction.outputItems;
    try {
      // Lossless from the first event, so the nth `output` event is item n: no JSON to parse.
      let index = 0;
      for (;;) {
        // Take what is there without an await; wait only when the channel is empty.
        const batch = await consumer.read(1024);
        if (batch === null) break;
        for (const line of batch.split('\n')) {
          if (line.startsWith('output ')) yield items[index++];
        }
      }
      settle(await prediction.done);
    } finally {
      consumer.unsubscribe();
      if (!prediction.terminal) prediction.cancel();
    }
  }
}

type PredictorSource = string | (abstract new () => unknown) | ((inputs: never) => unknown) | LoadedTarget;

/**
 * Loads a predictor and runs its setup: from a folder holding cog.yaml (default: the current
 * folder), from `file.ts:Name`, or from a class or function in your own code.
 * Rejects when setup fails.
 */
export async function loadPredictor(source: PredictorSource = '.', options: LoadOptions = {}): Promise<LoadedPredictor> {
  const kind = options.train ? 'train' : 'predict';
  const plan = resolvePlan<Exclude<PredictorSource, string>>(typeof source === 'string' ? source : { [kind]: source }, {
    ...options,
    kind,
  });
  const part = plan[kind];
  if (part === undefined) throw new PredictorLoadError(`${source as string}/cog.yaml names no ${kind} target`);
  let target: LoadedTarget;
  if (typeof part === 'string') target = await loadTarget(part, plan.cwd, kind);
  else if (typeof part === 'function') target = targetFrom(part, kind, part.name || 'predictor');
  else target = part;
  const runtime = new PredictorRuntime(target, kind, { ...options, ...plan.runtime });
  await runtime.ready;
  return new LoadedPredictor(runtime);
}
