// CogService, the server's state shared by its routes: its runtimes (loaded in the background),
// setup as health reports it, webhook deliveries and graceful shutdown. Not prediction state:
// that is runtime.ts's.
import { errorMessage } from '../runtime/executor.js';
import { captureLogs, stopCapturing } from '../runtime/log-capture.js';
import { joinDeclarations } from '../schema/declaration.js';
import { openApiDocument } from '../schema/openapi.js';
import type { Prediction } from '../runtime/prediction.js';
import type { PredictorRuntime, SetupStatus } from '../runtime/runtime.js';
import { currentSettings } from '../load/settings.js';
import { serverLog } from './server-log.js';
import { sendProgressWebhooks, type WebhookSender } from './webhook.js';

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

/**
 * Past the shutdown deadline: how long cancelled predictions get to stop (then they are recorded
 * canceled anyway) and their `canceled` webhooks get to go out, before the stop completes.
 */
const AFTER_DEADLINE_MS = 2000;

/** A promise that resolves after `ms`, and a way to stop its timer. */
function countdown(ms: number): { elapsed: Promise<void>; clear: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  return { elapsed, clear: () => clearTimeout(timer) };
}

const TIME_UP = Symbol('time up');

/**
 * The server's state, shared by its routes: the runtimes (loaded in the background while the
 * server already answers), webhook deliveries still going, and whether the server is shutting
 * down. What is in flight and whether the predictor is defunct, it asks the runtimes (runtime.ts
 * owns prediction state).
 */
export class CogService {
  readonly shape: ServiceShape;
  readonly startedAt = new Date();
  /** Resolves when loading and setup are over, whatever their outcome. */
  readonly settled: Promise<void>;
  #runtimes: Runtimes | undefined;
  #loadLogs = '';
  #loadFailedAt: Date | undefined;
  /** An error that escaped user code before the runtimes existed: handed to them once they do. */
  #defunctBeforeLoad: string | undefined;
  #shuttingDown: Promise<void> | undefined;
  #schema: Record<string, unknown> | undefined;
  /** Terminal webhooks on their way, with what the log says of one not delivered by shutdown's end. */
  readonly #deliveries = new Map<Promise<boolean>, { id: string; url: string }>();
  readonly #shutdownDeadline = new AbortController();
  /** Called with each runtime once loaded (metrics, tracing). */
  readonly #watchers: ((runtime: PredictorRuntime) => void)[] = [];

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
        for (const runtime of this.#loaded()) for (const watch of this.#watchers) watch(runtime);
        const early = this.#defunctBeforeLoad;
        if (early !== undefined) for (const runtime of this.#loaded()) runtime.markDefunct(early);
      } catch (error) {
        this.#loadFailedAt = new Date();
        this.#loadLogs += `${error instanceof Error && error.stack ? error.stack : errorMessage(error)}\n`;
        serverLog(`loading the predictor failed: ${errorMessage(error)}`);
        return;
      }
      const runtimes = this.#loaded();
      await Promise.allSettled(runtimes.map((runtime) => runtime.ready));
      for (const runtime of runtimes) {
        const { status, started_at, completed_at, error } = runtime.setupState;
        const took = `${((Date.parse(completed_at ?? started_at) - Date.parse(started_at)) / 1000).toFixed(2)} s`;
        const what = runtimes.length > 1 ? `setup of the ${runtime.kind === 'train' ? 'trainer' : 'predictor'}` : 'setup';
        serverLog(status === 'failed' ? `${what} failed after ${took}: ${error ?? 'unknown error'}` : `${what} succeeded in ${took}`);
      }
      // Loading's logs are in; predictors in worker threads capture their own logs there.
      if (runtimes.every((runtime) => runtime.runsInWorker)) stopCapturing();
    })();
  }

  /** Calls `watch` with each runtime: once loaded, or now for those loaded already. */
  watchRuntimes(watch: (runtime: PredictorRuntime) => void): void {
    this.#watchers.push(watch);
    for (const runtime of this.#loaded()) watch(runtime);
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
    return this.primary?.defunct ?? this.#defunctBeforeLoad;
  }

  #loaded(): PredictorRuntime[] {
    return this.#runtimes ? Object.values(this.#runtimes).filter((r): r is PredictorRuntime => r !== undefined) : [];
  }

  /** Every runtime's predictions in flight, from the runtimes (the one map each). */
  #inFlight(): Prediction[] {
    return this.#loaded().flatMap((runtime) => runtime.inFlightPredictions());
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown !== undefined;
  }

  /** Aborts when shutdown's time is up: webhook deliveries still going then are given up. */
  get shutdownSignal(): AbortSignal {
    return this.#shutdownDeadline.signal;
  }

  /** Setup as Cog reports it: loading the code counts as part of setup. */
  setup(): SetupReport {
    const report: SetupReport = { started_at: this.startedAt.toISOString(), status: 'starting', logs: this.#loadLogs };
    if (this.#loadFailedAt !== undefined) {
      return { ...report, status: 'failed', completed_at: this.#loadFailedAt.toISOString() };
    }
    const runtimes = this.#loaded();
    if (runtimes.length === 0) return report;
    const states = runtimes.map((runtime) => runtime.setupState);
    report.logs += states.map((state) => state.logs).join('');
    if (states.some((state) => state.status === 'failed')) report.status = 'failed';
    else if (states.some((state) => state.status === 'starting')) return report;
    else report.status = 'succeeded';
    const completed = states
      .map((state) => state.completed_at ?? '')
      .sort()
      .pop();
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
    // Each runtime checked its side at load; only the two sides' shared enumeration names are left.
    this.#schema ??= openApiDocument(joinDeclarations(this.runtime('predict')?.declaration, this.runtime('train')?.declaration));
    return this.#schema;
  }

  /** Follows a prediction started over HTTP: its webhooks (the runtime keeps the prediction). */
  track(prediction: Prediction, webhook: WebhookSender | undefined): void {
    if (webhook === undefined) return;
    sendProgressWebhooks(prediction, webhook);
    void prediction.done.then((response) => {
      const delivery = webhook.sendTerminal(prediction.json(response));
      this.#deliveries.set(delivery, { id: prediction.id, url: webhook.shownUrl });
      void delivery.finally(() => this.#deliveries.delete(delivery));
    });
  }

  /**
   * The predictor can no longer run (an error escaped user code): health says `DEFUNCT`, new
   * predictions get 503, and predictions in flight fail with the error.
   */
  markDefunct(reason: string): void {
    let marked: boolean;
    if (this.#runtimes === undefined) {
      marked = this.#defunctBeforeLoad === undefined;
      this.#defunctBeforeLoad ??= reason;
    } else {
      marked = this.#loaded()
        .map((runtime) => runtime.markDefunct(reason))
        .includes(true);
    }
    if (marked) serverLog(`predictor is defunct: ${reason}`);
  }

  /**
   * Graceful stop, as coglet's: refuses new predictions (503) at once, lets those in flight
   * finish (their sync clients get their outputs) and their terminal webhooks go out, then
   * closes the runtimes. Only past `timeoutMs` (`COG_SHUTDOWN_TIMEOUT`, default 30 s) are the
   * rest cancelled, given a last 2 s, and the webhooks still undelivered then are given up and
   * logged, so a receiver that never answers cannot hold the server. Calling it again returns
   * the same promise.
   */
  shutdown(timeoutMs = currentSettings().shutdownTimeout): Promise<void> {
    this.#shuttingDown ??= (async () => {
      const deadline = countdown(timeoutMs);
      const finished = await this.#drain(deadline.elapsed);
      deadline.clear();
      const late = finished ? [] : this.#inFlight();
      if (late.length > 0) {
        serverLog(
          `shutdown: ${late.length} prediction(s) still running after ${timeoutMs / 1000} s (COG_SHUTDOWN_TIMEOUT): canceling them`,
        );
        for (const prediction of late) prediction.cancel();
        const last = countdown(AFTER_DEADLINE_MS);
        await this.#drain(last.elapsed);
        last.clear();
        for (const prediction of late) {
          if (!prediction.terminal) prediction.finish({ status: 'canceled', metrics: prediction.metrics });
        }
        // Each `done` registers its terminal webhook (in `track`) before this resumes.
        await Promise.all(late.map((prediction) => prediction.done));
      }
      for (const { id, url } of this.#deliveries.values()) {
        serverLog(`shutdown: the terminal webhook of prediction ${id} to ${url} was not delivered (COG_SHUTDOWN_TIMEOUT)`);
      }
      this.#shutdownDeadline.abort();
      await Promise.allSettled([...this.#deliveries.keys()]);
      await Promise.allSettled(this.#loaded().map((runtime) => runtime.close()));
    })();
    return this.#shuttingDown;
  }

  /** Waits until no prediction is in flight and no terminal webhook on its way; false if `until` came first. */
  async #drain(until: Promise<void>): Promise<boolean> {
    const timeUp = until.then(() => TIME_UP);
    for (;;) {
      const pending: Promise<unknown>[] = [...this.#inFlight().map((prediction) => prediction.done), ...this.#deliveries.keys()];
      if (pending.length === 0) return true;
      // A prediction that ends adds its delivery before this wakes: the loop then waits for it.
      if ((await Promise.race([Promise.allSettled(pending), timeUp])) === TIME_UP) return false;
    }
  }
}
