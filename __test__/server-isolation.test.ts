// A misbehaving prediction fails alone: faults inside one prediction (a circular output, an
// unhandled rejection, a timer's throw), outputs that break `static output`, a runaway heap, a
// setup that never ends and a cancelled prediction that ignores its signal, through real HTTP.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, post, startServer, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

const servers: ServerProcess[] = [];
async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer('faults', { env });
  servers.push(server);
  return server;
}

let faults: ServerProcess; // concurrency 4 (cog.yaml)
beforeAll(async () => {
  faults = await start();
  await waitForHealth(faults.url, ['READY']);
});
afterAll(async () => {
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});

const predict = (server: ServerProcess, input: Record<string, unknown>, id?: string) =>
  post(`${server.url}/predictions`, id === undefined ? { input } : { id, input });

/** The CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the file (utime, stime), in clock ticks of 1/100 s on Linux.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

describe('one bad prediction beside three innocent ones (concurrency 4, worker thread)', () => {
  it.each([
    ['circular', 'output.self cannot be encoded: it refers back to itself (a circular reference)'],
    ['rejection', 'nobody awaited this'],
    ['timer', 'thrown from a timer'],
  ])('%s: fails that prediction only; the worker keeps serving without a new setup', async (mode, error) => {
    const before = (await json(`${faults.url}/health-check`)).body.setup;
    const innocent = [1, 2, 3].map(() => predict(faults, { mode: 'fine', ms: 400 }));
    const bad = await predict(faults, { mode, ms: 200 });
    expect(bad.status).toBe(200);
    expect(bad.body).toMatchObject({ status: 'failed', error });
    // The error's stack goes to the prediction's logs.
    expect(bad.body.logs).toContain(`${error}\n    at `);
    for (const response of await Promise.all(innocent)) {
      expect(response.body).toMatchObject({ status: 'succeeded', output: 'fine after 400 ms' });
    }
    const after = (await json(`${faults.url}/health-check`)).body;
    expect(after.status).toBe('READY');
    expect(after.setup).toEqual(before);
  });

  it('names what cannot be encoded in an output: a function', async () => {
    const response = await predict(faults, { mode: 'function' });
    expect(response.body).toMatchObject({ status: 'failed', error: 'output.call cannot be encoded: it is a function' });
  });
});

describe("the same faults with the predictor in the server's thread (--in-process)", () => {
  it('each fails its own prediction beside an innocent one; the server stays READY', async () => {
    const server = await startServer('faults', { args: ['--in-process'] });
    servers.push(server);
    await waitForHealth(server.url, ['READY']);
    const [circular, rejection, timer, fine] = await Promise.all(
      ['circular', 'rejection', 'timer', 'fine'].map((mode) => predict(server, { mode, ms: 300 })),
    );
    expect(circular!.body).toMatchObject({
      status: 'failed',
      error: 'output.self cannot be encoded: it refers back to itself (a circular reference)',
    });
    expect(rejection!.body).toMatchObject({ status: 'failed', error: 'nobody awaited this' });
    expect(timer!.body).toMatchObject({ status: 'failed', error: 'thrown from a timer' });
    expect(fine!.body).toMatchObject({ status: 'succeeded', output: 'fine after 300 ms' });
    expect((await json(`${server.url}/health-check`)).body.status).toBe('READY');
  });
});

describe("a failed prediction's error", () => {
  it('is the thrown message word for word (no "Prediction failed:" prefix, unlike coglet), its stack in logs', async () => {
    const response = await predict(faults, { mode: 'throw' });
    expect(response.body).toMatchObject({ status: 'failed', error: 'the model broke: CUDA error 700' });
    expect(response.body.logs).toMatch(/^Error: the model broke: CUDA error 700\n {4}at .*predict\.ts/m);
  });
});

describe('outputs are checked against `static output`', () => {
  it.each([
    ['undefined', 'output must be string, got undefined'],
    ['number', 'output must be string, got number'],
  ])('a string output that is %s fails the prediction, naming what was expected and what came', async (mode, error) => {
    const response = await predict(faults, { mode });
    expect(response.body).toMatchObject({ status: 'failed', error });
    expect(response.body.output).toBeUndefined();
  });
});

describe('resource limits', () => {
  it('a runaway JS heap fails its prediction fast (COG_WORKER_MAX_HEAP_MB); the worker is replaced and health recovers', async () => {
    const server = await start({ COG_WORKER_MAX_HEAP_MB: '64' });
    await waitForHealth(server.url, ['READY']);
    const started = Date.now();
    const grown = await predict(server, { mode: 'grow' });
    const seconds = (Date.now() - started) / 1000;
    expect(grown.body).toMatchObject({
      status: 'failed',
      error: 'Worker crashed: the predictor ran out of JS heap (limit 64 MB, COG_WORKER_MAX_HEAP_MB)',
    });
    expect(seconds).toBeLessThan(10);
    await waitForHealth(server.url, ['READY']);
    expect((await predict(server, { mode: 'fine', ms: 10 })).body).toMatchObject({ status: 'succeeded' });
  });

  it('a setup() that busy-loops past COG_SETUP_TIMEOUT is SETUP_FAILED and its worker stopped: no core left spinning', async () => {
    const server = await start({ SETUP_SPIN: '1', COG_SETUP_TIMEOUT: '1' });
    const failed = await waitForHealth(server.url, ['SETUP_FAILED']);
    expect(failed.setup.logs).toContain('Setup timed out after 1 seconds');
    const pid = server.child.pid!;
    const first = cpuSeconds(pid);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // A spinning worker would add ~1 CPU second here.
    expect(cpuSeconds(pid) - first).toBeLessThan(0.3);
    expect((await json(`${server.url}/health-check`)).body.status).toBe('SETUP_FAILED');
  });
});

describe('prompt cancel of an async prediction that ignores its signal', () => {
  it('ends canceled at once (its sync client answered) while its slot stays held until the work settles', async () => {
    const server = await start({ COG_MAX_CONCURRENCY: '1' });
    await waitForHealth(server.url, ['READY']);
    const startedAt = Date.now();
    // 3 s of deaf work: on a loaded machine (the whole suite on 2 cores) 1.5 s once ran out before the 409 below was asked for.
    const deaf = predict(server, { mode: 'deaf', ms: 3000 }, 'deaf');
    await waitForHealth(server.url, ['BUSY']);
    const canceledAt = Date.now();
    expect((await post(`${server.url}/predictions/deaf/cancel`)).status).toBe(200);
    const response = await deaf;
    expect(Date.now() - canceledAt).toBeLessThan(1000);
    expect(response.body).toMatchObject({ id: 'deaf', status: 'canceled' });
    expect(response.body.output).toBeUndefined();
    // Its code still runs: the one slot is taken until it settles.
    expect((await predict(server, { mode: 'fine', ms: 10 })).status).toBe(409);
    expect((await json(`${server.url}/health-check`)).body.status).toBe('BUSY');
    await waitForHealth(server.url, ['READY'], 5000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(2950);
    expect((await predict(server, { mode: 'fine', ms: 10 })).body).toMatchObject({ status: 'succeeded', output: 'fine after 10 ms' });
  });
});
