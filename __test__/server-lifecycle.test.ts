// The server's life: setup (slow, failing, timing out), health, trainings, crashes, shutdown.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Peer, json, post, put, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
async function start(name: string, options: Parameters<typeof startServer>[1] = {}): Promise<ServerProcess> {
  const server = await startServer(name, options);
  servers.push(server);
  return server;
}

let peer: Peer;
beforeAll(async () => {
  peer = await new Peer().start();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});
afterAll(async () => {
  await peer.stop();
});

describe('setup', () => {
  it('STARTING with live setup logs and 503s, then READY', async () => {
    const server = await start('setup', { env: { SETUP_SECONDS: '1.5' } });
    const starting = await waitForHealth(server.url, ['STARTING']);
    expect(starting.setup.status).toBe('starting');
    expect(starting.setup.completed_at).toBeUndefined();
    const early = await post(`${server.url}/predictions`, {});
    expect(early.status).toBe(503);
    expect(early.body).toEqual({
      error: 'Setup has not finished yet. Wait until it has finished, or GET /health-check for status.',
      status: 'failed',
    });
    expect(await json(`${server.url}/openapi.json`)).toMatchObject({ status: 503, body: { error: 'OpenAPI schema not available' } });
    await waitFor(
      async () => (await json(`${server.url}/health-check`)).body.setup.logs.includes('loading weights'),
      'setup logs while starting',
    );

    const ready = await waitForHealth(server.url, ['READY']);
    expect(ready.setup).toMatchObject({ status: 'succeeded', logs: 'loading weights\nweights loaded\n' });
    expect(Date.parse(ready.setup.completed_at) - Date.parse(ready.setup.started_at)).toBeGreaterThanOrEqual(1400);
    expect((await json(`${server.url}/openapi.json`)).status).toBe(200);
    // A model without inputs takes no body, `{}` or `{"input":{}}`.
    for (const body of [undefined, {}, { input: {} }, { input: null }]) {
      const response = await post(`${server.url}/predictions`, body);
      expect(response.body).toMatchObject({ status: 'succeeded', output: 'ok' });
    }
  });

  it('SETUP_FAILED with the error in the setup logs; predictions get 503', async () => {
    const server = await start('setup', { env: { SETUP_FAIL: '1' } });
    const failed = await waitForHealth(server.url, ['SETUP_FAILED']);
    expect(failed.setup.status).toBe('failed');
    expect(failed.setup.logs).toContain('loading weights\n');
    expect(failed.setup.logs).toContain('weights are corrupt');
    expect(failed.setup.completed_at).toBeDefined();
    expect((await post(`${server.url}/predictions`, {})).status).toBe(503);
  });

  it('COG_SETUP_TIMEOUT fails a setup that takes too long', async () => {
    const server = await start('setup', { env: { SETUP_SECONDS: '30', COG_SETUP_TIMEOUT: '0.5' } });
    const failed = await waitForHealth(server.url, ['SETUP_FAILED']);
    expect(failed.setup.logs).toContain('Setup timed out after 0.5 seconds');
  });

  it('a predictor that fails to import is SETUP_FAILED with the error, and the server stays up', async () => {
    const server = await start('broken');
    const failed = await waitForHealth(server.url, ['SETUP_FAILED']);
    expect(failed.setup.logs).toContain('importing the predictor\n');
    expect(failed.setup.logs).toContain('missing dependency: libfoo.so');
    expect((await json(`${server.url}/`)).status).toBe(200);
  });
});

describe('health', () => {
  it("UNHEALTHY with Cog's messages when the user healthcheck fails, throws or times out", async () => {
    const server = await start('health');
    await waitForHealth(server.url, ['READY']);
    const cases: [string, string][] = [
      ['false', 'Healthcheck failed: user-defined healthcheck returned False'],
      ['throw', 'Healthcheck failed: GPU fell off the bus'],
      ['hang', 'Healthcheck failed: user-defined healthcheck timed out after 5.0 seconds'],
    ];
    for (const [mode, message] of cases) {
      // Predictions are still accepted while unhealthy.
      expect((await post(`${server.url}/predictions`, { input: { mode } })).body.output).toBe(mode);
      const { body } = await json(`${server.url}/health-check`);
      expect(body).toMatchObject({ status: 'UNHEALTHY', user_healthcheck_error: message });
    }
    await post(`${server.url}/predictions`, { input: { mode: 'ok' } });
    const healthy = await json(`${server.url}/health-check`);
    expect(healthy.body.status).toBe('READY');
    expect(healthy.body.user_healthcheck_error).toBeUndefined();
  }, 20_000);

  it('DEFUNCT once an error escapes user code: in-flight predictions fail, new ones get 503', async () => {
    const server = await start('crash');
    await waitForHealth(server.url, ['READY']);
    const crashed = await post(`${server.url}/predictions`, {});
    expect(crashed.status).toBe(200);
    expect(crashed.body.status).toBe('failed');
    expect(crashed.body.error).toContain('native state corrupted');
    expect((await json(`${server.url}/health-check`)).body.status).toBe('DEFUNCT');
    const refused = await post(`${server.url}/predictions`, {});
    expect(refused.status).toBe(503);
    expect(refused.body.error).toContain('DEFUNCT');
  });
});

describe('trainings', () => {
  it('serves /trainings beside /predictions when cog.yaml names a trainer', async () => {
    const server = await start('trainer');
    await waitForHealth(server.url, ['READY']);
    const { body: root } = await json(`${server.url}/`);
    expect(root).toMatchObject({
      trainings_url: '/trainings',
      trainings_idempotent_url: '/trainings/{training_id}',
      trainings_cancel_url: '/trainings/{training_id}/cancel',
    });
    const schema = (await json(`${server.url}/openapi.json`)).body;
    expect(Object.keys(schema.components.schemas)).toEqual(
      expect.arrayContaining(['TrainingInput', 'TrainingOutput', 'TrainingRequest', 'TrainingResponse']),
    );

    const trained = await post(`${server.url}/trainings`, { input: { steps: 4 } });
    expect(trained.body).toMatchObject({ status: 'succeeded', output: { loss: 0.25 }, logs: 'training for 4 steps\n' });
    expect((await post(`${server.url}/trainings`, { input: { steps: 0 } })).body.detail[0].loc).toEqual(['body', 'input', 'steps']);
    expect((await post(`${server.url}/predictions`, { input: { prompt: 'p' } })).body.output).toBe('predicted p');

    const mismatch = await put(`${server.url}/trainings/t-1`, { id: 't-2', input: { steps: 1 } });
    expect(mismatch.body.detail[0].msg).toBe('training ID must match the ID supplied in the URL');
    const running = await put(
      `${server.url}/trainings/t-1`,
      { input: { steps: 1, sleep: 10 }, webhook: `${peer.url}/t-1` },
      { prefer: 'respond-async' },
    );
    expect(running.status).toBe(202);
    expect((await post(`${server.url}/trainings/t-1/cancel`)).status).toBe(200);
    await waitFor(
      () => peer.requests.find((r) => r.url === '/t-1' && JSON.parse(r.body.toString()).status === 'canceled'),
      'canceled webhook',
    );
    expect((await post(`${server.url}/trainings/t-1/cancel`)).status).toBe(404);

    const stream = await post(`${server.url}/trainings`, { input: { steps: 1 } }, { accept: 'text/event-stream' });
    expect(stream).toMatchObject({ status: 406, body: { error: 'Training endpoints do not support streaming responses.' } });
  });
});

describe('shutdown', () => {
  it('POST /shutdown lets predictions in flight finish: the sync client gets its output, the webhook its result; health BUSY, new ones 503', async () => {
    const server = await start('echo', { env: { COG_MAX_CONCURRENCY: '3' } });
    await waitForHealth(server.url, ['READY']);
    const started = (id: string) => waitFor(() => peer.payloads.some((p) => p.id === id && p.status === 'processing'), `${id} started`);
    await post(
      `${server.url}/predictions`,
      { id: 'bg', input: { text: 'b', sleep: 1 }, webhook: `${peer.url}/bg`, webhook_events_filter: ['start', 'completed'] },
      { prefer: 'respond-async' },
    );
    const sync = post(`${server.url}/predictions`, {
      id: 'fg',
      input: { text: 'f', sleep: 1 },
      webhook: `${peer.url}/fg`,
      webhook_events_filter: ['start'],
    });
    await Promise.all([started('bg'), started('fg')]);
    expect((await json(`${server.url}/health-check`)).body.status).toBe('READY'); // 2 of 3 slots taken
    const shutdown = await post(`${server.url}/shutdown`);
    expect(shutdown).toMatchObject({ status: 200, body: {} });
    expect((await json(`${server.url}/health-check`)).body.status).toBe('BUSY');
    expect(await post(`${server.url}/predictions`, { input: { text: 'late' } })).toMatchObject({
      status: 503,
      body: { error: 'The server is shutting down.', status: 'failed' },
    });
    expect((await sync).body).toMatchObject({ id: 'fg', status: 'succeeded', output: 'f' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(peer.payloads.filter((p) => p.id === 'bg').map((p) => [p.status, p.output])).toEqual([
      ['processing', undefined],
      ['succeeded', 'b'],
    ]);
  });

  it('SIGTERM with COG_SHUTDOWN_TIMEOUT: a prediction still running past it ends canceled and the process exits', async () => {
    const server = await start('echo', { env: { COG_SHUTDOWN_TIMEOUT: '1' } });
    await waitForHealth(server.url, ['READY']);
    await post(
      `${server.url}/predictions`,
      { id: 'long-bg', input: { text: 'x', sleep: 10 }, webhook: `${peer.url}/term`, webhook_events_filter: ['completed'] },
      { prefer: 'respond-async' },
    );
    const sync = post(`${server.url}/predictions`, { id: 'long-fg', input: { text: 'x', sleep: 10 } });
    await waitForHealth(server.url, ['BUSY']);
    const signalled = Date.now();
    server.child.kill('SIGTERM');
    expect((await sync).body).toMatchObject({ id: 'long-fg', status: 'canceled' });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    // 1 s deadline, at most 2 s for the cancelled to stop, and the process's own start and exit.
    expect(Date.now() - signalled).toBeLessThan(5000);
    expect(peer.requests.filter((r) => r.url === '/term').map((r) => JSON.parse(r.body.toString()).status)).toEqual(['canceled']);
    expect(server.output()).toContain('2 prediction(s) still running after 1 s (COG_SHUTDOWN_TIMEOUT): canceling them');
  });

  it('a webhook receiver that never answers holds shutdown no longer than COG_SHUTDOWN_TIMEOUT; the log names what was not delivered, without credentials', async () => {
    const silent = await new Peer().start();
    silent.handler = () => undefined; // never answers
    try {
      const server = await start('echo', { env: { COG_SHUTDOWN_TIMEOUT: '1' } });
      await waitForHealth(server.url, ['READY']);
      const hook = `${silent.url}/hook?token=s3cret-token`;
      const withCredentials = silent.url.replace('http://', 'http://hook-user:pa55word@') + '/cred?sig=abc123';
      await post(`${server.url}/predictions`, { id: 'silent-1', input: { text: 'x' }, webhook: hook }, { prefer: 'respond-async' });
      await post(
        `${server.url}/predictions`,
        { id: 'silent-2', input: { text: 'y' }, webhook: withCredentials },
        { prefer: 'respond-async' },
      );
      await waitFor(() => silent.requests.some((r) => r.url.startsWith('/hook')), 'the receiver is called');
      const signalled = Date.now();
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(5000);
      const log = server.output();
      expect(log).toContain(`the terminal webhook of prediction silent-1 to ${silent.url}/hook was not delivered (COG_SHUTDOWN_TIMEOUT)`);
      expect(log).toContain(`the terminal webhook of prediction silent-2 to ${silent.url}/cred was not delivered (COG_SHUTDOWN_TIMEOUT)`);
      for (const secret of ['s3cret-token', 'pa55word', 'hook-user', 'abc123']) expect(log).not.toContain(secret);
    } finally {
      await silent.stop();
    }
  });

  it('--await-explicit-shutdown ignores SIGTERM; POST /shutdown still stops it', async () => {
    const server = await start('echo', { args: ['--await-explicit-shutdown'] });
    await waitForHealth(server.url, ['READY']);
    server.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await json(`${server.url}/health-check`)).body.status).toBe('READY');
    expect(server.output()).toContain('SIGTERM ignored');
    await post(`${server.url}/shutdown`);
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('SIGINT stops it even with --await-explicit-shutdown', async () => {
    const server = await start('echo', { args: ['--await-explicit-shutdown'] });
    await waitForHealth(server.url, ['READY']);
    server.child.kill('SIGINT');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
