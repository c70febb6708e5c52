// Browser callers of another origin (403 unless COG_CORS_ORIGINS allows them, CORS for those that
// are) and bodies that are not JSON (415), on a real server on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, type Inputs } from '../src/index.js';
import { serveLocally } from './helpers/app.js';

const ran: string[] = [];

class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: Inputs<typeof Echo>): Promise<string> {
    ran.push(text);
    return text;
  }
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  delete process.env.COG_CORS_ORIGINS;
  ran.length = 0;
});

/** Serves `Echo` on loopback with `COG_CORS_ORIGINS` as given (read when the app is made). */
async function start(corsOrigins?: string): Promise<{ url: string; shutdownRequests: () => number }> {
  if (corsOrigins === undefined) delete process.env.COG_CORS_ORIGINS;
  else process.env.COG_CORS_ORIGINS = corsOrigins;
  const app = await serveLocally(Echo);
  stops.push(() => app.stop());
  return app;
}

/** What a page's `fetch(url, { method: 'POST', body: string })` sends: a simple, unpreflighted request. */
function simplePost(url: string, origin: string, body = '{"input":{"text":"from a page"}}') {
  return fetch(url, { method: 'POST', headers: { origin, 'content-type': 'text/plain;charset=UTF-8' }, body });
}

function preflight(url: string, origin: string) {
  return fetch(url, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,prefer' },
  });
}

const jsonPost = (url: string, headers: Record<string, string> = {}, text = 'hi') =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ input: { text } }) });

describe('cross-origin browser requests', () => {
  it('refuses a page of another origin on every route, preflight included, and runs nothing', async () => {
    const { url } = await start();
    const evil = 'https://evil.example';
    const refused = await simplePost(`${url}/predictions`, evil);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: 'Cross-origin request from https://evil.example refused: set COG_CORS_ORIGINS to allow this origin',
      status: 'failed',
    });
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect((await preflight(`${url}/predictions`, evil)).status).toBe(403);
    expect((await fetch(`${url}/predictions/x/cancel`, { method: 'POST', headers: { origin: evil } })).status).toBe(403);
    expect((await fetch(`${url}/health-check`, { headers: { origin: evil } })).status).toBe(403);
    // A sandboxed page or a file: URL sends `Origin: null`.
    expect((await simplePost(`${url}/predictions`, 'null')).status).toBe(403);
    // Same host, other scheme: another origin.
    expect((await simplePost(`${url}/predictions`, url.replace('http:', 'https:'))).status).toBe(403);
    expect(ran).toEqual([]);
  });

  it('POST /shutdown from another origin is refused and the server keeps serving', async () => {
    const server = await start();
    const refused = await fetch(`${server.url}/shutdown`, { method: 'POST', headers: { origin: 'http://localhost:8080' } });
    expect(refused.status).toBe(403);
    expect(server.shutdownRequests()).toBe(0);
    expect((await jsonPost(`${server.url}/predictions`)).status).toBe(200);
    // The operator's own curl still stops it.
    expect((await fetch(`${server.url}/shutdown`, { method: 'POST' })).status).toBe(200);
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.shutdownRequests()).toBe(1);
  });

  it('requests without Origin and same-origin ones are unaffected', async () => {
    const { url } = await start();
    const plain = await jsonPost(`${url}/predictions`, {}, 'curl');
    expect(plain.status).toBe(200);
    expect(plain.headers.get('access-control-allow-origin')).toBeNull();
    const same = await jsonPost(`${url}/predictions`, { origin: url }, 'same origin');
    expect(same.status).toBe(200);
    expect(await same.json()).toMatchObject({ status: 'succeeded', output: 'same origin' });
    expect(ran).toEqual(['curl', 'same origin']);
  });

  it('COG_CORS_ORIGINS lets the listed origins in, with CORS headers and preflights', async () => {
    const { url } = await start(' https://app.example , http://localhost:3000');
    const app = 'https://app.example';
    const pre = await preflight(`${url}/predictions`, app);
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe(app);
    expect(pre.headers.get('access-control-allow-methods')).toBe('GET,POST,PUT,OPTIONS');
    expect(pre.headers.get('access-control-allow-headers')).toBe('Content-Type,Prefer,Authorization,traceparent,tracestate');
    expect(pre.headers.get('vary')).toContain('Origin');
    const allowed = await jsonPost(`${url}/predictions`, { origin: app }, 'listed');
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(app);
    expect(allowed.headers.get('vary')).toContain('Origin');
    expect((await jsonPost(`${url}/predictions`, { origin: 'http://localhost:3000' }, 'second')).status).toBe(200);
    expect((await jsonPost(`${url}/predictions`, { origin: 'https://other.example' }, 'unlisted')).status).toBe(403);
    // Even an allowed origin's text/plain POST does not run: it is not JSON.
    expect((await simplePost(`${url}/predictions`, app)).status).toBe(415);
    expect(ran).toEqual(['listed', 'second']);
  });

  it('COG_CORS_ORIGINS=* lets every origin in, echoing it', async () => {
    const { url } = await start('*');
    const response = await jsonPost(`${url}/predictions`, { origin: 'https://anywhere.example' });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
    expect((await preflight(`${url}/predictions`, 'https://else.example')).status).toBe(204);
  });
});

describe('Content-Type', () => {
  it('415 names a non-JSON type; JSON, +json and a missing type are read', async () => {
    const { url } = await start();
    const form = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'input=1',
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toEqual({
      error: "Unsupported Content-Type 'application/x-www-form-urlencoded': send the request body as application/json",
      status: 'failed',
    });
    const put = await fetch(`${url}/predictions/p1`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: '{"input":{"text":"x"}}',
    });
    expect(put.status).toBe(415);
    const charset = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'Application/JSON; charset=utf-8' },
      body: '{"input":{"text":"a"}}',
    });
    expect(charset.status).toBe(200);
    const plusJson = await fetch(`${url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.cog+json' },
      body: '{"input":{"text":"b"}}',
    });
    expect(plusJson.status).toBe(200);
    // No Content-Type at all (a blob body): read as JSON, as before.
    const untyped = await fetch(`${url}/predictions`, { method: 'POST', body: new Blob(['{"input":{"text":"c"}}']) });
    expect(untyped.status).toBe(200);
    expect(ran).toEqual(['a', 'b', 'c']);
  });
});
