import { errorMessage } from '../executor.js';
import { captureLogs } from '../logs.js';
import { openApiSchema } from '../openapi.js';
import type { Prediction, PredictionResponse } from '../prediction.js';
import type { PredictorRuntime, SetupStatus } from '../runtime.js';
import { serverLog } from './log.js';
import type { WebhookSender } from './webhook.js';

export type RunKind = 'predict' | 'train';

/** The predictor and, when cog.yaml names one, the trainer. */
export interface Runtimes {
  predict?: PredictorRuntime;
  train?: PredictorRuntime;
}

/** Cog's `setup` object in `/health-check`. */
export interface SetupReport {
  started_at: string;
  completed_at?: string;
  status: SetupStatus;
  logs: string;
}

/** What the service knows before anything is loaded: which endpoints it will have. */
export interface ServiceShape {
  predict: boolean;
  train: boolean;
}

/** How long cancelled work gets to stop at shutdown before it is recorded as canceled anyway. */
const CANCEL_GRACE_MS = 5000;

/**
 * The server's state, shared by its routes: the runtimes (loaded in the background while the
 * server already answers), predictions in flight, webhook deliveries still going, and whether the
 * predictor is defunct or the server is shutting down.
 */
export class CogService {
  readonly shape: ServiceShape;
  readonly startedAt = new Date();
  /** Resolves when loading and setup are over, whatever their outcome. */
  readonly settled: Promise<void>;
  #runtimes: Runtimes | undefined;
  #loadLogs = '';
  #loadFailedAt: Date | undefined;
  #defunct: string | undefined;
  #shuttingDown: Promise<void> | undefined;
  #schema: Record<string, unknown> | undefined;
  /** In flight, each with its terminal response to come. */
  readonly #predictions = new Map<Prediction, Promise<PredictionResponse>>();
  readonly #deliveries = new Set<Promise<void>>();

  /**
   * `load` creates the runtimes (their setup starts in their constructor). What it prints goes to
   * the setup logs, and a failure is `SETUP_FAILED` with the error in those logs, as in Cog.
   */
  constructor(shape: ServiceShape, load: () => Runtimes | Promise<Runtimes>) {
    this.shape = shape;
    const onLog = (text: string) => {
      this.#loadLogs += text;
    };
    this.settled = (async () => {
      serverLog('setup started');
      try {
        this.#runtimes = await captureLogs(onLog, async () => load());
      } catch (error) {
        this.#loadFailedAt = new Date();
        this.#loadLogs += `${error instanceof Error && error.stack ? error.stack : errorMessage(error)}\n`;
        serverLog(`loading the predictor failed: ${errorMessage(error)}`);
        return;
      }
      const runtimes = Object.values(this.#runtimes).filter((runtime): runtime is PredictorRuntime => runtime !== undefined);
      await Promise.allSettled(runtimes.map((runtime) => runtime.ready));
      for (const runtime of runtimes) {
        const { status, started_at, completed_at, error } = runtime.setupState;
        const took = `${((Date.parse(completed_at ?? started_at) - Date.parse(started_at)) / 1000).toFixed(2)} s`;
        const what = runtimes.length > 1 ? `setup of the ${runtime.kind === 'train' ? 'trainer' : 'predictor'}` : 'setup';
        serverLog(status === 'failed' ? `${what} failed after ${took}: ${error ?? 'unknown error'}` : `${what} succeeded in ${took}`);
      }
    })();
  }

  runtime(kind: RunKind): PredictorRuntime | undefined {
    return this.#runtimes?.[kind];
  }

  /** The runtime that health's `BUSY` and the user's `healthcheck()` refer to. */
  get primary(): PredictorRuntime | undefined {
    return this.#runtimes?.predict ?? this.#runtimes?.train;
  }

  /** Why the predictor cannot run now: an error escaped user code, or its worker crashed (until replaced). */
  get defunct(): string | undefined {
    if (this.#defunct !== undefined) return this.#defunct;
    return this.primary?.health === 'DEFUNCT' ? 'the predictor\'s worker crashed; a new one is starting' : undefined;
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown !== undefined;
  }

  /** Setup as Cog reports it: loading the code counts as part of setup. */
  setup(): SetupReport {
    const report: SetupReport = { started_at: this.startedAt.toISOString(), status: 'starting', logs: this.#loadLogs };
    if (this.#loadFailedAt !== undefined) {
      return { ...report, status: 'failed', completed_at: this.#loadFailedAt.toISOString() };
    }
    const runtimes = this.#runtimes ? Object.values(this.#runtimes).filter((r): r is PredictorRuntime => r !== undefined) : [];
    if (runtimes.length === 0) return report;
    const states = runtimes.map((runtime) => runtime.setupState);
    report.logs += states.map((state) => state.logs).join('');
    if (states.some((state) => state.status === 'failed')) report.status = 'failed';
    else if (states.some((state) => state.status === 'starting')) return report;
    else report.status = 'succeeded';
    const completed = states.map((state) => state.completed_at ?? '').sort().pop();
    if (completed) report.completed_at = completed;
    return report;
  }

  /** True while every runtime is set up and running (a replaced worker is not, until its setup ends). */
  get isReady(): boolean {
    const runtimes = this.#runtimes;
    if (runtimes === undefined) return false;
    return (runtimes.predict?.isReady ?? true) && (runtimes.train?.isReady ?? true);
  }

  /** The OpenAPI document, once the predictor is ready (Cog answers 503 until then). */
  schema(): Record<string, unknown> | undefined {
    if (!this.isReady) return undefined;
    if (this.#schema === undefined) {
      const describe = (runtime: PredictorRuntime | undefined) =>
        runtime ? { inputs: runtime.target.inputs, output: runtime.target.output } : undefined;
      this.#schema = openApiSchema({ predict: describe(this.runtime('predict')), train: describe(this.runtime('train')) });
    }
    return this.#schema;
  }

  /** Follows a prediction started over HTTP: its webhooks, and shutdown's bookkeeping. */
  track(prediction: Prediction, webhook: WebhookSender | undefined): void {
    const settled = prediction.done;
    this.#predictions.set(prediction, settled);
    if (webhook !== undefined) {
      // The runtime may have moved the prediction to `processing` before we could listen.
      if (prediction.status === 'starting') prediction.once('start', () => webhook.send('start', prediction.response()));
      else webhook.send('start', prediction.response());
      prediction.on('output', () => webhook.send('output', prediction.response()));
      prediction.on('log', () => webhook.send('logs', prediction.response()));
    }
    void settled.then((response) => {
      this.#predictions.delete(prediction);
      if (webhook === undefined) return;
      const delivery = webhook.sendTerminal(response);
      this.#deliveries.add(delivery);
      void delivery.finally(() => this.#deliveries.delete(delivery));
    });
  }

  /**
   * The predictor can no longer run (an error escaped user code): health says `DEFUNCT`, new
   * predictions get 503, and predictions in flight fail with the error.
   */
  markDefunct(reason: string): void {
    if (this.#defunct !== undefined) return;
    this.#defunct = reason;
    serverLog(`predictor is defunct: ${reason}`);
    for (const prediction of this.#predictions.keys()) {
      prediction.finish({ status: 'failed', error: `Predictor crashed: ${reason}`, metrics: prediction.metrics });
    }
  }

  /**
   * Graceful stop: refuses new work, cancels predictions in flight, waits until they have ended
   * (recording stragglers as canceled after a grace period) and until their terminal webhooks
   * are delivered or given up. Calling it again returns the same promise.
   */
  shutdown(): Promise<void> {
    this.#shuttingDown ??= (async () => {
      const inFlight = [...this.#predictions];
      for (const [prediction] of inFlight) prediction.cancel();
      const settled = Promise.all(inFlight.map(([, response]) => response));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, CANCEL_GRACE_MS);
      });
      await Promise.race([settled, grace]);
      clearTimeout(timer);
      for (const [prediction] of inFlight) {
        if (!prediction.terminal) prediction.finish({ status: 'canceled', metrics: prediction.metrics });
      }
      // Each `done` registers its terminal webhook (in `track`) before this resumes.
      await settled;
      await Promise.allSettled([...this.#deliveries]);
      const runtimes = this.#runtimes ? Object.values(this.#runtimes).filter((r): r is PredictorRuntime => r !== undefined) : [];
      await Promise.allSettled(runtimes.map((runtime) => runtime.close()));
    })();
    return this.#shuttingDown;
  }
}
