// The node:http side of `serve()`: the requests a server answers most, `POST /predictions` from a
// client that is not a browser page and wants JSON back and `GET /health-check`, through the same
// route code as Hono's, without Hono; every other request goes to Hono, whose adapter loads then.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { HealthReport } from './health.js';
import { readsWhole, type RouteRequest } from './body.js';
import type { CreateAnswer, CreatePrediction } from './runs.js';
import { wantsEventStream } from './sse.js';

export type Listener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** What the fast path answers with: the app's `create`, its health, its handler of errors no route answered. */
export interface FastRoutes {
  create: CreatePrediction;
  /** `GET /health-check`'s body, as the Hono route gives it. */
  health: () => Promise<HealthReport>;
  /** Logs `error` and gives the app's 500 answer (app.ts `onError`). */
  failed: (method: string, path: string, error: unknown) => { status: 500; json: string };
}

const routes = new WeakMap<Hono, FastRoutes>();

/** Called by `cogRoutes` for an app whose predictions run here (not for the gateway's). */
export function registerFastPath(app: Hono, fast: FastRoutes): void {
  routes.set(app, fast);
}

/** A header as Hono's `c.req.header` reads it (repeated values joined). */
function headerOf(incoming: IncomingMessage, name: string): string | undefined {
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function write(outgoing: ServerResponse, status: number, json: string, headers: Record<string, string> | undefined): void {
  // Headers and body in one `end`, with their length: no chunked encoding, as Hono writes a string body.
  outgoing.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
  outgoing.end(json);
}

async function answer(fast: FastRoutes, request: RouteRequest, outgoing: ServerResponse): Promise<void> {
  let answered: CreateAnswer;
  try {
    answered = await fast.create(request, undefined);
    // Only an SSE request or the gateway's queue answer this way, and neither comes here.
    if ('respond' in answered) throw new Error('POST /predictions needed Hono to answer a request the fast path took');
  } catch (error) {
    const failed = fast.failed('POST', '/predictions', error);
    return write(outgoing, failed.status, failed.json, undefined);
  }
  write(outgoing, answered.status, answered.json, answered.headers);
}

async function answerHealth(fast: FastRoutes, outgoing: ServerResponse): Promise<void> {
  let json: string;
  try {
    json = JSON.stringify(await fast.health());
  } catch (error) {
    const failed = fast.failed('GET', '/health-check', error);
    return write(outgoing, failed.status, failed.json, undefined);
  }
  write(outgoing, 200, json, undefined);
}

/**
 * The listener `serve()` listens with. It answers itself what needs nothing more: no `Origin` (a
 * browser's request goes through the cross-origin guard and CORS), and for `POST /predictions`
 * no SSE and a JSON body of declared length within the limit (a refusal then never leaves part of
 * it unread for Hono's drain). Hono's Request, Context, routing and Response cost ~10 µs of the
 * server thread per echo request, against ~27 µs for a bare node:http server's whole answer
 * (benches/README.md "HTTP server"); `hono` gets the rest.
 */
export function requestListener(app: Hono, hono: Listener): Listener {
  const fast = routes.get(app);
  if (fast === undefined) return hono;
  return (incoming, outgoing) => {
    if (incoming.headers.origin !== undefined) return hono(incoming, outgoing);
    if (incoming.method === 'GET' && incoming.url === '/health-check') return void answerHealth(fast, outgoing);
    if (incoming.method !== 'POST' || incoming.url !== '/predictions') return hono(incoming, outgoing);
    const request: RouteRequest = { header: (name) => headerOf(incoming, name), incoming, outgoing, raw: undefined };
    if (wantsEventStream(request.header('accept')) || !readsWhole(request)) return hono(incoming, outgoing);
    void answer(fast, request, outgoing);
  };
}

/**
 * Hono's node:http listener for `app` (@hono/node-server's, as `createAdaptorServer` makes it),
 * imported on the first request that needs it: loading it makes Node load its web Request and
 * Response (undici), ~20 ms of this thread and ~7 MiB that a server answering only the fast path
 * never needs (benches/README.md "Cold start"). Requests that come while it loads wait for it.
 */
export function lazyHonoListener(app: Hono): Listener {
  let loading: Promise<Listener> | undefined;
  let loaded: Listener | undefined;
  return (incoming, outgoing) => {
    if (loaded !== undefined) return loaded(incoming, outgoing);
    loading ??= import('../vendor/hono-node.js').then(({ getRequestListener }) => (loaded = getRequestListener(app.fetch)));
    loading.then(
      (listener) => listener(incoming, outgoing),
      (error: unknown) => {
        const failed = routes.get(app)?.failed(incoming.method ?? 'GET', incoming.url ?? '/', error);
        write(outgoing, 500, failed?.json ?? JSON.stringify({ error: 'Internal server error', status: 'failed' }), undefined);
      },
    );
  };
}
