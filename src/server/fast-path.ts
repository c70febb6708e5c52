// The direct node:http path for the request a server answers most, `POST /predictions` from a
// client that is not a browser page and wants JSON back: the same route code as Hono's (runs.ts
// `create`), without Hono's Request, Context, routing and Response; every other request is Hono's.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import { readsWhole, type RouteRequest } from './body.js';
import type { CreateAnswer, CreatePrediction } from './runs.js';
import { wantsEventStream } from './sse.js';

type Listener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** What the fast path answers with: the app's `create` and its handler of errors no route answered. */
export interface FastRoutes {
  create: CreatePrediction;
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

/**
 * Has `server` (made by @hono/node-server over `app`) answer `POST /predictions` itself when
 * nothing about the request needs more: no `Origin` (a browser's request goes through the
 * cross-origin guard and CORS), no SSE, and a JSON body of declared length within the limit (a
 * refusal then never leaves part of it unread for Hono's drain). Hono's Request, Context,
 * routing and Response cost ~10 µs of the server thread per echo request, against ~27 µs for a
 * bare node:http server's whole answer (benches/README.md "HTTP server").
 */
export function useFastPath(server: Server, app: Hono): void {
  const fast = routes.get(app);
  const [hono, ...others] = server.listeners('request') as Listener[];
  if (fast === undefined || hono === undefined || others.length > 0) return;
  server.removeListener('request', hono);
  server.on('request', (incoming: IncomingMessage, outgoing: ServerResponse) => {
    if (incoming.method !== 'POST' || incoming.url !== '/predictions') return hono(incoming, outgoing);
    const request: RouteRequest = { header: (name) => headerOf(incoming, name), incoming, outgoing, raw: undefined };
    if (incoming.headers.origin !== undefined || wantsEventStream(request.header('accept')) || !readsWhole(request)) {
      return hono(incoming, outgoing);
    }
    void answer(fast, request, outgoing);
  });
}
