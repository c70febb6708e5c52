// The node:http side of `serve()`: the requests a server answers most, `POST /predictions` from a
// client that is not a browser page and wants JSON back and `GET /health-check`, through the same
// route code as Hono's, without Hono; every other request goes to Hono, whose adapter loads then.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import type { HealthReport } from './health.js';
import { cancelOnHangUp, readDeclaredBody, readsWhole, type RouteRequest } from './body.js';
import { parseInPlace, type ParsedBody } from './parse.js';
import type { BeginPrediction } from './runs.js';
import { wantsEventStream } from './sse.js';

export type Listener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/**
 * What the fast path answers with: the app's `create` without its promises (`begin`) and its body
 * parser, its health, its handler of errors no route answered.
 */
export interface FastRoutes {
  begin: BeginPrediction;
  /** `parseBody` for this app's runtime: a large body of many values, parsed in its own thread. */
  parse: (bytes: Buffer) => Promise<ParsedBody>;
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

/** A node:http request as the routes read it: headers as Hono's `c.req.header` reads them (repeated values joined). */
class NodeRequest implements RouteRequest {
  readonly incoming: IncomingMessage;
  readonly outgoing: ServerResponse;
  readonly raw = undefined;

  constructor(incoming: IncomingMessage, outgoing: ServerResponse) {
    this.incoming = incoming;
    this.outgoing = outgoing;
  }

  // A method, where a closure per request held `incoming` before.
  header(name: string): string | undefined {
    const value = this.incoming.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

function write(outgoing: ServerResponse, status: number, json: string, headers: Record<string, string> | undefined): void {
  // Headers and body in one `end`, with their length: no chunked encoding, as Hono writes a string
  // body. Without a refusal's own headers, in Node's flat array form (no object made and walked).
  const length = Buffer.byteLength(json);
  if (headers === undefined) outgoing.writeHead(status, ['Content-Type', 'application/json', 'Content-Length', length]);
  else outgoing.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': length });
  outgoing.end(json);
}

/** An error no route answered: the app's 500 (logged there). */
function fail(fast: FastRoutes, outgoing: ServerResponse, error: unknown, method = 'POST', path = '/predictions'): void {
  const failed = fast.failed(method, path, error);
  write(outgoing, failed.status, failed.json, undefined);
}

/**
 * `create` with callbacks end to end (the body read, parsed in place, the prediction started and
 * its end): no promise and no turn of their own for a small request, where the async route made
 * five promises and as many turns (the route, the body's read, its parse, `done`).
 */
function answerBody(fast: FastRoutes, request: RouteRequest, bytes: Buffer, outgoing: ServerResponse): void {
  const parsed = parseInPlace(bytes);
  // A large body of many values is parsed (and its input validated) in its own thread.
  if (parsed === undefined) {
    return void fast.parse(bytes).then(
      (off) => answerParsed(fast, request, off, outgoing),
      (error: unknown) => fail(fast, outgoing, error),
    );
  }
  answerParsed(fast, request, parsed, outgoing);
}

function answerParsed(fast: FastRoutes, request: RouteRequest, parsed: ParsedBody, outgoing: ServerResponse): void {
  let begun: ReturnType<BeginPrediction>;
  try {
    begun = fast.begin(request, undefined, parsed);
    // Only an SSE request or the gateway's queue answer this way, and neither comes here.
    if ('respond' in begun) throw new Error('POST /predictions needed Hono to answer a request the fast path took');
  } catch (error) {
    return fail(fast, outgoing, error);
  }
  if (!('running' in begun)) return write(outgoing, begun.status, begun.json, begun.headers);
  const running = begun.running;
  // A sync client that hangs up cancels its prediction (Cog 0.22); once answered, a close does
  // nothing, so the watch is never stopped.
  cancelOnHangUp(outgoing, running);
  running.whenDone((response) => {
    try {
      write(outgoing, 200, running.json(response), undefined);
    } catch (error) {
      fail(fast, outgoing, error);
    }
  });
}

async function answerHealth(fast: FastRoutes, outgoing: ServerResponse): Promise<void> {
  let json: string;
  try {
    json = JSON.stringify(await fast.health());
  } catch (error) {
    return fail(fast, outgoing, error, 'GET', '/health-check');
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
    const request = new NodeRequest(incoming, outgoing);
    if (wantsEventStream(request.header('accept')) || !readsWhole(request)) return hono(incoming, outgoing);
    readDeclaredBody(
      incoming,
      Number(request.header('content-length')),
      (bytes) => answerBody(fast, request, bytes, outgoing),
      (error) => fail(fast, outgoing, error),
    );
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
