// Webhooks as Cog sends them: events, filter, throttle, retries, headers; never failing a prediction.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer, post, startServer, waitFor, waitForHealth, type Received, type ServerProcess } from './fixtures/server/harness.js';

let unthrottled: ServerProcess; // COG_THROTTLE_RESPONSE_INTERVAL=0, WEBHOOK_AUTH_TOKEN set
let throttled: ServerProcess; // Cog's default interval, 0.5 s
let peer: Peer;

const at = (path: string) => peer.requests.filter((r) => r.url === path);
const bodies = (path: string) => at(path).map((r) => JSON.parse(r.body.toString()));
const terminal = (path: string) => bodies(path).filter((b) => ['succeeded', 'failed', 'canceled'].includes(b.status));

beforeAll(async () => {
  [unthrottled, throttled, peer] = await Promise.all([
    startServer('stream', { env: { COG_THROTTLE_RESPONSE_INTERVAL: '0', WEBHOOK_AUTH_TOKEN: 'sekrit-token' } }),
    startServer('stream', { env: { WEBHOOK_AUTH_TOKEN: '' } }),
    new Peer().start(),
  ]);
  await Promise.all([waitForHealth(unthrottled.url, ['READY']), waitForHealth(throttled.url, ['READY'])]);
});

afterAll(async () => {
  await Promise.all([unthrottled?.kill(), throttled?.kill(), peer?.stop()]);
});

describe('webhook events', () => {
  it('sends start, each output, each log line and one completed, last, with auth and trace headers', async () => {
    const response = await post(
      `${unthrottled.url}/predictions`,
      { id: 'all-events', input: { count: 3, gap_ms: 20 }, webhook: `${peer.url}/all` },
      {
        prefer: 'respond-async',
        traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        tracestate: 'vendor=1',
      },
    );
    expect(response.status).toBe(202);
    await waitFor(() => terminal('/all').length > 0, 'completed webhook');
    const events = bodies('/all');
    expect(events).toHaveLength(1 + 3 + 3 + 1);
    expect(events[0]).toMatchObject({ id: 'all-events', status: 'processing', logs: '' });
    expect(events.at(-1)).toMatchObject({
      id: 'all-events',
      status: 'succeeded',
      output: ['chunk 0', 'chunk 1', 'chunk 2'],
      logs: 'step 0\nstep 1\nstep 2\n',
    });
    expect(typeof events.at(-1).metrics.predict_time).toBe('number');
    expect(terminal('/all')).toHaveLength(1);
    // Output events carry the outputs so far; log events the logs so far.
    const running = events.slice(1, -1);
    expect(running.every((e) => e.status === 'processing')).toBe(true);
    expect(running.map((e) => (e.output ?? []).length).sort()).toEqual([0, 1, 1, 2, 2, 3]);
    for (const request of at('/all')) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.authorization).toBe('Bearer sekrit-token');
      expect(request.headers.traceparent).toBe('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      expect(request.headers.tracestate).toBe('vendor=1');
      expect(request.headers['user-agent']).toMatch(/^cog-node\//);
    }
  });

  it('webhook_events_filter applies to every event, completed included', async () => {
    await post(`${unthrottled.url}/predictions`, {
      input: { count: 2 },
      webhook: `${peer.url}/only-output`,
      webhook_events_filter: ['output', 'completed'],
    });
    await waitFor(() => terminal('/only-output').length > 0, 'completed webhook');
    const outputs = bodies('/only-output');
    expect(outputs.at(-1)).toMatchObject({ status: 'succeeded', output: ['chunk 0', 'chunk 1'] });
    // Non-terminal deliveries are concurrent: compare them in order of content.
    expect(
      outputs
        .slice(0, -1)
        .map((b) => b.output)
        .sort((a, b) => a.length - b.length),
    ).toEqual([['chunk 0'], ['chunk 0', 'chunk 1']]);

    await post(`${unthrottled.url}/predictions`, {
      input: { count: 2 },
      webhook: `${peer.url}/only-start`,
      webhook_events_filter: ['start'],
    });
    await waitFor(() => at('/only-start').length > 0, 'start webhook');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(bodies('/only-start')).toEqual([expect.objectContaining({ status: 'processing' })]);
  });

  it('throttles start/logs within COG_THROTTLE_RESPONSE_INTERVAL, never output, never completed', async () => {
    await post(`${throttled.url}/predictions`, { input: { count: 4, gap_ms: 30 }, webhook: `${peer.url}/throttled` });
    await waitFor(() => terminal('/throttled').length > 0, 'completed webhook');
    const events = bodies('/throttled');
    // start, then 4 outputs; the 4 log lines all fall inside the 0.5 s after start.
    expect(events).toHaveLength(1 + 4 + 1);
    expect(events.filter((e) => e.status === 'processing' && (e.output ?? []).length === 0)).toHaveLength(1);
    expect(events.at(-1).status).toBe('succeeded');
    expect(at('/throttled')[0]!.headers.authorization).toBeUndefined();
  });
});

describe('webhook delivery', () => {
  it('retries the terminal webhook on 5xx and 429 with backoff', async () => {
    let failures = 0;
    peer.handler = (request: Received, response) => {
      if (request.url === '/flaky' && failures < 2) {
        response.statusCode = failures++ === 0 ? 503 : 429;
      }
      response.end();
    };
    const result = await post(`${unthrottled.url}/predictions`, {
      input: { count: 1 },
      webhook: `${peer.url}/flaky`,
      webhook_events_filter: ['completed'],
    });
    expect(result.body.status).toBe('succeeded');
    await waitFor(() => at('/flaky').length === 3, 'third attempt', 5000);
    const [first, second, third] = at('/flaky');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(190); // 100 ms x 2^1
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(390); // 100 ms x 2^2
    await new Promise((resolve) => setTimeout(resolve, 900));
    expect(at('/flaky')).toHaveLength(3);
  });

  it('retries after connection errors, but not after a non-retryable status', async () => {
    let drops = 0;
    peer.handler = (request: Received, response) => {
      if (request.url === '/drops' && drops++ < 2) return void response.socket?.destroy();
      if (request.url === '/gone') response.statusCode = 410;
      response.end();
    };
    await post(`${unthrottled.url}/predictions`, {
      input: { count: 1 },
      webhook: `${peer.url}/drops`,
      webhook_events_filter: ['completed'],
    });
    await waitFor(() => at('/drops').length === 3, 'delivery after two dropped connections', 5000);
    await post(`${unthrottled.url}/predictions`, {
      input: { count: 1 },
      webhook: `${peer.url}/gone`,
      webhook_events_filter: ['completed'],
    });
    await waitFor(() => at('/gone').length === 1, 'first attempt');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(at('/gone')).toHaveLength(1);
  });

  it('a webhook that cannot be reached never fails the prediction', async () => {
    const dead = new Peer();
    await dead.start();
    await dead.stop();
    const sync = await post(`${unthrottled.url}/predictions`, { input: { count: 2 }, webhook: `${dead.url}/hook` });
    expect(sync.body).toMatchObject({ status: 'succeeded', output: ['chunk 0', 'chunk 1'] });
    const health = await waitForHealth(unthrottled.url, ['READY']);
    expect(health.status).toBe('READY');
  });
});
