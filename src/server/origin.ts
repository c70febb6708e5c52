// Who may call the server from a browser: a page of another origin is refused (403) unless
// `COG_CORS_ORIGINS` allows it; allowed ones get CORS headers (hono/cors) and their preflights.
import type { Context, MiddlewareHandler } from 'hono';
import { cors } from '../vendor/hono.js';

/** The request headers a Cog client sends beyond the CORS-safelisted ones. */
const ALLOWED_HEADERS = ['Content-Type', 'Prefer', 'Authorization', 'traceparent', 'tracestate'];
const ALLOWED_METHODS = ['GET', 'POST', 'PUT', 'OPTIONS'];

/** The origin this request was addressed to: its scheme and `Host` header. */
function ownOrigin(c: Context): string | undefined {
  const host = c.req.header('host');
  if (host === undefined) return undefined;
  try {
    return new URL(`${new URL(c.req.url).protocol}//${host}`).origin;
  } catch {
    return undefined;
  }
}

function normalized(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    return origin;
  }
}

/**
 * Requests without `Origin` (curl, SDKs, orchestrators) and same-origin ones pass untouched. A
 * browser sends `Origin` with every cross-origin request, so a page elsewhere cannot run
 * predictions, read outputs or `POST /shutdown` (a `text/plain` POST needs no preflight, so
 * refusing it here, before any route runs, is what stops it).
 */
export function crossOriginGuard(allowed: '*' | ReadonlySet<string>): MiddlewareHandler {
  const isAllowed = (origin: string) => allowed === '*' || allowed.has(normalized(origin));
  const headers = cors({
    origin: (origin) => (isAllowed(origin) ? origin : null),
    allowMethods: ALLOWED_METHODS,
    allowHeaders: ALLOWED_HEADERS,
    maxAge: 600,
  });
  // Not `async`: compose awaits what it returns, so a second promise per request bought nothing.
  return (c, next) => {
    const origin = c.req.header('origin');
    if (origin === undefined) return next();
    if (origin !== 'null' && normalized(origin) === ownOrigin(c)) return next();
    if (!isAllowed(origin)) {
      return Promise.resolve(
        c.json({ error: `Cross-origin request from ${origin} refused: set COG_CORS_ORIGINS to allow this origin`, status: 'failed' }, 403),
      );
    }
    return headers(c, next);
  };
}
