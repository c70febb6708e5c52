// `cog-node worker` processes on a real redis-server: draining a queue together, at-least-once
// after a SIGKILL, cancellation of waiting and running jobs, bad jobs, and SIGTERM's hand-back.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PredictionQueue } from 'cog-node';
import { Peer, waitFor } from './fixtures/server/harness.js';
import { startRedis, startWorker, type RedisServer, type WorkerProcess } from './fixtures/fleet/harness.js';

let redis: RedisServer;
let peer: Peer;
let workers: WorkerProcess[] = [];
let queue: PredictionQueue;
const QUEUE = 'fleet-test';
// A dead worker's job goes to another after about this long (and the stalled check runs as often).
const env = { COG_QUEUE_LOCK_DURATION: '2', COG_THROTTLE_RESPONSE_INTERVAL: '0' };

const terminalFor = (path: string) =>
  peer.requests
    .filter((r) => r.url === path)
    .map((r) => JSON.parse(r.body.toString()))
    .filter((b) => ['succeeded', 'failed', 'canceled'].includes(b.status));

beforeAll(async () => {
  [redis, peer] = await Promise.all([startRedis(), new Peer().start()]);
  workers = await Promise.all([1, 2, 3].map(() => startWorker('work', redis.url, { args: ['--queue', QUEUE], env })));
  queue = new PredictionQueue({ redis: redis.url, queue: QUEUE });
}, 300_000);

afterAll(async () => {
  await queue?.close();
  await Promise.all(workers.map((worker) => worker.kill()));
  await Promise.all([redis?.stop(), peer?.stop()]);
});

describe('cog-node worker', () => {
  it('three workers drain 500 jobs: each has exactly one final result and one terminal webhook', async () => {
    const ids = [];
    for (let i = 0; i < 500; i++) {
      const submitted = await queue.submit(
        { text: `job-${i}` },
        { id: `drain-${i}`, webhook: `${peer.url}/drain`, webhookEventsFilter: ['completed'] },
      );
      ids.push(submitted.id);
    }
    await waitFor(() => terminalFor('/drain').length >= 500 || undefined, '500 terminal webhooks', 240_000);
    const terminal = terminalFor('/drain');
    expect(terminal).toHaveLength(500);
    expect(new Set(terminal.map((b) => b.id)).size).toBe(500);
    const pids = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const result = await queue.result(id);
      expect(result).toMatchObject({ id, status: 'succeeded', input: { text: `job-${i}` } });
      expect((result.output as string[])[0]).toBe(`job-${i}`);
      pids.add((result.output as string[])[1]!);
    }
    // Every worker took part, and nobody else did.
    expect([...pids].sort()).toEqual(workers.map((w) => `pid ${w.pid}`).sort());
  }, 300_000);

  it('fails a bad job with the 422 message, and a failing prediction is a completed job with status failed', async () => {
    const bad = await queue.submit({ sleep_ms: 'soon' }, { id: 'bad-input' });
    expect(await queue.result(bad.id)).toMatchObject({
      id: 'bad-input',
      status: 'failed',
      error: 'text: Field required; sleep_ms: must be integer',
    });
    // A job that skipped the client's checks (added with BullMQ itself) is checked by the worker too.
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const raw = new Queue(QUEUE, { connection });
    await raw.add('predict', { id: 'bad-webhook', input: { text: 'x' }, webhook: 'ftp://example.com/hook' }, { jobId: 'bad-webhook' });
    expect(await queue.result('bad-webhook')).toMatchObject({ status: 'failed', error: "webhook: URL scheme should be 'http' or 'https'" });
    const failing = await queue.submit({ text: 'boom', fail: true }, { id: 'user-failure' });
    expect(await queue.result(failing.id)).toMatchObject({ status: 'failed', error: 'asked to fail: boom' });
    // Never retried: BullMQ holds each as completed, its value the failed prediction. The worker
    // publishes the end just before BullMQ marks the job completed (fleet/queue.ts), so the last
    // one may still read 'active' for a moment.
    for (const id of ['bad-input', 'bad-webhook', 'user-failure']) {
      let job = (await raw.getJob(id))!;
      for (let tries = 0; (await job.getState()) === 'active' && tries < 250; tries += 1) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      job = (await raw.getJob(id))!;
      expect(await job.getState()).toBe('completed');
      expect(job.attemptsMade).toBeLessThanOrEqual(1);
      expect(job.returnvalue).toMatchObject({ id, status: 'failed' });
    }
    await raw.close();
    await connection.quit();
  }, 60_000);

  it('cancels a waiting job (removed, with its canceled webhook) and a running one (its token, through Redis)', async () => {
    // Nothing takes jobs from this queue: the job waits.
    const idle = new PredictionQueue({ redis: redis.url, queue: 'nobody-works-here' });
    const waiting = await idle.submit({ text: 'never runs' }, { id: 'waits', webhook: `${peer.url}/waiting` });
    expect(await idle.cancel(waiting.id)).toBe(true);
    expect(await idle.result(waiting.id)).toMatchObject({ id: 'waits', status: 'canceled' });
    await idle.close(); // waits for the terminal webhook on its way
    expect(terminalFor('/waiting')).toMatchObject([{ id: 'waits', status: 'canceled' }]);

    const running = await queue.submit({ text: 'long', sleep_ms: 120_000 }, { id: 'runs', webhook: `${peer.url}/running` });
    const events = queue.events(running.id);
    // Started: its log line is out.
    for await (const event of events) if (event.type === 'log') break;
    expect(await queue.cancel(running.id)).toBe(true);
    // Ends long before its 120 s sleep would: the token was cancelled.
    const result = await queue.result(running.id);
    expect(result).toMatchObject({ id: 'runs', status: 'canceled' });
    await waitFor(() => terminalFor('/running').length > 0 || undefined, 'the canceled webhook');
    expect(terminalFor('/running')).toMatchObject([{ id: 'runs', status: 'canceled' }]);
    expect(await queue.cancel(running.id)).toBe(false);
  }, 60_000);

  it("hands a SIGKILLed worker's job to another worker, which completes it under the same id", async () => {
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const raw = new Queue(QUEUE, { connection });
    await queue.submit({ text: 'survivor', sleep_ms: 1500 }, { id: 'killed-mid-run', webhook: `${peer.url}/killed` });
    const holder = await waitFor(async () => {
      const job = await raw.getJob('killed-mid-run');
      return (await job?.getState()) === 'active' && job?.processedBy ? job.processedBy : undefined;
    }, 'the job to run');
    const victim = workers.find((worker) => holder.endsWith(`-${worker.pid}`))!;
    expect(victim).toBeDefined();
    expect((await victim.kill('SIGKILL')).signal).toBe('SIGKILL');
    const result = await queue.result('killed-mid-run');
    expect(result).toMatchObject({ id: 'killed-mid-run', status: 'succeeded' });
    const [text, pid] = result.output as string[];
    expect(text).toBe('survivor');
    expect(pid).not.toBe(`pid ${victim.pid}`);
    expect(workers.map((w) => `pid ${w.pid}`)).toContain(pid);
    await waitFor(() => terminalFor('/killed').length > 0 || undefined, 'the terminal webhook');
    expect(terminalFor('/killed')).toMatchObject([{ id: 'killed-mid-run', status: 'succeeded' }]);
    await raw.close();
    await connection.quit();
  }, 60_000);

  it('SIGTERM: finishes what ends within the grace period, hands the rest back to the queue, exits 0', async () => {
    const term = await startWorker('work', redis.url, { args: ['--queue', 'term-test'], env: { ...env, COG_CANCEL_GRACE_PERIOD: '1' } });
    const termQueue = new PredictionQueue({ redis: redis.url, queue: 'term-test' });
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const raw = new Queue('term-test', { connection });
    try {
      await termQueue.submit({ text: 'quick', sleep_ms: 300 }, { id: 'finishes' });
      await termQueue.submit({ text: 'slow', sleep_ms: 60_000 }, { id: 'handed-back', webhook: `${peer.url}/handed-back` });
      await waitFor(async () => {
        const states = await Promise.all(['finishes', 'handed-back'].map(async (id) => (await raw.getJob(id))?.getState()));
        return states.every((state) => state === 'active') || undefined;
      }, 'both jobs to run');
      expect(await term.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      expect(await termQueue.result('finishes')).toMatchObject({ status: 'succeeded', output: ['quick', `pid ${term.pid}`] });
      expect(await (await raw.getJob('handed-back'))!.getState()).toBe('waiting');
      // Handed back, not ended: no terminal webhook.
      expect(terminalFor('/handed-back')).toEqual([]);
      expect(term.output()).toMatch(/handing them back to the queue/);
    } finally {
      await term.kill();
      await raw.close();
      await connection.quit();
      await termQueue.close();
    }
  }, 200_000);
});
