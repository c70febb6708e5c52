// Metrics as Cog's record_metric/scope define them (cog-reference.md §1.8): modes, dotted keys,
// deletes, the type lock, name rules, dict-style scope.metrics, no-op scope outside a prediction,
// and isolation between concurrent predictions.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BasePredictor,
  Input,
  Type,
  currentScope,
  loadPredictor,
  type Inputs,
  type LoadedPredictor,
  type MetricEvent,
  type MetricValue,
} from '../src/index.js';

/** Waits for the prediction's cancellation (which may already have happened), then throws its reason. */
function untilCanceled(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

type Scenario = (predictor: Metrics) => void;

/** Each scenario is a few metric calls made inside one prediction. */
const scenarios: Record<string, Scenario> = {
  replace: (p) => {
    p.recordMetric('temperature', 0.7);
    p.recordMetric('temperature', 0.9);
    p.recordMetric('model', 'small');
    p.recordMetric('cached', true);
    p.recordMetric('shape', [1, 3, 512, 512]);
    p.recordMetric('config', { steps: 20, sampler: 'ddim' });
  },
  incr: (p) => {
    p.recordMetric('token_count', 1, 'incr');
    p.recordMetric('token_count', 1, 'incr');
    p.recordMetric('token_count', 40, 'incr');
    p.recordMetric('seconds', 0.25, 'incr');
    p.recordMetric('seconds', 0.5, 'incr');
    p.scope.recordMetric('aliased', 2, 'increment');
    p.scope.recordMetric('aliased', 3, 'increment');
  },
  append: (p) => {
    p.recordMetric('steps', 'preprocessing', 'append');
    p.recordMetric('steps', 'inference', 'append');
    p.recordMetric('losses', { epoch: 1 }, 'append');
    p.recordMetric('single', 'first');
    p.recordMetric('single', 'second', 'append');
  },
  dotted: (p) => {
    p.recordMetric('timing.preprocess', 0.12);
    p.recordMetric('timing.inference', 1.5);
    p.recordMetric('timing.detail.tokens', 3, 'incr');
    p.recordMetric('timing.detail.tokens', 4, 'incr');
    p.recordMetric('a.b.c.d', 'deep');
    p.recordMetric('flat', 1);
    // An intermediate value that is not an object becomes one.
    p.recordMetric('flat.child', 2);
  },
  deletes: (p) => {
    p.recordMetric('gone', 1);
    p.recordMetric('gone', null);
    p.recordMetric('timing.keep', 1);
    p.recordMetric('timing.drop', 2);
    p.recordMetric('timing.drop', null);
    p.recordMetric('never_set', null);
    p.recordMetric('never.set.at.all', null);
    // After a delete the type may change.
    p.recordMetric('retyped', 1);
    p.recordMetric('retyped', null);
    p.recordMetric('retyped', 'now a string');
  },
  dictStyle: (p) => {
    const metrics = p.scope.metrics;
    metrics.tokens = 5;
    metrics['timing.total'] = 2.5;
    metrics.doomed = true;
    delete metrics.doomed;
    metrics.record('steps', 'a', 'append');
    metrics.record('steps', 'b', 'append');
    metrics.record('count', 2, 'incr');
    metrics.temporary = 'x';
    metrics.delete('temporary');
    // Reads see what was recorded.
    const keys = Object.keys(metrics).join(',');
    p.recordMetric('read.tokens', metrics.tokens as number);
    p.recordMetric('read.has_tokens', 'tokens' in metrics);
    p.recordMetric('read.has_doomed', 'doomed' in metrics);
    p.recordMetric('read.keys', keys);
  },
  copies: (p) => {
    const shape = [1, 2];
    const config = { steps: 1 };
    p.recordMetric('shape', shape);
    p.recordMetric('config', config);
    shape.push(3);
    config.steps = 99;
  },
};

class Metrics extends BasePredictor {
  static inputs = {
    scenario: Input(Type.String(), { description: 'Which scenario to run' }),
    fail: Input(Type.Boolean(), { default: false }),
  };
  static output = Type.String();

  async predict({ scenario, fail }: Inputs<typeof Metrics>): Promise<string> {
    scenarios[scenario]!(this);
    if (fail) throw new Error('failing on purpose');
    return scenario;
  }
}

/** Calls recordMetric with whatever a test gives it, so that wrong names and types reach the runtime. */
class Raw extends BasePredictor {
  static inputs = {
    key: Type.String(),
    value: Type.Unknown(),
    mode: Input(Type.String(), { default: 'replace' }),
    first: Type.Optional(Type.Unknown()),
  };
  static output = Type.String();

  async predict({ key, value, mode, first }: Inputs<typeof Raw>): Promise<string> {
    if (first !== undefined) this.recordMetric(key, first as MetricValue);
    this.scope.recordMetric(key, value as MetricValue, mode as 'replace');
    return 'recorded';
  }
}

let metrics: LoadedPredictor;
let raw: LoadedPredictor;
beforeAll(async () => {
  // Async predict with several slots: the concurrent-safe path, exercised by every metric test.
  metrics = await loadPredictor(Metrics, { concurrency: 4 });
  raw = await loadPredictor(Raw, { concurrency: 4 });
});

async function metricsOf(scenario: string): Promise<Record<string, unknown>> {
  const response = await metrics.predict({ scenario });
  expect(response.status, response.error).toBe('succeeded');
  const { predict_time: predictTime, queue_time: queueTime, ...rest } = response.metrics;
  expect(typeof predictTime).toBe('number');
  expect(typeof queueTime).toBe('number');
  return rest;
}

describe('recordMetric modes', () => {
  it('replace (the default) for every value type', async () => {
    expect(await metricsOf('replace')).toEqual({
      temperature: 0.9,
      model: 'small',
      cached: true,
      shape: [1, 3, 512, 512],
      config: { steps: 20, sampler: 'ddim' },
    });
  });

  it("incr adds from 0 (also as 'increment'), keeping integers exact", async () => {
    expect(await metricsOf('incr')).toEqual({ token_count: 42, seconds: 0.75, aliased: 5 });
  });

  it('append creates a list, pushes, and wraps an existing single value', async () => {
    expect(await metricsOf('append')).toEqual({
      steps: ['preprocessing', 'inference'],
      losses: [{ epoch: 1 }],
      single: ['first', 'second'],
    });
  });

  it('dotted keys nest; an intermediate non-object is replaced by an object', async () => {
    expect(await metricsOf('dotted')).toEqual({
      timing: { preprocess: 0.12, inference: 1.5, detail: { tokens: 7 } },
      a: { b: { c: { d: 'deep' } } },
      flat: { child: 2 },
    });
  });

  it('null deletes (nested too); deleting what is not there is fine; after a delete the type may change', async () => {
    expect(await metricsOf('deletes')).toEqual({ timing: { keep: 1 }, retyped: 'now a string' });
  });

  it('scope.metrics works like a dict: set, read, `in`, delete, keys, record(), delete()', async () => {
    expect(await metricsOf('dictStyle')).toEqual({
      tokens: 5,
      timing: { total: 2.5 },
      steps: ['a', 'b'],
      count: 2,
      read: { tokens: 5, has_tokens: true, has_doomed: false, keys: 'tokens,timing,steps,count' },
    });
  });

  it('records a copy: changing the object afterwards does not change the metric', async () => {
    expect(await metricsOf('copies')).toEqual({ shape: [1, 2], config: { steps: 1 } });
  });

  it('emits a metric event per call, with the mode as Cog names it on the wire', async () => {
    const prediction = metrics.start({ scenario: 'incr' });
    const events: MetricEvent[] = [];
    prediction.on('metric', (event) => events.push(event));
    await prediction.done;
    expect(events).toEqual([
      { name: 'token_count', value: 1, mode: 'increment' },
      { name: 'token_count', value: 1, mode: 'increment' },
      { name: 'token_count', value: 40, mode: 'increment' },
      { name: 'seconds', value: 0.25, mode: 'increment' },
      { name: 'seconds', value: 0.5, mode: 'increment' },
      { name: 'aliased', value: 2, mode: 'increment' },
      { name: 'aliased', value: 3, mode: 'increment' },
    ]);
  });
});

describe('the type lock', () => {
  it('a metric cannot change type without a delete first', async () => {
    const response = await raw.predict({ key: 'count', first: 1, value: 'one' });
    expect(response.status).toBe('failed');
    expect(response.error).toBe("Metric 'count' has type number, cannot set to string without deleting first");
    expect(response.metrics.count).toBe(1);
  });

  it('a list cannot become an object, nor a string a number', async () => {
    expect((await raw.predict({ key: 'shape', first: [1], value: { a: 1 } })).error).toBe(
      "Metric 'shape' has type list, cannot set to dict without deleting first",
    );
    expect((await raw.predict({ key: 'name', first: 'x', value: 2 })).error).toBe(
      "Metric 'name' has type string, cannot set to number without deleting first",
    );
  });

  it('incr needs numbers, on both sides', async () => {
    expect((await raw.predict({ key: 'n', value: 'x', mode: 'incr' })).error).toBe("Metric 'n': mode 'incr' needs a number, got string");
    expect((await raw.predict({ key: 'n', first: 'x', value: 1, mode: 'incr' })).error).toBe(
      "Metric 'n' has type string, cannot increment it",
    );
  });

  it('an unknown mode, or a value that is not JSON, fails the prediction', async () => {
    expect((await raw.predict({ key: 'n', value: 1, mode: 'multiply' })).error).toBe(
      "Unknown metric mode 'multiply': use 'replace', 'incr' or 'append'",
    );
    class NotJson extends BasePredictor {
      static inputs = { what: Type.String() };
      async predict({ what }: { what: string }): Promise<string> {
        const values: Record<string, unknown> = {
          nan: Number.NaN,
          infinity: Infinity,
          date: new Date(0),
          nested: { f: () => 1 },
          list: [1, undefined],
        };
        this.recordMetric('bad', values[what] as MetricValue);
        return 'recorded';
      }
    }
    const notJson = await loadPredictor(NotJson, { concurrency: 5 });
    const errors = await Promise.all(
      ['nan', 'infinity', 'date', 'nested', 'list'].map(async (what) => (await notJson.predict({ what })).error),
    );
    expect(errors).toEqual([
      "Metric 'bad': values must be booleans, finite numbers, strings, arrays or plain objects of those, not NaN",
      "Metric 'bad': values must be booleans, finite numbers, strings, arrays or plain objects of those, not Infinity",
      "Metric 'bad': values must be booleans, finite numbers, strings, arrays or plain objects of those, not Date (or an object holding other values)",
      "Metric 'bad': values must be booleans, finite numbers, strings, arrays or plain objects of those, not Object (or an object holding other values)",
      "Metric 'bad': values must be booleans, finite numbers, strings, arrays or plain objects of those, not an array holding other values",
    ]);
  });
});

describe('metric names', () => {
  // coglet's texts, word for word (crates/coglet-python/src/metric_scope.rs): Cog's tests compare them.
  const rejected: [string, string][] = [
    ['', 'metric name must not be empty'],
    ['1st', "metric name segment '1st' must start with a letter"],
    ['_private', "metric name segment '_private' must start with a letter"],
    ['timing.2nd', "metric name segment '2nd' must start with a letter"],
    ['trailing_', "metric name segment 'trailing_' must end with a letter or digit"],
    ['has-dash', "metric name segment 'has-dash' contains invalid character '-'"],
    ['has space', "metric name segment 'has space' contains invalid character ' '"],
    ['double__underscore', "metric name segment 'double__underscore' must not contain consecutive underscores"],
    ['a..b', 'metric name must not contain empty segments (consecutive dots)'],
    ['.leading', 'metric name must not start with a dot'],
    ['trailing.', 'metric name must not end with a dot'],
    ['x'.repeat(129), 'metric name must be 128 characters or fewer (got 129 characters)'],
    ['a.b.c.d.e', 'metric name must have at most 4 dot-separated segments (got 5)'],
    ['predict_time', "'predict_time' is reserved by the runtime"],
    ['queue_time', "'queue_time' is reserved by the runtime"],
    ['cog.internal', "the 'cog.' prefix is reserved for system metrics"],
  ];
  it.each(rejected)('%j fails the prediction with exactly: %s', async (key, error) => {
    const response = await raw.predict({ key, value: 1 });
    expect(response.status).toBe('failed');
    expect(response.error).toBe(error);
    expect(response.metrics).toEqual({ predict_time: expect.any(Number), queue_time: expect.any(Number) });
  });

  it('through scope.metrics too', async () => {
    class DictStyle extends BasePredictor {
      async predict(): Promise<string> {
        this.scope.metrics['bad-name'] = 1;
        return 'unreachable';
      }
    }
    const response = await (await loadPredictor(DictStyle)).predict();
    expect(response.status).toBe('failed');
    expect(response.error).toBe("metric name segment 'bad-name' contains invalid character '-'");
  });

  it('deleting a reserved name is harmless, as in coglet; a malformed one still fails', async () => {
    class Deleter extends BasePredictor {
      static inputs = { key: Type.String() };
      async predict({ key }: { key: string }): Promise<string> {
        this.scope.metrics.delete(key);
        return 'deleted';
      }
    }
    const deleter = await loadPredictor(Deleter);
    expect((await deleter.predict({ key: 'predict_time' })).status).toBe('succeeded');
    expect((await deleter.predict({ key: 'cog.internal' })).status).toBe('succeeded');
    expect((await deleter.predict({ key: 'a..b' })).error).toBe('metric name must not contain empty segments (consecutive dots)');
  });

  it.each(['a', 'A1', 'snake_case_2', 'a.b.c.d', 'x'.repeat(128), 'cog', 'cogs.x', 'predict_time_total', 'timing.p99'])(
    '%j is accepted',
    async (key) => {
      const response = await raw.predict({ key, value: 1 });
      expect(response.status, response.error).toBe('succeeded');
    },
  );
});

describe('metrics in the prediction', () => {
  it('predict_time (seconds) on succeeded, failed and canceled predictions, beside user metrics', async () => {
    const succeeded = await metrics.predict({ scenario: 'incr' });
    expect(succeeded.status).toBe('succeeded');
    expect(succeeded.metrics).toMatchObject({ token_count: 42, predict_time: expect.any(Number), queue_time: expect.any(Number) });

    const failed = await metrics.predict({ scenario: 'incr', fail: true });
    expect(failed.status).toBe('failed');
    // Metrics recorded before the failure are kept.
    expect(failed.metrics).toMatchObject({ token_count: 42, predict_time: expect.any(Number), queue_time: expect.any(Number) });

    class Waits extends BasePredictor {
      async predict(): Promise<string> {
        this.recordMetric('started', true);
        await untilCanceled(this.scope.signal);
        return 'never';
      }
    }
    const waits = await loadPredictor(Waits);
    const controller = new AbortController();
    const prediction = waits.start({}, { signal: controller.signal });
    prediction.once('metric', () => controller.abort());
    const canceled = await prediction.done;
    expect(canceled.status).toBe('canceled');
    expect(canceled.metrics).toEqual({ started: true, predict_time: expect.any(Number), queue_time: expect.any(Number) });
    for (const response of [succeeded, failed, canceled]) expect(response.metrics.predict_time).toBeGreaterThanOrEqual(0);
  });

  it('a predictor cannot set predict_time itself', async () => {
    const response = await raw.predict({ key: 'predict_time', value: 99 });
    expect(response.metrics.predict_time).not.toBe(99);
  });
});

describe('outside a prediction: a scope that silently ignores everything', () => {
  it('currentScope() at top level', () => {
    const scope = currentScope();
    expect(() => {
      scope.recordMetric('anything', 1);
      scope.recordMetric('bad name!', 'ignored too');
      scope.metrics.tokens = 5;
      scope.metrics.record('x', 1, 'incr');
      delete scope.metrics.tokens;
      scope.metrics.delete('x');
      scope.throwIfCanceled();
    }).not.toThrow();
    expect(scope.metrics.tokens).toBeUndefined();
    expect('tokens' in scope.metrics).toBe(false);
    expect(Object.keys(scope.metrics)).toEqual([]);
    expect(scope.metrics.toJSON()).toEqual({});
    expect(JSON.stringify(scope.metrics)).toBe('{}');
    expect(scope.context).toEqual({});
    expect(scope.canceled).toBe(false);
    expect(scope.signal.aborted).toBe(false);
    expect(scope.cancelToken).toBeNull();
  });

  it("a predictor's recordMetric and scope outside predict(), and during setup", async () => {
    class SetupRecords extends BasePredictor {
      static output = Type.Unknown();
      setupSaw: string[] = [];
      setup(): void {
        this.recordMetric('from_setup', 1);
        this.scope.metrics.also_from_setup = 2;
        this.setupSaw.push(...Object.keys(this.scope.metrics.toJSON()));
      }
      async predict(): Promise<unknown> {
        this.recordMetric('from_predict', 1);
        return { setupSaw: this.setupSaw };
      }
    }
    const detached = new SetupRecords();
    expect(() => detached.recordMetric('whatever', 1)).not.toThrow();
    expect(detached.scope.metrics.toJSON()).toEqual({});

    const loaded = await loadPredictor(SetupRecords);
    const response = await loaded.predict();
    expect(response.metrics).toEqual({ from_predict: 1, predict_time: expect.any(Number), queue_time: expect.any(Number) });
    expect(response.output).toEqual({ setupSaw: [] });
  });
});

describe('isolation between concurrent predictions', () => {
  it('four interleaved async predictions each see only their own metrics and context', async () => {
    let arrived = 0;
    let release!: () => void;
    const allIn = new Promise<void>((resolve) => {
      release = resolve;
    });
    class Isolated extends BasePredictor {
      static inputs = { tag: Type.String() };
      static output = Type.Unknown();
      async predict({ tag }: { tag: string }): Promise<unknown> {
        this.recordMetric('tag', tag);
        this.scope.metrics.count = 0;
        if (++arrived === 4) release();
        await allIn;
        for (let i = 0; i < 3; i++) {
          this.recordMetric('count', 1, 'incr');
          this.recordMetric('who', this.scope.context.who ?? 'nobody', 'append');
          // Let the others run between each step.
          await new Promise((resolve) => setImmediate(resolve));
        }
        return { tag, who: this.scope.context.who, seen: this.scope.metrics.toJSON() };
      }
    }
    const isolated = await loadPredictor(Isolated, { concurrency: 4 });
    const tags = ['a', 'b', 'c', 'd'];
    const responses = await Promise.all(tags.map((tag) => isolated.predict({ tag }, { context: { who: `user-${tag}` } })));
    responses.forEach((response, i) => {
      const tag = tags[i]!;
      const own = { tag, count: 3, who: [`user-${tag}`, `user-${tag}`, `user-${tag}`] };
      expect(response.status).toBe('succeeded');
      expect(response.output).toEqual({ tag, who: `user-${tag}`, seen: own });
      expect(response.metrics).toEqual({ ...own, predict_time: expect.any(Number), queue_time: expect.any(Number) });
    });
  });
});
