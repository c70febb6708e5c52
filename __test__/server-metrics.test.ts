// `GET /metrics`: Prometheus text from the server's own registry, its counters and histogram counts
// checked against the predictions made (succeeded, failed, canceled running and waiting, a queued
// one, a 422 that is no prediction), the gauges while one runs and one waits, queue_time in each
// prediction's metrics, the origin guard, and one registry per app. Real server processes.
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, CogMetrics, Input, Type, createApp } from 'cog-node';
import { json, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match === null) throw new Error(`not a Prometheus sample line: ${line}`);
    values.set(match[1]!, Number(match[2]));
  }
  return values;
}

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return samples(await response.text());
}

/** Resolves once `/metrics` shows `name` at `value`. */
async function metricIs(url: string, name: string, value: number): Promise<void> {
  await waitFor(async () => (await scrape(url)).get(name) === value || undefined, `${name} = ${value}`);
}

describe('GET /metrics', () => {
  it('counts predictions by status and times their wait and their run, a queued one included', async () => {
    const server = await startServer('observe', { env: { COG_MAX_CONCURRENCY: '', COG_QUEUE_MAX: '', SETUP_MS: '' } });
    servers.push(server);
    await waitForHealth(server.url, ['READY']);
    const before = await scrape(server.url);
    expect(before.get('cog_predictions_total{status="succeeded"}')).toBe(0);
    expect(before.get('cog_setup_seconds_count{status="succeeded"}')).toBe(1);
    expect(before.get('cog_worker_restarts_total')).toBe(0);
    // prom-client's default process metrics are there too.
    expect(before.has('process_cpu_user_seconds_total')).toBe(true);
    expect(before.has('nodejs_eventloop_lag_seconds')).toBe(true);

    // A runs (5 s: a wide margin on a loaded machine); B waits (queue.max 1) and is cancelled
    // without running; C waits and runs after A.
    const a = post(`${server.url}/predictions`, { input: { name: 'a', ms: 5000 } });
    await metricIs(server.url, 'cog_predictions_running', 1);
    const b = put(`${server.url}/predictions/b-waits`, { input: { name: 'b' } });
    await metricIs(server.url, 'cog_predictions_waiting', 1);
    const busy = await scrape(server.url);
    expect(busy.get('cog_predictions_running')).toBe(1);
    expect(busy.get('cog_predictions_waiting')).toBe(1);
    expect((await post(`${server.url}/predictions/b-waits/cancel`)).status).toBe(200);
    expect((await b).body).toMatchObject({ status: 'canceled', metrics: { predict_time: 0 } });
    const c = post(`${server.url}/predictions`, { input: { name: 'c' } });
    await metricIs(server.url, 'cog_predictions_waiting', 1);
    const [first, queued] = await Promise.all([a, c]);
    expect(first.body.status).toBe('succeeded');
    expect(queued.body).toMatchObject({ status: 'succeeded', output: 'c' });
    // queue_time is creation → start: the time C waited for A.
    const waited = (Date.parse(queued.body.started_at) - Date.parse(queued.body.created_at)) / 1000;
    expect(queued.body.metrics.queue_time).toBeGreaterThan(0);
    expect(Math.abs(queued.body.metrics.queue_time - waited)).toBeLessThan(0.1);

    // D fails in user code; E is cancelled while it runs; F is a 422 (no prediction at all).
    expect((await post(`${server.url}/predictions`, { input: { name: 'd', fail: true } })).body.status).toBe('failed');
    const e = put(`${server.url}/predictions/e-runs`, { input: { name: 'e', ms: 10_000 } });
    await metricIs(server.url, 'cog_predictions_running', 1);
    expect((await post(`${server.url}/predictions/e-runs/cancel`)).status).toBe(200);
    expect((await e).body.status).toBe('canceled');
    expect((await post(`${server.url}/predictions`, { input: { name: 7 } })).status).toBe(422);

    const after = await scrape(server.url);
    expect(after.get('cog_predictions_total{status="succeeded"}')).toBe(2);
    expect(after.get('cog_predictions_total{status="failed"}')).toBe(1);
    expect(after.get('cog_predictions_total{status="canceled"}')).toBe(2);
    // Every ended prediction waited (B its whole life); four ran (A, C, D, E), each a batch of one.
    expect(after.get('cog_prediction_queue_seconds_count')).toBe(5);
    expect(after.get('cog_prediction_run_seconds_count')).toBe(4);
    expect(after.get('cog_batch_size_count')).toBe(4);
    expect(after.get('cog_batch_size_sum')).toBe(4);
    expect(after.get('cog_prediction_queue_seconds_sum')).toBeGreaterThanOrEqual(queued.body.metrics.queue_time);
    expect(after.get('cog_prediction_run_seconds_sum')).toBeGreaterThanOrEqual(first.body.metrics.predict_time);
    expect(after.get('cog_predictions_running')).toBe(0);
    expect(after.get('cog_predictions_waiting')).toBe(0);
    // The histogram's +Inf bucket holds every observation.
    expect(after.get('cog_prediction_run_seconds_bucket{le="+Inf"}')).toBe(4);
  }, 40_000);

  it('is behind the origin guard: a page of another origin is refused', async () => {
    const server = await startServer('observe', { env: { SETUP_MS: '' } });
    servers.push(server);
    const refused = await fetch(`${server.url}/metrics`, { headers: { origin: 'https://evil.example' } });
    expect(refused.status).toBe(403);
    const allowed = await startServer('observe', { env: { SETUP_MS: '', COG_CORS_ORIGINS: 'https://dash.example' } });
    servers.push(allowed);
    expect((await fetch(`${allowed.url}/metrics`, { headers: { origin: 'https://dash.example' } })).status).toBe(200);
  });
});

describe('cog_batch_size with a batching predictor', () => {
  it("observes one size per call of predictBatch, matching each prediction's own batch_size", async () => {
    const server = await startServer('batch', { env: { COG_QUEUE_MAX: '16' } });
    servers.push(server);
    await waitForHealth(server.url, ['READY']);
    // A blocker holds the one slot while three predictions gather in the batch former.
    const blocker = post(`${server.url}/predictions`, { input: { text: 'blocker', ms: 3000 } });
    await metricIs(server.url, 'cog_predictions_running', 1);
    const gathered = ['a', 'bb', 'ccc'].map((text) => post(`${server.url}/predictions`, { input: { text } }));
    await metricIs(server.url, 'cog_predictions_waiting', 3);
    const bodies = (await Promise.all([blocker, ...gathered])).map((response) => response.body);
    for (const body of bodies) expect(body.status).toBe('succeeded');
    expect(bodies.map((body) => body.metrics.batch_size)).toEqual([1, 3, 3, 3]);
    const after = await scrape(server.url);
    expect(after.get('cog_batch_size_count')).toBe(2);
    expect(after.get('cog_batch_size_sum')).toBe(4);
    expect(after.get('cog_batch_size_bucket{le="1"}')).toBe(1);
    expect(after.get('cog_batch_size_bucket{le="2"}')).toBe(1);
    expect(after.get('cog_batch_size_bucket{le="4"}')).toBe(2);
    expect(after.get('cog_predictions_total{status="succeeded"}')).toBe(4);
  }, 30_000);
});

class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: { text: string }): Promise<string> {
    return text;
  }
}

describe('one registry per app', () => {
  it('two apps in one process count their own predictions', async () => {
    const one = createApp(Echo);
    const two = createApp(Echo);
    await Promise.all([one.ready, two.ready]);
    const run = (app: typeof one) =>
      app.app.request('/predictions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"input":{"text":"x"}}' });
    await run(one);
    await run(one);
    await run(two);
    const count = async (app: typeof one) =>
      samples(await (await app.app.request('/metrics')).text()).get('cog_predictions_total{status="succeeded"}');
    expect(await count(one)).toBe(2);
    expect(await count(two)).toBe(1);
    expect(samples(await one.metrics.text()).get('cog_predictions_total{status="succeeded"}')).toBe(2);
    await Promise.all([one.shutdown(), two.shutdown()]);
  });
});

/** Spins until this process has used `ms` more of CPU (a CPU amount, not a time: load cannot shorten it). */
function burnCpu(ms: number): void {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

describe('before the first scrape (prom-client loads then)', () => {
  it('counts what happened before it, past the pending list, as an eager registry would', async () => {
    const metrics = new CogMetrics();
    const ended = 2000; // more than CogMetrics keeps pending before it loads the registry anyway
    for (let i = 0; i < ended; i++)
      metrics.predictionEnded(i % 4 === 0 ? 'failed' : 'succeeded', { predict_time: 0.002, queue_time: 0.001 }, true);
    metrics.predictionEnded('canceled', { queue_time: 0.5 }, false);
    metrics.batchRan(3);
    metrics.workerRestarted();
    metrics.setupEnded({ status: 'succeeded', started_at: '2026-12-01T10:00:00.000Z', completed_at: '2026-12-01T10:00:02.000Z', logs: '' });
    const first = samples(await metrics.text());
    expect(first.get('cog_predictions_total{status="succeeded"}')).toBe(1500);
    expect(first.get('cog_predictions_total{status="failed"}')).toBe(500);
    expect(first.get('cog_predictions_total{status="canceled"}')).toBe(1);
    expect(first.get('cog_prediction_queue_seconds_count')).toBe(2001);
    expect(first.get('cog_prediction_run_seconds_count')).toBe(2000);
    expect(first.get('cog_prediction_run_seconds_bucket{le="0.001"}')).toBe(0);
    expect(first.get('cog_prediction_run_seconds_bucket{le="0.005"}')).toBe(2000);
    expect(first.get('cog_batch_size_sum')).toBe(3);
    expect(first.get('cog_worker_restarts_total')).toBe(1);
    expect(first.get('cog_setup_seconds_sum{status="succeeded"}')).toBe(2);
    // Counted after the registry exists, too.
    metrics.predictionEnded('succeeded', { predict_time: 0.002, queue_time: 0.001 }, true);
    expect(samples(await metrics.text()).get('cog_predictions_total{status="succeeded"}')).toBe(1501);
  });

  it("the process metrics' first figures cover the time since the registry was made, not since its first scrape", async () => {
    const metrics = new CogMetrics();
    // The delay monitor measures from its first tick on: let it tick once, then block the loop.
    await new Promise((resolve) => setTimeout(resolve, 30));
    burnCpu(150);
    // The event loop was blocked by that loop: its delay histogram saw it once the loop turned.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const first = samples(await metrics.text());
    expect(first.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual(0.15);
    expect(first.get('process_cpu_user_seconds_total')! + first.get('process_cpu_system_seconds_total')!).toBeCloseTo(
      first.get('process_cpu_seconds_total')!,
      6,
    );
    const max = first.get('nodejs_eventloop_lag_max_seconds')!;
    const min = first.get('nodejs_eventloop_lag_min_seconds')!;
    expect(max).toBeGreaterThanOrEqual(0.1);
    // An empty histogram would say min 9.2e9 s; this one has samples.
    expect(min).toBeLessThanOrEqual(max);
    expect(first.get('nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
    // Later scrapes are prom-client's own collectors, as before.
    const second = samples(await metrics.text());
    expect(second.get('process_cpu_seconds_total')).toBeGreaterThanOrEqual(first.get('process_cpu_seconds_total')!);
    expect(Number.isFinite(second.get('nodejs_eventloop_lag_seconds'))).toBe(true);
  });

  it('a real server counts the predictions of before its first scrape', async () => {
    const server = await startServer('observe', { env: { SETUP_MS: '' } });
    servers.push(server);
    await waitForHealth(server.url, ['READY']);
    expect((await post(`${server.url}/predictions`, { input: { name: 'a' } })).body.status).toBe('succeeded');
    expect((await post(`${server.url}/predictions`, { input: { name: 'b', fail: true } })).body.status).toBe('failed');
    const first = await scrape(server.url);
    expect(first.get('cog_predictions_total{status="succeeded"}')).toBe(1);
    expect(first.get('cog_predictions_total{status="failed"}')).toBe(1);
    expect(first.get('cog_setup_seconds_count{status="succeeded"}')).toBe(1);
    expect(first.get('cog_prediction_run_seconds_count')).toBe(2);
  }, 30_000);
});
