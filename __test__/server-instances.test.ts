// Model instances (`concurrency.instances: 2`) through real HTTP: each instance's setup, its
// `this.instance`, two sync predictions at once on two instances, the sync rule, and one instance
// crashing (replaced, set up again) while the other serves.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { json, post, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';
import { cli } from './helpers/cli.js';

const servers: ServerProcess[] = [];
async function start(options: { args?: string[]; env?: Record<string, string> } = {}, fixture = 'instances'): Promise<ServerProcess> {
  const server = await startServer(fixture, options);
  servers.push(server);
  return server;
}

// Each test starts servers that load predictors in workers with tsx: slow on a busy 2-core machine.
vi.setConfig({ testTimeout: 90_000, hookTimeout: 90_000 });

let dir: string;
let server: ServerProcess; // cog.yaml: concurrency.max 2, concurrency.instances 2; a sync predict
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cog-instances-'));
  server = await start();
  await waitForHealth(server.url, ['READY'], 30_000);
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((s) => s.kill()));
  rmSync(dir, { recursive: true, force: true });
});

const predict = (target: ServerProcess, input: Record<string, unknown>) => post(`${target.url}/predictions`, { input });
const count = (text: string, part: string) => text.split(part).length - 1;
let pair = 0;
/** Two `meet` predictions, each waiting for the other: both succeed only if they ran at once. */
async function meet(target: ServerProcess): Promise<Array<{ status: number; body: any }>> {
  pair += 1;
  const [a, b] = [`a${pair}`, `b${pair}`];
  return Promise.all([
    predict(target, { mode: 'meet', dir, name: a, other: b }),
    predict(target, { mode: 'meet', dir, name: b, other: a }),
  ]);
}

/**
 * Polls health until instance `index` has run setup a second time (its replacement's) and both
 * instances are ready, checking on each poll that the server stayed READY/BUSY; returns the logs.
 */
function setUpAgain(target: ServerProcess, index: number): Promise<string> {
  return waitFor(
    async () => {
      const { body } = await json(`${target.url}/health-check`);
      expect(['READY', 'BUSY']).toContain(body.status);
      const again = count(body.setup.logs, `setup ran on instance ${index} of 2`) === 2 && body.instances.ready === 2;
      return again ? (body.setup.logs as string) : undefined;
    },
    `instance ${index} to set up again`,
    30_000,
  );
}

/** Both instances take predictions (two meets at once), then the server is stopped. */
async function bothServe(target: ServerProcess): Promise<void> {
  const [a, b] = await meet(target);
  expect([a!.body.output?.index, b!.body.output?.index].sort()).toEqual([0, 1]);
  await target.kill();
}

/**
 * A READY server (64 MB worker heaps, for `grow`) whose later setups (replacements') wait until
 * `openGate()`: while it is closed, a crashed instance cannot be ready again.
 */
async function startGated(): Promise<{ server: ServerProcess; openGate: () => void }> {
  const gate = mkdtempSync(join(tmpdir(), 'cog-instances-gate-'));
  const gated = await start({ env: { COG_WORKER_MAX_HEAP_MB: '64', SETUP_GATE: gate } });
  await waitForHealth(gated.url, ['READY'], 30_000);
  writeFileSync(join(gate, 'closed'), '');
  return { server: gated, openGate: () => rmSync(gate, { recursive: true, force: true }) };
}

describe('instances: 2', () => {
  it('runs setup once in each instance, and `this.instance` says which, from setup() on', async () => {
    const { body } = await json(`${server.url}/health-check`);
    expect(body.setup.status).toBe('succeeded');
    expect(body.instances).toEqual({ count: 2, ready: 2 });
    expect(count(body.setup.logs, 'setup ran on instance 0 of 2')).toBe(1);
    expect(count(body.setup.logs, 'setup ran on instance 1 of 2')).toBe(1);
    // Idle instances tie: the lowest index takes the prediction.
    const response = await predict(server, { mode: 'whoami' });
    expect(response.body).toMatchObject({ status: 'succeeded', output: { index: 0, count: 2, setupIndex: 0 } });
  });

  it('runs two sync predictions at once, one on each instance (the least loaded)', async () => {
    const [a, b] = await meet(server);
    expect(a!.body).toMatchObject({ status: 'succeeded' });
    expect(b!.body).toMatchObject({ status: 'succeeded' });
    const indices = [a!.body.output, b!.body.output].map((output: { index: number; setupIndex: number }) => {
      expect(output.setupIndex).toBe(output.index);
      return output.index;
    });
    expect(indices.sort()).toEqual([0, 1]);
  });

  it('in the server thread (--in-process) there is one instance: { index: 0, count: 1 }', async () => {
    const inProcess = await start({ args: ['--in-process'] });
    const health = await waitForHealth(inProcess.url, ['READY'], 30_000);
    expect(health.setup.logs).toContain('setup ran on instance 0 of 1');
    // One instance: health keeps Cog's shape.
    expect(health.instances).toBeUndefined();
    const response = await predict(inProcess, { mode: 'whoami' });
    expect(response.body).toMatchObject({ status: 'succeeded', output: { index: 0, count: 1, setupIndex: 0 } });
    await inProcess.kill();
  });

  it('`cog-node predict` runs one instance in its thread, and accepts the cog.yaml (sync, max 2, instances 2)', async () => {
    const run = await cli(['predict', '-i', 'mode=whoami'], { cwd: join(import.meta.dirname, 'fixtures/server/instances') });
    expect(run.stderr).not.toContain('requires an async');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ index: 0, count: 1, setupIndex: 0 });
  });

  it('a sync predictor with concurrency.max above its instances fails setup, naming the rule', async () => {
    const tooMany = await start({ env: { COG_MAX_CONCURRENCY: '3' } });
    const failed = await waitForHealth(tooMany.url, ['SETUP_FAILED'], 30_000);
    expect(failed.setup.logs).toContain(
      'COG_MAX_CONCURRENCY > COG_INSTANCES requires an async run() or predict() method, or as many model instances as ' +
        'predictions at once (concurrency.instances, COG_INSTANCES): concurrency 3, instances 2',
    );
    await tooMany.kill();
  });
});

describe('one instance crashing while the other serves (instances: 2)', () => {
  it('fails only its prediction; health stays READY; the replaced instance sets up again and serves', async () => {
    // The replacement's setup waits behind the gate: health is read while only one instance is ready.
    const { server: crashy, openGate } = await startGated();
    // Instance 0 holds a prediction (a sync loop) until told; the crash goes to idle instance 1.
    const held = predict(crashy, { mode: 'hold', dir, name: 'held' });
    await waitFor(() => existsSync(join(dir, 'held')), 'the held prediction to start');
    const grown = await predict(crashy, { mode: 'grow' });
    expect(grown.body).toMatchObject({
      status: 'failed',
      error: 'Worker crashed: the predictor ran out of JS heap (limit 64 MB, COG_WORKER_MAX_HEAP_MB)',
    });
    const during = (await json(`${crashy.url}/health-check`)).body;
    expect(during.status).toBe('READY');
    expect(during.instances).toEqual({ count: 2, ready: 1 });
    expect(during.setup.status).toBe('succeeded');
    openGate();
    // The other instance serves on: its held prediction succeeds, and so does a new one.
    writeFileSync(join(dir, 'held.release'), '');
    expect((await held).body).toMatchObject({ status: 'succeeded', output: { index: 0 } });
    expect((await predict(crashy, { mode: 'whoami' })).body).toMatchObject({ status: 'succeeded' });
    // The replacement ran setup again (same instance index), then takes predictions.
    const logs = await setUpAgain(crashy, 1);
    expect(logs).toContain('model instance 1 crashed (Worker crashed: the predictor ran out of JS heap');
    // /metrics counts the replacement.
    const metrics = await (await fetch(`${crashy.url}/metrics`)).text();
    expect(metrics).toMatch(/^cog_worker_restarts_total 1$/m);
    await bothServe(crashy);
  });
});

describe('every instance down at once (instances: 2)', () => {
  it('is DEFUNCT, refusing predictions with 503, until an instance is ready again', async () => {
    // The replacements' setups wait behind the gate: neither instance can be ready meanwhile.
    const { server: both, openGate } = await startGated();
    const crashes = await Promise.all([predict(both, { mode: 'grow' }), predict(both, { mode: 'grow' })]);
    for (const crash of crashes) expect(crash.body).toMatchObject({ status: 'failed', error: expect.stringContaining('Worker crashed') });
    const health = (await json(`${both.url}/health-check`)).body;
    expect(health.status).toBe('DEFUNCT');
    expect(health.instances).toEqual({ count: 2, ready: 0 });
    const refused = await predict(both, { mode: 'whoami' });
    expect(refused.status).toBe(503);
    expect(refused.body.error).toContain('every model instance is down');
    openGate();
    await waitForHealth(both.url, ['READY'], 30_000);
    await setUpAgain(both, 0);
    await setUpAgain(both, 1);
    await bothServe(both);
  });
});

describe('one instance hanging (a cancelled sync prediction past the grace period)', () => {
  it('stops and replaces only that instance; the other serves meanwhile; health never leaves READY/BUSY', async () => {
    const hangs = await start({ env: { COG_CANCEL_GRACE_PERIOD: '1' } });
    await waitForHealth(hangs.url, ['READY'], 30_000);
    const stuck = post(`${hangs.url}/predictions`, { id: 'stuck', input: { mode: 'hold', dir, name: 'stuck' } });
    await waitFor(() => existsSync(join(dir, 'stuck')), 'the stuck prediction to start');
    expect((await post(`${hangs.url}/predictions/stuck/cancel`)).status).toBe(200);
    // Instance 0 is busy ignoring its cancel: instance 1 answers.
    expect((await predict(hangs, { mode: 'whoami' })).body).toMatchObject({ status: 'succeeded', output: { index: 1 } });
    // Past the grace period instance 0 is stopped: its prediction ends canceled.
    expect((await stuck).body).toMatchObject({ id: 'stuck', status: 'canceled' });
    expect(['READY', 'BUSY']).toContain((await json(`${hangs.url}/health-check`)).body.status);
    const logs = await setUpAgain(hangs, 0);
    expect(logs).toContain('model instance 0 was stopped (a canceled prediction ignored the grace period); replacing it');
    await bothServe(hangs);
  });
});

describe('setup and healthcheck across instances', () => {
  it("one instance's failing setup() fails the setup", async () => {
    const failing = await start({ env: { SETUP_FAIL_INSTANCE: '1' } }, 'instances-health');
    const health = await waitForHealth(failing.url, ['SETUP_FAILED'], 30_000);
    expect(health.setup.logs).toContain('instance 1 found no weights');
    await failing.kill();
  });

  it("is UNHEALTHY when one ready instance's healthcheck() fails; READY when all pass", async () => {
    const healthy = await start({}, 'instances-health');
    await waitForHealth(healthy.url, ['READY'], 30_000);
    const unhealthy = await start({ env: { UNHEALTHY_INSTANCE: '1' } }, 'instances-health');
    const health = await waitForHealth(unhealthy.url, ['UNHEALTHY'], 30_000);
    expect(health.user_healthcheck_error).toBe('Healthcheck failed: user-defined healthcheck returned False');
    await Promise.all([healthy.kill(), unhealthy.kill()]);
  });
});
