// The admission queue of `cog-node serve` (cog.yaml `queue.max`, `COG_QUEUE_MAX`): predictions that
// find every slot busy wait first in first out as `starting`, a full queue answers 429 with
// Retry-After, waiting predictions can be cancelled or hung up on, and `predict_timeout` covers
// waiting and running. Real server processes on loopback, real worker threads.
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, Input, QueueFullError, Type, loadPredictor } from 'cog-node';
import { Peer, json, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
const peers: Peer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
});

async function queueServer(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer('queue', { env: { COG_MAX_CONCURRENCY: '', COG_QUEUE_MAX: '', COG_PREDICT_TIMEOUT: '', ...env } });
  servers.push(server);
  await waitForHealth(server.url, ['READY']);
  return server;
}

/** Resolves once the health check says `waiting` predictions wait. */
async function waitingIs(url: string, waiting: number): Promise<void> {
  await waitFor(async () => {
    const { body } = await json(`${url}/health-check`);
    return body.queue.waiting === waiting ? true : undefined;
  }, `${waiting} waiting`);
}

describe('the admission queue', () => {
  it('runs waiting predictions first in first out, and answers 429 with Retry-After when full', async () => {
    const server = await queueServer();
    const health = await json(`${server.url}/health-check`);
    expect(health.body).toMatchObject({ status: 'READY', queue: { waiting: 0, max: 3 } });

    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 1500 } });
    await waitForHealth(server.url, ['BUSY']);
    const waiting = [];
    for (const [index, name] of ['b', 'c', 'd'].entries()) {
      waiting.push(post(`${server.url}/predictions`, { input: { name } }));
      await waitingIs(server.url, index + 1);
    }
    expect((await json(`${server.url}/health-check`)).body).toMatchObject({ status: 'BUSY', queue: { waiting: 3, max: 3 } });

    const refused = await post(`${server.url}/predictions`, { input: { name: 'e' } });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      error: 'At capacity - all prediction slots busy and the queue is full (3 waiting, queue.max 3)',
      status: 'failed',
    });
    const retryAfter = refused.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);

    const responses = await Promise.all([first, ...waiting]);
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200]);
    expect(responses.map((response) => response.body.output.split(' ')[0] + ' ' + response.body.output.split(' ')[1])).toEqual([
      'a call=1',
      'b call=2',
      'c call=3',
      'd call=4',
    ]);
    // Each started after the one before it ended: one slot, served in arrival order.
    for (let i = 1; i < responses.length; i++) {
      expect(Date.parse(responses[i]!.body.started_at)).toBeGreaterThanOrEqual(Date.parse(responses[i - 1]!.body.completed_at));
    }
    // predict_time is the time it ran, not the time it waited.
    expect(responses[3]!.body.metrics.predict_time).toBeLessThan(1);
    expect((await json(`${server.url}/health-check`)).body).toMatchObject({ status: 'READY', queue: { waiting: 0, max: 3 } });
  });

  it('cancelling a waiting prediction ends it canceled at once, without calling predict', async () => {
    const server = await queueServer();
    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 1500 } });
    await waitForHealth(server.url, ['BUSY']);
    const waiter = put(`${server.url}/predictions/pred-waiting`, { input: { name: 'b' } });
    await waitingIs(server.url, 1);
    expect((await post(`${server.url}/predictions/pred-waiting/cancel`)).status).toBe(200);
    const canceled = await waiter;
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({ id: 'pred-waiting', status: 'canceled', metrics: { predict_time: 0 } });
    expect(canceled.body.started_at).toBeUndefined();
    expect((await json(`${server.url}/health-check`)).body.queue.waiting).toBe(0);
    // It ended while the first still ran.
    const running = await first;
    expect(Date.parse(canceled.body.completed_at)).toBeLessThan(Date.parse(running.body.completed_at));
    // A cancel of what is no longer in flight is a 404, as for any finished prediction.
    expect((await post(`${server.url}/predictions/pred-waiting/cancel`)).status).toBe(404);
    const next = await post(`${server.url}/predictions`, { input: { name: 'c' } });
    expect(next.body.output).toMatch(/^c call=2 /);
  });

  it('a sync client that hangs up while waiting leaves the queue', async () => {
    const server = await queueServer();
    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 1500 } });
    await waitForHealth(server.url, ['BUSY']);
    const controller = new AbortController();
    const hungUp = fetch(`${server.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { name: 'b' } }),
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await waitingIs(server.url, 1);
    controller.abort();
    await hungUp;
    await waitingIs(server.url, 0);
    expect((await first).body.output).toMatch(/^a call=1 /);
    const next = await post(`${server.url}/predictions`, { input: { name: 'c' } });
    expect(next.body.output).toMatch(/^c call=2 /);
  });

  it('webhooks of a waiting prediction begin when it starts running', async () => {
    const peer = await new Peer().start();
    peers.push(peer);
    const server = await queueServer();
    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 1200 } });
    await waitForHealth(server.url, ['BUSY']);
    const accepted = await post(
      `${server.url}/predictions`,
      { input: { name: 'b' }, webhook: `${peer.url}/hook`, webhook_events_filter: ['start', 'completed'] },
      { prefer: 'respond-async' },
    );
    expect(accepted.status).toBe(202);
    expect(accepted.body.status).toBe('starting');
    await waitingIs(server.url, 1);
    expect(peer.requests).toHaveLength(0);
    const ran = await first;
    await waitFor(() => (peer.payloads.some((payload) => payload.status === 'succeeded') ? true : undefined), 'completed webhook');
    const [start, completed] = peer.payloads;
    expect(start).toMatchObject({ id: accepted.body.id, status: 'processing' });
    expect(Date.parse(start.started_at)).toBeGreaterThanOrEqual(Date.parse(ran.body.completed_at));
    expect(completed).toMatchObject({ id: accepted.body.id, status: 'succeeded' });
  });

  it('COG_QUEUE_MAX wins over cog.yaml; 0 keeps Cog 409 at capacity', async () => {
    const server = await queueServer({ COG_QUEUE_MAX: '0' });
    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 800 } });
    await waitForHealth(server.url, ['BUSY']);
    expect((await json(`${server.url}/health-check`)).body.queue).toEqual({ waiting: 0, max: 0 });
    const refused = await post(`${server.url}/predictions`, { input: { name: 'b' } });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('retry-after')).toBeNull();
    expect((await first).status).toBe(200);
  });
});

describe('predict_timeout', () => {
  it('fails a prediction past its deadline while running, and one that times out waiting never runs', async () => {
    const server = await queueServer({ COG_PREDICT_TIMEOUT: '1' });
    // Deaf to cancellation: its abandoned work holds the one slot for 4 s, so the next times out waiting.
    const first = post(`${server.url}/predictions`, { input: { name: 'a', ms: 4000 } });
    await waitForHealth(server.url, ['BUSY']);
    const second = post(`${server.url}/predictions`, { input: { name: 'b' } });
    const [running, waiting] = await Promise.all([first, second]);
    expect(running.body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 1 s' });
    expect(running.body.started_at).toEqual(expect.any(String));
    expect(waiting.body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 1 s', metrics: { predict_time: 0 } });
    expect(waiting.body.started_at).toBeUndefined();
  });

  it('cancels the prediction token, so Rust work (token.sleep) ends too', async () => {
    const server = await queueServer({ COG_PREDICT_TIMEOUT: '1' });
    const timedOut = await post(`${server.url}/predictions`, { input: { name: 'a', ms: 60_000, rust: true } });
    expect(timedOut.body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 1 s' });
    // The next prediction starts long before the 60 s sleep would have ended, and says how it ended.
    const next = await post(`${server.url}/predictions`, { input: { name: 'b' } });
    expect(next.body).toMatchObject({ status: 'succeeded', output: 'b call=2 previous-rust-sleep=ended early: prediction was canceled' });
  });

  it('cog.yaml predict_timeout applies, COG_PREDICT_TIMEOUT wins', async () => {
    const fromYaml = await queueServer();
    const yamlTimedOut = await post(`${fromYaml.url}/predictions`, { input: { name: 'a', ms: 60_000, rust: true } });
    expect(yamlTimedOut.body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 5 s' });
    const server = await queueServer({ COG_PREDICT_TIMEOUT: '0.5' });
    const timedOut = await post(`${server.url}/predictions`, { input: { name: 'a', ms: 3000, rust: true } });
    expect(timedOut.body).toMatchObject({ status: 'failed', error: 'Prediction timed out after 0.5 s' });
  });
});

describe('embedding', () => {
  it('loadPredictor({ queueMax }) queues in-process predictions and refuses past the line', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class Gated extends BasePredictor {
      static inputs = { name: Input(Type.String()) };
      static output = Type.String();
      async predict({ name }: { name: string }): Promise<string> {
        if (name === 'first') await gate;
        return name;
      }
    }
    const predictor = await loadPredictor(Gated, { concurrency: 1, queueMax: 1 });
    const first = predictor.runtime.start({ name: 'first' });
    const second = predictor.runtime.start({ name: 'second' });
    expect(second.status).toBe('starting');
    expect(predictor.runtime.queue).toEqual({ waiting: 1, max: 1 });
    let refusal: unknown;
    try {
      predictor.runtime.start({ name: 'third' });
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(QueueFullError);
    expect(refusal).toMatchObject({ status: 429, waiting: 1, max: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(second.status).toBe('starting');
    release();
    expect((await first.done).output).toBe('first');
    expect(await second.done).toMatchObject({ status: 'succeeded', output: 'second' });
  });
});
