// What `serve` and `createApp` accept as a predictor, turned (through the one resolver, src/load/plan.ts)
// into the endpoints the server will have and the runtimes behind them.
import { LoadedPredictor } from '../embed.js';
import { PredictorLoadError } from '../errors.js';
import { loadTarget, targetFrom, type LoadedTarget } from '../load/load-module.js';
import { resolvePlan, type TracingPlan } from '../load/plan.js';
import { PredictorRuntime } from '../runtime/runtime.js';
import type { Settings } from '../load/settings.js';
import type { InputsDeclaration } from '../predictor/base-predictor.js';
import type { TSchema } from '../predictor/type.js';
import type { SchemaSources } from '../schema/declaration.js';
import type { Runtimes, RunKind, ServiceShape } from './service.js';

/** A predictor (or trainer) as the server accepts it. */
export type Runnable = (abstract new () => unknown) | ((inputs: never) => unknown) | LoadedTarget | LoadedPredictor;

/**
 * What to serve: a folder holding cog.yaml, a `file.ts:Name` reference, a class or function, a
 * `loadPredictor()` result, or `{ predict, train }` to serve a trainer at `/trainings` too.
 */
export type ServeSource = string | Runnable | { predict?: Runnable | string; train?: Runnable | string };

export interface RuntimeSettings {
  /** Predictions in flight at once; default `COG_MAX_CONCURRENCY`, then cog.yaml, then the predictor's `static concurrency`, then 1. */
  concurrency?: number;
  /** Seconds setup may take; default `COG_SETUP_TIMEOUT` (unset: no limit). */
  setupTimeout?: number;
  /** Passed to `setup(weights)`; default `COG_WEIGHTS`. */
  weights?: string;
  /**
   * Run a predictor given by reference (cog.yaml, `file.ts:Name`) in the server's own thread
   * instead of a worker thread. A class or function you pass is always run in-process.
   */
  inProcess?: boolean;
  /** Seconds a cancelled prediction may ignore cancellation before its worker is replaced (default 30). */
  cancelGracePeriod?: number;
}

function isRunnable(value: unknown): value is Runnable {
  return (
    typeof value === 'function' ||
    value instanceof LoadedPredictor ||
    (typeof value === 'object' && value !== null && 'instance' in value && 'method' in value)
  );
}

/** The endpoints a source will have, how to load its runtimes (errors there are SETUP_FAILED), and the settings read. */
export function resolveSource(
  source: ServeSource,
  options: RuntimeSettings = {},
): {
  shape: ServiceShape;
  load: () => Promise<Runtimes>;
  declarations: () => Promise<SchemaSources>;
  settings: Settings;
  tracing: TracingPlan;
} {
  const plan = resolvePlan<Runnable>(isRunnable(source) ? { predict: source } : source, options);
  // Broken cog.yaml is the operator's mistake: say so now, not as SETUP_FAILED later.
  if (plan.config !== undefined && plan.predict === undefined && plan.train === undefined) {
    throw new PredictorLoadError(`${plan.config.dir}/cog.yaml: names neither \`predict\` (or \`run\`) nor \`train\``);
  }
  const { cwd } = plan;
  const { concurrency, instances, ...runtimeOptions } = plan.runtime;

  async function runtimeFor(part: Runnable | string | undefined, kind: RunKind): Promise<PredictorRuntime | undefined> {
    if (part === undefined) return undefined;
    if (part instanceof LoadedPredictor) return part.runtime;
    if (typeof part === 'string' && !options.inProcess) {
      // By default the predictor lives in a worker thread: the server answers while it computes.
      // A trainer runs one training at a time here (whether it is async is known only once loaded).
      return PredictorRuntime.launch(part, cwd, kind, {
        ...runtimeOptions,
        concurrency: kind === 'train' ? 1 : concurrency,
        instances: kind === 'train' ? 1 : instances,
      });
    }
    let target: LoadedTarget;
    if (typeof part === 'string') target = await loadTarget(part, cwd, kind);
    else if (typeof part === 'function') target = targetFrom(part, kind, part.name || (kind === 'train' ? 'trainer' : 'predictor'));
    else target = part;
    return new PredictorRuntime(target, kind, {
      ...runtimeOptions,
      // A synchronous trainer beside an async predictor runs one training at a time.
      concurrency: kind === 'train' && !target.isAsync ? 1 : concurrency,
      // One instance runs in this thread; the sync rule counts the configured ones, as
      // `cog-node predict` and loadPredictor do, so a cog.yaml that serves in workers serves here.
      instances: kind === 'train' ? 1 : instances,
    });
  }

  /** A part's declarations without setting it up (a reference's module is imported, its class made). */
  async function declared(part: Runnable | string | undefined, kind: RunKind): Promise<SchemaSources['predict']> {
    if (part === undefined) return undefined;
    if (part instanceof LoadedPredictor) return part.runtime.target;
    if (typeof part === 'string') return loadTarget(part, cwd, kind);
    if (typeof part === 'function') {
      const statics = part as { inputs?: InputsDeclaration; output?: TSchema };
      return { inputs: statics.inputs ?? {}, output: statics.output };
    }
    return part;
  }

  return {
    shape: { predict: plan.predict !== undefined, train: plan.train !== undefined },
    declarations: async () => ({ predict: await declared(plan.predict, 'predict'), train: await declared(plan.train, 'train') }),
    load: async () => ({ predict: await runtimeFor(plan.predict, 'predict'), train: await runtimeFor(plan.train, 'train') }),
    settings: plan.settings,
    tracing: plan.tracing,
  };
}
