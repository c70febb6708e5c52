// The direct node:http path for the request a server answers most, `POST /predictions` from a
// client that is not a browser page and wants JSON back: the same route code as Hono's (runs.ts
// `create`), without Hono's Request, Context, routing and Response; every other request is Hono's.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Hono } from 'hono';
import { readDeclaredBody, readsWhole, type RouteRequest } from './body.js';
import { parseInPlace, type ParsedBody } from './parse.js';
import type { BeginPrediction } from './runs.js';
import { wantsEventStream } from './sse.js';

type Listener = (incoming: IncomingMessage, outgoing: ServerResponse) => void;

/** What the fast path answers with: the app's `create` without its promises (`begin`), and its handler of errors no route answered. */
export interface FastRoutes {
  begin: BeginPrediction;
  /** `parseBody` for this app's runtime: a large body of many values, parsed in its own thread. */
  parse: (bytes: Buffer) => Promise<ParsedBody>;
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
  // Headers and body in one `end`, with their length: no chunked encoding, as Hono writes a string
  // body. Without a refusal's own headers, in Node's flat array form (no object made and walked).
  const length = Buffer.byteLength(json);
  if (headers === undefined) outgoing.writeHead(status, ['Content-Type', 'application/json', 'Content-Length', length]);
  else outgoing.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': length });
  outgoing.end(json);
}

/** `create`'s answer written; an error no route answered is the app's 500. */
function fail(fast: FastRoutes, outgoing: ServerResponse, error: unknown): void {
  const failed = fast.failed('POST', '/predictions', error);
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
  // A sync client that hangs up cancels its prediction (Cog 0.22); once answered, a close does nothing.
  if (outgoing.destroyed) running.cancel();
  else
    outgoing.on('close', () => {
      if (!outgoing.writableFinished) running.cancel();
    });
  running.whenDone((response) => {
    try {
      write(outgoing, 200, running.json(response), undefined);
    } catch (error) {
      fail(fast, outgoing, error);
    }
  });
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
    readDeclaredBody(
      incoming,
      Number(request.header('content-length')),
      (bytes) => answerBody(fast, request, bytes, outgoing),
      (error) => fail(fast, outgoing, error),
    );
  });
}
