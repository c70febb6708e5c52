// `cog-node worker`: the predictor of ./cog.yaml on the same runtime as `serve`, fed from a BullMQ
// queue instead of HTTP (protocol.ts says what travels). It keeps only its jobs' bookkeeping (the
// BullMQ job and lock token of each, whether it is being handed back); prediction state stays
// the runtime's, webhooks are webhook.ts's, setup and health the CogService's.
import { CogMetrics, metricsHandler } from '../observe/metrics.js';
import { registerProbes, serviceProbes } from '../observe/probes.js';
import { extractTraceCarrier } from '../observe/trace-context.js';
import { startTracing, type CogTracing } from '../observe/tracing.js';
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Worker, WaitingError, type Job } from 'bullmq';
import { Hono } from '../vendor/hono.js';
import { createAdaptorServer } from '../vendor/hono-node.js';
import { AtCapacityError, InputValidationError, NotReadyError, UsageError, type ValidationIssue } from '../errors.js';
import type { Settings } from '../load/settings.js';
import { errorMessage } from '../runtime/executor.js';
import { dataUriEncoder, type FileEncoder } from '../runtime/output-files.js';
import type { Prediction, PredictionResponse } from '../runtime/prediction.js';
import type { PredictorRuntime } from '../runtime/runtime.js';
import { HealthReporter } from '../server/health.js';
import { checkPredictionRequest, type PredictionRequest } from '../server/request.js';
import { serverLog } from '../server/server-log.js';
import { CogService } from '../server/service.js';
import { resolveSource } from '../server/source.js';
import { uploadUrlEncoder } from '../server/upload.js';
import { sendProgressWebhooks, WebhookSender, type TraceHeaders } from '../server/webhook.js';
import { connectRedis, type Redis } from './connection.js';
import { appendEvents, relayEvents } from './events.js';
import {
  cancelChannel,
  canceledKey,
  canceledPrediction,
  failedPrediction,
  HEARTBEAT_EVERY_MS,
  HEARTBEAT_TTL_MS,
  MAX_STALLED_COUNT,
  workerKey,
  type PredictionJobData,
  type WorkerBeat,
} from './protocol.js';

export interface WorkerOptions {
  /** `--redis`: default `COG_REDIS_URL`. */
  redis?: string;
  /** `--queue`: default `COG_QUEUE_NAME`, else `cog-predictions`. */
  queue?: string;
  /** The folder holding cog.yaml (default: the current one). */
  cwd?: string;
  /** `--port`: serve `/health-check` here (0: a free port); unset: no HTTP. */
  port?: number;
  /** Where `--port` listens (default `0.0.0.0`). */
  host?: string;
  /** `--upload-url`: output files are PUT to `<url>/<basename>`; default: data URIs. */
  uploadUrl?: string;
  /** This worker's name in its heartbeat and BullMQ's client list; default `<host>-<pid>`. */
  name?: string;
}

/** One job this worker holds: the BullMQ side of a prediction the runtime runs. */
interface HeldJob {
  readonly job: Job<PredictionJobData>;
  readonly token: string | undefined;
  prediction: Prediction | undefined;
  /** A cancel arrived before the prediction existed: it is cancelled as soon as it does. */
  cancelRequested: boolean;
  /** Shutdown hands it back to the queue instead of finishing it. */
  handBack: (() => void) | undefined;
}

const HANDED_BACK = Symbol('handed back');

/**
 * The HTTP side of `--port`: `/health-check` (Cog's shape), `/metrics` (this worker's own
 * registry) and the probes (`/health/live`, `/health/ready`), as `serve` mounts them.
 */
export function workerRoutes(service: CogService, settings: Settings): Hono {
  const app = new Hono();
  const health = new HealthReporter(service, settings);
  app.get('/health-check', async (c) => c.json(await health.report()));
  registerProbes(app, serviceProbes(service));
  const metrics = new CogMetrics();
  service.watchRuntimes((runtime) => metrics.watch(runtime));
  app.get('/metrics', metricsHandler(metrics));
  app.notFound((c) => c.json({ detail: 'Not Found' }, 404));
  return app;
}

/** A runtime's start, retried while its slots are busy with abandoned work or a replaced worker sets up again. */
async function startWhenFree(runtime: PredictorRuntime, start: () => Prediction, stopping: () => boolean): Promise<Prediction> {
  for (;;) {
    try {
      return start();
    } catch (error) {
      if (!(error instanceof AtCapacityError || error instanceof NotReadyError) || stopping() || runtime.defunct !== undefined) throw error;
      await delay(20);
    }
  }
}

export class FleetWorker {
  readonly service: CogService;
  readonly queue: string;
  readonly name: string;
  /** Where `--port` listens, once it does. */
  url: string | undefined;
  /** Resolves once the worker has stopped (after `stop()` or a signal). */
  readonly closed: Promise<void>;
  readonly #settings: Settings;
  readonly #options: WorkerOptions;
  readonly #redisUrl: string;
  readonly #jobs = new Map<string, HeldJob>();
  readonly #webhookStop = new AbortController();
  #resolveClosed!: () => void;
  #client: Redis | undefined;
  #subscriber: Redis | undefined;
  #workerConnection: Redis | undefined;
  #worker: Worker<PredictionJobData, PredictionResponse> | undefined;
  #server: Server | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  /** The jobs' spans (`cog.prediction` continuing each job's `traceparent`), when tracing is on. */
  readonly #tracing: CogTracing | undefined;
  readonly #startedAt = new Date().toISOString();

  private constructor(options: WorkerOptions) {
    this.#options = options;
    const { shape, load, settings, tracing } = resolveSource(options.cwd ?? process.cwd(), {});
    this.#settings = settings;
    const redis = options.redis ?? settings.redisUrl;
    if (redis === undefined) throw new UsageError('a Redis is needed: --redis URL, or COG_REDIS_URL');
    this.#redisUrl = redis;
    this.queue = options.queue ?? settings.queueName;
    this.name = options.name ?? `${hostname()}-${process.pid}`;
    this.service = new CogService(shape, load);
    this.#tracing = startTracing(tracing, serverLog);
    const traced = this.#tracing;
    if (traced !== undefined) this.service.watchRuntimes((runtime) => traced.watch(runtime));
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /**
   * Loads the predictor and runs its setup, then takes jobs. `--port`'s health answers from the
   * start (STARTING). Rejects when setup fails: a worker that cannot predict takes no jobs.
   */
  static async start(options: WorkerOptions = {}): Promise<FleetWorker> {
    const worker = new FleetWorker(options);
    await worker.#listen();
    await worker.service.settled;
    const runtime = worker.service.runtime('predict');
    if (runtime === undefined || !worker.service.isReady) {
      const setup = worker.service.setup();
      await worker.stop();
      throw new Error(`setup failed: ${setup.logs.trim().split('\n').pop() ?? 'unknown error'}`);
    }
    await worker.#take(runtime);
    return worker;
  }

  async #listen(): Promise<void> {
    if (this.#options.port === undefined) return;
    const server = createAdaptorServer({ fetch: workerRoutes(this.service, this.#settings).fetch }) as Server;
    const host = this.#options.host ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, host, () => resolve());
    });
    this.#server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
    serverLog(`worker health on http://${host}:${port}/health-check`);
  }

  async #take(runtime: PredictorRuntime): Promise<void> {
    const client = connectRedis(this.#redisUrl, `cog-node:${this.name}`);
    this.#client = client;
    const subscriber = connectRedis(this.#redisUrl, `cog-node:${this.name}:cancel`);
    this.#subscriber = subscriber;
    subscriber.on('message', (_channel: string, id: string) => this.#cancel(id));
    await subscriber.subscribe(cancelChannel(this.queue));
    const lockDuration = this.#settings.queueLockDuration;
    this.#workerConnection = connectRedis(this.#redisUrl);
    this.#worker = new Worker<PredictionJobData, PredictionResponse>(this.queue, (job, token) => this.#process(runtime, job, token), {
      connection: this.#workerConnection,
      name: this.name,
      concurrency: runtime.slots.capacity,
      lockDuration,
      stalledInterval: lockDuration,
      maxStalledCount: MAX_STALLED_COUNT,
    });
    this.#worker.on('error', (error) => serverLog(`queue: ${errorMessage(error)}`));
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    this.#heartbeat.unref();
    serverLog(`worker ${this.name} taking predictions from queue ${this.queue} (${runtime.slots.capacity} at once)`);
  }

  /** Refreshes this worker's heartbeat key (protocol.ts, "Liveness"). */
  async #beat(): Promise<void> {
    const runtime = this.service.runtime('predict');
    const beat: WorkerBeat = {
      name: this.name,
      host: hostname(),
      pid: process.pid,
      slots: runtime?.slots.capacity ?? 0,
      running: this.#jobs.size,
      ready: this.#stopping === undefined && this.service.isReady,
      started_at: this.#startedAt,
    };
    await this.#client?.set(workerKey(this.queue, this.name), JSON.stringify(beat), 'PX', HEARTBEAT_TTL_MS);
  }

  /** A cancel published for `id`: cancels its prediction if this worker holds it. */
  #cancel(id: string): void {
    const held = this.#jobs.get(id);
    if (held === undefined) return;
    if (held.prediction === undefined) held.cancelRequested = true;
    else held.prediction.cancel();
  }

  /** One job: its prediction run to its end, whose final object is the job's value. */
  async #process(runtime: PredictorRuntime, job: Job<PredictionJobData>, token: string | undefined): Promise<PredictionResponse> {
    const id = job.id ?? job.data.id;
    const held: HeldJob = { job, token, prediction: undefined, cancelRequested: false, handBack: undefined };
    this.#jobs.set(id, held);
    try {
      return await this.#run(runtime, held, id);
    } finally {
      this.#jobs.delete(id);
    }
  }

  async #run(runtime: PredictorRuntime, held: HeldJob, id: string): Promise<PredictionResponse> {
    const client = this.#client!;
    const data = held.job.data as Partial<PredictionJobData> | undefined;
    const createdAt =
      typeof data?.created_at === 'string' && !Number.isNaN(Date.parse(data.created_at))
        ? data.created_at
        : new Date(held.job.timestamp).toISOString();
    const input = typeof data?.input === 'object' && data.input !== null ? data.input : {};
    const base: PredictionJobData = { id, input, created_at: createdAt };
    const checked = checkPredictionRequest(data);
    // A bad envelope (or, below, a bad input) fails its prediction with the 422's message: never retried.
    if (!checked.ok) return this.#end(id, failedPrediction(base, envelopeMessage(checked.body)));
    const request = checked.request;
    const trace: TraceHeaders = {};
    if (typeof data?.traceparent === 'string') trace.traceparent = data.traceparent;
    if (typeof data?.tracestate === 'string') trace.tracestate = data.tracestate;
    const webhook = this.#webhook(request, trace);
    // Cancelled while it waited, in the instant before its removal could take it (protocol.ts).
    if (held.cancelRequested || (await client.exists(canceledKey(this.queue, id))) === 1) {
      return this.#end(id, canceledPrediction(base), webhook);
    }
    let prediction: Prediction;
    try {
      prediction = await startWhenFree(
        runtime,
        () =>
          runtime.start(request.input, {
            id,
            context: request.context,
            createdAt: new Date(createdAt),
            // The job's trace context: tracing continues the caller's trace here.
            trace: extractTraceCarrier({ trace }),
            encodeFile: this.#encoder(id, () => held.prediction?.signal),
          }),
        () => this.#stopping !== undefined,
      );
    } catch (error) {
      if (error instanceof InputValidationError) return this.#end(id, failedPrediction(base, error.message), webhook);
      throw error;
    }
    held.prediction = prediction;
    const relay = relayEvents(client, this.queue, prediction).catch((error: unknown) =>
      serverLog(`prediction ${id}: its events could not be published: ${errorMessage(error)}`),
    );
    if (webhook !== undefined) sendProgressWebhooks(prediction, webhook);
    if (held.cancelRequested) prediction.cancel();
    const handedBack = new Promise<typeof HANDED_BACK>((resolve) => {
      held.handBack = () => resolve(HANDED_BACK);
    });
    const response = await Promise.race([prediction.done, handedBack]);
    if (response === HANDED_BACK) {
      // Shutdown: the job goes back to waiting, for another worker to run under the same id.
      prediction.cancel();
      await held.job.moveToWait(held.token);
      throw new WaitingError();
    }
    await relay;
    return this.#end(id, JSON.parse(prediction.json(response)) as PredictionResponse, webhook, prediction.json(response));
  }

  /** Publishes a job's end (`completed`), sends its terminal webhook, and gives the value. */
  async #end(
    id: string,
    response: PredictionResponse,
    webhook?: WebhookSender,
    json = JSON.stringify(response),
  ): Promise<PredictionResponse> {
    await appendEvents(this.#client!, this.queue, id, [{ type: 'completed', data: json }]);
    if (webhook !== undefined) await webhook.sendTerminal(json);
    return response;
  }

  #webhook(request: PredictionRequest, trace: TraceHeaders): WebhookSender | undefined {
    if (request.webhook === undefined) return undefined;
    return new WebhookSender({
      url: request.webhook,
      events: request.events,
      trace,
      throttleMs: this.#settings.throttleInterval,
      authToken: this.#settings.webhookAuthToken,
      stop: this.#webhookStop.signal,
    });
  }

  /** Uploads carry no trace headers (Cog 0.23: signed upload URLs never get them). */
  #encoder(id: string, signal: () => AbortSignal | undefined): FileEncoder {
    const uploadUrl = this.#options.uploadUrl;
    return uploadUrl === undefined ? dataUriEncoder : uploadUrlEncoder(uploadUrl, { predictionId: id, signal });
  }

  /** Jobs this worker holds now. */
  get running(): number {
    return this.#jobs.size;
  }

  /**
   * Graceful stop (SIGTERM): takes no more jobs, lets those running finish for
   * `COG_CANCEL_GRACE_PERIOD` seconds, then cancels the rest and hands their jobs back to the
   * queue (another worker runs them under the same id), and closes. Calling it again returns the
   * same promise.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#beat().catch(() => undefined);
      const closing = this.#worker?.close();
      if (closing !== undefined && this.#jobs.size > 0) {
        const graceMs = this.#settings.cancelGracePeriod * 1000;
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        });
        const over = await Promise.race([closing.then(() => false), graceOver]);
        clearTimeout(timer);
        if (over) {
          serverLog(`stopping: ${this.#jobs.size} prediction(s) still running after ${graceMs / 1000} s: handing them back to the queue`);
          for (const held of this.#jobs.values()) held.handBack?.();
        }
      }
      await closing?.catch((error: unknown) => serverLog(`queue: ${errorMessage(error)}`));
      clearInterval(this.#heartbeat);
      this.#webhookStop.abort();
      await this.#client?.del(workerKey(this.queue, this.name)).catch(() => undefined);
      await Promise.allSettled([this.#client?.quit(), this.#subscriber?.quit(), this.#workerConnection?.quit()]);
      await this.service.runtime('predict')?.close();
      // Sends the spans still buffered (best effort), as serve's shutdown does.
      await this.#tracing?.shutdown();
      if (this.#server !== undefined) {
        const server = this.#server;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      this.#resolveClosed();
    })();
    return this.#stopping;
  }
}

/** A refused envelope (request.ts's 422 body) as the 422's message, naming each field: `webhook: URL scheme should be ...`. */
function envelopeMessage(body: Record<string, unknown>): string {
  return new InputValidationError(Array.isArray(body.detail) ? (body.detail as ValidationIssue[]) : []).message;
}
