import { resolveConcurrency, type CogConfig } from './config.js';
import { checkDeclaration, type CheckedDeclaration } from './declaration.js';
import { AtCapacityError, NotReadyError } from './errors.js';
import { InProcessExecutor, errorMessage, type ExecutionResult, type PredictorExecutor } from './executor.js';
import { InputFiles } from './files.js';
import type { LoadedTarget, PredictorInfo } from './loader.js';
import type { LogSource } from './logs.js';
import type { MetricsObject } from './metrics.js';
import { PredictionSlots } from './native.js';
import { encodeOutput, type FileEncoder } from './output.js';
import { Prediction } from './prediction.js';
import { currentScope } from './scope.js';
import { InputValidator, type ValidateOptions } from './validation.js';
import { WorkerExecutor, workerHeapLimitFromEnv, type WorkerDeath } from './worker/host.js';

/**
 * How long a cancelled async prediction gets to stop on its own (its cleanup logs kept, its slot
 * free when it ends) before it ends `canceled` without it. A prediction that obeys its signal
 * stops within a few ms, even in a worker thread (a message each way).
 */
const ABANDON_AFTER_MS = 100;

export type SetupStatus = 'starting' | 'succeeded' | 'failed';

export interface SetupState {
  status: SetupStatus;
  started_at: string;
  completed_at?: string;
  logs: string;
  error?: string;
}

export interface RuntimeOptions {
  /**
   * Predictions in flight at once; more than 1 needs an async `predict`. Unset: the predictor's
   * own `static concurrency = { max }`, else 1.
   */
  concurrency?: number;
  /** Passed to `setup(weights)`; defaults to `COG_WEIGHTS`. */
  weights?: string;
  /** Fail setup after this many seconds (`COG_SETUP_TIMEOUT`); 0 or unset: no limit. */
  setupTimeout?: number;
  /** Also print what the predictor logs (the CLI does). */
  echoLogs?: boolean;
  /** Seconds a cancelled prediction may run on before it is stopped (`COG_CANCEL_GRACE_PERIOD`, 30). */
  cancelGracePeriod?: number;
}

/**
 * The concurrency the operator chose: `COG_MAX_CONCURRENCY`, then cog.yaml's `concurrency.max`;
 * undefined when neither says, so the predictor's own `static concurrency` decides (else 1).
 */
export function configuredConcurrency(config: Pick<CogConfig, 'concurrency'> | undefined): number | undefined {
  const fromEnv = process.env.COG_MAX_CONCURRENCY;
  if (fromEnv !== undefined && fromEnv !== '') return resolveConcurrency(config);
  return config?.concurrency.max;
}

/** `COG_CANCEL_GRACE_PERIOD` seconds (default 30): how long a cancelled prediction may run on. */
export function cancelGracePeriodFromEnv(): number {
  const value = Number.parseFloat(process.env.COG_CANCEL_GRACE_PERIOD ?? '');
  return Number.isFinite(value) && value >= 0 ? value : 30;
}

export interface StartOptions {
  id?: string;
  context?: Record<string, string>;
  /** Aborting it cancels the prediction. */
  signal?: AbortSignal;
  /** How output files become wire values; default: keep them as `Path` objects. */
  encodeFile?: FileEncoder;
  validate?: ValidateOptions;
}

/**
 * A loaded predictor, set up once, running predictions: validation, input files, concurrency
 * slots, scope, logs, metrics, output encoding and cancellation. The HTTP server, the CLI and
 * embedding apps all drive predictions through it.
 */
export class PredictorRuntime {
  readonly kind: 'predict' | 'train';
  #slots: PredictionSlots;
  /** The current (or last) setup: a restarted worker runs setup again, with a new state. */
  setupState: SetupState;
  /** Settles when the first setup has finished; rejects when it failed. */
  readonly ready: Promise<void>;
  readonly #options: RuntimeOptions;
  readonly #inFlight = new Map<string, Prediction>();
  #info: PredictorInfo | undefined;
  #validator: InputValidator | undefined;
  #declaration: CheckedDeclaration | undefined;
  #executor: PredictorExecutor | undefined;
  #defunct = false;

  /**
   * Runs a predictor already loaded in this thread (`options.executor` may say where its code
   * runs instead), or, given `{ ref, cwd }`, loads it in a worker thread: see `launch`.
   */
  constructor(
    source: (PredictorInfo & { instance?: LoadedTarget['instance'] }) | { ref: string; cwd: string },
    kind: 'predict' | 'train',
    options: RuntimeOptions & { executor?: PredictorExecutor } = {},
  ) {
    this.kind = kind;
    this.#options = options;
    this.#slots = new PredictionSlots(Math.max(1, options.concurrency ?? 1));
    this.setupState = { status: 'starting', started_at: new Date().toISOString(), logs: '' };
    if ('ref' in source) {
      this.ready = this.#launch(source.ref, source.cwd, options.cancelGracePeriod ?? cancelGracePeriodFromEnv());
    } else {
      const executor = options.executor ?? (source.instance ? new InProcessExecutor(source as LoadedTarget, { echoLogs: options.echoLogs }) : undefined);
      if (executor === undefined) throw new TypeError('PredictorRuntime needs a loaded target or an executor');
      this.#load(source, executor);
      this.ready = this.#setup();
    }
    // Setup failure is a state (health says SETUP_FAILED), not an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /**
   * Starts a predictor by reference (`predict.ts:Predictor`) in a worker thread, so a busy
   * `predict` never stalls the caller's event loop. Returns at once: loading and setup go on
   * while `setupState` says `starting`.
   */
  static launch(ref: string, cwd: string, kind: 'predict' | 'train', options: RuntimeOptions = {}): PredictorRuntime {
    return new PredictorRuntime({ ref, cwd }, kind, options);
  }

  async #launch(ref: string, cwd: string, cancelGracePeriod: number): Promise<void> {
    let started;
    try {
      started = await WorkerExecutor.start({
        ref,
        cwd,
        kind: this.kind,
        echoLogs: this.#options.echoLogs ?? false,
        cancelGracePeriodMs: cancelGracePeriod * 1000,
        maxHeapMb: workerHeapLimitFromEnv(),
      });
    } catch (error) {
      this.#failSetup(error);
      throw error;
    }
    const executor = started.executor;
    executor.onDeath = (reason) => void this.#restart(executor, reason);
    this.#load(started.info, executor);
    await this.#setup();
  }

  #load(info: PredictorInfo, executor: PredictorExecutor): void {
    // Fails here, at load, when the schema cannot be expressed.
    const declaration = checkDeclaration({ [this.kind]: { inputs: info.inputs, output: info.output } });
    this.#validator = new InputValidator(declaration[this.kind]!.inputs);
    this.#declaration = declaration;
    this.#info = info;
    this.#executor = executor;
    // The predictor's `static concurrency` is known only now (it may load in a worker).
    const capacity = Math.max(1, this.#options.concurrency ?? info.concurrency ?? 1);
    if (capacity !== this.#slots.capacity) this.#slots = new PredictionSlots(capacity);
  }

  /** The prediction slots (concurrency): taken by each prediction until its code has ended. */
  get slots(): PredictionSlots {
    return this.#slots;
  }

  /** A worker crashed or hung: say so in health, start a new one and run setup again. */
  async #restart(executor: WorkerExecutor, reason: WorkerDeath): Promise<void> {
    this.#defunct = reason === 'crashed';
    this.setupState = { status: 'starting', started_at: new Date().toISOString(), logs: '' };
    try {
      await executor.restart();
      this.#defunct = false;
      await this.#setup();
    } catch (error) {
      this.#failSetup(error);
    }
  }

  /** The predictor's declarations (inputs, output, name); undefined until it has loaded. */
  get target(): PredictorInfo {
    if (this.#info === undefined) throw new NotReadyError();
    return this.#info;
  }

  /** The declaration, checked at load: what the validator and the OpenAPI document are made from. */
  get declaration(): CheckedDeclaration {
    if (this.#declaration === undefined) throw new NotReadyError();
    return this.#declaration;
  }

  get validator(): InputValidator {
    if (this.#validator === undefined) throw new NotReadyError();
    return this.#validator;
  }

  get executor(): PredictorExecutor {
    if (this.#executor === undefined) throw new NotReadyError();
    return this.#executor;
  }

  /** Cog's health status, less BUSY and UNHEALTHY (the server adds those). */
  get health(): 'STARTING' | 'READY' | 'SETUP_FAILED' | 'DEFUNCT' {
    if (this.#defunct) return 'DEFUNCT';
    if (this.setupState.status === 'failed') return 'SETUP_FAILED';
    return this.setupState.status === 'succeeded' ? 'READY' : 'STARTING';
  }

  #failSetup(error: unknown): void {
    const state = this.setupState;
    state.status = 'failed';
    state.error = errorMessage(error);
    state.logs += `${error instanceof Error && error.stack ? error.stack : state.error}\n`;
    state.completed_at = new Date().toISOString();
  }

  async #setup(): Promise<void> {
    const options = this.#options;
    const state = this.setupState;
    const onLog = (text: string, _source: LogSource) => {
      state.logs += text;
    };
    try {
      if (this.slots.capacity > 1 && !this.target.isAsync) {
        throw new Error('COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method');
      }
      const setup = this.executor.setup(options.weights ?? process.env.COG_WEIGHTS, onLog);
      const timeout = options.setupTimeout ?? 0;
      if (timeout > 0) {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Error(`Setup timed out after ${timeout} seconds`);
        const expired = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(timedOut), timeout * 1000);
        });
        try {
          await Promise.race([setup, expired]);
        } catch (error) {
          // A worker still running setup() would keep its core busy for good: stop it (in this
          // thread nothing can stop it).
          if (error === timedOut && this.executor instanceof WorkerExecutor) await this.executor.close();
          throw error;
        } finally {
          clearTimeout(timer);
        }
      } else {
        await setup;
      }
      state.status = 'succeeded';
      state.completed_at = new Date().toISOString();
    } catch (error) {
      this.#failSetup(error);
      throw error;
    }
  }

  get isReady(): boolean {
    return this.health === 'READY';
  }

  /** Stops the predictor's worker (if any). In-flight predictions should be finished or cancelled first. */
  async close(): Promise<void> {
    await this.#executor?.close();
  }

  get(id: string): Prediction | undefined {
    return this.#inFlight.get(id);
  }

  get inFlight(): number {
    return this.#inFlight.size;
  }

  /**
   * For an error that escaped user code in this thread (call it from an `uncaughtException` or
   * `unhandledRejection` handler): fails the in-process prediction whose async context raised
   * it, and returns true; false when it belongs to none (a worker thread handles its own).
   */
  failEscaped(error: unknown): boolean {
    const executor = this.#executor;
    return executor instanceof InProcessExecutor && executor.failPrediction(currentScope(), error);
  }

  /** Cancels an in-flight prediction; false when the id is unknown or finished. */
  cancel(id: string): boolean {
    const prediction = this.#inFlight.get(id);
    if (prediction === undefined) return false;
    prediction.cancel();
    return true;
  }

  /**
   * Validates the input, takes a slot and starts the prediction. Throws `InputValidationError`,
   * `NotReadyError` or `AtCapacityError`; anything after that is the prediction's own status.
   */
  start(rawInput: unknown, options: StartOptions = {}): Prediction {
    if (!this.isReady) throw new NotReadyError();
    const input = this.validator.validate(rawInput ?? {}, options.validate);
    const slot = this.slots.tryAcquire();
    if (slot === null) throw new AtCapacityError();
    const prediction = new Prediction({ id: options.id, input, context: options.context });
    // The slot is free once the prediction has ended and so has its code: a cancelled async
    // prediction ends at once, but the work it abandoned holds the slot until it settles or
    // the grace period stops it, so the concurrency limit stays true.
    const ended = { prediction: false, work: false };
    const free = (which: keyof typeof ended) => {
      if (ended[which]) return;
      ended[which] = true;
      if (ended.prediction && ended.work) slot.release();
    };
    const endWork = () => free('work');
    let canceledNow: () => void = () => undefined;
    const canceled = new Promise<{ status: 'canceled'; metrics: MetricsObject }>((resolve) => {
      canceledNow = () => resolve({ status: 'canceled', metrics: prediction.metrics });
    });
    prediction.onCancel = () => {
      this.executor.notifyCanceled(prediction.token);
      setTimeout(canceledNow, ABANDON_AFTER_MS);
      // Code that ignores cancellation (an await that never settles) must not hold the
      // prediction or its slot forever: past the grace period both are let go. A worker thread
      // is replaced by then (host.ts); in-process code is left to finish alone.
      const grace = (this.#options.cancelGracePeriod ?? cancelGracePeriodFromEnv()) * 1000 + 1000;
      setTimeout(() => {
        prediction.finish({ status: 'canceled', metrics: {} });
        endWork();
      }, grace).unref();
    };
    this.#inFlight.set(prediction.id, prediction);
    const onAbort = () => prediction.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) prediction.cancel();
    prediction.onFinish = () => {
      options.signal?.removeEventListener('abort', onAbort);
      this.#inFlight.delete(prediction.id);
      free('prediction');
    };
    void this.#run(prediction, input, options, { canceled, ended: endWork }).finally(endWork);
    return prediction;
  }

  /**
   * Runs one prediction to its end. `work.ended` is called once the predictor's code for it has
   * ended: before the prediction finishes (so whoever awaits `done` finds the slot free), or
   * after, when a cancelled async prediction's work was abandoned.
   */
  async #run(
    prediction: Prediction,
    input: Record<string, unknown>,
    options: StartOptions,
    work: { canceled: Promise<{ status: 'canceled'; metrics: MetricsObject }>; ended: () => void },
  ): Promise<void> {
    const files = new InputFiles();
    const encodeFile = options.encodeFile;
    // Plain values (most streamed tokens) need no encoding: skip the async walk for them.
    const plain = (value: unknown) => value === null || typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
    const encode = (value: unknown) => (encodeFile && !plain(value) ? encodeOutput(value, encodeFile) : value);
    let ending: Parameters<Prediction['finish']>[0];
    let execution: Promise<ExecutionResult> | undefined;
    try {
      prediction.markStarted();
      let resolved: Record<string, unknown> | undefined;
      try {
        resolved = await files.resolve(this.target.inputs, input, prediction.signal);
      } catch (error) {
        ending = prediction.canceled
          ? { status: 'canceled', metrics: {} }
          : { status: 'failed', error: `Input validation error: ${errorMessage(error)}`, metrics: {} };
      }
      if (resolved !== undefined) {
        // A single (non-streamed) output is also sent as one `output` event: encode it (upload
        // its files) once, for both.
        let lastEncoded: { value: unknown } | undefined;
        // What abandoned work (a cancelled async prediction) says after the end goes nowhere.
        execution = this.executor.execute(
          { input: resolved, context: prediction.context, token: prediction.token },
          {
            output: async (item) => {
              if (prediction.terminal) return;
              const encoded = encode(item);
              lastEncoded = { value: encoded instanceof Promise ? await encoded : encoded };
              await prediction.addOutput(lastEncoded.value);
            },
            log: (text, source) => prediction.terminal || prediction.addLog(text, source),
            metric: (event, metrics) => prediction.terminal || prediction.addMetric(event, metrics),
          },
        );
        // Registered first, so it runs before whatever awaits the execution below.
        void execution.then(work.ended, work.ended);
        // An async predictor cancelled while it awaits something deaf to its signal ends
        // `canceled` right after the cancel (ABANDON_AFTER_MS), as coglet raises into Python
        // code; its work is abandoned (and waited for below). A sync one cannot be abandoned:
        // it keeps the grace period (the host replaces its busy worker).
        const result = this.target.isAsync ? await Promise.race([execution, work.canceled]) : await execution;
        ending = result.status === 'succeeded'
          ? {
              status: 'succeeded',
              output: result.streamed ? (prediction.output ?? []) : lastEncoded !== undefined ? lastEncoded.value : await encode(result.output),
              metrics: result.metrics,
            }
          : result;
      }
    } catch (error) {
      ending = { status: 'failed', error: errorMessage(error), metrics: {} };
    }
    // Input files go before the prediction ends: a caller may exit as soon as it has.
    await files.cleanup().catch(() => undefined);
    if (execution === undefined) work.ended();
    prediction.finish(ending!);
    await execution?.catch(() => undefined);
  }

  /** Runs the user's `healthcheck()` (if any) with Cog's 5 s timeout. */
  async healthcheck(timeoutMs = 5000): Promise<{ healthy: boolean; error?: string }> {
    // Without a user healthcheck there is nothing to ask the predictor's (maybe busy) thread.
    if (this.#info !== undefined && !this.#info.hasHealthcheck) return { healthy: true };
    // A race of two results: the answer, or the deadline's (a healthcheck that throws 'timeout' is not a timeout).
    const answer = (async () => this.executor.healthcheck())().then(
      (healthy) => (healthy ? { healthy: true } : { healthy: false, error: 'Healthcheck failed: user-defined healthcheck returned False' }),
      (error: unknown) => ({ healthy: false, error: `Healthcheck failed: ${errorMessage(error)}` }),
    );
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<{ healthy: boolean; error: string }>((resolve) => {
      timer = setTimeout(() => resolve({ healthy: false, error: `Healthcheck failed: user-defined healthcheck timed out after ${timeoutMs / 1000}.0 seconds` }), timeoutMs);
    });
    try {
      return await Promise.race([answer, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

