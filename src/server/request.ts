// Cog's prediction request envelope (id, webhook, webhook_events_filter, context,
// output_file_prefix), parsed and checked; the `input` inside it is the predictor's validator's.
import { InputValidationError, MalformedJsonError, type ValidationIssue } from '../errors.js';
import { WEBHOOK_EVENTS, type WebhookEvent } from './webhook.js';

/** Cog's `PredictionRequest` envelope (and `TrainingRequest`), checked. */
export interface PredictionRequest {
  id?: string;
  /** Validated later, by the predictor's validator; a missing or null `input` is `{}`. */
  input: unknown;
  webhook?: string;
  events: ReadonlySet<WebhookEvent>;
  context: Record<string, string>;
  /** Legacy (Cog <= 0.16): upload sync outputs with a multipart PUT to `<prefix><basename>`. */
  outputFilePrefix?: string;
}

/** A refusal as plain data: it may cross from the parsing thread, where a class would not survive. */
function refusal(error: InputValidationError | MalformedJsonError): ParsedRequest {
  return { ok: false, status: error.status, body: error.body() };
}

export type ParsedRequest = { ok: true; request: PredictionRequest } | { ok: false; status: 400 | 422; body: Record<string, unknown> };

const MAX_WEBHOOK_LENGTH = 65536;

/** Every webhook event: a request without `webhook_events_filter` shares this one set (never changed). */
const ALL_EVENTS: ReadonlySet<WebhookEvent> = new Set(WEBHOOK_EVENTS);

function issue(field: (string | number)[], msg: string, type = 'value_error'): ValidationIssue {
  return { loc: ['body', ...field], msg, type };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks the envelope's fields; the input itself is the predictor's validator's job. */
export function checkPredictionRequest(body: unknown): ParsedRequest {
  if (body === undefined || body === null) body = {};
  if (!isObject(body)) {
    return refusal(new InputValidationError([issue([], 'Input should be a valid dictionary', 'dict_type')]));
  }
  const problems: ValidationIssue[] = [];
  const request: PredictionRequest = { input: body.input ?? {}, events: ALL_EVENTS, context: {} };

  if (body.id !== undefined && body.id !== null) {
    if (typeof body.id !== 'string' || body.id === '') problems.push(issue(['id'], 'Input should be a non-empty string', 'string_type'));
    else request.id = body.id;
  }

  if (body.webhook !== undefined && body.webhook !== null) {
    if (typeof body.webhook !== 'string' || !isHttpUrl(body.webhook)) {
      problems.push(issue(['webhook'], "URL scheme should be 'http' or 'https'", 'url_scheme'));
    } else if (body.webhook.length > MAX_WEBHOOK_LENGTH) {
      problems.push(issue(['webhook'], `URL should have at most ${MAX_WEBHOOK_LENGTH} characters`, 'url_too_long'));
    } else {
      request.webhook = body.webhook;
    }
  }

  const filter = body.webhook_events_filter;
  if (filter !== undefined && filter !== null) {
    if (!Array.isArray(filter)) {
      problems.push(issue(['webhook_events_filter'], 'Input should be a valid list', 'list_type'));
    } else {
      const events = new Set<WebhookEvent>();
      filter.forEach((event: unknown, index) => {
        if (typeof event === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(event)) events.add(event as WebhookEvent);
        else
          problems.push(
            issue(['webhook_events_filter', index], `Input should be ${WEBHOOK_EVENTS.map((e) => `'${e}'`).join(', ')}`, 'enum'),
          );
      });
      request.events = events;
    }
  }

  if (body.context !== undefined && body.context !== null) {
    if (!isObject(body.context)) {
      problems.push(issue(['context'], 'Input should be a valid dictionary', 'dict_type'));
    } else {
      for (const [key, value] of Object.entries(body.context)) {
        if (typeof value === 'string') request.context[key] = value;
        else problems.push(issue(['context', key], 'Input should be a valid string', 'string_type'));
      }
    }
  }

  if (body.output_file_prefix !== undefined && body.output_file_prefix !== null) {
    if (typeof body.output_file_prefix !== 'string' || !isHttpUrl(body.output_file_prefix)) {
      problems.push(issue(['output_file_prefix'], 'Input should be an http or https URL', 'url_scheme'));
    } else {
      request.outputFilePrefix = body.output_file_prefix;
    }
  }

  if (problems.length > 0) return refusal(new InputValidationError(problems));
  return { ok: true, request };
}

/** Parses the body (absent or empty: `{}`); malformed JSON is a 400 that says where it broke. */
export function parsePredictionRequest(text: string): ParsedRequest {
  if (text.trim() === '') return checkPredictionRequest({});
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return refusal(new MalformedJsonError((error as Error).message));
  }
  return checkPredictionRequest(body);
}
