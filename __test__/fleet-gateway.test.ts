// The gateway (`cog-node serve --redis`) against real `cog-node worker` processes on a real
// redis-server: Cog's HTTP API (sync, async + webhook, PUT idempotency, SSE, cancel, 422, GET by
// id) and health READY only while a worker is alive. Nothing is mocked; every process is real.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, startWorker, type RedisServer, type WorkerProcess } from './fixtures/fleet/harness.js';
import { json, Peer, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const QUEUE = 'gateway-tests';
let redis: RedisServer;
let gateway: ServerProcess;
let worker: WorkerProcess | undefined;
let peer: Peer;

const poll = async (id: string) => (await json(`${gateway.url}/predictions/${id}`)).body;
const until = (id: string, statuses: string[], timeoutMs = 30_000) =>
  waitFor(
    async () => {
      const body = await poll(id);
      return statuses.includes(body?.status) ? body : undefined;
    },
    `${id} to be ${statuses.join(' or ')}`,
    timeoutMs,
  );

/** Reads an SSE response to its end: the events' names and parsed data, in order. */
async function sseEvents(response: Response): Promise<{ name: string; data: any }[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('event: '))
    .map((frame) => {
      const [nameLine, dataLine] = frame.split('\n');
      return { name: nameLine!.slice('event: '.length), data: JSON.parse(dataLine!.slice('data: '.length)) };
    });
}

beforeAll(async () => {
  [redis, peer] = await Promise.all([startRedis(), new Peer().start()]);
  // The gateway first: with no worker alive yet, health must not say READY (checked below).
  gateway = await startServer('../fleet/work', { args: ['--redis', redis.url, '--queue', QUEUE] });
}, 60_000);

afterAll(async () => {
  await Promise.all([gateway?.kill(), worker?.kill(), peer?.stop()]);
  await redis?.stop();
});

describe('the gateway in front of cog-node workers', () => {
  it('says STARTING while no worker is alive, READY once one takes jobs; serves the schema without setting anything up', async () => {
    const starting = await waitFor(async () => {
      const { body } = await json(`${gateway.url}/health-check`);
      return body?.setup?.status === 'succeeded' ? body : undefined;
    }, 'the declaration to load');
    expect(starting.status).toBe('STARTING');
    const schema = (await json(`${gateway.url}/openapi.json`)).body;
    expect(Object.keys(schema.components.schemas.Input.properties)).toEqual(['text', 'sleep_ms', 'fail']);

    worker = await startWorker('work', redis.url, { args: ['--queue', QUEUE] });
    const ready = await waitForHealth(gateway.url, ['READY'], 30_000);
    expect(ready.setup.status).toBe('succeeded');
    // The gateway only loaded the declaration: setup ran in the worker, never here.
    expect(gateway.output()).not.toMatch(/setup succeeded/);
    expect(worker.output()).toMatch(/setup succeeded/);
  }, 60_000);

  it('answers a sync prediction with the final object the worker made', async () => {
    const response = await post(`${gateway.url}/predictions`, { input: { text: 'hello' } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      status: 'succeeded',
      input: { text: 'hello', sleep_ms: 0, fail: false },
      output: ['hello', `pid ${worker!.pid}`],
      logs: 'working on hello\n',
      metrics: { chars: 5 },
    });
    expect(response.body.metrics.predict_time).toBeGreaterThan(0);
    // The object stays readable by id once finished.
    expect(await poll(response.body.id)).toMatchObject({ id: response.body.id, status: 'succeeded' });
  }, 60_000);

  it('answers a failing prediction 200 with status failed, as serve does', async () => {
    const response = await post(`${gateway.url}/predictions`, { input: { text: 'boom', fail: true } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ status: 'failed', error: expect.stringContaining('asked to fail: boom') });
  }, 60_000);

  it('refuses bad input with the 422 serve gives, and queues nothing', async () => {
    const response = await put(`${gateway.url}/predictions/bad-input`, { input: { text: 3, sleep_ms: -1 } });
    expect(response.status).toBe(422);
    const locs = response.body.detail.map((issue: { loc: string[] }) => issue.loc.join('.'));
    expect(locs).toEqual(expect.arrayContaining(['body.input.text', 'body.input.sleep_ms']));
    expect((await json(`${gateway.url}/predictions/bad-input`)).status).toBe(404);

    const badId = await put(`${gateway.url}/predictions/has:colon`, { input: { text: 'x' } });
    expect(badId.status).toBe(422);
    expect(badId.body.detail[0].loc).toEqual(['body', 'id']);
    const badEnvelope = await post(`${gateway.url}/predictions`, { input: { text: 'x' }, webhook: 'ftp://nowhere' });
    expect(badEnvelope.status).toBe(422);
    expect(badEnvelope.body.detail[0].loc).toEqual(['body', 'webhook']);
  });

  it('answers Prefer: respond-async with 202 starting; the worker sends the one terminal webhook', async () => {
    const response = await post(
      `${gateway.url}/predictions`,
      { id: 'async-webhook', input: { text: 'later' }, webhook: `${peer.url}/hook`, webhook_events_filter: ['completed'] },
      { prefer: 'respond-async' },
    );
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ id: 'async-webhook', status: 'starting', input: { text: 'later' } });
    const final = await until('async-webhook', ['succeeded']);
    await waitFor(() => peer.requests.some((r) => r.url === '/hook') || undefined, 'the terminal webhook');
    // Any second delivery (the gateway's, or a duplicate) would have been sent by now too.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const hooks = peer.requests.filter((r) => r.url === '/hook').map((r) => JSON.parse(r.body.toString()));
    expect(hooks).toHaveLength(1);
    expect(hooks[0]).toMatchObject({ id: 'async-webhook', status: 'succeeded', output: final.output });
  }, 60_000);

  it('makes PUT idempotent: a known id starts nothing and answers 202 with its state', async () => {
    const first = await put(
      `${gateway.url}/predictions/put-once`,
      { input: { text: 'first', sleep_ms: 4000 } },
      { prefer: 'respond-async' },
    );
    expect(first.status).toBe(202);
    const again = await put(`${gateway.url}/predictions/put-once`, { input: { text: 'second' } });
    expect(again.status).toBe(202);
    expect(again.body).toMatchObject({ id: 'put-once', input: { text: 'first' } });
    expect(['starting', 'processing']).toContain(again.body.status);
    const final = await until('put-once', ['succeeded']);
    expect(final.output[0]).toBe('first');
    // Once finished, a PUT of it answers 202 with the final object, and still runs nothing.
    const after = await put(`${gateway.url}/predictions/put-once`, { input: { text: 'third' } });
    expect(after.status).toBe(202);
    expect(after.body).toMatchObject({ status: 'succeeded', output: final.output });
  }, 60_000);

  it('relays the events the worker publishes as SSE, in order, ending with completed', async () => {
    const response = await fetch(`${gateway.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ id: 'sse-relay', input: { text: 'streamed', sleep_ms: 100 } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseEvents(response);
    expect(events.map((e) => e.name)).toEqual(['start', 'log', 'metric', 'output', 'output', 'completed']);
    expect(events[1]!.data).toEqual({ source: 'stdout', data: 'working on streamed\n' });
    expect(events[2]!.data).toMatchObject({ name: 'chars', value: 8 });
    expect(events.filter((e) => e.name === 'output').map((e) => e.data)).toEqual([
      { chunk: 'streamed', index: 0 },
      { chunk: `pid ${worker!.pid}`, index: 1 },
    ]);
    expect(events[5]!.data).toMatchObject({ id: 'sse-relay', status: 'succeeded', output: ['streamed', `pid ${worker!.pid}`] });
  }, 60_000);

  it('cancels a waiting prediction (it never runs) and a running one (its sync client gets canceled)', async () => {
    // The worker runs 4 at once (cog.yaml): four long ones fill it, the fifth waits in the queue.
    const running = ['busy-0', 'busy-1', 'busy-2', 'busy-3'];
    const syncAnswers = running.map((id) => put(`${gateway.url}/predictions/${id}`, { input: { text: id, sleep_ms: 20_000 } }));
    // Running, and past the log line it prints first (so its end must carry that line).
    const logged = (id: string) => waitFor(async () => (await poll(id)).logs === `working on ${id}\n` || undefined, `${id}'s log`, 30_000);
    await Promise.all(running.map((id) => logged(id)));
    const queued = await put(`${gateway.url}/predictions/waiting-one`, { input: { text: 'never' } }, { prefer: 'respond-async' });
    expect(queued.status).toBe(202);
    expect((await poll('waiting-one')).status).toBe('starting');

    const cancelWaiting = await post(`${gateway.url}/predictions/waiting-one/cancel`);
    expect(cancelWaiting.status).toBe(200);
    const waitingEnd = await until('waiting-one', ['canceled']);
    expect(waitingEnd.logs).toBe('');
    expect(waitingEnd.started_at).toBeUndefined();

    for (const id of running) expect((await post(`${gateway.url}/predictions/${id}/cancel`)).status).toBe(200);
    const answers = await Promise.all(syncAnswers);
    for (const [i, answer] of answers.entries()) {
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ id: running[i], status: 'canceled', logs: `working on ${running[i]}\n` });
    }
    // Ended: cancelling again, or an unknown id, is 404.
    expect((await post(`${gateway.url}/predictions/busy-0/cancel`)).status).toBe(404);
    expect((await post(`${gateway.url}/predictions/no-such-one/cancel`)).status).toBe(404);
  }, 90_000);

  it('cancels a sync prediction whose client hangs up, as serve does', async () => {
    const client = new AbortController();
    const request = fetch(`${gateway.url}/predictions/hang-up`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { text: 'abandoned', sleep_ms: 20_000 } }),
      signal: client.signal,
    }).catch((error: Error) => error);
    await waitFor(async () => (await poll('hang-up')).logs === 'working on abandoned\n' || undefined, 'its log line', 30_000);
    client.abort();
    expect(await request).toBeInstanceOf(Error);
    const end = await until('hang-up', ['canceled']);
    expect(end.logs).toBe('working on abandoned\n');
  }, 60_000);

  it('reads a prediction by id while it runs (processing, with what it published) and 404s an unknown one', async () => {
    await post(`${gateway.url}/predictions`, { id: 'polled', input: { text: 'slow', sleep_ms: 4000 } }, { prefer: 'respond-async' });
    const processing = await until('polled', ['processing']);
    expect(processing).toMatchObject({ id: 'polled', input: { text: 'slow' } });
    expect(typeof processing.started_at).toBe('string');
    await waitFor(async () => ((await poll('polled')).logs === 'working on slow\n' ? true : undefined), 'its log line');
    expect(await until('polled', ['succeeded'])).toMatchObject({ output: ['slow', `pid ${worker!.pid}`] });
    const unknown = await json(`${gateway.url}/predictions/never-made`);
    expect(unknown.status).toBe(404);
  }, 60_000);

  it('does not serve trainings (404)', async () => {
    expect((await post(`${gateway.url}/trainings`, { input: {} })).status).toBe(404);
  });

  it('says STARTING again once the last worker has stopped', async () => {
    const stopped = await worker!.kill('SIGTERM');
    expect(stopped.code).toBe(0);
    const report = await waitForHealth(gateway.url, ['STARTING'], 30_000);
    expect(report.setup.status).toBe('succeeded');
  }, 60_000);
});
