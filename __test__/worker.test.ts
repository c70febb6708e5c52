// Predictors in a worker thread: the caller's event loop stays free, cancellation reaches busy
// loops, hung and crashed workers are replaced. Uses the built package, as a server would.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { AtCapacityError } from '../dist/index.js';
import { PredictorRuntime } from '../dist/runtime/runtime.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/worker/', import.meta.url));
const runtimes: PredictorRuntime[] = [];

function launch(name: string, options: ConstructorParameters<typeof PredictorRuntime>[2] = {}): PredictorRuntime {
  const runtime = PredictorRuntime.launch(`predictors.ts:${name}`, FIXTURES, 'predict', options);
  runtimes.push(runtime);
  return runtime;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
});

describe('a predictor in a worker thread', () => {
  it('reports STARTING while loading, then READY with the setup logs', async () => {
    const runtime = launch('Spinner');
    expect(runtime.health).toBe('STARTING');
    await runtime.ready;
    expect(runtime.health).toBe('READY');
    expect(runtime.setupState).toMatchObject({ status: 'succeeded', logs: 'setup #1\n' });
  });

  it("keeps the caller's event loop free during a synchronous loop", async () => {
    const runtime = launch('Spinner');
    await runtime.ready;
    const prediction = runtime.start({ mode: 'poll', seconds: 1.5 });
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 10);
    const response = await prediction.done;
    clearInterval(timer);
    expect(response.status).toBe('succeeded');
    // ~150 ticks fit in 1.5 s; a blocked loop would see none until the end.
    expect(ticks).toBeGreaterThan(30);
  });

  it('cancels a busy synchronous loop that polls scope.canceled', async () => {
    const runtime = launch('Spinner');
    await runtime.ready;
    const prediction = runtime.start({ mode: 'poll', seconds: 30 });
    await until(() => prediction.logs.includes('spinning'), 'the loop to start');
    prediction.cancel();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(response.metrics.predict_time as number).toBeLessThan(30);
    expect(runtime.health).toBe('READY');
  });

  it('ends canceled even when the predictor swallows CancelationError', async () => {
    const runtime = launch('Spinner');
    await runtime.ready;
    const prediction = runtime.start({ mode: 'swallow', seconds: 30 });
    await until(() => prediction.logs.includes('spinning'), 'the loop to start');
    prediction.cancel();
    expect((await prediction.done).status).toBe('canceled');
  });

  it('stops Rust work started for the prediction when it is cancelled', async () => {
    const runtime = launch('RustWaiter');
    await runtime.ready;
    const prediction = runtime.start({});
    await until(() => prediction.logs.includes('waiting in Rust'), 'the Rust wait to start');
    prediction.cancel();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(response.metrics.predict_time as number).toBeLessThan(60);
  });

  it('replaces a worker whose prediction ignores cancellation, and runs setup again', async () => {
    const runtime = launch('Spinner', { cancelGracePeriod: 0.5 });
    await runtime.ready;
    const prediction = runtime.start({ mode: 'ignore', seconds: 120 });
    await until(() => prediction.logs.includes('spinning'), 'the loop to start');
    prediction.cancel();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(runtime.health).toBe('STARTING');
    await until(() => runtime.health === 'READY', 'the new worker');
    expect(runtime.setupState.logs).toBe('setup #1\n');
    const next = await runtime.start({ mode: 'poll', seconds: 0.05 }).done;
    expect(next.status).toBe('succeeded');
  });

  it('fails only the prediction whose timer threw; a worker that exits fails what ran, says DEFUNCT, then recovers', async () => {
    const runtime = launch('Crasher');
    await runtime.ready;
    const setupAt = runtime.setupState.completed_at;
    // The timer was made inside the prediction: its error is that prediction's, the worker lives on.
    const thrown = await runtime.start({ how: 'throw' }).done;
    expect(thrown).toMatchObject({ status: 'failed', error: 'kaboom from a timer' });
    expect(thrown.logs).toContain('Error: kaboom from a timer\n    at ');
    expect(runtime.health).toBe('READY');
    expect(runtime.setupState.completed_at).toBe(setupAt);
    const exited = await runtime.start({ how: 'exit' }).done;
    expect(exited).toMatchObject({ status: 'failed', error: 'Worker crashed: exited with code 7' });
    expect(runtime.health).toBe('DEFUNCT');
    await until(() => runtime.health === 'READY', 'the next worker');
    expect((await runtime.start({ how: 'fine' }).done).output).toBe('fine');
  });

  it('a prediction cancelled before it reaches the worker is never run, and frees its slot at once', async () => {
    const runtime = launch('Concurrent');
    await runtime.ready;
    // Cancelled in the same turn as it started: its input is still being prepared (a CI race:
    // the cancel then went nowhere and the worker ran predict() with an already-aborted signal).
    const prediction = runtime.start({ tag: 'late', ms: 20_000 });
    prediction.cancel();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(response.logs).toBe('');
    expect(runtime.health).toBe('READY');
    expect((await runtime.start({ tag: 'next', ms: 30 }).done).output).toBe('next done (anonymous)');
  });

  it('a prediction cancelled after it was handed to the worker, before the worker ran it, is never run and frees its slot', async () => {
    const runtime = launch('Concurrent');
    await runtime.ready;
    // Its input is ready and its 'predict' on its way (it goes at the end of this turn): the
    // cancel overtakes neither, so the worker finds its token cancelled when the message comes.
    const prediction = runtime.start({ tag: 'late', ms: 60_000 });
    setImmediate(() => prediction.cancel());
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    // It never ran: deaf to its signal, it would have logged and held the slot for a minute.
    expect(response.logs).toBe('');
    await until(() => runtime.slots.inUse === 0, 'its slot to be free');
    expect((await runtime.start({ tag: 'next', ms: 30 }).done).output).toBe('next done (anonymous)');
  });

  it('predictions started in one turn reach the worker together, each with its own output and logs; a cancel right behind them reaches its own', async () => {
    const runtime = launch('Obedient', { concurrency: 8 });
    await runtime.ready;
    const tags = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
    const predictions = tags.map((tag) => runtime.start({ tag }, { context: { user: tag } }));
    // It would wait a minute, longer than `until` below, unless its cancel reaches it.
    const victim = runtime.start({ tag: 'victim', ms: 60_000 });
    setImmediate(() => victim.cancel());
    const responses = await Promise.all(predictions.map((prediction) => prediction.done));
    for (const [index, tag] of tags.entries()) {
      expect(responses[index]).toMatchObject({ status: 'succeeded', output: `${tag} done (${tag})`, logs: `${tag} waits\n` });
    }
    expect((await victim.done).status).toBe('canceled');
    await until(() => runtime.slots.inUse === 0, 'the cancelled prediction to free its slot');
    expect((await runtime.start({ tag: 'next' }).done).output).toBe('next done (anonymous)');
  });

  it('results that end in one turn travel together: a refused output or one the clone refuses fails alone, each keeps its own output, error and metrics', async () => {
    const runtime = launch('Unsendable', { concurrency: 4 });
    await runtime.ready;
    // Same wait: they end in one turn of the worker, so their results go in one message.
    const shapes = ['plain', 'refused', 'port', 'plain'];
    const predictions = shapes.map((shape) => runtime.start({ shape, ms: 30 }));
    const [first, refused, port, last] = await Promise.all(predictions.map((prediction) => prediction.done));
    for (const response of [first, last]) {
      expect(response).toMatchObject({ status: 'succeeded', output: { plain: 'value' }, metrics: { shape: 'plain' } });
    }
    expect(refused).toMatchObject({ status: 'failed', metrics: { shape: 'refused' } });
    expect(refused!.error).toContain('output.cache cannot be encoded');
    // The check lets it by; posting it fails, and fails this prediction only.
    expect(port!.status).toBe('failed');
    expect(port!.error).toContain('transferList');
    // The worker goes on: the next prediction runs as usual.
    expect((await runtime.start({ shape: 'plain', ms: 1 }).done).output).toEqual({ plain: 'value' });
    expect(runtime.health).toBe('READY');
  });

  it('interleaves async predictions up to the concurrency limit, refusing the next', async () => {
    const runtime = launch('Concurrent', { concurrency: 3 });
    await runtime.ready;
    const predictions = ['a', 'b', 'c'].map((tag) => runtime.start({ tag, ms: 600 }, { context: { user: tag.toUpperCase() } }));
    expect(() => runtime.start({ tag: 'd' })).toThrow(AtCapacityError);
    const responses = await Promise.all(predictions.map((prediction) => prediction.done));
    for (const [index, tag] of ['a', 'b', 'c'].entries()) {
      const response = responses[index]!;
      expect(response.output).toBe(`${tag} done (${tag.toUpperCase()})`);
      // Each prediction's logs and metrics hold only its own lines, though they interleaved.
      expect(response.logs).toBe(`${tag} step 0\n${tag} step 1\n${tag} step 2\n`);
      expect(response.metrics.steps).toBe(3);
    }
    const started = responses.map((response) => Date.parse(response.started_at!));
    const completed = responses.map((response) => Date.parse(response.completed_at!));
    expect(Math.max(...started)).toBeLessThan(Math.min(...completed));
  });

  it('streams many generator items through the backpressure window, in order', async () => {
    const runtime = launch('Streamer');
    await runtime.ready;
    const prediction = runtime.start({ count: 1000 });
    const seen: number[] = [];
    prediction.on('output', (chunk) => seen.push(chunk as number));
    const response = await prediction.done;
    expect(response.status).toBe('succeeded');
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(response.output).toEqual(seen);
  });

  it('hands each item of a burst over while the generator then computes or waits: batching holds none back', async () => {
    const runtime = launch('Burster');
    await runtime.ready;
    // A short burst then synchronous work (no event loop turn in the worker), and a long fast
    // burst (batched) then an await: the host must see every item before the generator goes on.
    for (const [mode, burst] of [
      ['sync', 5],
      ['async', 200],
    ] as const) {
      const prediction = runtime.start({ mode, burst });
      const seen: number[] = [];
      prediction.on('output', (item) => {
        seen.push(item as number);
        if (seen.length === burst) prediction.cancel();
      });
      const response = await prediction.done;
      expect(response.status).toBe('canceled');
      expect(seen).toEqual(Array.from({ length: burst }, (_, i) => i));
    }
  });

  it("fails setup of a sync predictor with concurrency > 1, with Cog's message", async () => {
    const runtime = launch('SyncOnly', { concurrency: 2 });
    await expect(runtime.ready).rejects.toThrow('COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method');
    expect(runtime.health).toBe('SETUP_FAILED');
  });

  it('reports a predictor that cannot be imported as SETUP_FAILED', async () => {
    const runtime = PredictorRuntime.launch('missing.ts:Predictor', FIXTURES, 'predict');
    runtimes.push(runtime);
    await expect(runtime.ready).rejects.toThrow('file not found');
    expect(runtime.health).toBe('SETUP_FAILED');
    expect(runtime.setupState.error).toContain('missing.ts');
  });
});
