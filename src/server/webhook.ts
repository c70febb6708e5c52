// A prediction's webhooks, as Cog sends them: start, output and logs in one attempt each
// (throttled), `completed` retried with backoff until delivered or shutdown's deadline.
// A failed delivery is logged; it never reaches the prediction.
import { setTimeout as delay } from 'node:timers/promises';
import { OutboundRequestError } from '../errors.js';
import { displayUrl, outboundRequest, requestProblem, type OutboundResponse } from '../runtime/outbound.js';
import { currentSettings } from '../load/settings.js';
import type { Prediction } from '../runtime/prediction.js';
import { detached, serverLog } from './server-log.js';

export type WebhookEvent = 'start' | 'output' | 'logs' | 'completed';

export const WEBHOOK_EVENTS: readonly WebhookEvent[] = ['start', 'output', 'logs', 'completed'];

/** W3C trace context copied from the request that created the prediction. */
export interface TraceHeaders {
  traceparent?: string;
  tracestate?: string;
}

export interface WebhookOptions {
  url: string;
  /** `webhook_events_filter`: only these events are sent (the terminal one included). */
  events: ReadonlySet<WebhookEvent>;
  trace: TraceHeaders;
  /** Non-terminal events closer than this to the previous send are dropped (output excepted). */
  throttleMs: number;
  /** `Authorization: Bearer <token>` when set. */
  authToken?: string;
  /**
   * Aborted at the shutdown deadline: the terminal event stops retrying (and stops waiting for
   * its attempt) and is reported undelivered, so a receiver that never answers cannot hold the
   * server (12 retries of 30 s each are ~8 minutes).
   */
  stop?: AbortSignal;
  /** Cog: 12 retries, waiting 100 ms x 2^n before retry n (n capped at 10), 30 s per request. */
  maxRetries?: number;
  backoffBaseMs?: number;
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

const STOPPED = Symbol('stopped');

/** `work`, unless `signal` aborts first; leaves no listener behind on the (long-lived) signal. */
async function unlessStopped<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof STOPPED> {
  if (signal === undefined) return work;
  if (signal.aborted) return STOPPED;
  let onAbort!: () => void;
  const stopped = new Promise<typeof STOPPED>((resolve) => {
    onAbort = () => resolve(STOPPED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stopped]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Delivers one prediction's webhooks as Cog does: `start`, `output`, `logs` are single
 * fire-and-forget attempts, throttled by `COG_THROTTLE_RESPONSE_INTERVAL` (output never);
 * `completed` is always sent (if not filtered out) and retried on connection errors and
 * 429/500/502/503/504 with exponential backoff. Failures never reach the prediction.
 */
export class WebhookSender {
  readonly #options: WebhookOptions;
  readonly #headers: Record<string, string>;
  #lastSent = Number.NEGATIVE_INFINITY;
  readonly #inFlight = new Set<Promise<unknown>>();
  /** The URL as logs show it. */
  readonly #shownUrl: string;

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.#shownUrl = displayUrl(options.url);
    this.#headers = {
      'content-type': 'application/json',
      'user-agent': currentSettings().userAgent,
    };
    if (options.authToken !== undefined) this.#headers.authorization = `Bearer ${options.authToken}`;
    if (options.trace.traceparent !== undefined) this.#headers.traceparent = options.trace.traceparent;
    if (options.trace.tracestate !== undefined) this.#headers.tracestate = options.trace.tracestate;
  }

  wants(event: WebhookEvent): boolean {
    return this.#options.events.has(event);
  }

  /** A non-terminal event: one attempt, unless filtered out or throttled; `payload` writes its JSON. */
  send(event: Exclude<WebhookEvent, 'completed'>, payload: () => string): void {
    if (!this.wants(event)) return;
    const now = performance.now();
    if (event !== 'output' && now - this.#lastSent < this.#options.throttleMs) return;
    this.#lastSent = now;
    // Serialized now: the prediction keeps changing while the request is on its way.
    const body = payload();
    const attempt = detached(() =>
      this.#post(body).then(
        (response) => {
          if (!response.ok) serverLog(`webhook ${event} to ${this.#shownUrl}: HTTP ${response.status}`);
        },
        (error: unknown) => serverLog(`webhook ${event} to ${this.#shownUrl} failed: ${this.#describe(error)}`),
      ),
    );
    this.#inFlight.add(attempt);
    void attempt.finally(() => this.#inFlight.delete(attempt));
  }

  /**
   * The `completed` event (its JSON text), retried as Cog retries it; resolves when delivered
   * (true) or given up or stopped (false); it never rejects. Waits for earlier events still on
   * their way, so the receiver sees it last.
   */
  sendTerminal(body: string): Promise<boolean> {
    if (!this.wants('completed')) return Promise.resolve(true);
    const stop = this.#options.stop;
    return detached(async () => {
      if ((await unlessStopped(Promise.allSettled([...this.#inFlight]), stop)) === STOPPED) return false;
      const maxRetries = this.#options.maxRetries ?? 12;
      const base = this.#options.backoffBaseMs ?? 100;
      for (let attempt = 0; ;) {
        let retryable: boolean;
        let problem: string;
        try {
          const response = await unlessStopped(this.#post(body), stop);
          if (response === STOPPED) return false;
          if (response.ok) return true;
          retryable = RETRY_STATUSES.has(response.status);
          problem = `HTTP ${response.status}`;
        } catch (error) {
          // A refusal (COG_DENY_PRIVATE_NETWORK, a bad redirect) will be refused again: no retries.
          retryable = !(error instanceof OutboundRequestError);
          problem = this.#describe(error);
        }
        attempt += 1;
        if (!retryable || attempt > maxRetries) {
          serverLog(`webhook completed to ${this.#shownUrl} failed after ${attempt} attempt(s): ${problem}`);
          return false;
        }
        try {
          await delay(base * 2 ** Math.min(attempt, 10), undefined, { signal: stop });
        } catch {
          return false; // stopped while waiting to retry
        }
      }
    });
  }

  /** An error as the log shows it: fetch names the URL when it refuses one with credentials. */
  #describe(error: unknown): string {
    let text = requestProblem(error).replaceAll(this.#options.url, this.#shownUrl);
    try {
      text = text.replaceAll(new URL(this.#options.url).href, this.#shownUrl);
    } catch {
      // not a URL: nothing more to hide
    }
    return text;
  }

  /** The URL as logs show it (no credentials, no query). */
  get shownUrl(): string {
    return this.#shownUrl;
  }

  async #post(body: string): Promise<OutboundResponse> {
    const response = await outboundRequest(this.#options.url, {
      method: 'POST',
      headers: this.#headers,
      body: () => body,
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 30_000),
    });
    // Read and drop the body so the connection goes back to the pool.
    await response.body.dump().catch(() => undefined);
    return response;
  }
}

/**
 * Sends a prediction's `start`, `output` and `logs` webhooks as they happen, for `serve` and
 * `cog-node worker` alike. The terminal one is the caller's (`sendTerminal`): the server tracks
 * its delivery for shutdown, a worker leaves it out for a job it hands back to the queue.
 */
export function sendProgressWebhooks(prediction: Prediction, webhook: WebhookSender): void {
  // The runtime may have moved the prediction to `processing` before we could listen.
  const payload = () => prediction.json();
  if (prediction.status === 'starting') prediction.once('start', () => webhook.send('start', payload));
  else webhook.send('start', payload);
  prediction.on('output', () => webhook.send('output', payload));
  prediction.on('log', () => webhook.send('logs', payload));
}
