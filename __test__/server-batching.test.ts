// Dynamic batching in `cog-node serve` (real server process, real worker thread): predictions of a
// batching predictor wait in the batch former and run together in one predictBatch call, each
// keeping its own statuses, webhooks, SSE events, logs, metrics, errors and cancellation.
// The fixture batches up to 4 and waits at most 200 ms for a batch to fill; to put predictions in
// one batch without depending on timing, a "blocker" holds the one slot while they arrive.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer, json, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';
import { cli } from './helpers/cli.js';

const FIXTURE = new URL('./fixtures/server/batch/', import.meta.url).pathname;

let server: ServerProcess; // queue.max 16
let strict: ServerProcess; // queue.max 0: Cog's 409 at capacity
let hooks: Peer;

beforeAll(async () => {
  [server, strict, hooks] = await Promise.all([
    startServer('batch', { env: { COG_QUEUE_MAX: '16', COG_THROTTLE_RESPONSE_INTERVAL: '0' } }),
    startServer('batch', { env: { COG_QUEUE_MAX: '0' } }),
    new Peer().start(),
  ]);
  await Promise.all([waitForHealth(server.url, ['READY']), waitForHealth(strict.url, ['READY'])]);
}, 60_000);
afterAll(async () => {
  await Promise.all([server?.kill(), strict?.kill(), hooks?.stop()]);
});

/** Starts a prediction that holds the slot for `ms` (async), and waits until it runs. */
async function block(url: string, id: string, ms: number): Promise<void> {
  const created = await put(`${url}/predictions/${id}`, { input: { text: 'blocker', ms } }, { prefer: 'respond-async' });
  expect(created.status).toBe(202);
  await waitForHealth(url, ['BUSY']);
}

const cancel = (url: string, id: string) => post(`${url}/predictions/${id}/cancel`);

describe('batch forming', () => {
  it('a lone prediction runs as a batch of 1, within maxDelayMs (generous bound)', async () => {
    const { status, body } = await post(`${server.url}/predictions`, { input: { text: 'alone' } });
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'succeeded', output: [5, 0], logs: 'batch of 1: alone\nbatch signal aborted: false\n' });
    expect(body.metrics).toMatchObject({ batch_size: 1, forwards: 1, position: 0 });
    // It waited at most maxDelayMs (200 ms) for company; the bound here is generous for a busy machine.
    expect(Date.parse(body.completed_at) - Date.parse(body.created_at)).toBeLessThan(5_000);
  });

  it('under load, concurrent predictions run in batches of more than one, each with its batch_size', async () => {
    const texts = ['a', 'bb', 'ccc', 'dddd', 'eeeee', 'ffffff', 'g', 'hh'];
    const responses = await Promise.all(texts.map((text) => post(`${server.url}/predictions`, { input: { text, ms: 300 } })));
    expect(responses.map((response) => response.status)).toEqual(texts.map(() => 200));
    const bodies = responses.map((response) => response.body);
    for (const [index, body] of bodies.entries()) {
      expect(body.status).toBe('succeeded');
      const size = body.metrics.batch_size as number;
      // Its output is its own (its text's length) and its place is inside its batch.
      expect(body.output[0]).toBe(texts[index]!.length);
      expect(body.output[1]).toBe(body.metrics.position);
      expect(body.metrics.position).toBeLessThan(size);
      // What predictBatch printed names every item of its batch, this one included.
      const line = /^batch of (\d+): (.*)$/m.exec(body.logs)!;
      expect(Number(line[1])).toBe(size);
      expect(line[2]!.split(',')).toContain(texts[index]);
    }
    expect(Math.max(...bodies.map((body) => body.metrics.batch_size as number))).toBeGreaterThan(1);
    // No batch is larger than maxSize (4).
    expect(Math.max(...bodies.map((body) => body.metrics.batch_size as number))).toBeLessThanOrEqual(4);
  });

  it('predictions that wait while the slot is busy run together when it frees, in arrival order', async () => {
    await block(server.url, 'order-blocker', 2_000);
    const first = post(`${server.url}/predictions`, { input: { text: 'first' } });
    // Sent well after the first, so that it arrives after it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = post(`${server.url}/predictions`, { input: { text: 'second' } });
    const [a, b] = await Promise.all([first, second]);
    expect(a.body).toMatchObject({ status: 'succeeded', output: [5, 0], metrics: { batch_size: 2, position: 0 } });
    expect(b.body).toMatchObject({ status: 'succeeded', output: [6, 1], metrics: { batch_size: 2, position: 1 } });
    expect(a.body.logs).toBe('batch of 2: first,second\nbatch signal aborted: false\n');
  });

  it('with queue.max 0, a prediction that finds the slot busy and no batch forming is refused with 409', async () => {
    await block(strict.url, 'strict-blocker', 1_500);
    const refused = await post(`${strict.url}/predictions`, { input: { text: 'late' } });
    expect(refused.status).toBe(409);
    expect(refused.body).toEqual({ error: 'At capacity - all prediction slots busy', status: 'failed' });
  });
});

describe('admission with a queue', () => {
  let small: ServerProcess; // queue.max 1
  beforeAll(async () => {
    small = await startServer('batch', { env: { COG_QUEUE_MAX: '1' } });
    await waitForHealth(small.url, ['READY']);
  }, 30_000);
  afterAll(async () => {
    await small?.kill();
  });

  it('with the slot busy, queue.max may wait in the former; one more gets 429 with Retry-After, as the queue refuses', async () => {
    await block(small.url, 'queue-blocker', 2_000);
    const waits = put(`${small.url}/predictions/queue-waits`, { input: { text: 'waits' } }, { prefer: 'respond-async' });
    expect((await waits).status).toBe(202);
    const health = await json(`${small.url}/health-check`);
    expect(health.body.queue).toEqual({ waiting: 1, max: 1 });
    const refused = await post(`${small.url}/predictions`, { input: { text: 'refused' } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.body).toMatchObject({ status: 'failed', error: expect.stringContaining('queue.max 1') });
  });
});

describe('each prediction in a batch keeps its own behaviour', () => {
  it('polling: a prediction waiting in the batch former is starting, then its own result', async () => {
    await block(server.url, 'poll-blocker', 1_000);
    expect((await put(`${server.url}/predictions/poll-batched`, { input: { text: 'polled' } }, { prefer: 'respond-async' })).status).toBe(
      202,
    );
    const waiting = await json(`${server.url}/predictions/poll-batched`);
    expect(waiting.status).toBe(200);
    expect(waiting.body).toMatchObject({ id: 'poll-batched', status: 'starting' });
    expect(waiting.body.started_at).toBeUndefined();
    const done = await waitFor(async () => {
      const { body } = await json(`${server.url}/predictions/poll-batched`);
      return body.status === 'succeeded' ? body : undefined;
    }, 'the polled prediction to finish');
    expect(done).toMatchObject({ output: [6, 0], metrics: { batch_size: 1 }, logs: 'batch of 1: polled\nbatch signal aborted: false\n' });
  });

  it('webhooks: each item its own start and completed, with its output, the batch logs and metrics', async () => {
    await block(server.url, 'hooks-blocker', 1_000);
    const send = (id: string, text: string) =>
      put(
        `${server.url}/predictions/${id}`,
        { input: { text }, webhook: `${hooks.url}/${id}`, webhook_events_filter: ['start', 'completed'], context: { tag: id } },
        { prefer: 'respond-async' },
      );
    // One after the other (a 202 means it is created and waits), so their order in the batch is known.
    expect((await send('hook-a', 'one')).status).toBe(202);
    expect((await send('hook-b', 'three')).status).toBe(202);
    const events = (id: string) => hooks.requests.filter((r) => r.url === `/${id}`).map((r) => JSON.parse(r.body.toString()));
    await waitFor(
      () => ['hook-a', 'hook-b'].every((id) => events(id).some((e) => e.status === 'succeeded')) || undefined,
      'both completed',
    );
    for (const [id, text, position] of [
      ['hook-a', 'one', 0],
      ['hook-b', 'three', 1],
    ] as const) {
      const [start, completed] = events(id);
      expect(start).toMatchObject({ id, status: 'processing' });
      expect(completed).toMatchObject({
        id,
        status: 'succeeded',
        output: [text.length, position],
        logs: 'batch of 2: one,three\nbatch signal aborted: false\n',
        metrics: { batch_size: 2, forwards: 1, position, tag: id },
      });
      expect(events(id)).toHaveLength(2);
      expect(typeof completed.metrics.predict_time).toBe('number');
    }
  });

  it('SSE: an item streams its own start, log, metric, output and completed events', async () => {
    await block(server.url, 'sse-blocker', 1_000);
    const stream = (text: string) =>
      new Promise<{ event: string; data: any }[]>((resolve, reject) => {
        const req = request(
          `${server.url}/predictions`,
          { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' } },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => (text += chunk));
            response.on('end', () =>
              resolve(
                text
                  .split('\n\n')
                  .filter((frame) => frame.startsWith('event: '))
                  .map((frame) => ({ event: /^event: (.*)$/m.exec(frame)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(frame)![1]!) })),
              ),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ input: { text } }));
      });
    const [x, y] = await Promise.all([stream('x'), stream('yy')]);
    // The two arrive in either order: the batch's log line says which.
    const line = x.find((e) => e.event === 'log')!.data.data as string;
    expect(['batch of 2: x,yy\n', 'batch of 2: yy,x\n']).toContain(line);
    const order = line.trim().split(': ')[1]!.split(',');
    for (const [events, text] of [
      [x, 'x'],
      [y, 'yy'],
    ] as const) {
      const length = text.length;
      const position = order.indexOf(text);
      expect(events[0]).toMatchObject({ event: 'start', data: { status: 'processing' } });
      expect(events.filter((e) => e.event === 'log').map((e) => e.data.data)).toEqual([line, 'batch signal aborted: false\n']);
      expect(events.filter((e) => e.event === 'metric').map((e) => e.data.name)).toEqual(['forwards', 'position']);
      expect(events.filter((e) => e.event === 'output').map((e) => e.data)).toEqual([{ chunk: [length, position], index: 0 }]);
      expect(events.at(-1)).toMatchObject({ event: 'completed', data: { status: 'succeeded', metrics: { batch_size: 2 } } });
      expect(events[0]!.data.id).toBe(events.at(-1)!.data.id);
    }
    expect(x[0]!.data.id).not.toBe(y[0]!.data.id);
  });

  it('an Error element fails that item alone; a wrong-length array fails every item, naming both lengths', async () => {
    await block(server.url, 'errors-blocker', 1_000);
    const [failed, fine] = await Promise.all([
      post(`${server.url}/predictions`, { input: { text: 'fail' } }),
      post(`${server.url}/predictions`, { input: { text: 'fine' } }),
    ]);
    expect(failed.body).toMatchObject({ status: 'failed', error: 'cannot do fail', metrics: { batch_size: 2 } });
    expect(failed.body.logs).toContain('Error: cannot do fail\n');
    expect(fine.body).toMatchObject({ status: 'succeeded', metrics: { batch_size: 2 } });
    expect(fine.body.output).toEqual([4, fine.body.metrics.position]);

    await block(server.url, 'length-blocker', 1_000);
    const both = await Promise.all([
      post(`${server.url}/predictions`, { input: { text: 'wrong-length' } }),
      post(`${server.url}/predictions`, { input: { text: 'other' } }),
    ]);
    for (const { body } of both) {
      expect(body).toMatchObject({
        status: 'failed',
        error: 'predictBatch returned 1 outputs for 2 inputs: it must return one output per input, in order',
      });
    }
  });
});

describe('cancellation in batching', () => {
  it('cancelling a waiting prediction ends it canceled, never run, and takes it out of the next batch', async () => {
    await block(server.url, 'cancel-blocker', 1_500);
    const waiting = put(`${server.url}/predictions/cancel-me`, { input: { text: 'never' } });
    const stays = put(`${server.url}/predictions/cancel-stays`, { input: { text: 'stays' } });
    // Both wait behind the blocker (starting); cancel one of them.
    await waitFor(async () => (await cancel(server.url, 'cancel-me')).status === 200 || undefined, 'the cancel to find it');
    const canceled = await waiting;
    expect(canceled.body).toMatchObject({ id: 'cancel-me', status: 'canceled', logs: '' });
    expect(canceled.body.started_at).toBeUndefined();
    // The next batch has only the one left.
    const left = await stays;
    expect(left.body).toMatchObject({
      status: 'succeeded',
      metrics: { batch_size: 1 },
      logs: 'batch of 1: stays\nbatch signal aborted: false\n',
    });
  });

  it('cancelling one item of a running batch ends it canceled at once; the others finish', async () => {
    await block(server.url, 'running-blocker', 800);
    const send = (id: string, text: string) =>
      put(
        `${server.url}/predictions/${id}`,
        { input: { text, ms: 3_000 }, webhook: `${hooks.url}/${id}`, webhook_events_filter: ['start', 'completed'] },
        { prefer: 'respond-async' },
      );
    expect((await send('in-batch-goes', 'goes')).status).toBe(202);
    expect((await send('in-batch-stays', 'stays')).status).toBe(202);
    const events = (id: string) => hooks.requests.filter((r) => r.url === `/${id}`).map((r) => JSON.parse(r.body.toString()));
    // Their batch runs once both have started (the start webhook).
    await waitFor(() => ['in-batch-goes', 'in-batch-stays'].every((id) => events(id).length > 0) || undefined, 'the batch to start');
    expect((await cancel(server.url, 'in-batch-goes')).status).toBe(200);
    await waitFor(() => events('in-batch-goes').length > 1 || undefined, 'the cancelled item to end');
    // It ended while its batch still runs (its 3 s hold): the other has not completed.
    expect(events('in-batch-stays')).toHaveLength(1);
    const gone = events('in-batch-goes')[1];
    expect(gone).toMatchObject({ id: 'in-batch-goes', status: 'canceled' });
    expect(gone.output).toBeUndefined();
    await waitFor(() => events('in-batch-stays').length > 1 || undefined, 'the batch to finish');
    const kept = events('in-batch-stays')[1];
    expect(kept).toMatchObject({ status: 'succeeded', output: [5, 1], metrics: { batch_size: 2 } });
    // One item cancelled is not the batch cancelled.
    expect(kept.logs).toContain('batch signal aborted: false');
  });
});

describe('batching on model instances', () => {
  it('with instances 2 and max 2, batches run on both instances at once, each prediction its own result', async () => {
    const pooled = await startServer('batch', { env: { COG_INSTANCES: '2', COG_MAX_CONCURRENCY: '2', COG_QUEUE_MAX: '16' } });
    try {
      await waitForHealth(pooled.url, ['READY'], 30_000);
      const texts = ['p', 'qq', 'rrr', 'ssss', 'ttttt', 'uuuuuu'];
      const responses = await Promise.all(texts.map((text) => post(`${pooled.url}/predictions`, { input: { text, ms: 1_000 } })));
      const bodies = responses.map((response) => response.body);
      bodies.forEach((body, index) => {
        expect(body.status).toBe('succeeded');
        expect(body.output).toEqual([texts[index]!.length, body.metrics.position]);
      });
      // Two slots: two of the batches overlapped (each began before the other ended).
      const runs = [...new Map(bodies.map((body) => [body.logs, body])).values()];
      const overlap = (a: any, b: any) =>
        Date.parse(a.started_at) < Date.parse(b.completed_at) && Date.parse(b.started_at) < Date.parse(a.completed_at);
      expect(runs.some((a, i) => runs.slice(i + 1).some((b) => overlap(a, b)))).toBe(true);
    } finally {
      await pooled.kill();
    }
  });
});

describe('predict_timeout in batching', () => {
  it("a batch item that runs past predict_timeout fails with the timeout's error, and its batch's signal aborts", async () => {
    const timed = await startServer('batch', { env: { COG_PREDICT_TIMEOUT: '1' } });
    try {
      await waitForHealth(timed.url, ['READY']);
      const { body } = await post(`${timed.url}/predictions`, { input: { text: 'slow', ms: 30_000 } });
      expect(body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 1 s', metrics: { batch_size: 1 } });
      // Its token was cancelled, so the batch (of one) was cancelled too: the 30 s hold ended early.
      await waitForHealth(timed.url, ['READY']);
      const next = await post(`${timed.url}/predictions`, { input: { text: 'quick' } });
      expect(next.body).toMatchObject({ status: 'succeeded', output: [5, 0] });
      expect(next.body.logs).toContain('batch of 1: quick');
    } finally {
      await timed.kill();
    }
  });
});

describe('load errors and the command line', () => {
  it('a bad static batch fails setup, naming the field and the rule', async () => {
    const broken = await startServer('batch-broken');
    try {
      const failed = await waitForHealth(broken.url, ['SETUP_FAILED']);
      expect(failed.setup.logs).toContain('`batch.maxSize` must be an integer >= 1, got 0');
    } finally {
      await broken.kill();
    }
  });

  it('cog-node predict runs a batch of one', async () => {
    const result = await cli(['predict', '-i', 'text=hello'], { cwd: FIXTURE });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([5, 0]);
    expect(result.stderr).toContain('batch of 1: hello');
  });
});
