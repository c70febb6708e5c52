// Cog's prediction API on a real `cog-node serve` process: endpoints, status codes, bodies.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer, json, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

let echo: ServerProcess; // concurrency 2 (cog.yaml)
let single: ServerProcess; // COG_MAX_CONCURRENCY=1
let webhooks: Peer;

beforeAll(async () => {
  [echo, single, webhooks] = await Promise.all([
    startServer('echo'),
    startServer('echo', { env: { COG_MAX_CONCURRENCY: '1' } }),
    new Peer().start(),
  ]);
  await Promise.all([waitForHealth(echo.url, ['READY']), waitForHealth(single.url, ['READY'])]);
});

afterAll(async () => {
  await Promise.all([echo?.kill(), single?.kill(), webhooks?.stop()]);
});

describe('discovery, health and schema', () => {
  it('GET / lists the endpoints', async () => {
    const { status, body } = await json(`${echo.url}/`);
    expect(status).toBe(200);
    expect(body).toEqual({
      cog_version: '0.22.0',
      docs_url: '/docs',
      openapi_url: '/openapi.json',
      shutdown_url: '/shutdown',
      healthcheck_url: '/health-check',
      predictions_url: '/predictions',
      predictions_idempotent_url: '/predictions/{prediction_id}',
      predictions_cancel_url: '/predictions/{prediction_id}/cancel',
    });
  });

  it('GET /health-check reports READY with the setup object', async () => {
    const { status, body } = await json(`${echo.url}/health-check`);
    expect(status).toBe(200);
    expect(body.status).toBe('READY');
    expect(body.setup.status).toBe('succeeded');
    expect(Date.parse(body.setup.started_at)).toBeLessThanOrEqual(Date.parse(body.setup.completed_at));
    expect(body.setup.logs).toBe('');
    // What runs, and no `coglet` field: it is not coglet (issue 14.6).
    expect(body.version).toEqual({ cog_node: expect.stringMatching(/^\d+\.\d+\.\d+/), node: process.version, cog_api: '0.22.0' });
    expect(body.user_healthcheck_error).toBeUndefined();
  });

  it('GET /openapi.json serves the predictor schema', async () => {
    const { status, body } = await json(`${echo.url}/openapi.json`);
    expect(status).toBe(200);
    expect(body.openapi).toBe('3.0.2');
    expect(body.components.schemas.Input.required).toEqual(['text']);
    expect(body.components.schemas.Input.properties.token).toMatchObject({ format: 'password', 'x-cog-secret': true });
    expect(body.paths['/predictions'].post['x-cog-streaming']).toBe(true);
    expect(body.paths['/predictions/{prediction_id}'].get.operationId).toBe('get_prediction_predictions__prediction_id__get');
    expect(body.paths['/trainings']).toBeUndefined();
  });

  it('unknown paths are 404, and so is polling an unknown prediction id (with {}, as cancel)', async () => {
    expect(await json(`${echo.url}/predictions/abc`)).toMatchObject({ status: 404, body: {} });
    expect(await json(`${echo.url}/nope`)).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
  });
});

describe('POST /predictions (sync)', () => {
  it('answers 200 with the whole prediction object', async () => {
    const { status, body } = await post(`${echo.url}/predictions`, { input: { text: 'ab', times: 3 } });
    expect(status).toBe(200);
    expect(body.status).toBe('succeeded');
    expect(body.output).toBe('ababab');
    expect(body.id).toMatch(/^pred_[0-9a-f]+$/);
    expect(body.input).toEqual({ text: 'ab', times: 3, sleep: 0, lines: 0, fail: false, show: 'text' });
    expect(typeof body.metrics.predict_time).toBe('number');
    expect(body.logs).toBe('');
    for (const field of ['created_at', 'started_at', 'completed_at']) expect(Number.isNaN(Date.parse(body[field]))).toBe(false);
    expect(body.error).toBeUndefined();
  });

  it('echoes a given id; generated ids are unique', async () => {
    const mine = await post(`${echo.url}/predictions`, { id: 'my-id-1', input: { text: 'x' } });
    expect(mine.body.id).toBe('my-id-1');
    const ids = await Promise.all([1, 2].map(async () => (await post(`${echo.url}/predictions`, { input: { text: 'x' } })).body.id));
    expect(new Set(ids).size).toBe(2);
  });

  it('a failing predict is 200 with status failed, and the server keeps working', async () => {
    const failed = await post(`${echo.url}/predictions`, { input: { text: 'boom', fail: true, lines: 1 } });
    expect(failed.status).toBe(200);
    expect(failed.body.status).toBe('failed');
    expect(failed.body.error).toBe('failing on purpose: boom');
    expect(failed.body.logs).toContain('boom line 0\n');
    const after = await post(`${echo.url}/predictions`, { input: { text: 'fine' } });
    expect(after.body).toMatchObject({ status: 'succeeded', output: 'fine' });
  });

  it('passes context to the predictor and never echoes a secret', async () => {
    const context = await post(`${echo.url}/predictions`, { input: { text: 'x', show: 'context' }, context: { user: 'ada', trace: '7' } });
    expect(JSON.parse(context.body.output)).toEqual({ user: 'ada', trace: '7' });
    const secret = await post(`${echo.url}/predictions`, { input: { text: 'x', show: 'secret', token: 'hunter22' } });
    expect(secret.body.output).toBe('secret has 8 chars');
    expect(secret.body.input.token).toBe('**********');
    expect(JSON.stringify(secret.body)).not.toContain('hunter22');
  });

  it("puts each prediction's own output in its logs, also when two run at once", async () => {
    const [a, b] = await Promise.all([
      post(`${echo.url}/predictions`, { input: { text: 'alpha', lines: 15 } }),
      post(`${echo.url}/predictions`, { input: { text: 'beta', lines: 15 } }),
    ]);
    const expected = (tag: string) => Array.from({ length: 15 }, (_, i) => `${tag} line ${i}\n${tag} err ${i}\n`).join('');
    expect(a.body.logs).toBe(expected('alpha'));
    expect(b.body.logs).toBe(expected('beta'));
  });
});

describe('request errors', () => {
  it('422 in Cog shape for broken inputs; unknown keys are dropped', async () => {
    const missing = await post(`${echo.url}/predictions`, { input: { times: 2, surprise: 1 } });
    expect(missing.status).toBe(422);
    expect(missing.body.detail).toEqual([{ loc: ['body', 'input', 'text'], msg: 'Field required', type: 'value_error.missing' }]);
    const wrong = await post(`${echo.url}/predictions`, { input: { text: 'x', times: 'two' } });
    expect(wrong.status).toBe(422);
    expect(wrong.body.detail[0].loc).toEqual(['body', 'input', 'times']);
    const range = await post(`${echo.url}/predictions`, { input: { text: 'x', times: 11 } });
    expect(range.body.detail[0].loc).toEqual(['body', 'input', 'times']);
    const choice = await post(`${echo.url}/predictions`, { input: { text: 'x', show: 'nope' } });
    expect(choice.body.detail[0].loc).toEqual(['body', 'input', 'show']);
    const explicitNull = await post(`${echo.url}/predictions`, { input: { text: 'x', token: null } });
    expect(explicitNull.status).toBe(422);
    expect(explicitNull.body.detail[0].loc).toEqual(['body', 'input', 'token']);
    const ok = await post(`${echo.url}/predictions`, { input: { text: 'x', surprise: 1 } });
    expect(ok.body.status).toBe('succeeded');
  });

  it('422 for a broken envelope: webhook, events filter, context, non-object body', async () => {
    const bad = await post(`${echo.url}/predictions`, {
      input: { text: 'x' },
      webhook: 'ftp://example.com/hook',
      webhook_events_filter: ['completed', 'finished'],
      context: { n: 1 },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.detail.map((d: { loc: unknown[] }) => d.loc)).toEqual([
      ['body', 'webhook'],
      ['body', 'webhook_events_filter', 1],
      ['body', 'context', 'n'],
    ]);
    const array = await post(`${echo.url}/predictions`, [1, 2]);
    expect(array.status).toBe(422);
    expect(array.body.detail[0].loc).toEqual(['body']);
  });

  it('400 for malformed JSON', async () => {
    const { status, body } = await json(`${echo.url}/predictions`, {
      method: 'POST',
      body: '{"input": {"text": ',
      headers: { 'content-type': 'application/json' },
    });
    expect(status).toBe(400);
    expect(body.error).toMatch(/^Malformed JSON in request body/);
  });

  it('413 for a body over 100 MiB, announced or streamed', async () => {
    const announced = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${echo.url}/predictions`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(101 << 20) } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{"input":');
    });
    expect(announced).toBe(413);
    const chunk = new Uint8Array(1 << 20).fill(0x20);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 101) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const streamed = await fetch(`${echo.url}/predictions`, {
      method: 'POST',
      body,
      duplex: 'half',
      headers: { 'content-type': 'application/json' },
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(((await streamed.json()) as { error: string }).error).toContain('100 MiB');
  });
});

describe('async, idempotent PUT, cancel, capacity', () => {
  it('Prefer: respond-async answers 202 starting at once, then the webhook gets the result', async () => {
    const started = Date.now();
    const { status, body } = await post(
      `${echo.url}/predictions`,
      { id: 'async-1', input: { text: 'later', sleep: 3 }, webhook: `${webhooks.url}/async-1`, webhook_events_filter: ['completed'] },
      { prefer: 'respond-async' },
    );
    expect(status).toBe(202);
    // Long before the 3 s prediction could have ended (wide: CI machines are loaded).
    expect(Date.now() - started).toBeLessThan(2000);
    expect(body).toMatchObject({ id: 'async-1', status: 'starting' });
    const done = await waitFor(() => webhooks.requests.find((r) => r.url === '/async-1'), 'completed webhook');
    expect(JSON.parse(done.body.toString())).toMatchObject({ id: 'async-1', status: 'succeeded', output: 'later' });
  });

  it('PUT runs with the URL id, 422s on a mismatched id, and answers 202 with the state for an id in flight', async () => {
    const sync = await put(`${echo.url}/predictions/put-sync`, { input: { text: 'p' } });
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({ id: 'put-sync', status: 'succeeded', output: 'p' });

    const mismatch = await put(`${echo.url}/predictions/put-a`, { id: 'put-b', input: { text: 'p' } });
    expect(mismatch.status).toBe(422);
    expect(mismatch.body).toEqual({
      detail: [{ loc: ['body', 'id'], msg: 'prediction ID must match the ID supplied in the URL', type: 'value_error' }],
    });

    const request = { input: { text: 'once', sleep: 0.6 }, webhook: `${webhooks.url}/put-twice`, webhook_events_filter: ['completed'] };
    const first = await put(`${echo.url}/predictions/put-twice`, request, { prefer: 'respond-async' });
    const second = await put(`${echo.url}/predictions/put-twice`, request, { prefer: 'respond-async' });
    const third = await put(`${echo.url}/predictions/put-twice`, request); // sync asked: still 202 with the state
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(third.status).toBe(202);
    expect(second.body).toMatchObject({ id: 'put-twice', status: 'processing', input: { text: 'once', sleep: 0.6 } });
    expect(third.body.created_at).toBe(second.body.created_at);
    await waitFor(() => webhooks.requests.some((r) => r.url === '/put-twice'), 'completed webhook');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(webhooks.requests.filter((r) => r.url === '/put-twice')).toHaveLength(1);
  });

  it('cancel: 404 {} for unknown ids, 200 {} for one in flight, which then ends canceled', async () => {
    const unknown = await post(`${echo.url}/predictions/nobody/cancel`);
    expect(unknown).toMatchObject({ status: 404, body: {} });
    const running = post(`${single.url}/predictions`, { id: 'to-cancel', input: { text: 'x', sleep: 10 } });
    await waitForHealth(single.url, ['BUSY']);
    const cancel = await post(`${single.url}/predictions/to-cancel/cancel`);
    expect(cancel).toMatchObject({ status: 200, body: {} });
    const result = await running;
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ id: 'to-cancel', status: 'canceled' });
    expect((await post(`${single.url}/predictions/to-cancel/cancel`)).status).toBe(404);
    await waitForHealth(single.url, ['READY']);
  });

  it('409 at capacity, BUSY while full, READY again after', async () => {
    const first = await post(`${single.url}/predictions`, { input: { text: 'x', sleep: 1 } }, { prefer: 'respond-async' });
    expect(first.status).toBe(202);
    const health = await json(`${single.url}/health-check`);
    expect(health.body.status).toBe('BUSY');
    const second = await post(`${single.url}/predictions`, { input: { text: 'y' } });
    expect(second.status).toBe(409);
    expect(second.body).toEqual({ error: 'At capacity - all prediction slots busy', status: 'failed' });
    await waitForHealth(single.url, ['READY']);
  });

  it('a sync client that hangs up cancels its prediction', async () => {
    const controller = new AbortController();
    const request = fetch(`${single.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'x', sleep: 20 } }),
      signal: controller.signal,
    }).catch(() => 'aborted');
    await waitForHealth(single.url, ['BUSY']);
    controller.abort();
    expect(await request).toBe('aborted');
    // Without the cancel the slot would stay taken for 20 s.
    await waitForHealth(single.url, ['READY'], 5000);
  });
});
