// The fleet's gateway (`cog-node serve --redis URL`): Cog's HTTP routes in front of the queue. It
// loads the predictor's declaration (schema, validation, /openapi.json) but never sets it up;
// predictions go to `cog-node worker`s through PredictionQueue, health reads Redis and heartbeats.
import type { Queue } from 'bullmq';
import { PredictorLoadError } from '../errors.js';
import type { Settings } from '../load/settings.js';
import { errorMessage } from '../runtime/executor.js';
import { type SchemaSources } from '../schema/declaration.js';
import { openApiSchema } from '../schema/openapi.js';
import type { RemoteFront } from '../server/app.js';
import { HEALTH_VERSION, type HealthReport } from '../server/health.js';
import type { PredictionRequest } from '../server/request.js';
import type { RemoteRuns } from '../server/runs.js';
import type { SetupReport } from '../server/service.js';
import type { TraceHeaders } from '../server/webhook.js';
import { bullmqLibrary } from './libraries.js';
import { connectRedis, type Redis } from './connection.js';
import { completedEntry } from './events.js';
import {
  decodeEntry,
  eventsKey,
  failedPrediction,
  workerKeyPattern,
  type FleetEvent,
  type PredictionJobData,
  type WorkerBeat,
} from './protocol.js';
import { PredictionQueue } from './queue.js';

/** A health check that waits longer than this for Redis says STARTING (Redis is not answering). */
const REDIS_ANSWER_MS = 1000;

/** Resolves with `work`'s value, or undefined once `ms` have passed first. */
async function within<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * An entry of the worker's stream as Cog's SSE writes it: its JSON text as the worker wrote it
 * (re-serializing would turn Cog's `1.0` into `1`); `start` is Cog's `{id, status}`.
 */
function sseEvent(id: string, event: FleetEvent): { name: string; json: string } {
  if (event.type === 'start') return { name: 'start', json: JSON.stringify({ id, status: 'processing' }) };
  return { name: event.type, json: event.data };
}

/** The predictions of the routes, kept by the queue: PredictionQueue's, plus the job's state now. */
class QueueRuns implements RemoteRuns {
  readonly #client: Redis;
  readonly #name: string;
  readonly #predictions: PredictionQueue;
  /** Reads a job's state (PredictionQueue keeps its own Queue private); same connection. */
  readonly #jobs: Queue<PredictionJobData>;

  constructor(client: Redis, name: string, predictions: PredictionQueue) {
    this.#client = client;
    this.#name = name;
    this.#predictions = predictions;
    this.#jobs = new (bullmqLibrary().Queue)<PredictionJobData>(name, { connection: client });
  }

  async create(request: PredictionRequest, options: { id: string; trace: TraceHeaders }): Promise<{ created: boolean; state: string }> {
    const known = await this.poll(options.id);
    if (known !== undefined) return { created: false, state: known };
    const submitted = await this.#predictions.submit(request.input as Record<string, unknown>, {
      id: options.id,
      webhook: request.webhook,
      webhookEventsFilter: request.webhook === undefined ? undefined : [...request.events],
      context: Object.keys(request.context).length > 0 ? request.context : undefined,
      traceparent: options.trace.traceparent,
      tracestate: options.trace.tracestate,
    });
    return { created: true, state: JSON.stringify(submitted) };
  }

  async result(id: string, signal: AbortSignal): Promise<string> {
    return this.#predictions.resultJson(id, { signal });
  }

  async *events(id: string, signal: AbortSignal): AsyncGenerator<{ name: string; json: string }> {
    for await (const event of this.#predictions.entries(id, { signal })) yield sseEvent(id, event);
  }

  cancel(id: string): Promise<boolean> {
    return this.#predictions.cancel(id);
  }

  async poll(id: string): Promise<string | undefined> {
    const job = await this.#jobs.getJob(id);
    // Gone from the queue: a waiting job that was removed (cancelled) left its end in its stream.
    if (job === undefined) return completedEntry(this.#client, this.#name, id);
    const state = await job.getState();
    if (state === 'completed') return (await completedEntry(this.#client, this.#name, id)) ?? JSON.stringify(job.returnvalue);
    if (state === 'failed') return JSON.stringify(failedPrediction(job.data, job.failedReason || 'the job failed in the queue'));
    const { input, created_at } = job.data;
    const starting = JSON.stringify({ id, status: 'starting', input, created_at });
    if (state !== 'active') return starting;
    // The worker writes the `completed` entry before it completes the job (its sync client is
    // answered from that entry): in between, the job is still active but the prediction has ended.
    const ended = await completedEntry(this.#client, this.#name, id);
    if (ended !== undefined) return ended;
    // A worker holds it, but it runs only once its `start` is published (it may wait for a slot there).
    const soFar = await this.#soFar(id);
    if (soFar === undefined) return starting;
    return JSON.stringify({
      id,
      status: 'processing',
      input,
      created_at,
      ...(job.processedOn !== undefined ? { started_at: new Date(job.processedOn).toISOString() } : {}),
      ...soFar,
    });
  }

  /** What the running attempt has published so far (its output items and logs); undefined before its `start`. */
  async #soFar(id: string): Promise<{ output?: unknown[]; logs: string } | undefined> {
    const entries = (await this.#client.xrange(eventsKey(this.#name, id), '-', '+')) as [string, string[]][];
    let started = false;
    let output: unknown[] = [];
    let logs = '';
    for (const [, fields] of entries) {
      const event = decodeEntry(fields);
      if (event === undefined) continue;
      // A re-run after a stall starts again with a new `start`.
      if (event.type === 'start') {
        started = true;
        output = [];
        logs = '';
      } else if (event.type === 'output') output.push((JSON.parse(event.data) as { chunk: unknown }).chunk);
      else if (event.type === 'log') logs += (JSON.parse(event.data) as { data: string }).data;
    }
    if (!started) return undefined;
    return output.length > 0 ? { output, logs } : { logs };
  }

  /** The ready workers' heartbeats; undefined when Redis does not answer in time. */
  async readyWorkers(): Promise<WorkerBeat[] | undefined> {
    return within(
      REDIS_ANSWER_MS,
      (async () => {
        const keys: string[] = [];
        let cursor = '0';
        do {
          const [next, found] = await this.#client.scan(cursor, 'MATCH', workerKeyPattern(this.#name), 'COUNT', 100);
          cursor = next;
          keys.push(...found);
        } while (cursor !== '0');
        const beats = keys.length === 0 ? [] : await this.#client.mget(...keys);
        return beats.flatMap((text) => {
          if (text === null) return [];
          const beat = JSON.parse(text) as WorkerBeat;
          return beat.ready ? [beat] : [];
        });
      })(),
    );
  }

  waiting(): Promise<number | undefined> {
    return within(REDIS_ANSWER_MS, this.#jobs.getWaitingCount());
  }

  async close(): Promise<void> {
    await this.#jobs.close();
  }
}

export interface GatewayOptions {
  /** Redis URL (`--redis`, else `COG_REDIS_URL`). */
  redis: string;
  /** `--queue`, else `COG_QUEUE_NAME`. */
  queue?: string;
  settings: Settings;
  /** Loads the predictor's declarations without setting it up (source.ts). */
  declarations: () => Promise<SchemaSources>;
  /** Whether shutdown has begun (then health says BUSY, as serve's). */
  shuttingDown: () => boolean;
}

/** The gateway's side of the routes: the queue's predictions, its health, the declaration's schema. */
export interface Gateway extends RemoteFront {
  /** Resolves once the declaration has loaded (or failed to: health then says SETUP_FAILED). */
  loaded: Promise<void>;
  close(): Promise<void>;
}

/**
 * Fronts the queue: loads the declarations (a failure is SETUP_FAILED with its error in the setup
 * logs, as a failed setup in serve), validates and queues predictions, reads their state and events.
 */
export function frontQueue(options: GatewayOptions): Gateway {
  const name = options.queue ?? options.settings.queueName;
  const client = connectRedis(options.redis, 'cog-node:gateway');
  const setup: SetupReport = { started_at: new Date().toISOString(), status: 'starting', logs: '' };
  let schema: Record<string, unknown> | undefined;
  let runs: QueueRuns | undefined;
  let predictions: PredictionQueue | undefined;

  const loaded = (async () => {
    try {
      const sources = await options.declarations();
      if (sources.predict === undefined) throw new PredictorLoadError('the gateway serves predictions: cog.yaml names no `predict`');
      // The OpenAPI document is made (and so checked) first: a declaration Cog cannot express fails here.
      schema = openApiSchema({ predict: sources.predict });
      predictions = new PredictionQueue({ redis: client, queue: name, predictor: sources.predict });
      runs = new QueueRuns(client, name, predictions);
      setup.status = 'succeeded';
    } catch (error) {
      setup.status = 'failed';
      setup.logs += `${error instanceof Error && error.stack ? error.stack : errorMessage(error)}\n`;
    }
    setup.completed_at = new Date().toISOString();
  })();

  const notLoaded = (): never => {
    throw new PredictorLoadError('the predictor declaration has not loaded');
  };
  const ready = (): QueueRuns => runs ?? notLoaded();

  return {
    loaded,
    runs: {
      create: (request, create) => ready().create(request, create),
      result: (id, signal) => ready().result(id, signal),
      events: (id, signal) => ready().events(id, signal),
      cancel: async (id) => (runs === undefined ? false : runs.cancel(id)),
      poll: async (id) => runs?.poll(id),
    },
    schema: () => schema,
    probes: {
      // Nothing here can become DEFUNCT: a gateway that runs at all is worth keeping.
      live: () => ({ ok: true }),
      // Ready when a prediction sent now would be queued: the declaration loaded, not shutting
      // down, Redis answering. Workers are not asked: with none (scaled to zero on an empty
      // queue) the gateway must still take the job that brings one up.
      async ready() {
        if (setup.status === 'failed') return { ok: false, reason: 'setup failed' };
        if (options.shuttingDown()) return { ok: false, reason: 'shutting down' };
        if (runs === undefined) return { ok: false, reason: 'starting' };
        if ((await runs.waiting()) === undefined) return { ok: false, reason: `Redis did not answer within ${REDIS_ANSWER_MS} ms` };
        return { ok: true };
      },
    },
    async health(): Promise<HealthReport> {
      const report: HealthReport = { status: 'STARTING', setup: { ...setup }, version: HEALTH_VERSION, queue: { waiting: 0, max: 0 } };
      if (setup.status === 'failed') report.status = 'SETUP_FAILED';
      else if (options.shuttingDown()) report.status = 'BUSY';
      else if (runs !== undefined) {
        const [workers, waiting] = await Promise.all([runs.readyWorkers(), runs.waiting()]);
        report.queue.waiting = waiting ?? 0;
        // READY while Redis answers and at least one worker is set up and taking jobs.
        if (workers !== undefined && workers.length > 0) report.status = 'READY';
      }
      return report;
    },
    async close(): Promise<void> {
      await loaded;
      await runs?.close();
      await predictions?.close();
      await client.quit().catch(() => undefined);
    },
  };
}
