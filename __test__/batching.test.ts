// Dynamic batching at the executor: `predictBatch` called once for a batch's predictions, in this
// thread and in a worker thread (the real transport), each item ending on its own; and the load
// checks of `static batch`. The server's batch forming is in server-batching.test.ts.
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, loadPredictor, type Inputs } from '../dist/index.js';
import { CancelToken } from '../dist/native/addon.js';
import type { ExecutionResult, ExecutionSink, PredictorExecutor } from '../dist/runtime/executor.js';
import { PredictorRuntime } from '../dist/runtime/runtime.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/server/batch/', import.meta.url));
const runtimes: PredictorRuntime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((runtime) => runtime.close()));
});

/** What one item's sink received. */
interface Received {
  sink: ExecutionSink;
  logs: string;
  metricEvents: string[];
}

function receiver(): Received {
  const received: Received = {
    logs: '',
    metricEvents: [],
    sink: {
      output: () => {
        throw new Error('a batch streams no output');
      },
      log: (text) => {
        received.logs += text;
      },
      metric: (event) => {
        received.metricEvents.push(event.name);
      },
    },
  };
  return received;
}

/** Runs one batch of these inputs; each item's token, sink and result. */
function runBatch(executor: PredictorExecutor, inputs: Record<string, unknown>[], contexts: Record<string, string>[] = []) {
  const tokens = inputs.map(() => new CancelToken());
  const received = inputs.map(receiver);
  const results: Promise<ExecutionResult>[] = executor.executeBatch(
    inputs.map((input, index) => ({ input: { ms: 0, ...input }, context: contexts[index], tokenId: tokens[index]!.id })),
    received.map(({ sink }) => sink),
  );
  return { tokens, received, results };
}

const executors: [string, () => Promise<PredictorExecutor>][] = [
  [
    'in this thread',
    async () => {
      const { Predictor } = (await import('./fixtures/server/batch/predict.js')) as { Predictor: typeof BasePredictor };
      const loaded = await loadPredictor(Predictor);
      runtimes.push(loaded.runtime);
      return loaded.runtime.executor;
    },
  ],
  [
    'in a worker thread',
    async () => {
      const runtime = PredictorRuntime.launch('predict.ts:Predictor', FIXTURE, 'predict');
      runtimes.push(runtime);
      await runtime.ready;
      return runtime.executor;
    },
  ],
];

describe.each(executors)('executeBatch %s', (_where, makeExecutor) => {
  it('calls predictBatch once: outputs in order, its logs and metrics to every item, batch_size and item scopes', async () => {
    const executor = await makeExecutor();
    const { received, results } = runBatch(
      executor,
      [{ text: 'a' }, { text: 'bbb' }, { text: 'cc' }],
      [{ tag: 'first' }, {}, { tag: 'third' }],
    );
    const ended = await Promise.all(results);
    expect(ended.map((result) => result.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
    expect(ended.map((result) => (result.status === 'succeeded' ? result.output : undefined))).toEqual([
      [1, 0],
      [3, 1],
      [2, 2],
    ]);
    expect(ended[0]!.metrics).toEqual({ batch_size: 3, forwards: 1, position: 0, tag: 'first' });
    expect(ended[1]!.metrics).toEqual({ batch_size: 3, forwards: 1, position: 1 });
    expect(ended[2]!.metrics).toEqual({ batch_size: 3, forwards: 1, position: 2, tag: 'third' });
    for (const item of received) {
      expect(item.logs).toBe('batch of 3: a,bbb,cc\nbatch signal aborted: false\n');
      expect(item.metricEvents).toContain('forwards');
    }
    // An item's own metric goes to its sink only.
    expect(received.map((item) => item.metricEvents.filter((name) => name === 'tag').length)).toEqual([1, 0, 1]);
  });

  it('an Error element or a bad output fails that item alone', async () => {
    const executor = await makeExecutor();
    const { received, results } = runBatch(executor, [{ text: 'fail' }, { text: 'ok' }, { text: 'bad-output' }]);
    const [failed, succeeded, bad] = await Promise.all(results);
    expect(failed).toMatchObject({ status: 'failed', error: 'cannot do fail', metrics: { batch_size: 3 } });
    expect(succeeded).toMatchObject({ status: 'succeeded', output: [2, 1] });
    expect(bad).toMatchObject({ status: 'failed', error: 'output must be array, got string' });
    // The Error's stack goes to its own item's logs.
    expect(received[0]!.logs).toContain('Error: cannot do fail\n    at ');
    expect(received[1]!.logs).not.toContain('cannot do fail');
  });

  it('a wrong-length array fails every item, naming both lengths; a throw fails every item', async () => {
    const executor = await makeExecutor();
    const short = runBatch(executor, [{ text: 'wrong-length' }, { text: 'x' }, { text: 'y' }]);
    for (const result of await Promise.all(short.results)) {
      expect(result).toMatchObject({
        status: 'failed',
        error: 'predictBatch returned 2 outputs for 3 inputs: it must return one output per input, in order',
      });
    }
    const thrown = runBatch(executor, [{ text: 'throw' }, { text: 'x' }]);
    for (const result of await Promise.all(thrown.results)) {
      expect(result).toMatchObject({ status: 'failed', error: 'the whole batch failed', metrics: { batch_size: 2 } });
    }
    for (const item of thrown.received) expect(item.logs).toContain('Error: the whole batch failed\n    at ');
  });

  it("cancelling one item leaves the batch's signal alone; cancelling every item aborts it", async () => {
    const executor = await makeExecutor();
    const one = runBatch(executor, [
      { text: 'stays', ms: 400 },
      { text: 'goes', ms: 400 },
    ]);
    one.tokens[1]!.cancel();
    executor.cancel(one.tokens[1]!.id);
    const [stays, goes] = await Promise.all(one.results);
    expect(stays).toMatchObject({ status: 'succeeded', output: [5, 0] });
    expect(goes!.status).toBe('canceled');
    expect(one.received[0]!.logs).toContain('batch signal aborted: false');

    // Every item cancelled: the batch's signal aborts and its 30 s hold ends early.
    const all = runBatch(executor, [
      { text: 'a', ms: 30_000 },
      { text: 'b', ms: 30_000 },
    ]);
    for (const token of all.tokens) {
      token.cancel();
      executor.cancel(token.id);
    }
    expect((await Promise.all(all.results)).map((result) => result.status)).toEqual(['canceled', 'canceled']);
    expect(all.received[0]!.logs).toContain('batch signal aborted: true');
  });
});

describe('a batching predictor run one prediction at a time', () => {
  it('runtime.start runs a batch of one through predictBatch', async () => {
    const runtime = PredictorRuntime.launch('predict.ts:Predictor', FIXTURE, 'predict');
    runtimes.push(runtime);
    await runtime.ready;
    const response = await runtime.start({ text: 'alone' }).done;
    expect(response).toMatchObject({ status: 'succeeded', output: [5, 0], logs: 'batch of 1: alone\nbatch signal aborted: false\n' });
    expect(response.metrics).toMatchObject({ batch_size: 1, forwards: 1, position: 0 });
  });
});

describe('static batch at load', () => {
  const inputs = { text: Input(Type.String()) };

  it('is checked: maxSize an integer >= 1, maxDelayMs a number >= 0, naming the field and the rule', async () => {
    const withBatch = (batch: unknown) =>
      class Bad extends BasePredictor {
        static inputs = inputs;
        static batch = batch;
        async predictBatch(items: Inputs<{ inputs: typeof inputs }>[]) {
          return items.map(({ text }) => text);
        }
      };
    await expect(loadPredictor(withBatch({ maxSize: 0, maxDelayMs: 5 }))).rejects.toThrow(
      'Bad: `batch.maxSize` must be an integer >= 1, got 0',
    );
    await expect(loadPredictor(withBatch({ maxSize: 2.5, maxDelayMs: 5 }))).rejects.toThrow(
      'Bad: `batch.maxSize` must be an integer >= 1, got 2.5',
    );
    await expect(loadPredictor(withBatch({ maxSize: 8, maxDelayMs: -1 }))).rejects.toThrow(
      'Bad: `batch.maxDelayMs` must be a number of milliseconds >= 0, got -1',
    );
    await expect(loadPredictor(withBatch({ maxSize: 8 }))).rejects.toThrow(
      'Bad: `batch.maxDelayMs` must be a number of milliseconds >= 0, got undefined',
    );
    await expect(loadPredictor(withBatch(8))).rejects.toThrow(
      'Bad: `batch` must be { maxSize: N, maxDelayMs: M } with N an integer >= 1 and M a number of milliseconds >= 0, got 8',
    );
    const good = await loadPredictor(withBatch({ maxSize: 8, maxDelayMs: 0 }));
    expect(good.runtime.target.batch).toEqual({ maxSize: 8, maxDelayMs: 0 });
    expect(await good.run({ text: 'ok' })).toBe('ok');
  });

  it('needs predictBatch, a whole output per input, a class, and a predictor (trainers do not batch)', async () => {
    class NoBatchMethod extends BasePredictor {
      static batch = { maxSize: 4, maxDelayMs: 5 };
      async predict() {
        return 'one';
      }
    }
    await expect(loadPredictor(NoBatchMethod)).rejects.toThrow(
      'NoBatchMethod: `static batch` needs a predictBatch(inputs) method, which the class does not define',
    );
    class Streamed extends BasePredictor {
      static batch = { maxSize: 4, maxDelayMs: 5 };
      static output = Type.Iterator(Type.String());
      async predictBatch() {
        return [];
      }
    }
    await expect(loadPredictor(Streamed)).rejects.toThrow(
      'Streamed: `static batch` cannot be used with an iterator output (Type.Iterator / Type.ConcatenateIterator): predictBatch returns one whole output per input',
    );
    const batchedFunction = Object.assign(async () => 'one', { batch: { maxSize: 4, maxDelayMs: 5 } });
    await expect(loadPredictor(batchedFunction)).rejects.toThrow(
      '`batch` needs a class with a predictBatch(inputs) method; a function predictor cannot batch',
    );
    class Trainer extends BasePredictor {
      static batch = { maxSize: 4, maxDelayMs: 5 };
      async train() {
        return 'trained';
      }
      async predictBatch() {
        return [];
      }
    }
    const { targetFrom } = await import('../dist/load/load-module.js');
    expect(() => targetFrom(Trainer, 'train', 'train.ts:Trainer')).toThrow(
      'train.ts:Trainer: trainers do not batch: remove `static batch` (got {"maxSize":4,"maxDelayMs":5})',
    );
  });
});
