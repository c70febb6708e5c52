// `PredictionQueue`: a Node app's client of a fleet: submits predictions as BullMQ jobs (validated
// against the predictor's schema when given its class), follows their events, reads their results
// and cancels them, all as protocol.ts says. It keeps no prediction state of its own: Redis has it.
import type { Queue } from 'bullmq';
import { InputValidationError, PredictionNotFoundError, type ValidationIssue } from '../errors.js';
import { currentSettings } from '../load/settings.js';
import type { Inputs, InputsDeclaration } from '../predictor/base-predictor.js';
import type { MetricEvent } from '../predictor/scope.js';
import type { Path } from '../predictor/path.js';
import type { Secret } from '../predictor/secret.js';
import type { TSchema } from '../predictor/type.js';
import type { PredictionResponse } from '../runtime/prediction.js';
import { checkDeclaration } from '../schema/declaration.js';
import { InputValidator } from '../schema/input-validator.js';
import { checkPredictionRequest } from '../server/request.js';
import { WebhookSender, WEBHOOK_EVENTS, type WebhookEvent } from '../server/webhook.js';
import { bullmqLibrary } from './libraries.js';
import { connectRedis, type Redis } from './connection.js';
import { appendEvents, completedEntry, readEvents } from './events.js';
import {
  cancelChannel,
  canceledKey,
  canceledPrediction,
  CANCEL_MARK_TTL_SECONDS,
  failedPrediction,
  JOB_NAME,
  JOB_OPTIONS,
  predictionIdProblem,
  type FleetEvent,
  type PredictionJobData,
} from './protocol.js';
import { generatePredictionId } from '../runtime/prediction.js';

/** A predictor class (or function) whose `static inputs` type and validate what is submitted. */
export interface DeclaredPredictor {
  inputs?: InputsDeclaration;
  output?: TSchema;
}

/** An input value as it travels (JSON): a `Path` or `Secret` is sent as a string (a URL, a data URI, the secret). */
export type WireValue<T> = T extends Path | Secret ? string : T extends readonly (infer U)[] ? WireValue<U>[] : T;

/**
 * What `submit` takes as input: the predictor's inputs as JSON when its class was given (any may
 * be left out here: what is required is checked at run time, with Cog's 422 issues).
 */
export type SubmitInput<P> = P extends { inputs: InputsDeclaration }
  ? { [K in keyof Inputs<P>]?: WireValue<Inputs<P>[K]> }
  : Record<string, unknown>;

export interface PredictionQueueOptions<P> {
  /** A Redis URL (default `COG_REDIS_URL`), or an ioredis client to use (it stays yours to close). */
  redis?: string | Redis;
  /** Default `COG_QUEUE_NAME`, else `cog-predictions`. */
  queue?: string;
  /** The predictor's class: inputs are validated against its schema before they are queued. */
  predictor?: P;
}

export interface SubmitOptions {
  /** The prediction's (and job's) id; default: a new `pred_…` id. Submitting an id again starts nothing. */
  id?: string;
  webhook?: string;
  webhookEventsFilter?: WebhookEvent[];
  context?: Record<string, string>;
  /** W3C trace context to continue in the worker (and its webhooks). */
  traceparent?: string;
  tracestate?: string;
}

/** What `submit` answers, as Cog's `Prefer: respond-async` does. */
export interface SubmittedPrediction {
  id: string;
  status: 'starting';
  input: Record<string, unknown>;
  created_at: string;
}

/** A prediction's event as `events()` yields it: Cog's SSE events, parsed. */
export type PredictionQueueEvent =
  | { type: 'start' }
  | { type: 'output'; chunk: unknown; index: number }
  | { type: 'log'; source: 'stdout' | 'stderr'; data: string }
  | ({ type: 'metric' } & MetricEvent)
  | { type: 'completed'; prediction: PredictionResponse };

/**
 * The client of a fleet of `cog-node worker`s: `new PredictionQueue({ redis, queue })`, or
 * `new PredictionQueue({ redis, predictor: MyPredictor })` to validate (and type) inputs first.
 * Each `events()` or `result()` in progress holds a Redis connection of its own (blocking reads).
 */
export class PredictionQueue<P = unknown> {
  readonly name: string;
  readonly #client: Redis;
  readonly #ownsClient: boolean;
  readonly #queue: Queue<PredictionJobData>;
  readonly #validator: InputValidator | undefined;
  readonly #deliveries = new Set<Promise<boolean>>();

  constructor(options: PredictionQueueOptions<P> = {}) {
    const settings = currentSettings();
    this.name = options.queue ?? settings.queueName;
    const problem = this.name === '' || this.name.includes(':') ? "must be a non-empty name without ':'" : undefined;
    if (problem !== undefined) throw new TypeError(`PredictionQueue: queue ${problem} (got ${JSON.stringify(this.name)})`);
    if (typeof options.redis === 'object') {
      this.#client = options.redis;
      this.#ownsClient = false;
    } else {
      const url = options.redis ?? settings.redisUrl;
      if (url === undefined) throw new TypeError('PredictionQueue: give `redis` (a URL or an ioredis client), or set COG_REDIS_URL');
      this.#client = connectRedis(url, 'cog-node:queue');
      this.#ownsClient = true;
    }
    this.#queue = new (bullmqLibrary().Queue)<PredictionJobData>(this.name, { connection: this.#client });
    const predictor = options.predictor as DeclaredPredictor | undefined;
    if (predictor !== undefined) {
      const declaration = checkDeclaration({ predict: { inputs: predictor.inputs ?? {}, output: predictor.output } });
      this.#validator = new InputValidator(declaration.predict!.inputs);
    }
  }

  /**
   * Queues a prediction; resolves once it is in Redis. Throws `InputValidationError` (Cog's 422
   * issues) for an input that breaks the predictor's schema or a bad option.
   */
  async submit(input: SubmitInput<P>, options: SubmitOptions = {}): Promise<SubmittedPrediction> {
    const id = options.id ?? generatePredictionId();
    const body = {
      id,
      input,
      webhook: options.webhook,
      webhook_events_filter: options.webhookEventsFilter,
      context: options.context,
    };
    const checked = checkPredictionRequest(body);
    const issues: ValidationIssue[] = checked.ok ? [] : ((checked.body.detail as ValidationIssue[] | undefined) ?? []);
    const idProblem = predictionIdProblem(id);
    if (idProblem !== undefined) issues.push({ loc: ['body', 'id'], msg: `prediction id ${idProblem}`, type: 'value_error' });
    if (issues.length > 0) throw new InputValidationError(issues);
    // Validated here as the worker will validate it again; what is queued is the input as given.
    this.#validator?.validate(input);
    const data: PredictionJobData = { id, input: input as Record<string, unknown>, created_at: new Date().toISOString() };
    if (options.webhook !== undefined) data.webhook = options.webhook;
    if (options.webhookEventsFilter !== undefined) data.webhook_events_filter = options.webhookEventsFilter;
    if (options.context !== undefined) data.context = options.context;
    if (options.traceparent !== undefined) data.traceparent = options.traceparent;
    if (options.tracestate !== undefined) data.tracestate = options.tracestate;
    // BullMQ keeps the job it has under an id and adds nothing: a second submit is idempotent.
    await this.#queue.add(JOB_NAME, data, { ...JOB_OPTIONS, jobId: id });
    return { id, status: 'starting', input: data.input, created_at: data.created_at };
  }

  /** The final object of a prediction that has ended, or undefined while it waits or runs. */
  async #finalNow(id: string): Promise<PredictionResponse | undefined> {
    // The state first: a job read before it completed would lack its value.
    const state = await this.#queue.getJobState(id);
    if (state === 'unknown') {
      const ended = await completedEntry(this.#client, this.name, id);
      if (ended === undefined) throw new PredictionNotFoundError(id);
      return JSON.parse(ended) as PredictionResponse;
    }
    if (state !== 'completed' && state !== 'failed') return undefined;
    const job = await this.#queue.getJob(id);
    if (job === undefined) return undefined;
    if (state === 'completed') return job.returnvalue as PredictionResponse;
    return failedPrediction(job.data, job.failedReason || 'the job failed in the queue');
  }

  /**
   * A prediction's events as the worker wrote them to its stream (`type`, and `data` as JSON
   * text: what Cog's SSE sends, with Cog's floats such as `1.0` kept), from its first event, ending
   * with `completed`. `events()` is these, parsed; the gateway relays them as they are.
   */
  async *entries(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<FleetEvent, void, undefined> {
    // Unknown ids throw now.
    if ((await this.#queue.getJobState(id)) === 'unknown') await this.#finalNow(id);
    const reader = this.#client.duplicate();
    try {
      const idle = async () => {
        if ((await this.#queue.getJobState(id)) === 'unknown') {
          return (await completedEntry(this.#client, this.name, id)) ?? JSON.stringify(canceledGone(id));
        }
        const final = await this.#finalNow(id);
        // A completed job's `completed` entry is written before its value: let the stream give it.
        return final !== undefined && (await completedEntry(this.#client, this.name, id)) === undefined ? JSON.stringify(final) : undefined;
      };
      yield* readEvents(reader, this.name, id, { idle, signal: options.signal });
    } finally {
      reader.disconnect();
    }
  }

  /**
   * A prediction's output, log and metric events as they happen (from its first event: a late
   * caller replays them), then `completed` with the final object. A job a worker's death
   * handed to another worker runs again: its events then start again with a new `start`.
   */
  async *events(id: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<PredictionQueueEvent, void, undefined> {
    for await (const event of this.entries(id, options)) {
      const data = JSON.parse(event.data) as Record<string, unknown>;
      switch (event.type) {
        case 'start':
          yield { type: 'start' };
          break;
        case 'output':
          yield { type: 'output', chunk: data.chunk, index: data.index as number };
          break;
        case 'log':
          yield { type: 'log', source: data.source as 'stdout' | 'stderr', data: data.data as string };
          break;
        case 'metric':
          yield { type: 'metric', ...(data as unknown as MetricEvent) };
          break;
        case 'completed':
          yield { type: 'completed', prediction: data as unknown as PredictionResponse };
          return;
      }
    }
  }

  /** The final prediction object, once the prediction has ended (waits until then). */
  async result(id: string, options: { signal?: AbortSignal } = {}): Promise<PredictionResponse> {
    return JSON.parse(await this.resultJson(id, options)) as PredictionResponse;
  }

  /**
   * The final prediction object as the worker wrote it (JSON text, Cog's floats such as `1.0`
   * kept: the bytes `serve` would answer), once the prediction has ended (waits until then).
   */
  async resultJson(id: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const now = await this.#finalNow(id);
    if (now !== undefined) return (await completedEntry(this.#client, this.name, id)) ?? JSON.stringify(now);
    for await (const event of this.entries(id, options)) {
      if (event.type === 'completed') return event.data;
    }
    throw new PredictionNotFoundError(id);
  }

  /**
   * Cancels a prediction: a waiting one is removed (its `canceled` end published and its
   * terminal webhook sent from here), a running one is told to its worker, which cancels its
   * token. False when it has ended already or is unknown.
   */
  async cancel(id: string): Promise<boolean> {
    const job = await this.#queue.getJob(id);
    if (job === undefined) return false;
    const state = await job.getState();
    if (state === 'completed' || state === 'failed' || state === 'unknown') return false;
    // Ended, though BullMQ has not marked the job completed yet: its worker published the end
    // (which `result()` answers with) and is still returning from the job.
    if (state === 'active' && (await completedEntry(this.#client, this.name, id)) !== undefined) return false;
    // The mark first: a worker taking the job from now on ends it without running it.
    await this.#client.set(canceledKey(this.name, id), '1', 'EX', CANCEL_MARK_TTL_SECONDS);
    if (state !== 'active' && (await this.#queue.remove(id)) === 1) {
      const final = canceledPrediction(job.data);
      const json = JSON.stringify(final);
      await appendEvents(this.#client, this.name, id, [{ type: 'completed', data: json }]);
      this.#sendTerminal(job.data, json);
      return true;
    }
    await this.#client.publish(cancelChannel(this.name), id);
    return true;
  }

  /** The terminal webhook of a job this client removed, as a worker would have sent it. */
  #sendTerminal(data: PredictionJobData, json: string): void {
    if (data.webhook === undefined) return;
    const settings = currentSettings();
    const webhook = new WebhookSender({
      url: data.webhook,
      events: new Set(data.webhook_events_filter ?? WEBHOOK_EVENTS),
      trace: { traceparent: data.traceparent, tracestate: data.tracestate },
      throttleMs: settings.throttleInterval,
      authToken: settings.webhookAuthToken,
    });
    const delivery = webhook.sendTerminal(json);
    this.#deliveries.add(delivery);
    void delivery.finally(() => this.#deliveries.delete(delivery));
  }

  /** Waits for terminal webhooks on their way, then closes its connections (not a client it was given). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#deliveries]);
    await this.#queue.close();
    if (this.#ownsClient) await this.#client.quit();
  }
}

/** A job gone without an end in its stream (removed by hand, or expired): it will not run. */
function canceledGone(id: string): PredictionResponse {
  return { ...canceledPrediction({ id, input: {}, created_at: new Date().toISOString() }), error: 'the job is no longer in the queue' };
}
