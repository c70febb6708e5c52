// `serve()` answers the plain `POST /predictions` and `GET /health-check` on node:http directly
// (fast-path.ts); the same requests through Hono (`createApp`, as an embedding app mounts it) must
// get the same answers. Hono's adapter loads only when a request needs it.
import { execFile } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, serve, type CogServer, type Inputs } from '../src/index.js';
import { serveLocally, type LocalApp } from './helpers/app.js';
import { json, waitFor, waitForHealth } from './fixtures/server/harness.js';

/** Gates that hold `wait` predictions until released (one per prediction text). */
const gates = new Map<string, () => void>();
const started: string[] = [];

class Gated extends BasePredictor {
  static inputs = { text: Input(Type.String()), count: Input(Type.Integer(), { default: 1, ge: 1 }) };
  static output = Type.String();
  static concurrency = { max: 1 };
  async predict({ text, count }: Inputs<typeof Gated>): Promise<string> {
    started.push(text);
    if (text.startsWith('wait')) {
      // Ends when released, or when cancelled (a hang-up).
      await new Promise<void>((resolve) => {
        gates.set(text, resolve);
        this.scope.signal.addEventListener('abort', () => resolve());
      });
      this.scope.throwIfCanceled();
    }
    return text.repeat(count);
  }
}

let hono: LocalApp;
let fast: CogServer;
beforeAll(async () => {
  hono = await serveLocally(Gated);
  fast = await serve(Gated, { host: '127.0.0.1', port: 0, exit: false });
  await waitForHealth(fast.url, ['READY']);
});
afterAll(async () => {
  for (const release of gates.values()) release();
  await Promise.all([hono?.stop(), fast?.shutdown()]);
});

/** A response's status and the headers the two paths must agree on, and its body text. */
async function wire(response: Response) {
  const text = await response.text();
  const headers = {
    status: response.status,
    contentType: response.headers.get('content-type'),
    // Written whole, with its length (never chunked).
    length: response.headers.get('content-length') === String(Buffer.byteLength(text)),
    chunked: response.headers.get('transfer-encoding'),
    retryAfter: response.headers.get('retry-after'),
    cors: response.headers.get('access-control-allow-origin'),
  };
  return { headers, text };
}

/** What both servers answer, less what differs by nature (id, times): status, headers and body. */
async function answer(url: string, body: string, headers: Record<string, string> = {}) {
  const { headers: seen, text } = await wire(
    await fetch(`${url}/predictions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }),
  );
  const parsed = JSON.parse(text) as Record<string, unknown>;
  for (const key of ['id', 'created_at', 'started_at', 'completed_at']) if (key in parsed) parsed[key] = typeof parsed[key];
  if (typeof parsed.metrics === 'object' && parsed.metrics !== null) {
    parsed.metrics = Object.fromEntries(Object.entries(parsed.metrics).map(([key, value]) => [key, typeof value]));
  }
  return { ...seen, body: parsed };
}

/** The response's header names in the order they came (node:http keeps it); no body: a GET. */
function headerOrder(url: string, body?: string, path = '/predictions'): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const options = body === undefined ? { method: 'GET' } : { method: 'POST', headers: { 'content-type': 'application/json' } };
    const sent = httpRequest(`${url}${path}`, options, (response) => {
      response.resume();
      resolve(response.rawHeaders.filter((_, index) => index % 2 === 0).map((name) => name.toLowerCase()));
    });
    sent.on('error', reject);
    sent.end(body);
  });
}

/** `GET /health-check`, less the setup's times (the two servers started apart). */
async function health(url: string, headers: Record<string, string> = {}) {
  const { headers: seen, text } = await wire(await fetch(`${url}/health-check`, { headers }));
  const body = JSON.parse(text) as { setup?: Record<string, unknown> };
  if (body.setup !== undefined) for (const key of ['started_at', 'completed_at']) body.setup[key] = typeof body.setup[key];
  return { ...seen, body };
}

/** The same request to the Hono path and to the fast path: both answers, for comparing. */
async function both(body: string, headers: Record<string, string> = {}) {
  return { hono: await answer(hono.url, body, headers), fast: await answer(fast.url, body, headers) };
}

describe('POST /predictions on the fast path and through Hono', () => {
  it('a sync prediction: the same status, headers and body', async () => {
    const { hono: viaHono, fast: direct } = await both(JSON.stringify({ input: { text: 'ab', count: 2 } }));
    expect(direct).toEqual(viaHono);
    expect(direct).toMatchObject({ status: 200, contentType: 'application/json', length: true, chunked: null });
    expect(direct.body).toEqual({
      id: 'string',
      status: 'succeeded',
      input: { text: 'ab', count: 2 },
      output: 'abab',
      logs: '',
      metrics: { predict_time: 'number', queue_time: 'number' },
      created_at: 'string',
      started_at: 'string',
      completed_at: 'string',
    });
  });

  it('a body that comes in several chunks: the same answer as one sent whole', async () => {
    const body = JSON.stringify({ input: { text: 'chunks', count: 2 } });
    const sent = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = httpRequest(
        `${fast.url}/predictions`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (response) => {
          let text = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (text += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.on('error', reject);
      request.flushHeaders();
      // The first part on its own, the rest once the server has had a turn to read it.
      request.write(body.slice(0, 10));
      setTimeout(() => request.end(body.slice(10)), 50);
    });
    expect(sent.status).toBe(200);
    expect(JSON.parse(sent.text)).toMatchObject({ status: 'succeeded', input: { text: 'chunks', count: 2 }, output: 'chunkschunks' });
  });

  it('is taken by serve() (not by an app mounted through Hono)', async () => {
    // The one thing that tells them apart: the fast path writes its length with its type, Hono's
    // adapter after Node's own headers.
    const body = JSON.stringify({ input: { text: 'which' } });
    expect((await headerOrder(fast.url, body)).slice(0, 2)).toEqual(['content-type', 'content-length']);
    expect((await headerOrder(hono.url, body)).slice(0, 2)).not.toEqual(['content-type', 'content-length']);
  });

  it('an invalid input: the same 422; malformed JSON: the same 400', async () => {
    const invalid = await both(JSON.stringify({ input: { count: 0 } }));
    expect(invalid.fast).toEqual(invalid.hono);
    expect(invalid.fast.status).toBe(422);
    expect(JSON.stringify(invalid.fast.body)).toContain('text');
    const malformed = await both('{"input":');
    expect(malformed.fast).toEqual(malformed.hono);
    expect(malformed.fast.status).toBe(400);
  });

  it('respond-async: the same 202', async () => {
    const accepted = await both(JSON.stringify({ input: { text: 'later' } }), { prefer: 'respond-async' });
    expect(accepted.fast).toEqual(accepted.hono);
    expect(accepted.fast).toMatchObject({ status: 202, body: { status: 'starting', input: { text: 'later', count: 1 } } });
  });

  it('while its one slot is busy: the same 409', async () => {
    const busy = [hono.url, fast.url].map((url, index) =>
      fetch(`${url}/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { text: `wait-busy-${index}` } }),
      }),
    );
    await waitFor(() => (gates.has('wait-busy-0') && gates.has('wait-busy-1') ? true : undefined), 'both slots taken');
    const refused = await both(JSON.stringify({ input: { text: 'refused' } }));
    expect(refused.fast).toEqual(refused.hono);
    expect(refused.fast.status).toBe(409);
    expect(started).not.toContain('refused');
    gates.get('wait-busy-0')!();
    gates.get('wait-busy-1')!();
    expect((await Promise.all(busy)).map((response) => response.status)).toEqual([200, 200]);
  });

  it("a browser page of another origin is refused as before (Hono's cross-origin guard), and a preflight too", async () => {
    const body = JSON.stringify({ input: { text: 'from a page' } });
    const refused = await both(body, { origin: 'https://evil.example' });
    expect(refused.fast).toEqual(refused.hono);
    expect(refused.fast).toMatchObject({ status: 403, cors: null });
    const preflight = (url: string) =>
      fetch(`${url}/predictions`, {
        method: 'OPTIONS',
        headers: {
          origin: 'https://evil.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const [viaHono, direct] = await Promise.all([preflight(hono.url), preflight(fast.url)]);
    expect(direct.status).toBe(403);
    expect(direct.status).toBe(viaHono.status);
    expect(await direct.text()).toBe(await viaHono.text());
    expect(started).not.toContain('from a page');
  });

  it('a non-JSON body is the same 415, and runs nothing', async () => {
    const refused = await both('{"input":{"text":"plain"}}', { 'content-type': 'text/plain' });
    expect(refused.fast).toEqual(refused.hono);
    expect(refused.fast.status).toBe(415);
    expect(started).not.toContain('plain');
  });

  it('a sync client that hangs up cancels its prediction on both paths', async () => {
    for (const [index, url] of [hono.url, fast.url].entries()) {
      const id = `hang-up-${index}`;
      const text = `wait-hang-up-${index}`;
      const client = new AbortController();
      const request = fetch(`${url}/predictions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id, input: { text } }),
        signal: client.signal,
      }).catch(() => undefined);
      await waitFor(() => (gates.has(text) ? true : undefined), `${text} running`);
      client.abort();
      await request;
      const ended = await waitFor(async () => {
        const polled = await json(`${url}/predictions/${id}`);
        return polled.body.status === 'canceled' ? polled.body : undefined;
      }, `${id} canceled`);
      expect(ended).toMatchObject({ id, status: 'canceled' });
    }
  });
});

describe('GET /health-check on the fast path and through Hono', () => {
  it('the same status, headers and body, and serve() answers it itself', async () => {
    const [viaHono, direct] = [await health(hono.url), await health(fast.url)];
    expect(direct).toEqual(viaHono);
    expect(direct).toMatchObject({ status: 200, contentType: 'application/json', length: true, chunked: null, body: { status: 'READY' } });
    expect(direct.body).toMatchObject({ setup: { status: 'succeeded', started_at: 'string', completed_at: 'string' } });
    expect((await headerOrder(fast.url, undefined, '/health-check')).slice(0, 2)).toEqual(['content-type', 'content-length']);
    expect((await headerOrder(hono.url, undefined, '/health-check')).slice(0, 2)).not.toEqual(['content-type', 'content-length']);
  });

  it('reports BUSY on both while the one slot is taken', async () => {
    const busy = fetch(`${fast.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'wait-health' } }),
    });
    await waitFor(() => (gates.has('wait-health') ? true : undefined), 'wait-health running');
    expect((await health(fast.url)).body).toMatchObject({ status: 'BUSY' });
    gates.get('wait-health')!();
    expect((await busy).status).toBe(200);
    expect((await health(fast.url)).body).toMatchObject({ status: 'READY' });
  });

  it("a page of another origin is refused on both (Hono's cross-origin guard)", async () => {
    const [viaHono, direct] = [
      await health(hono.url, { origin: 'https://evil.example' }),
      await health(fast.url, { origin: 'https://evil.example' }),
    ];
    expect(direct).toEqual(viaHono);
    expect(direct).toMatchObject({ status: 403, cors: null });
  });
});

describe("Hono's node adapter, loaded by serve() when a request first needs it", () => {
  // A process of its own that has not looked at Node's web Request (undici) itself: the client is
  // node:http. Node lists undici among the modules it loaded once anything touches Request,
  // Response, Headers or fetch.
  const script = `
    import { request } from 'node:http';
    const { serve } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).pathname)});
    const server = await serve(${JSON.stringify(new URL('./fixtures/server/echo/predict.ts:Predictor', import.meta.url).pathname)}, { host: '127.0.0.1', port: 0, exit: false });
    const call = (method, path, body) => new Promise((resolve, reject) => {
      const sent = request(server.url + path, { method, headers: body ? { 'content-type': 'application/json' } : {} }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode, text }));
      });
      sent.on('error', reject);
      sent.end(body);
    });
    const undici = () => process.moduleLoadList.some((name) => name.includes('undici'));
    while (JSON.parse((await call('GET', '/health-check')).text).status !== 'READY') await new Promise((resolve) => setTimeout(resolve, 20));
    const predicted = await call('POST', '/predictions', JSON.stringify({ input: { text: 'hi' } }));
    const afterFast = undici();
    // The first requests that need Hono come together: each waits for the adapter, none is lost.
    const first = await Promise.all(['/openapi.json', '/openapi.json', '/', '/nowhere'].map((path) => call('GET', path)));
    console.log(JSON.stringify({ predicted, afterFast, afterHono: undici(), first: first.map(({ status, text }) => ({ status, text: text.slice(0, 40) })) }));
    await server.shutdown();
  `;

  it('is not loaded by /health-check and POST /predictions; the first requests that need it all get their answers', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 30_000 });
    const seen = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
      predicted: { status: number; text: string };
      afterFast: boolean;
      afterHono: boolean;
      first: { status: number; text: string }[];
    };
    expect(seen.predicted.status).toBe(200);
    expect(JSON.parse(seen.predicted.text)).toMatchObject({ status: 'succeeded' });
    expect(seen.afterFast).toBe(false);
    expect(seen.afterHono).toBe(true);
    expect(seen.first.map(({ status }) => status)).toEqual([200, 200, 200, 404]);
    expect(seen.first[0]!.text).toBe(seen.first[1]!.text);
    expect(seen.first[0]!.text).toContain('"openapi"');
    expect(seen.first[3]!.text).toContain('Not Found');
  });
});
