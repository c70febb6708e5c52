// `GET /health/live` and `GET /health/ready` through a server's life: starting, ready, a full
// queue, setup failure, shutdown and DEFUNCT, beside `/health-check`'s always-200 report. Real
// server processes on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { json, post, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});

async function start(name: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer(name, { env: { COG_MAX_CONCURRENCY: '', COG_QUEUE_MAX: '', SETUP_MS: '', SETUP_FAIL: '', ...env } });
  servers.push(server);
  return server;
}

async function probes(url: string): Promise<{ live: { status: number; body: any }; ready: { status: number; body: any } }> {
  const [live, ready] = await Promise.all([json(`${url}/health/live`), json(`${url}/health/ready`)]);
  return { live: { status: live.status, body: live.body }, ready: { status: ready.status, body: ready.body } };
}

describe('probes', () => {
  it('ready is 503 while setup runs, 200 once it has succeeded; live is 200 throughout', async () => {
    const server = await start('observe', { SETUP_MS: '2000' });
    const starting = await probes(server.url);
    expect((await json(`${server.url}/health-check`)).body.status).toBe('STARTING');
    expect(starting.live).toEqual({ status: 200, body: { status: 'ok' } });
    expect(starting.ready).toEqual({ status: 503, body: { status: 'unavailable', reason: 'starting' } });
    await waitForHealth(server.url, ['READY']);
    const ready = await probes(server.url);
    expect(ready.live.status).toBe(200);
    expect(ready.ready).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('ready is 503 after setup failed (live stays 200, /health-check stays 200)', async () => {
    const server = await start('observe', { SETUP_FAIL: '1' });
    const health = await waitForHealth(server.url, ['SETUP_FAILED']);
    expect(health.setup.logs).toContain('setup asked to fail');
    expect((await json(`${server.url}/health-check`)).status).toBe(200);
    const { live, ready } = await probes(server.url);
    expect(live.status).toBe(200);
    expect(ready).toEqual({ status: 503, body: { status: 'unavailable', reason: 'setup failed' } });
  });

  it('ready is 503 while every slot runs and the queue is full, 200 while a place is left', async () => {
    const server = await start('observe');
    await waitForHealth(server.url, ['READY']);
    const running = post(`${server.url}/predictions`, { input: { name: 'a', ms: 4000 } });
    await waitForHealth(server.url, ['BUSY']);
    // Every slot busy, but the line (queue.max 1) has room: a prediction sent now would wait.
    expect((await probes(server.url)).ready.status).toBe(200);
    const waiting = post(`${server.url}/predictions`, { input: { name: 'b' } });
    await waitFor(async () => (await json(`${server.url}/health-check`)).body.queue.waiting === 1 || undefined, 'one waiting');
    const full = await probes(server.url);
    expect(full.ready).toEqual({
      status: 503,
      body: { status: 'unavailable', reason: 'at capacity and the queue is full (1 waiting, queue.max 1)' },
    });
    expect(full.live.status).toBe(200);
    expect((await json(`${server.url}/health-check`)).status).toBe(200);
    expect((await Promise.all([running, waiting])).map((response) => response.body.status)).toEqual(['succeeded', 'succeeded']);
    expect((await probes(server.url)).ready.status).toBe(200);
  });

  it('ready is 503 with no queue and every slot busy (Cog would answer 409)', async () => {
    const server = await start('observe', { COG_QUEUE_MAX: '0' });
    await waitForHealth(server.url, ['READY']);
    const running = post(`${server.url}/predictions`, { input: { name: 'a', ms: 4000 } });
    await waitForHealth(server.url, ['BUSY']);
    expect((await probes(server.url)).ready).toEqual({ status: 503, body: { status: 'unavailable', reason: 'at capacity' } });
    expect((await running).body.status).toBe('succeeded');
  });

  it('ready is 503 while shutting down, as the prediction in flight finishes', async () => {
    const server = await start('observe');
    await waitForHealth(server.url, ['READY']);
    const running = post(`${server.url}/predictions`, { input: { name: 'last', ms: 4000 } });
    await waitForHealth(server.url, ['BUSY']);
    expect((await post(`${server.url}/shutdown`)).status).toBe(200);
    const stopping = await probes(server.url);
    expect(stopping.ready).toEqual({ status: 503, body: { status: 'unavailable', reason: 'shutting down' } });
    expect(stopping.live.status).toBe(200);
    expect((await running).body).toMatchObject({ status: 'succeeded', output: 'last' });
    expect((await server.exited).code).toBe(0);
  });

  it('live and ready are 503 once the predictor is DEFUNCT', async () => {
    const server = await start('crash');
    await waitForHealth(server.url, ['READY']);
    expect((await probes(server.url)).live.status).toBe(200);
    expect((await post(`${server.url}/predictions`, {})).body.status).toBe('failed');
    expect((await json(`${server.url}/health-check`)).body.status).toBe('DEFUNCT');
    const { live, ready } = await probes(server.url);
    expect(live.status).toBe(503);
    expect(live.body.reason).toBe("DEFUNCT: the predictor's worker crashed; a new one is starting");
    expect(ready.status).toBe(503);
    expect(ready.body.reason).toMatch(/^DEFUNCT: /);
    // The new worker's setup ends DEFUNCT: both probes pass again.
    await waitForHealth(server.url, ['READY'], 30_000);
    expect((await probes(server.url)).live.status).toBe(200);
    expect((await probes(server.url)).ready.status).toBe(200);
    expect(
      (await fetch(`${server.url}/metrics`).then((response) => response.text())).match(/^cog_worker_restarts_total (\d+)$/m)?.[1],
    ).toBe('1');
  }, 40_000);

  it('live and ready are 503 for good once an error escapes in-process code', async () => {
    const inProcess = await startServer('crash', { args: ['--in-process'] });
    servers.push(inProcess);
    await waitForHealth(inProcess.url, ['READY']);
    expect((await post(`${inProcess.url}/predictions`, {})).body.status).toBe('failed');
    const { live, ready } = await probes(inProcess.url);
    expect(live.status).toBe(503);
    expect(live.body.reason).toMatch(/^DEFUNCT: .*native state corrupted/s);
    expect(ready.status).toBe(503);
  });
});
