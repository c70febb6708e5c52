// What a predictor is, as its author writes it: BasePredictor (BaseRunner, BaseTrainer), the
// `static inputs/output/concurrency/batch` it declares, `Inputs<typeof P>`, `Output<typeof P>`,
// what an instance may define (predict, or predictBatch for a batching predictor).
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

/**
 * The value `predict` returns (one item of what `predictBatch` returns), inferred from
 * `static output`: `predictBatch(inputs: Inputs<typeof P>[]): Promise<Output<typeof P>[]>`.
 */
export type Output<P> = P extends { output: infer O extends TSchema } ? Static<O> : unknown;

/**
 * The method a batching predictor (`static batch`) defines: one call for the inputs of every
 * prediction in the batch, in order, returning one output per input (an `Error` element fails
 * that prediction alone). `class P extends BasePredictor implements BatchPredictor<typeof P>`
 * has the compiler check its signature.
 */
export interface BatchPredictor<P> {
  predictBatch(inputs: Inputs<P>[]): Promise<(Output<P> | Error)[]>;
}

type MetricMode = 'replace' | 'incr' | 'append';

/**
 * The base class of a predictor: override `setup()` (optional, runs once) and `predict()`
 * (or `run()`, Cog 0.20's name), and declare `static inputs` and `static output`.
 */
export class BasePredictor {
  // `static inputs`, `static output`, `static concurrency = { max: N }` and `static batch` (see
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
  /** A batching predictor's (`static batch`) entry point: one output per input, in order. */
  predictBatch?(inputs: Record<string, unknown>[]): unknown;
  run?(inputs: Record<string, unknown>): unknown;
  train?(inputs: Record<string, unknown>): unknown;
  healthcheck?(): unknown;
}

/** How many predictions may run at once: Cog 0.22's `@cog.concurrent(max=N)`. */
export interface PredictorConcurrency {
  max: number;
}

/**
 * Dynamic batching (`static batch`): waiting predictions are taken together, up to `maxSize`,
 * into one `predictBatch` call; when fewer wait, a batch waits at most `maxDelayMs` from its
 * oldest prediction's arrival for more.
 */
export interface PredictorBatch {
  /** Most predictions in one batch: an integer >= 1. */
  maxSize: number;
  /** Longest a prediction waits for others to join its batch, in milliseconds: >= 0. */
  maxDelayMs: number;
}

/** A class (or a function, as Cog accepts) with its declarations attached. */
export interface PredictorDeclaration {
  inputs?: InputsDeclaration;
  output?: TSchema;
  /** Predictions in flight at once (needs an async `predict`); `COG_MAX_CONCURRENCY` and cog.yaml's `concurrency.max` win. */
  concurrency?: PredictorConcurrency;
  /** Batch predictions into `predictBatch` calls (a class predictor only; not trainers). */
  batch?: PredictorBatch;
}
