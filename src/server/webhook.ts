import { outboundRequest, type OutboundResponse } from '../outbound.js';
import { COG_NODE_VERSION } from '../version.js';
import { detached, serverLog } from './log.js';

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
  /** Cog: 12 retries, waiting 100 ms x 2^n before retry n (n capped at 10), 30 s per request. */
  maxRetries?: number;
  backoffBaseMs?: number;
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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

  constructor(options: WebhookOptions) {
    this.#options = options;
    this.#headers = {
      'content-type': 'application/json',
      'user-agent': process.env.COG_USER_AGENT ?? `cog-node/${COG_NODE_VERSION}`,
    };
    if (options.authToken !== undefined) this.#headers.authorization = `Bearer ${options.authToken}`;
    if (options.trace.traceparent !== undefined) this.#headers.traceparent = options.trace.traceparent;
    if (options.trace.tracestate !== undefined) this.#headers.tracestate = options.trace.tracestate;
  }

  wants(event: WebhookEvent): boolean {
    return this.#options.events.has(event);
  }

  /** A non-terminal event: one attempt, unless filtered out or throttled. */
  send(event: Exclude<WebhookEvent, 'completed'>, payload: unknown): void {
    if (!this.wants(event)) return;
    const now = performance.now();
    if (event !== 'output' && now - this.#lastSent < this.#options.throttleMs) return;
    this.#lastSent = now;
    // Serialized now: the payload object keeps changing while the request is on its way.
    const body = JSON.stringify(payload);
    const attempt = detached(() =>
      this.#post(body).then(
        (response) => {
          if (!response.ok) serverLog(`webhook ${event} to ${this.#options.url}: HTTP ${response.status}`);
        },
        (error: unknown) => serverLog(`webhook ${event} to ${this.#options.url} failed: ${describe(error)}`),
      ),
    );
    this.#inFlight.add(attempt);
    void attempt.finally(() => this.#inFlight.delete(attempt));
  }

  /**
   * The `completed` event, retried as Cog retries it; resolves when delivered or given up (it
   * never rejects). Waits for earlier events still on their way, so the receiver sees it last.
   */
  sendTerminal(payload: unknown): Promise<void> {
    if (!this.wants('completed')) return Promise.resolve();
    const body = JSON.stringify(payload);
    return detached(async () => {
      await Promise.allSettled([...this.#inFlight]);
      const maxRetries = this.#options.maxRetries ?? 12;
      const base = this.#options.backoffBaseMs ?? 100;
      for (let attempt = 0; ; ) {
        let retryable: boolean;
        let problem: string;
        try {
          const response = await this.#post(body);
          if (response.ok) return;
          retryable = RETRY_STATUSES.has(response.status);
          problem = `HTTP ${response.status}`;
        } catch (error) {
          retryable = true;
          problem = describe(error);
        }
        attempt += 1;
        if (!retryable || attempt > maxRetries) {
          serverLog(`webhook completed to ${this.#options.url} failed after ${attempt} attempt(s): ${problem}`);
          return;
        }
        await sleep(base * 2 ** Math.min(attempt, 10));
      }
    });
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

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}
