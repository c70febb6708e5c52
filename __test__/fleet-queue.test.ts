// PredictionQueue end to end against a real `cog-node worker` on a real redis-server: typed and
// validated submits, the events as they happen, results, idempotent ids, unknown ids.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputValidationError, PredictionNotFoundError, PredictionQueue, type PredictionQueueEvent } from 'cog-node';
import { Predictor } from './fixtures/fleet/work/predict.js';
import { startRedis, startWorker, type RedisServer, type WorkerProcess } from './fixtures/fleet/harness.js';

let redis: RedisServer;
let worker: WorkerProcess;
let queue: PredictionQueue<typeof Predictor>;

beforeAll(async () => {
  redis = await startRedis();
  worker = await startWorker('work', redis.url, { args: ['--queue', 'client-test', '--port', '0'] });
  queue = new PredictionQueue({ redis: redis.url, queue: 'client-test', predictor: Predictor });
}, 180_000);

afterAll(async () => {
  await queue?.close();
  await worker?.kill();
  await redis?.stop();
});

describe('PredictionQueue', () => {
  it('submits, streams the events as the worker publishes them, then gives the final object', async () => {
    const submitted = await queue.submit({ text: 'hello', sleep_ms: 50 }, { id: 'e2e-1', context: { user: 'ada' } });
    expect(submitted).toMatchObject({ id: 'e2e-1', status: 'starting', input: { text: 'hello', sleep_ms: 50 } });
    const events: PredictionQueueEvent[] = [];
    for await (const event of queue.events('e2e-1')) events.push(event);
    expect(events.map((e) => e.type)).toEqual(['start', 'log', 'metric', 'output', 'output', 'completed']);
    expect(events[1]).toEqual({ type: 'log', source: 'stdout', data: 'working on hello\n' });
    expect(events[2]).toEqual({ type: 'metric', name: 'chars', value: 5, mode: 'replace' });
    expect(events[3]).toEqual({ type: 'output', chunk: 'hello', index: 0 });
    expect(events[4]).toEqual({ type: 'output', chunk: `pid ${worker.pid}`, index: 1 });
    const final = events[5]!.type === 'completed' ? events[5]!.prediction : undefined;
    expect(final).toMatchObject({
      id: 'e2e-1',
      status: 'succeeded',
      output: ['hello', `pid ${worker.pid}`],
      logs: 'working on hello\n',
      created_at: submitted.created_at,
    });
    expect(typeof final!.metrics.predict_time).toBe('number');
    // The result is the same object, read later; events replay for a late reader too.
    expect(await queue.result('e2e-1')).toEqual(final);
    const replay: string[] = [];
    for await (const event of queue.events('e2e-1')) replay.push(event.type);
    expect(replay.at(-1)).toBe('completed');
  }, 30_000);

  it("validates against the predictor's schema before queueing: a bad input never reaches Redis", async () => {
    // @ts-expect-error `sleep_ms` is an integer in the predictor's inputs
    const bad = queue.submit({ text: 'x', sleep_ms: 'soon' }, { id: 'never-queued' });
    await expect(bad).rejects.toBeInstanceOf(InputValidationError);
    await expect(bad).rejects.toMatchObject({ status: 422, detail: [{ loc: ['body', 'input', 'sleep_ms'] }] });
    await expect(queue.submit({}, { id: 'never-queued' })).rejects.toThrow('text: Field required');
    await expect(queue.submit({ text: 'x' }, { id: 'has:colon' })).rejects.toThrow("id: prediction id must not contain ':'");
    await expect(queue.submit({ text: 'x' }, { webhook: 'ftp://example.com' })).rejects.toThrow(
      "webhook: URL scheme should be 'http' or 'https'",
    );
    await expect(queue.result('never-queued')).rejects.toBeInstanceOf(PredictionNotFoundError);
    expect(await queue.cancel('never-queued')).toBe(false);
  });

  it('is idempotent by id: a second submit with the same id runs nothing more', async () => {
    await queue.submit({ text: 'once' }, { id: 'same-id' });
    await queue.submit({ text: 'twice' }, { id: 'same-id' });
    const result = await queue.result('same-id');
    expect(result).toMatchObject({ status: 'succeeded', output: ['once', `pid ${worker.pid}`] });
  }, 30_000);

  it('the worker publishes a heartbeat and serves /health-check on --port', async () => {
    const url = /worker health on http:\/\/[^:]+:(\d+)/.exec(worker.output())?.[1];
    expect(url).toBeDefined();
    const health = (await (await fetch(`http://127.0.0.1:${url}/health-check`)).json()) as { status: string };
    expect(['READY', 'BUSY']).toContain(health.status);
    const client = new Redis(redis.url);
    try {
      const keys = await client.keys('cog:client-test:worker:*');
      expect(keys).toHaveLength(1);
      expect(JSON.parse((await client.get(keys[0]!))!)).toMatchObject({ pid: worker.pid, slots: 4, ready: true });
    } finally {
      await client.quit();
    }
  });

  it("the worker's --port serves /metrics counting its predictions, and the probes", async () => {
    const port = /worker health on http:\/\/[^:]+:(\d+)/.exec(worker.output())?.[1];
    const base = `http://127.0.0.1:${port}`;
    const succeeded = async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      const line = /^cog_predictions_total\{status="succeeded"\} (\d+)$/m.exec(text);
      return { count: Number(line?.[1] ?? 0), text };
    };
    const before = await succeeded();
    await queue.submit({ text: 'counted' }, { id: 'metrics-1' });
    expect(await queue.result('metrics-1')).toMatchObject({ status: 'succeeded' });
    const after = await succeeded();
    expect(after.count).toBe(before.count + 1);
    expect(after.text).toMatch(/^cog_prediction_run_seconds_count \d+$/m);
    expect(after.text).toMatch(/^process_cpu_user_seconds_total /m);
    expect((await fetch(`${base}/health/live`)).status).toBe(200);
    expect((await fetch(`${base}/health/ready`)).status).toBe(200);
  }, 30_000);
});
