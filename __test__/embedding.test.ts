// Embedding a predictor in an app: loadPredictor (class, folder with cog.yaml, file.ts:Name,
// function), setup, run/predict/stream/start, cancellation through AbortSignal, context.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AtCapacityError,
  BasePredictor,
  BaseRunner,
  CancelationError,
  Input,
  Path,
  PredictionError,
  PredictorLoadError,
  Type,
  loadPredictor,
  type Inputs,
  type PredictionResponse,
} from '../src/index.js';
import { registeredCancelTokens } from '../src/native/addon.js';

const app = fileURLToPath(new URL('./fixtures/embed/app', import.meta.url));

/** A promise with its resolve function, to let a test and a predictor take turns. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Waits for the prediction's cancellation (which may already have happened), then throws its reason. */
function untilCanceled(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

const outputs: string[] = [];
afterEach(async () => {
  // Output files the fixture predictors wrote into fresh temp folders.
  await Promise.all(outputs.splice(0).map((file) => rm(dirname(file), { recursive: true, force: true })));
});

async function textOf(output: unknown): Promise<string> {
  expect(output).toBeInstanceOf(Path);
  const path = (output as Path).path;
  outputs.push(path);
  return readFile(path, 'utf8');
}

describe('loadPredictor', () => {
  it('a class: setup runs once, before any prediction, and state persists', async () => {
    const calls: string[] = [];
    class Counter extends BasePredictor {
      static output = Type.Integer();
      count = 0;
      async setup(): Promise<void> {
        calls.push('setup');
        this.count = 100;
      }
      async predict(): Promise<number> {
        calls.push('predict');
        return ++this.count;
      }
    }
    const counter = await loadPredictor(Counter, { concurrency: 2 });
    expect(calls).toEqual(['setup']);
    expect(await counter.run()).toBe(101);
    expect(await counter.run()).toBe(102);
    expect(calls).toEqual(['setup', 'predict', 'predict']);
  });

  it("a folder holding cog.yaml: its predict target, its concurrency, and the file's own imports of cog-node", async () => {
    const predictor = await loadPredictor(app);
    const response = await predictor.predict({ text: 'hello' }, { context: { suffix: '!' } });
    expect(response.status, response.error).toBe('succeeded');
    // Metrics and Path come from the predictor file's own copy of the modules.
    expect(response.metrics).toEqual({ chars: 5, predict_time: expect.any(Number), queue_time: expect.any(Number) });
    expect(await textOf(response.output)).toBe('hello!');
    expect(response.logs).toBe('writing 5 characters\n');

    // concurrency.max: 2 → two predictions in flight, a third is refused.
    const controllers = [new AbortController(), new AbortController()];
    const held = controllers.map((controller) => predictor.start({ text: 'x', hold: true }, { signal: controller.signal }));
    expect(() => predictor.start({ text: 'y' })).toThrow(AtCapacityError);
    for (const controller of controllers) controller.abort();
    expect((await Promise.all(held.map((prediction) => prediction.done))).map((r) => r.status)).toEqual(['canceled', 'canceled']);
  });

  it("a folder's trainer, with { train: true }", async () => {
    const trainer = await loadPredictor(app, { train: true });
    const response = await trainer.predict({ steps: 2 });
    expect(response.status, response.error).toBe('succeeded');
    const output = response.output as { weights: Path; steps: number };
    expect(output.steps).toBe(2);
    expect(output.weights).toBeInstanceOf(Path);
    outputs.push(output.weights.path);
    expect([...(await output.weights.read())]).toEqual([1, 2, 3]);
    expect(response.metrics.step).toBe(2);
  });

  it("'file.ts:Name', 'file.ts' (Predictor by default) and a function export", async () => {
    const shouter = await loadPredictor(`${app}/predict.ts:Shouter`);
    expect(await shouter.run({ text: 'quiet' })).toBe('QUIET');
    const byDefault = await loadPredictor(`${app}/predict.ts`);
    expect(await textOf(await byDefault.run({ text: 'default' }))).toBe('default');
    const reverse = await loadPredictor(`${app}/predict.ts:reverse`);
    expect(await reverse.run({ text: 'abc' })).toBe('cba');
    expect((reverse.schema.components as { schemas: { Input: { required: string[] } } }).schemas.Input.required).toEqual(['text']);
  });

  it('a function with .inputs and .output attached; also an async generator function', async () => {
    const shout = Object.assign(({ text }: { text: string }) => text.toUpperCase(), {
      inputs: { text: Type.String() },
      output: Type.String(),
    });
    expect(await (await loadPredictor(shout)).run({ text: 'hi' })).toBe('HI');

    const words = Object.assign(
      async function* ({ text }: { text: string }) {
        for (const word of text.split(' ')) yield word;
      },
      { inputs: { text: Type.String() }, output: Type.Iterator(Type.String()) },
    );
    const streamed = await loadPredictor(words, { concurrency: 2 });
    expect(await streamed.run({ text: 'one two three' })).toEqual(['one', 'two', 'three']);

    const train = Object.assign(({ epochs }: { epochs: number }) => ({ epochs }), {
      inputs: { epochs: Type.Integer() },
      output: Type.Object({ epochs: Type.Integer() }),
    });
    expect(await (await loadPredictor(train, { train: true })).run({ epochs: 3 })).toEqual({ epochs: 3 });
  });

  it("BaseRunner with run() (Cog 0.20's names)", async () => {
    class Runner extends BaseRunner {
      static inputs = { n: Type.Integer() };
      static output = Type.Integer();
      run({ n }: { n: number }): number {
        return n * 2;
      }
    }
    expect(await (await loadPredictor(Runner)).run({ n: 21 })).toBe(42);
  });

  it('a class with both run() and predict(), or neither, is rejected', async () => {
    class Both extends BasePredictor {
      run(): string {
        return 'run';
      }
      predict(): string {
        return 'predict';
      }
    }
    await expect(loadPredictor(Both)).rejects.toThrow('Both: must define either run() or predict(), not both');
    class Neither extends BasePredictor {}
    await expect(loadPredictor(Neither)).rejects.toThrow('Neither: run or predict method not found');
  });

  it("concurrency > 1 with a sync predict fails setup with Cog's message", async () => {
    class Sync extends BasePredictor {
      predict(): string {
        return 'sync';
      }
    }
    await expect(loadPredictor(Sync, { concurrency: 2 })).rejects.toThrow(
      'COG_MAX_CONCURRENCY > 1 requires an async run() or predict() method',
    );
    // One slot is fine.
    expect(await (await loadPredictor(Sync)).run()).toBe('sync');
  });

  it('a failing setup rejects loadPredictor with its error', async () => {
    class Broken extends BasePredictor {
      setup(): void {
        throw new Error('weights are missing');
      }
      predict(): string {
        return 'unreachable';
      }
    }
    await expect(loadPredictor(Broken)).rejects.toThrow('weights are missing');
  });

  describe('setup timeout', () => {
    const previous = process.env.COG_SETUP_TIMEOUT;
    afterEach(() => {
      if (previous === undefined) delete process.env.COG_SETUP_TIMEOUT;
      else process.env.COG_SETUP_TIMEOUT = previous;
    });
    class Stuck extends BasePredictor {
      setup(): Promise<void> {
        return new Promise(() => undefined);
      }
      predict(): string {
        return 'unreachable';
      }
    }

    it('the setupTimeout option (seconds)', async () => {
      await expect(loadPredictor(Stuck, { setupTimeout: 0.05 })).rejects.toThrow('Setup timed out after 0.05 seconds');
    });

    it('COG_SETUP_TIMEOUT', async () => {
      process.env.COG_SETUP_TIMEOUT = '0.05';
      await expect(loadPredictor(Stuck)).rejects.toThrow('Setup timed out after 0.05 seconds');
    });
  });

  describe('setup(weights)', () => {
    const previous = process.env.COG_WEIGHTS;
    afterEach(() => {
      if (previous === undefined) delete process.env.COG_WEIGHTS;
      else process.env.COG_WEIGHTS = previous;
    });
    class Weighted extends BasePredictor {
      static output = Type.String();
      weights: string | undefined = 'setup not run';
      setup(weights?: string): void {
        this.weights = weights;
      }
      predict(): string {
        return this.weights ?? 'no weights';
      }
    }

    it('gets COG_WEIGHTS, or the weights option, which wins; nothing when neither is set', async () => {
      delete process.env.COG_WEIGHTS;
      expect(await (await loadPredictor(Weighted)).run()).toBe('no weights');
      process.env.COG_WEIGHTS = 'https://example.com/weights.tar';
      expect(await (await loadPredictor(Weighted)).run()).toBe('https://example.com/weights.tar');
      expect(await (await loadPredictor(Weighted, { weights: '/models/local.bin' })).run()).toBe('/models/local.bin');
    });

    it('reaches a predictor loaded from a file too', async () => {
      process.env.COG_WEIGHTS = '/weights/from-env';
      expect(await (await loadPredictor(`${app}/predict.ts:Weights`)).run()).toBe('/weights/from-env');
      expect(await (await loadPredictor(`${app}/predict.ts:Weights`, { weights: '/weights/option' })).run()).toBe('/weights/option');
    });
  });

  it('a missing file, a missing export, and a folder without cog.yaml are load errors', async () => {
    await expect(loadPredictor(`${app}/nope.ts:Predictor`)).rejects.toThrow(PredictorLoadError);
    await expect(loadPredictor(`${app}/predict.ts:Nope`)).rejects.toThrow(/exports no Nope/);
    const error = await loadPredictor(fileURLToPath(new URL('./fixtures', import.meta.url))).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(PredictorLoadError);
    expect((error as Error).message).toMatch(/cog\.yaml: not found/);
  });
});

describe('run() and predict()', () => {
  class Divider extends BasePredictor {
    static inputs = { a: Type.Number(), b: Input(Type.Number(), { default: 1 }) };
    static output = Type.Number();
    async predict({ a, b }: Inputs<typeof Divider>): Promise<number> {
      console.log(`dividing ${a} by ${b}`);
      if (b === 0) throw new Error('division by zero');
      return a / b;
    }
  }

  it('run() returns the output; predict() the whole prediction object', async () => {
    const divider = await loadPredictor(Divider, { concurrency: 2 });
    expect(await divider.run({ a: 6, b: 3 })).toBe(2);
    const response = await divider.predict({ a: 1, b: 4 }, { id: 'my-id' });
    expect(response).toEqual({
      id: 'my-id',
      status: 'succeeded',
      input: { a: 1, b: 4 },
      output: 0.25,
      logs: 'dividing 1 by 4\n',
      metrics: { predict_time: expect.any(Number), queue_time: expect.any(Number) },
      created_at: expect.any(String),
      started_at: expect.any(String),
      completed_at: expect.any(String),
    });
  });

  it('run() throws PredictionError on failure, with the failed prediction on it', async () => {
    const divider = await loadPredictor(Divider, { concurrency: 2 });
    const error = await divider.run({ a: 1, b: 0 }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(PredictionError);
    expect((error as PredictionError).message).toContain('division by zero');
    const prediction = (error as PredictionError).prediction;
    expect(prediction.status).toBe('failed');
    expect(prediction.error).toContain('division by zero');
    expect(prediction.logs).toContain('dividing 1 by 0');
    // predict() reports the same failure as a status.
    expect((await divider.predict({ a: 1, b: 0 })).status).toBe('failed');
  });

  it('a sync predictor runs back to back on its one slot', async () => {
    class Sync extends BasePredictor {
      static output = Type.String();
      predict(): string {
        return 'done';
      }
    }
    const sync = await loadPredictor(Sync);
    // The slot of a finished prediction is free once its result is in the caller's hands.
    expect(await sync.run()).toBe('done');
    expect(await sync.run()).toBe('done');
  });

  it("whatever predict() returns ends it: a value, a promise, a thenable; a sync throw and a thenable's rejection fail it", async () => {
    class Shapes extends BasePredictor {
      static inputs = { shape: Type.String() };
      static output = Type.String();
      predict({ shape }: { shape: string }): unknown {
        if (shape === 'value') return 'a value';
        if (shape === 'promise') return Promise.resolve('a promise');
        if (shape === 'thenable') return { then: (resolve: (value: string) => void) => setTimeout(() => resolve('a thenable'), 5) };
        if (shape === 'bad-thenable')
          return { then: (_: unknown, reject: (error: Error) => void) => reject(new Error('thenable said no')) };
        throw new Error('thrown at once');
      }
    }
    const shapes = await loadPredictor(Shapes);
    expect(await shapes.run({ shape: 'value' })).toBe('a value');
    expect(await shapes.run({ shape: 'promise' })).toBe('a promise');
    expect(await shapes.run({ shape: 'thenable' })).toBe('a thenable');
    expect(await shapes.predict({ shape: 'bad-thenable' })).toMatchObject({ status: 'failed', error: 'thenable said no' });
    const thrown = await shapes.predict({ shape: 'throw' });
    expect(thrown).toMatchObject({ status: 'failed', error: 'thrown at once' });
    // The stack goes to the prediction's logs, as for an async throw.
    expect(thrown.logs).toContain('Error: thrown at once');
    // The output is still checked on the way out: a value that breaks `static output` fails.
    class Wrong extends BasePredictor {
      static output = Type.String();
      predict(): unknown {
        return 42;
      }
    }
    expect((await (await loadPredictor(Wrong)).predict()).status).toBe('failed');
  });

  it('predict() rejects (it does not throw synchronously) on invalid input', async () => {
    const divider = await loadPredictor(Divider, { concurrency: 2 });
    let promise: Promise<PredictionResponse> | undefined;
    expect(() => {
      promise = divider.predict({ b: 2 });
    }).not.toThrow();
    await expect(promise).rejects.toThrow('a: Field required');
  });

  it('context reaches this.scope.context (empty when none is given)', async () => {
    class Context extends BasePredictor {
      static output = Type.Unknown();
      async predict(): Promise<unknown> {
        return { ...this.scope.context };
      }
    }
    const context = await loadPredictor(Context, { concurrency: 2 });
    expect(await context.run({}, { context: { user: 'u1', region: 'eu' } })).toEqual({ user: 'u1', region: 'eu' });
    expect(await context.run()).toEqual({});
  });
});

describe("a prediction's cancel token", () => {
  it('made only when asked for: asked for by abandoned work after the prediction ended canceled, it is cancelled; none stays registered', async () => {
    const before = registeredCancelTokens();
    const started = deferred();
    const deaf = deferred();
    const late = deferred<{ token: boolean; scope: boolean }>();
    class Deaf extends BasePredictor {
      static output = Type.String();
      async predict(): Promise<string> {
        started.resolve();
        // Deaf to its signal: abandoned ~100 ms after the cancel, and then it goes on.
        await deaf.promise;
        late.resolve({ token: this.scope.cancelToken?.canceled === true, scope: this.scope.canceled });
        return 'late';
      }
    }
    const prediction = (await loadPredictor(Deaf)).start({});
    await started.promise;
    prediction.cancel();
    expect((await prediction.done).status).toBe('canceled');
    deaf.resolve();
    expect(await late.promise).toEqual({ token: true, scope: true });
    // Asked for after the end, the prediction's own token says what its flag said.
    expect(prediction.token.canceled).toBe(true);
    expect(registeredCancelTokens()).toBe(before);
  });
});

describe('cancellation through an AbortSignal', () => {
  it('mid-run: an async predictor awaiting scope.signal ends canceled; run() throws CancelationError', async () => {
    const started = deferred();
    const seen = deferred<{ canceled: boolean; reason: unknown }>();
    class Waits extends BasePredictor {
      static output = Type.String();
      async predict(): Promise<string> {
        started.resolve();
        try {
          return await untilCanceled(this.scope.signal);
        } catch (error) {
          seen.resolve({ canceled: this.scope.canceled, reason: error });
          throw error;
        }
      }
    }
    const waits = await loadPredictor(Waits);
    const controller = new AbortController();
    const run = waits.run({}, { signal: controller.signal });
    await started.promise;
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(CancelationError);
    const { canceled, reason } = await seen.promise;
    expect(canceled).toBe(true);
    expect(reason).toBeInstanceOf(CancelationError);
  });

  it('a predictor that swallows the CancelationError still ends canceled', async () => {
    const started = deferred();
    class Swallows extends BasePredictor {
      static output = Type.String();
      async predict(): Promise<string> {
        started.resolve();
        try {
          await untilCanceled(this.scope.signal);
        } catch {
          // Ignored on purpose.
        }
        return 'finished anyway';
      }
    }
    const swallows = await loadPredictor(Swallows);
    const controller = new AbortController();
    const prediction = swallows.start({}, { signal: controller.signal });
    await started.promise;
    controller.abort();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(response.output).toBeUndefined();
    expect(response.metrics.predict_time).toEqual(expect.any(Number));
  });

  it('Rust work started for the prediction (the cancel token) stops when cancelled', async () => {
    const started = deferred();
    class Sleeps extends BasePredictor {
      static output = Type.String();
      async predict(): Promise<string> {
        started.resolve();
        await this.scope.cancelToken!.sleep(60_000);
        return 'slept';
      }
    }
    const sleeps = await loadPredictor(Sleeps);
    const controller = new AbortController();
    const run = sleeps.run({}, { signal: controller.signal });
    await started.promise;
    controller.abort();
    await expect(run).rejects.toBeInstanceOf(CancelationError);
  });

  it('a sync predictor sees scope.canceled and throwIfCanceled() when the signal was already aborted', async () => {
    class Checks extends BasePredictor {
      static output = Type.String();
      predict(): string {
        this.scope.throwIfCanceled();
        return 'not canceled';
      }
    }
    const checks = await loadPredictor(Checks);
    await expect(checks.run({}, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(CancelationError);
  });

  it('prediction.cancel() from start() works the same way', async () => {
    const started = deferred();
    class Waits extends BasePredictor {
      async predict(): Promise<string> {
        started.resolve();
        return untilCanceled(this.scope.signal);
      }
    }
    const waits = await loadPredictor(Waits);
    const prediction = waits.start();
    await started.promise;
    prediction.cancel();
    expect((await prediction.done).status).toBe('canceled');
  });
});

// A stream that never ends would otherwise hold each test for the default 30 s.
describe('stream()', { timeout: 3000 }, () => {
  it('a fast generator whose Rust token alone is cancelled (as from another thread) takes at most 33 more steps', async () => {
    let afterCancel = -1;
    class Endless extends BasePredictor {
      static output = Type.Iterator(Type.Integer());
      async *predict(): AsyncGenerator<number> {
        for (let i = 0; ; i++) {
          if (afterCancel >= 0) afterCancel += 1;
          yield i;
        }
      }
    }
    const prediction = (await loadPredictor(Endless)).start({});
    prediction.on('output', (_item, index) => {
      // The token only, not the prediction: the executor's own cancel is not told.
      if (index === 1000) {
        prediction.token.cancel();
        afterCancel = 0;
      }
    });
    expect((await prediction.done).status).toBe('canceled');
    // The token is read after each slow step and at least every 32 quick ones.
    expect(afterCancel).toBeGreaterThanOrEqual(0);
    expect(afterCancel).toBeLessThanOrEqual(33);
  });

  it('yields the items of a sync generator in order', async () => {
    class Count extends BasePredictor {
      static inputs = { n: Type.Integer() };
      static output = Type.Iterator(Type.Integer());
      *predict({ n }: { n: number }): Generator<number> {
        for (let i = 1; i <= n; i++) yield i;
      }
    }
    const items: unknown[] = [];
    for await (const item of (await loadPredictor(Count)).stream({ n: 5 })) items.push(item);
    expect(items).toEqual([1, 2, 3, 4, 5]);
  });

  it('yields each item of an async generator as it comes, before the next one exists', async () => {
    const gate = deferred();
    class Talks extends BasePredictor {
      static output = Type.ConcatenateIterator(Type.String());
      async *predict(): AsyncGenerator<string> {
        yield 'first ';
        // Only the consumer can open the gate, after it received 'first ': a stream that waited
        // for the end would never get here.
        await gate.promise;
        yield 'second';
      }
    }
    const items: unknown[] = [];
    for await (const item of (await loadPredictor(Talks)).stream()) {
      items.push(item);
      if (item === 'first ') gate.resolve();
    }
    expect(items).toEqual(['first ', 'second']);
  });

  it('leaving the for-await loop early cancels the prediction', async () => {
    const ended = deferred<{ canceled: boolean; produced: number }>();
    class Endless extends BasePredictor {
      static output = Type.Iterator(Type.Integer());
      async *predict(): AsyncGenerator<number> {
        let produced = 0;
        try {
          for (;;) {
            yield produced++;
            await new Promise((resolve) => setImmediate(resolve));
          }
        } finally {
          ended.resolve({ canceled: this.scope.canceled, produced });
        }
      }
    }
    const endless = await loadPredictor(Endless);
    const items: unknown[] = [];
    for await (const item of endless.stream()) {
      items.push(item);
      if (items.length === 3) break;
    }
    expect(items).toEqual([0, 1, 2]);
    const { canceled } = await ended.promise;
    expect(canceled).toBe(true);
  });

  it('a generator that fails mid-stream: the items so far, then PredictionError', async () => {
    class Fails extends BasePredictor {
      static output = Type.Iterator(Type.String());
      *predict(): Generator<string> {
        yield 'a';
        yield 'b';
        throw new Error('ran out of tokens');
      }
    }
    const items: unknown[] = [];
    const error = await (async () => {
      for await (const item of (await loadPredictor(Fails)).stream()) items.push(item);
    })().catch((reason: unknown) => reason);
    expect(items).toEqual(['a', 'b']);
    expect(error).toBeInstanceOf(PredictionError);
    expect((error as PredictionError).prediction.output).toEqual(['a', 'b']);
  });

  it('a single (non-iterator) output is one item', async () => {
    class Single extends BasePredictor {
      static output = Type.String();
      predict(): string {
        return 'only';
      }
    }
    const items: unknown[] = [];
    for await (const item of (await loadPredictor(Single)).stream()) items.push(item);
    expect(items).toEqual(['only']);
  });

  it('start(): events for start, each output, logs, metrics and completion', async () => {
    class Eventful extends BasePredictor {
      static output = Type.Iterator(Type.String());
      *predict(): Generator<string> {
        console.log('one');
        this.recordMetric('n', 1, 'incr');
        yield 'x';
        yield 'y';
      }
    }
    const prediction = (await loadPredictor(Eventful)).start({}, { id: 'evented' });
    const events: unknown[][] = [];
    prediction.on('start', () => events.push(['start']));
    prediction.on('output', (chunk, index) => events.push(['output', chunk, index]));
    prediction.on('log', (data, source) => events.push(['log', data, source]));
    prediction.on('metric', (event) => events.push(['metric', event]));
    prediction.on('completed', (response) => events.push(['completed', response.status]));
    const response = await prediction.done;
    expect(prediction.id).toBe('evented');
    expect(response.output).toEqual(['x', 'y']);
    // 'start' fired inside start(), before a listener could be added.
    expect(events).toEqual([
      ['log', 'one\n', 'stdout'],
      ['metric', { name: 'n', value: 1, mode: 'increment' }],
      ['output', 'x', 0],
      ['output', 'y', 1],
      ['completed', 'succeeded'],
    ]);
  });
});

it('no output file of the fixture predictors is left behind by these tests', () => {
  expect(outputs.filter((file) => existsSync(file))).toEqual([]);
});
