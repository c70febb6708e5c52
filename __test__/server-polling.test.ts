// Polling: `GET /predictions/{id}` and `GET /trainings/{id}` on real `cog-node serve` processes,
// through a prediction's life (the fixture runs until the test writes its gate file), waiting in
// the admission queue, and the retention of finished ones by count and by age.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, post, startServer, waitFor, waitForHealth, type ServerProcess } from './fixtures/server/harness.js';

let gates: string;
let counter = 0;

/** A fresh gate file path: the polling fixture's prediction runs until it exists. */
function gate(): string {
  counter += 1;
  return join(gates, `gate-${counter}`);
}

/** A gate that is open already: the prediction ends at once. */
function openGate(text = 'open'): string {
  const path = gate();
  writeFileSync(path, text);
  return path;
}

/** The raw body of `GET url`, with its status and content type. */
async function getText(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(url);
  return { status: response.status, text: await response.text(), type: response.headers.get('content-type') };
}

/** Polls `GET url` until the prediction's status is one of `statuses`; returns every status seen on the way and the last body. */
async function pollUntil(url: string, statuses: string[]): Promise<{ seen: string[]; body: any }> {
  const seen: string[] = [];
  const body = await waitFor(
    async () => {
      const { status, body } = await json(url);
      expect(status).toBe(200);
      if (seen.at(-1) !== body.status) seen.push(body.status);
      return statuses.includes(body.status) ? body : undefined;
    },
    `status ${statuses.join('|')} at ${url}`,
  );
  return { seen, body };
}

async function startReady(name: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServer(name, { env });
  await waitForHealth(server.url, ['READY']);
  return server;
}

beforeAll(() => {
  gates = mkdtempSync(join(tmpdir(), 'cog-node-polling-'));
});

afterAll(() => {
  rmSync(gates, { recursive: true, force: true });
});

describe('GET /predictions/{id} (default retention)', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startReady('polling');
  });
  afterAll(async () => {
    await server?.kill();
  });

  it('follows a prediction through its life: processing while it runs, then succeeded with its output', async () => {
    const door = gate();
    const created = await post(`${server.url}/predictions`, { id: 'life', input: { gate: door } }, { prefer: 'respond-async' });
    expect(created.status).toBe(202);

    const running = await pollUntil(`${server.url}/predictions/life`, ['processing']);
    // Never anything but `starting` before `processing`.
    expect(running.seen.filter((status) => status !== 'starting')).toEqual(['processing']);
    expect(running.body).toMatchObject({ id: 'life', status: 'processing', input: { gate: door, fail: false } });
    expect(running.body.output).toBeUndefined();
    expect(running.body.completed_at).toBeUndefined();
    expect(Number.isNaN(Date.parse(running.body.started_at))).toBe(false);
    // The logs so far are in the polled object (the fixture prints before it waits).
    await waitFor(async () => (await json(`${server.url}/predictions/life`)).body.logs.includes(`waiting for ${door}`), 'logs');

    writeFileSync(door, 'opened');
    const done = await pollUntil(`${server.url}/predictions/life`, ['succeeded', 'failed', 'canceled']);
    expect(done.body).toMatchObject({ id: 'life', status: 'succeeded', output: 'opened' });
    expect(typeof done.body.metrics.predict_time).toBe('number');
    expect(Date.parse(done.body.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.body.started_at));
    // A finished prediction stays the same when polled again.
    expect((await json(`${server.url}/predictions/life`)).body).toEqual(done.body);
  });

  it("answers a finished prediction with exactly the sync response's bytes", async () => {
    const response = await fetch(`${server.url}/predictions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'same-bytes', input: { gate: openGate('bytes') } }),
    });
    const synced = await response.text();
    expect(JSON.parse(synced)).toMatchObject({ status: 'succeeded', output: 'bytes' });
    const polled = await getText(`${server.url}/predictions/same-bytes`);
    expect(polled).toEqual({ status: 200, text: synced, type: 'application/json' });
  });

  it('keeps a failed prediction with its error', async () => {
    const sync = await post(`${server.url}/predictions`, { id: 'failed-one', input: { gate: openGate(), fail: true } });
    expect(sync.body.status).toBe('failed');
    const polled = await json(`${server.url}/predictions/failed-one`);
    expect(polled.status).toBe(200);
    expect(polled.body).toEqual(sync.body);
    expect(polled.body.error).toMatch(/^failing on purpose after /);
  });

  it('shows a canceled prediction as canceled', async () => {
    const created = await post(`${server.url}/predictions`, { id: 'to-cancel', input: { gate: gate() } }, { prefer: 'respond-async' });
    expect(created.status).toBe(202);
    await pollUntil(`${server.url}/predictions/to-cancel`, ['processing']);
    expect((await post(`${server.url}/predictions/to-cancel/cancel`)).status).toBe(200);
    const done = await pollUntil(`${server.url}/predictions/to-cancel`, ['succeeded', 'failed', 'canceled']);
    expect(done.body).toMatchObject({ id: 'to-cancel', status: 'canceled' });
    // Cancel answers for predictions in flight only; the poll still finds it.
    expect((await post(`${server.url}/predictions/to-cancel/cancel`)).status).toBe(404);
    expect((await json(`${server.url}/predictions/to-cancel`)).body.status).toBe('canceled');
  });

  it('masks secrets in a polled prediction, running and finished', async () => {
    const door = gate();
    await post(`${server.url}/predictions`, { id: 'secret', input: { gate: door, token: 'hunter2-hunter2' } }, { prefer: 'respond-async' });
    const running = await pollUntil(`${server.url}/predictions/secret`, ['processing']);
    expect(running.body.input.token).toBe('**********');
    writeFileSync(door, 'ok');
    await pollUntil(`${server.url}/predictions/secret`, ['succeeded']);
    const finished = await getText(`${server.url}/predictions/secret`);
    expect(JSON.parse(finished.text)).toMatchObject({ input: { token: '**********' }, output: 'ok (secret of 15 chars)' });
    expect(finished.text).not.toContain('hunter2');
  });

  it('answers 404 {} for an unknown id', async () => {
    const unknown = await getText(`${server.url}/predictions/nobody`);
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toEqual({});
    // The trainer's routes are not the predictor's: this server has no /trainings at all.
    expect((await json(`${server.url}/trainings/life`)).status).toBe(404);
  });

  it('a PUT of a finished id starts a new prediction (Cog: 202 with the state only for an id in flight)', async () => {
    const first = await post(`${server.url}/predictions`, { id: 'again', input: { gate: openGate('first') } });
    expect(first.body).toMatchObject({ status: 'succeeded', output: 'first' });
    const second = await json(`${server.url}/predictions/again`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: { gate: openGate('second') } }),
    });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ id: 'again', status: 'succeeded', output: 'second' });
    expect((await json(`${server.url}/predictions/again`)).body).toEqual(second.body);
  });

  it('refuses a cross-origin poll, as every route', async () => {
    const refused = await json(`${server.url}/predictions/life`, { headers: { origin: 'https://elsewhere.example' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toContain('COG_CORS_ORIGINS');
  });
});

describe('GET /predictions/{id} of a prediction waiting in the queue', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startReady('polling', { COG_MAX_CONCURRENCY: '1', COG_QUEUE_MAX: '2' });
  });
  afterAll(async () => {
    await server?.kill();
  });

  it('answers `starting` while it waits, `processing` once it runs, then its result', async () => {
    const first = gate();
    const second = gate();
    await post(`${server.url}/predictions`, { id: 'running', input: { gate: first } }, { prefer: 'respond-async' });
    await pollUntil(`${server.url}/predictions/running`, ['processing']);
    const queued = await post(`${server.url}/predictions`, { id: 'queued', input: { gate: second } }, { prefer: 'respond-async' });
    expect(queued.status).toBe(202);
    await waitFor(async () => ((await json(`${server.url}/health-check`)).body.queue.waiting === 1 ? true : undefined), '1 waiting');

    const waiting = await json(`${server.url}/predictions/queued`);
    expect(waiting.status).toBe(200);
    expect(waiting.body).toMatchObject({ id: 'queued', status: 'starting', input: { gate: second }, logs: '' });
    expect(waiting.body.started_at).toBeUndefined();
    expect(waiting.body.output).toBeUndefined();

    // It starts only when the one before it ends: open the first gate.
    writeFileSync(first, 'first');
    await pollUntil(`${server.url}/predictions/running`, ['succeeded']);
    const running = await pollUntil(`${server.url}/predictions/queued`, ['processing']);
    expect(running.body.started_at).toBeDefined();
    writeFileSync(second, 'second');
    const done = await pollUntil(`${server.url}/predictions/queued`, ['succeeded', 'failed', 'canceled']);
    expect(done.body).toMatchObject({ id: 'queued', status: 'succeeded', output: 'second' });
  });

  it('a waiting prediction that is cancelled polls `canceled`, and never ran', async () => {
    const first = gate();
    await post(`${server.url}/predictions`, { id: 'holder', input: { gate: first } }, { prefer: 'respond-async' });
    await pollUntil(`${server.url}/predictions/holder`, ['processing']);
    await post(`${server.url}/predictions`, { id: 'leaves', input: { gate: gate() } }, { prefer: 'respond-async' });
    expect((await json(`${server.url}/predictions/leaves`)).body.status).toBe('starting');
    expect((await post(`${server.url}/predictions/leaves/cancel`)).status).toBe(200);
    const canceled = await pollUntil(`${server.url}/predictions/leaves`, ['succeeded', 'failed', 'canceled']);
    expect(canceled.body.status).toBe('canceled');
    expect(canceled.body.started_at).toBeUndefined();
    expect(canceled.body.logs).toBe('');
    writeFileSync(first, 'x');
    await pollUntil(`${server.url}/predictions/holder`, ['succeeded']);
  });
});

describe('retention', () => {
  it('COG_PREDICTION_RETENTION=2: the third finished prediction evicts the first', async () => {
    const server = await startReady('polling', { COG_PREDICTION_RETENTION: '2' });
    try {
      for (const id of ['first', 'second', 'third']) {
        expect((await post(`${server.url}/predictions`, { id, input: { gate: openGate(id) } })).body.status).toBe('succeeded');
      }
      expect(await json(`${server.url}/predictions/first`)).toMatchObject({ status: 404, body: {} });
      expect(await json(`${server.url}/predictions/second`)).toMatchObject({ status: 200, body: { output: 'second' } });
      expect(await json(`${server.url}/predictions/third`)).toMatchObject({ status: 200, body: { output: 'third' } });
    } finally {
      await server.kill();
    }
  });

  it('COG_PREDICTION_RETENTION_SECONDS=3: a finished prediction is found, then gone once 3 s have passed', async () => {
    const server = await startReady('polling', { COG_PREDICTION_RETENTION_SECONDS: '3' });
    try {
      const sent = Date.now();
      expect((await post(`${server.url}/predictions`, { id: 'brief', input: { gate: openGate() } })).body.status).toBe('succeeded');
      expect((await json(`${server.url}/predictions/brief`)).status).toBe(200);
      await waitFor(async () => (await json(`${server.url}/predictions/brief`)).status === 404, 'the prediction to be evicted');
      // Kept at least its 3 s (counted from before the request was sent; the store's clock is monotonic).
      expect(Date.now() - sent).toBeGreaterThanOrEqual(2900);
      // A running prediction is found whatever its age: only finished ones are evicted.
      const door = gate();
      await post(`${server.url}/predictions`, { id: 'long', input: { gate: door } }, { prefer: 'respond-async' });
      await pollUntil(`${server.url}/predictions/long`, ['processing']);
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect((await json(`${server.url}/predictions/long`)).body.status).toBe('processing');
      writeFileSync(door, 'done');
      await pollUntil(`${server.url}/predictions/long`, ['succeeded']);
    } finally {
      await server.kill();
    }
  });

  it('COG_PREDICTION_RETENTION=0: only predictions in flight are found', async () => {
    const server = await startReady('polling', { COG_PREDICTION_RETENTION: '0' });
    try {
      const door = gate();
      await post(`${server.url}/predictions`, { id: 'in-flight', input: { gate: door } }, { prefer: 'respond-async' });
      await pollUntil(`${server.url}/predictions/in-flight`, ['processing']);
      writeFileSync(door, 'x');
      await waitFor(async () => (await json(`${server.url}/predictions/in-flight`)).status === 404, 'the finished prediction to be gone');
      expect((await post(`${server.url}/predictions`, { id: 'sync', input: { gate: openGate() } })).body.status).toBe('succeeded');
      expect(await json(`${server.url}/predictions/sync`)).toMatchObject({ status: 404, body: {} });
    } finally {
      await server.kill();
    }
  });
});

describe('GET /trainings/{id}', () => {
  it('polls a training while it runs and after it has finished', async () => {
    const server = await startReady('trainer');
    try {
      const created = await post(`${server.url}/trainings`, { id: 'train-1', input: { steps: 4, sleep: 4 } }, { prefer: 'respond-async' });
      expect(created.status).toBe(202);
      const running = await json(`${server.url}/trainings/train-1`);
      expect(running.status).toBe(200);
      expect(['starting', 'processing']).toContain(running.body.status);
      const done = await pollUntil(`${server.url}/trainings/train-1`, ['succeeded', 'failed', 'canceled']);
      expect(done.body).toMatchObject({ id: 'train-1', status: 'succeeded', output: { loss: 0.25 }, input: { steps: 4, sleep: 4 } });
      expect(done.body.logs).toContain('training for 4 steps');
      // Trainings and predictions are kept apart.
      expect(await json(`${server.url}/predictions/train-1`)).toMatchObject({ status: 404, body: {} });
      expect(await json(`${server.url}/trainings/nobody`)).toMatchObject({ status: 404, body: {} });
    } finally {
      await server.kill();
    }
  });
});
