// What a predictor is, as its author writes it: BasePredictor (BaseRunner, BaseTrainer), the
// `static inputs/output/concurrency` it declares, `Inputs<typeof P>`, what an instance may define.
import type { Static, TObject, TSchema } from 'typebox';
import type { MetricValue } from './metrics.js';
import { currentInstance, type ModelInstance } from './instance.js';
import { currentScope, type Scope } from './scope.js';

/** The inputs a predictor declares: a name for each input, in the order Cog shows them. */
export type InputsDeclaration = Record<string, TSchema>;

/**
 * The argument `predict` receives, inferred from `static inputs`:
 * `predict(inputs: Inputs<typeof Predictor>)`.
 */
export type Inputs<P> = P extends { inputs: infer I extends InputsDeclaration } ? Static<TObject<I>> : Record<string, never>;

type MetricMode = 'replace' | 'incr' | 'append';

/**
 * The base class of a predictor: override `setup()` (optional, runs once) and `predict()`
 * (or `run()`, Cog 0.20's name), and declare `static inputs` and `static output`.
 */
export class BasePredictor {
  // `static inputs`, `static output` and `static concurrency = { max: N }` (see
  // `PredictorDeclaration`) are read from the subclass. They are not declared here, so that
  // subclasses need no `override` under `noImplicitOverride`.

  /** Records a metric of the running prediction (a no-op outside one). */
  recordMetric(key: string, value: MetricValue | null, mode: MetricMode = 'replace'): void {
    currentScope().recordMetric(key, value, mode);
  }

  /** The running prediction: metrics, context, cancellation. A no-op scope outside one. */
  get scope(): Scope {
    return currentScope();
  }

  /**
   * Which model instance this is (`concurrency.instances`), from `setup()` on: `{ index, count }`,
   * `index` from 0. `{ index: 0, count: 1 }` in the server's thread (`--in-process`, embedding).
   */
  get instance(): ModelInstance {
    return currentInstance();
  }
}

/** Cog 0.20's name for `BasePredictor`; define `run()` instead of `predict()`. */
export const BaseRunner = BasePredictor;
export type BaseRunner = BasePredictor;

/** The base class of a trainer: like a predictor, with `train()` in place of `predict()`. */
export class BaseTrainer extends BasePredictor {}

/** What a loaded predictor instance may define. */
export interface PredictorInstance {
  setup?(weights?: string): unknown;
  predict?(inputs: Record<string, unknown>): unknown;
  run?(inputs: Record<string, unknown>): unknown;
  train?(inputs: Record<string, unknown>): unknown;
  healthcheck?(): unknown;
}

/** How many predictions may run at once: Cog 0.22's `@cog.concurrent(max=N)`. */
export interface PredictorConcurrency {
  max: number;
}

/** A class (or a function, as Cog accepts) with its declarations attached. */
export interface PredictorDeclaration {
  inputs?: InputsDeclaration;
  output?: TSchema;
  /** Predictions in flight at once (needs an async `predict`); `COG_MAX_CONCURRENCY` and cog.yaml's `concurrency.max` win. */
  concurrency?: PredictorConcurrency;
}
