// The prediction (and training) routes: create (POST, idempotent PUT) answered sync, async or as
// SSE, cancel, and polling (GET, cog-node's own), with Cog 0.22's status codes; picks how output
// files go out and the webhooks.
import type { Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  CogNodeError,
  InputValidationError,
  NotReadyError,
  PredictorDefunctError,
  ShuttingDownError,
  StreamingUnsupportedError,
} from '../errors.js';
import { dataUriEncoder, type FileEncoder } from '../runtime/output-files.js';
import { generatePredictionId, type Prediction, type PredictionResponse } from '../runtime/prediction.js';
import { errorResponse, honoRequest, readBody, watchHangUp, type RouteRequest } from './body.js';
import { parseBody, type ParsedBody } from './parse.js';
import type { PredictionRequest } from './request.js';
import type { CogService, RunKind } from './service.js';
import { streamPrediction, streamRemote, wantsEventStream } from './sse.js';
import { outputFilePrefixEncoder, uploadUrlEncoder, type UploadContext } from './upload.js';
import { traceCarrierFrom } from '../observe/trace-context.js';
import { WebhookSender, type TraceHeaders } from './webhook.js';

/**
 * Where the routes hand predictions when they do not run them here: the fleet's queue (the
 * gateway, fleet/gateway.ts). The routes keep the HTTP side (body, envelope, ids, sync/async/SSE,
 * hang-ups, status codes); this keeps the predictions.
 */
export interface RemoteRuns {
  /**
   * Validates the input and queues the prediction (`created: true`, `state`: Cog's 202 body); an
   * id already known starts nothing (`created: false`, `state`: what `poll` answers). Throws a
   * `CogNodeError` (the 422 of a bad input) for a refusal.
   */
  create(request: PredictionRequest, options: { id: string; trace: TraceHeaders }): Promise<{ created: boolean; state: string }>;
  /** The final prediction object as JSON text, once it has ended; rejects if `signal` aborts first. */
  result(id: string, signal: AbortSignal): Promise<string>;
  /** Its SSE events from the first (`start`, `output`, `log`, `metric`), ending with `completed`. */
  events(id: string, signal: AbortSignal): AsyncIterable<{ name: string; json: string }>;
  /** False when it has ended or is unknown. */
  cancel(id: string): Promise<boolean>;
  /** Its state now as JSON text (starting, processing so far, or the final object); undefined if unknown. */
  poll(id: string): Promise<string | undefined>;
}

export interface RunRouteOptions {
  /** `--upload-url`: where output files are PUT; default: data URIs in the response. */
  uploadUrl?: string;
  /** `COG_THROTTLE_RESPONSE_INTERVAL` in ms. */
  throttleMs: number;
  /** `WEBHOOK_AUTH_TOKEN`. */
  webhookAuthToken?: string;
  /** Queue predictions there instead of running them here (the gateway). */
  remote?: RemoteRuns;
}

const NAMES = {
  predict: { path: '/predictions', noun: 'prediction' },
  train: { path: '/trainings', noun: 'training' },
} as const;

/**
 * What `create` answers: JSON text with its status (and a refusal's headers), written by Hono or
 * by the fast path (fast-path.ts) alike; or an answer only Hono's Context can give (SSE, the queue's).
 */
export type CreateAnswer =
  | { status: ContentfulStatusCode; json: string; headers?: Record<string, string> }
  | { respond: (c: Context) => Response | Promise<Response> };

/**
 * `create` once its body is read and parsed, up to the sync wait, without a promise: an answer
 * now, or the sync prediction whose end is the answer (its 200 is `predictionJson`; the caller
 * watches for a hang-up). The fast path (fast-path.ts) calls it with callbacks end to end.
 */
export type BeginPrediction = (
  request: RouteRequest,
  pathId: string | undefined,
  body: ParsedBody,
) => CreateAnswer | { running: Prediction };

/** `create`'s promise-free part (`begin`) and its body parser, for the fast path. */
export interface CreateRoutes {
  begin: BeginPrediction;
  parse: (bytes: Buffer) => Promise<ParsedBody>;
}

/** A refusal's answer (errors.ts): its own status, body and headers. */
function refused(error: CogNodeError): CreateAnswer {
  return { status: error.status, json: JSON.stringify(error.body()), headers: error.headers() };
}

/** A prediction object on the wire, with Cog's floats where its output declares them. */
function predictionJson(prediction: Prediction, response: PredictionResponse, status: 200 | 202): CreateAnswer {
  return { status, json: prediction.json(response) };
}

/** `create`'s answer as Hono's Response. */
function honoAnswer(c: Context, answer: CreateAnswer): Response | Promise<Response> {
  if ('respond' in answer) return answer.respond(c);
  return c.body(answer.json, answer.status, { ...answer.headers, 'Content-Type': 'application/json' });
}

/** JSON text written already (by `Prediction.json`) as the response body. */
function jsonText(c: Context, text: string, status: 200 | 202): Response {
  return c.body(text, status, { 'Content-Type': 'application/json' });
}

function traceHeaders(request: RouteRequest): TraceHeaders {
  const trace: TraceHeaders = {};
  const traceparent = request.header('traceparent');
  const tracestate = request.header('tracestate');
  if (traceparent !== undefined) trace.traceparent = traceparent;
  if (tracestate !== undefined) trace.tracestate = tracestate;
  return trace;
}

/**
 * `POST /predictions`, `PUT /predictions/{id}`, `POST /predictions/{id}/cancel`, `GET
 * /predictions/{id}` (and the same for `/trainings`), with Cog 0.22's status codes and the
 * superset response bodies.
 */
export function registerRunRoutes(app: Hono, service: CogService, kind: RunKind, options: RunRouteOptions): CreateRoutes {
  const { path, noun } = NAMES[kind];

  /**
   * How output files go out. `upload` (the context an upload is made in) is called only by an
   * encoder that uploads: the default, data URIs, needs none (an object and a closure a prediction).
   */
  function fileEncoder(request: PredictionRequest, sync: boolean, upload: () => UploadContext): FileEncoder {
    // Legacy servers honoured `output_file_prefix` for sync predictions only, ahead of --upload-url.
    if (sync && request.outputFilePrefix !== undefined) return outputFilePrefixEncoder(request.outputFilePrefix, upload());
    if (options.uploadUrl !== undefined) return uploadUrlEncoder(options.uploadUrl, upload());
    return dataUriEncoder;
  }

  async function create(from: RouteRequest, pathId: string | undefined): Promise<CreateAnswer> {
    const body = await readBody(from);
    if (!body.ok) return refused(body.error);
    const begun = begin(from, pathId, await parseBody(body.bytes, service.runtime(kind)));
    if (!('running' in begun)) return begun;
    // A sync client that hangs up cancels its prediction (Cog 0.22).
    const running = begun.running;
    const unwatch = watchHangUp(from, () => running.cancel());
    try {
      return predictionJson(running, await running.done, 200);
    } finally {
      unwatch();
    }
  }

  function begin(from: RouteRequest, pathId: string | undefined, { parsed, invalid }: ParsedBody): CreateAnswer | { running: Prediction } {
    if (!parsed.ok) return { status: parsed.status, json: JSON.stringify(parsed.body) };
    const request = parsed.request;
    if (pathId !== undefined && request.id !== undefined && request.id !== pathId) {
      return refused(
        new InputValidationError([{ loc: ['body', 'id'], msg: `${noun} ID must match the ID supplied in the URL`, type: 'value_error' }]),
      );
    }
    const stream = wantsEventStream(from.header('accept'));
    if (stream && kind === 'train') return refused(new StreamingUnsupportedError());

    const remote = options.remote;
    if (remote !== undefined) {
      const id = pathId ?? request.id;
      return { respond: (c) => createRemote(c, remote, request, id, stream) };
    }
    const runtime = service.runtime(kind);
    const id = pathId ?? request.id;
    // Idempotent: an id in flight answers with its current state and starts nothing.
    const existing = id !== undefined ? runtime?.get(id) : undefined;
    if (existing !== undefined) {
      if (!stream) return predictionJson(existing, existing.response(), 202);
      return { respond: (c) => streamPrediction(c, existing, { createdHere: false }) };
    }
    if (service.shuttingDown) return refused(new ShuttingDownError());
    if (service.defunct !== undefined) return refused(new PredictorDefunctError(service.defunct));
    if (runtime === undefined || !service.isReady) return refused(new NotReadyError());

    const respondAsync = !stream && from.header('prefer') === 'respond-async';
    const sync = !stream && !respondAsync;
    const predictionId = id ?? generatePredictionId();
    let prediction: Prediction | undefined;
    try {
      // A large body's input was validated where it was parsed (parse.ts).
      if (invalid !== undefined) throw new InputValidationError(invalid);
      prediction = runtime.start(request.input, {
        id: predictionId,
        context: request.context,
        // Node's own header record where there is one: the web Request's Headers are built on demand.
        trace: traceCarrierFrom(from.incoming?.headers ?? from.raw?.headers ?? {}),
        // No trace headers on uploads (Cog 0.23: signed upload URLs never get them).
        encodeFile: fileEncoder(request, sync, () => ({ predictionId, signal: () => prediction?.signal })),
      });
    } catch (error) {
      // A 422, 409 or 503 answers as its error says; anything else is the app's internal error (logged).
      if (error instanceof CogNodeError && error.answered) return refused(error);
      throw error;
    }
    const webhook =
      request.webhook === undefined
        ? undefined
        : new WebhookSender({
            url: request.webhook,
            events: request.events,
            trace: traceHeaders(from),
            throttleMs: options.throttleMs,
            authToken: options.webhookAuthToken,
            stop: service.shutdownSignal,
          });
    service.track(prediction, webhook);

    if (stream) {
      const created = prediction;
      return { respond: (c) => streamPrediction(c, created, { createdHere: true }) };
    }
    if (respondAsync) {
      return {
        status: 202,
        json: JSON.stringify({ id: prediction.id, status: 'starting', input: prediction.input, created_at: prediction.createdIso }),
      };
    }
    return { running: prediction };
  }

  /** `create` for a prediction a queue keeps: the same answers, from the queue's state. */
  async function createRemote(
    c: Context,
    remote: RemoteRuns,
    request: PredictionRequest,
    id: string | undefined,
    stream: boolean,
  ): Promise<Response> {
    if (service.shuttingDown) return errorResponse(c, new ShuttingDownError());
    const predictionId = id ?? generatePredictionId();
    let made: { created: boolean; state: string };
    try {
      made = await remote.create(request, { id: predictionId, trace: traceHeaders(honoRequest(c)) });
    } catch (error) {
      if (error instanceof CogNodeError && error.answered) return errorResponse(c, error);
      throw error;
    }
    if (stream)
      return streamRemote(
        c,
        remote.events(predictionId, c.req.raw.signal),
        made.created ? () => void remote.cancel(predictionId) : undefined,
      );
    if (!made.created || c.req.header('prefer') === 'respond-async') return jsonText(c, made.state, 202);
    // A sync client that hangs up cancels its prediction, as in `serve`.
    const hungUp = new AbortController();
    const unwatch = watchHangUp(honoRequest(c), () => {
      hungUp.abort();
      void remote.cancel(predictionId);
    });
    try {
      return jsonText(c, await remote.result(predictionId, hungUp.signal), 200);
    } finally {
      unwatch();
    }
  }

  const remote = options.remote;
  app.post(path, async (c) => honoAnswer(c, await create(honoRequest(c), undefined)));
  app.put(`${path}/:id`, async (c) => honoAnswer(c, await create(honoRequest(c), c.req.param('id'))));
  app.post(`${path}/:id/cancel`, async (c) => {
    const id = c.req.param('id');
    const canceled = remote !== undefined ? await remote.cancel(id) : service.runtime(kind)?.cancel(id);
    return canceled ? c.json({}, 200) : c.json({}, 404);
  });
  // Polling (Cog has none): waiting, running, or finished and still retained; else 404 `{}` as cancel's.
  app.get(`${path}/:id`, async (c) => {
    const id = c.req.param('id');
    const text = remote !== undefined ? await remote.poll(id) : service.runtime(kind)?.poll(id);
    return text === undefined ? c.json({}, 404) : jsonText(c, text, 200);
  });
  return { begin, parse: (bytes) => parseBody(bytes, service.runtime(kind)) };
}
