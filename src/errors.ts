// Every error cog-node raises, one row each in `ERRORS` (as fastify's lib/errors.js): a stable
// code, the HTTP status the server answers with, and the message (`%s`: the thrower's details).
// The HTTP layer reads `status` and `body()`; it never asks which class an error is.
import { brand } from './predictor/brand.js';
import type { PredictionResponse } from './runtime/prediction.js';

/**
 * The rows. Status 500 marks an error that is no answer of the API's own: a prediction fails
 * with it, a load or a command stops with it, and over HTTP it is an internal error (logged).
 */
export const ERRORS = {
  // Requests the server refuses (Cog 0.22's status codes and bodies).
  COG_MALFORMED_JSON: { status: 400, message: 'Malformed JSON in request body: %s' },
  COG_STREAMING_UNSUPPORTED: { status: 406, message: 'Training endpoints do not support streaming responses.' },
  COG_AT_CAPACITY: { status: 409, message: 'At capacity - all prediction slots busy' },
  COG_QUEUE_FULL: { status: 429, message: 'At capacity - all prediction slots busy and the queue is full (%s waiting, queue.max %s)' },
  COG_BODY_TOO_LARGE: { status: 413, message: 'Request body is larger than %s bytes (100 MiB)' },
  COG_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported Content-Type '%s': send the request body as application/json" },
  COG_INVALID_INPUT: { status: 422, message: '%s' },
  COG_NOT_READY: { status: 503, message: 'Setup has not finished yet. Wait until it has finished, or GET /health-check for status.' },
  COG_SHUTTING_DOWN: { status: 503, message: 'The server is shutting down.' },
  COG_PREDICTION_NOT_FOUND: { status: 404, message: 'Prediction not found: %s' },
  COG_DEFUNCT: { status: 503, message: 'The predictor can no longer run (DEFUNCT): %s' },
  // A prediction's own ending.
  COG_CANCELED: { status: 500, message: '%s' },
  COG_PREDICTION_FAILED: { status: 500, message: '%s' },
  COG_INPUT_FILE: { status: 500, message: '%s' },
  COG_INVALID_OUTPUT: { status: 500, message: '%s' },
  COG_OUTBOUND_REFUSED: { status: 500, message: '%s' },
  // Loading and running cog-node itself.
  COG_PREDICTOR_LOAD: { status: 500, message: '%s' },
  COG_NATIVE_ADDON_NOT_FOUND: { status: 500, message: '%s' },
  COG_LIBTORCH_NOT_FOUND: { status: 500, message: '%s' },
  COG_DUPLICATE_COPY: { status: 500, message: '%s' },
  COG_USAGE: { status: 500, message: '%s' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** `template` with each `%s` replaced by the next of `details`. */
function format(template: string, details: readonly string[]): string {
  let next = 0;
  return template.replace(/%s/g, () => details[next++] ?? '');
}

/** An error from `ERRORS`: its `code` and `status` come from its row. */
export class CogNodeError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly status: (typeof ERRORS)[C]['status'];

  constructor(code: C, details: readonly string[] = [], options?: ErrorOptions) {
    super(format(ERRORS[code].message, details), options);
    this.code = code;
    this.status = ERRORS[code].status;
  }

  /** Whether the server answers with it as it is (4xx, 503), rather than as an internal error. */
  get answered(): boolean {
    return this.status !== 500;
  }

  /** The JSON body the server answers with: Cog's `{"error": ..., "status": "failed"}`. */
  body(): Record<string, unknown> {
    return { error: this.message, status: 'failed' };
  }

  /** Headers the answer carries besides its body (`Retry-After` for a full queue). */
  headers(): Record<string, string> {
    return {};
  }
}

/** `errorClass` with its own name, as a class declaration has (util.inspect and stacks print it). */
function named<T extends abstract new (...args: never[]) => unknown>(errorClass: T, name: string): T {
  Object.defineProperty(errorClass, 'name', { value: name });
  return errorClass;
}

/** The class of a row whose message is fixed (fastify's `createError`, typed). */
function fixedError<C extends ErrorCode>(code: C, name: string) {
  return named(
    class extends CogNodeError<C> {
      override name = name;
      constructor() {
        super(code);
      }
    },
    name,
  );
}

/** The class of a row whose `%s` is the thrower's detail: often the whole message. */
function messageError<C extends ErrorCode>(code: C, name: string) {
  return named(
    class extends CogNodeError<C> {
      override name = name;
      constructor(detail: string, options?: ErrorOptions) {
        super(code, [detail], options);
      }
    },
    name,
  );
}

/**
 * Thrown inside a prediction once it was cancelled: by code awaiting cancellable work, and by
 * `scope.throwIfCanceled()`. The prediction ends `canceled` even if user code swallows it.
 */
export class CancelationError extends CogNodeError<'COG_CANCELED'> {
  override name = 'CancelationError';
  constructor(message = 'Prediction was canceled') {
    super('COG_CANCELED', [message]);
  }
}

/** A predictor that cannot be loaded or described: bad reference, bad schema, bad cog.yaml. */
export const PredictorLoadError = messageError('COG_PREDICTOR_LOAD', 'PredictorLoadError');
export type PredictorLoadError = InstanceType<typeof PredictorLoadError>;

/** One broken input field, in Cog's 422 shape. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Inputs (or a request's fields) that break their schema: `detail` is Cog's `{"detail":[...]}` body for HTTP 422. */
export class InputValidationError extends CogNodeError<'COG_INVALID_INPUT'> {
  override name = 'InputValidationError';
  readonly detail: ValidationIssue[];
  constructor(detail: ValidationIssue[]) {
    // An input's issue names the input (`text: Field required`); a request field's, the field (`webhook: ...`).
    super('COG_INVALID_INPUT', [
      detail.map((issue) => `${issue.loc.slice(issue.loc[1] === 'input' ? 2 : 1).join('.') || 'input'}: ${issue.msg}`).join('; '),
    ]);
    this.detail = detail;
  }

  override body(): Record<string, unknown> {
    return { detail: this.detail };
  }
}

/**
 * The server's own request (an input download, a webhook, an upload) was refused before or while
 * it went out: a redirect to a scheme other than http(s), too many redirects, an address that
 * `COG_DENY_PRIVATE_NETWORK=1` denies, a download that stalled or grew past its limit.
 */
export const OutboundRequestError = messageError('COG_OUTBOUND_REFUSED', 'OutboundRequestError');
export type OutboundRequestError = InstanceType<typeof OutboundRequestError>;

/** The answer to a prediction when all slots are busy (HTTP 409). */
export const AtCapacityError = fixedError('COG_AT_CAPACITY', 'AtCapacityError');
export type AtCapacityError = InstanceType<typeof AtCapacityError>;

/**
 * The answer to a prediction when every slot is busy and `queue.max` already wait (HTTP 429): the
 * 409's body, naming the queue's size, and `Retry-After` in whole seconds (at least 1), estimated
 * from the measured mean run time, the line and the slots (crates/core queue.rs).
 */
export class QueueFullError extends CogNodeError<'COG_QUEUE_FULL'> {
  override name = 'QueueFullError';
  readonly waiting: number;
  readonly max: number;
  readonly retryAfter: number;

  constructor(waiting: number, max: number, retryAfter: number) {
    super('COG_QUEUE_FULL', [String(waiting), String(max)]);
    this.waiting = waiting;
    this.max = max;
    this.retryAfter = Math.max(1, Math.ceil(retryAfter));
  }

  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfter) };
  }
}

/** The answer to a prediction before setup has succeeded (HTTP 503). */
export const NotReadyError = fixedError('COG_NOT_READY', 'NotReadyError');
export type NotReadyError = InstanceType<typeof NotReadyError>;

/** The answer to a new prediction once the server has begun to shut down (HTTP 503). */
export const ShuttingDownError = fixedError('COG_SHUTTING_DOWN', 'ShuttingDownError');
export type ShuttingDownError = InstanceType<typeof ShuttingDownError>;

/** The answer to a new prediction once the predictor's worker has crashed for good (HTTP 503). */
export const PredictorDefunctError = messageError('COG_DEFUNCT', 'PredictorDefunctError');
export type PredictorDefunctError = InstanceType<typeof PredictorDefunctError>;

/** A prediction id that the queue (or the server) does not know, or no longer keeps (HTTP 404). */
export const PredictionNotFoundError = messageError('COG_PREDICTION_NOT_FOUND', 'PredictionNotFoundError');
export type PredictionNotFoundError = InstanceType<typeof PredictionNotFoundError>;

/** A request body over the size limit, given in bytes (HTTP 413). */
export const BodyTooLargeError = messageError('COG_BODY_TOO_LARGE', 'BodyTooLargeError');
export type BodyTooLargeError = InstanceType<typeof BodyTooLargeError>;

/** A request body whose `Content-Type` says it is not JSON (HTTP 415, as coglet). */
export const UnsupportedMediaTypeError = messageError('COG_UNSUPPORTED_MEDIA_TYPE', 'UnsupportedMediaTypeError');
export type UnsupportedMediaTypeError = InstanceType<typeof UnsupportedMediaTypeError>;

/** A request body that is not JSON (HTTP 400); the message says where it broke. */
export const MalformedJsonError = messageError('COG_MALFORMED_JSON', 'MalformedJsonError');
export type MalformedJsonError = InstanceType<typeof MalformedJsonError>;

/** A streamed (SSE) request to a training endpoint (HTTP 406; Cog's body has no `status`). */
export class StreamingUnsupportedError extends fixedError('COG_STREAMING_UNSUPPORTED', 'StreamingUnsupportedError') {
  override body(): Record<string, unknown> {
    return { error: this.message };
  }
}

/** A predictor's failure, thrown by `run()` and `stream()`; `prediction` holds the whole object. */
export class PredictionError extends CogNodeError<'COG_PREDICTION_FAILED'> {
  override name = 'PredictionError';
  readonly prediction: PredictionResponse;
  constructor(prediction: PredictionResponse) {
    super('COG_PREDICTION_FAILED', [prediction.error ?? `Prediction ${prediction.status}`]);
    this.prediction = prediction;
  }
}

/** Thrown when a Path input cannot be fetched; the prediction fails with this message. */
export const InputFileError = messageError('COG_INPUT_FILE', 'InputFileError');
export type InputFileError = InstanceType<typeof InputFileError>;

/** An output that cannot be encoded or breaks `static output`: fails that prediction alone. */
export const OutputError = messageError('COG_INVALID_OUTPUT', 'OutputError');
export type OutputError = InstanceType<typeof OutputError>;

/** A native addon (`cog-node` or `cog-node/torch`) that has no binary for this platform here. */
export const NativeAddonNotFoundError = messageError('COG_NATIVE_ADDON_NOT_FOUND', 'NativeAddonNotFoundError');
export type NativeAddonNotFoundError = InstanceType<typeof NativeAddonNotFoundError>;

/** No usable libtorch: the message says what was tried and exactly what to install. */
export const LibtorchNotFoundError = messageError('COG_LIBTORCH_NOT_FOUND', 'LibtorchNotFoundError');
export type LibtorchNotFoundError = InstanceType<typeof LibtorchNotFoundError>;

/** A second copy of cog-node loaded into a process that already runs one. */
export const DuplicateCogNodeError = messageError('COG_DUPLICATE_COPY', 'DuplicateCogNodeError');
export type DuplicateCogNodeError = InstanceType<typeof DuplicateCogNodeError>;

/** A mistake in how a command was called: printed with the command's help, exit code 2. */
export const UsageError = messageError('COG_USAGE', 'UsageError');
export type UsageError = InstanceType<typeof UsageError>;

brand(CancelationError, 'CancelationError');
brand(OutboundRequestError, 'OutboundRequestError');
brand(PredictorLoadError, 'PredictorLoadError');
brand(InputValidationError, 'InputValidationError');
