// Outputs checked against `static output` when embedding (the predictor in this thread): each
// iterator item, files as Path or URL, nothing checked without a declaration, and an output that
// cannot be encoded failing its own prediction beside others.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BasePredictor, Input, Path, Type, loadPredictor } from 'cog-node';
import { json, startServer, waitForHealth } from './fixtures/server/harness.js';

describe('outputs are checked against static output', () => {
  it('checks each item of an Iterator output: the first bad one fails the prediction, the items before it stay', async () => {
    class Counter extends BasePredictor {
      static output = Type.Iterator(Type.Integer());
      async *predict() {
        yield 1;
        yield 2;
        yield 'three';
        yield 4;
      }
    }
    const response = await (await loadPredictor(Counter)).predict();
    expect(response).toMatchObject({ status: 'failed', error: 'output[2] must be integer, got string', output: [1, 2] });
  });

  it('names the place inside an object, and what a union allows', async () => {
    class Nested extends BasePredictor {
      static inputs = { which: Input(Type.String()) };
      static output = Type.Object({
        caption: Type.String(),
        scores: Type.Array(Type.Number()),
        label: Type.Union([Type.String(), Type.Null()]),
      });
      async predict({ which }: { which: string }) {
        if (which === 'score') return { caption: 'a cat', scores: [0.5, 'high'], label: null };
        if (which === 'label') return { caption: 'a cat', scores: [], label: 3 };
        return { caption: 'a cat', scores: [0.5], label: 'cat' };
      }
    }
    const nested = await loadPredictor(Nested, { concurrency: 1 });
    expect((await nested.predict({ which: 'score' })).error).toBe('output.scores[1] must be number, got string');
    expect((await nested.predict({ which: 'label' })).error).toBe('output.label must be one of: string, null, got number');
    expect(await nested.run({ which: 'fine' })).toEqual({ caption: 'a cat', scores: [0.5], label: 'cat' });
  });

  it('a Path output accepts a Path, a URL string or a URL; not a number', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'cog-node-output-')), 'out.txt');
    writeFileSync(file, 'hello');
    class Files extends BasePredictor {
      static inputs = { as: Input(Type.String()) };
      static output = Type.Path();
      async predict({ as }: { as: string }) {
        if (as === 'path') return new Path(file);
        if (as === 'string') return 'https://example.com/out.png';
        if (as === 'url') return new URL('https://example.com/out.png');
        return 7;
      }
    }
    const files = await loadPredictor(Files);
    expect(await files.run({ as: 'path' })).toBeInstanceOf(Path);
    expect(await files.run({ as: 'string' })).toBe('https://example.com/out.png');
    expect((await files.predict({ as: 'url' })).status).toBe('succeeded');
    expect((await files.predict({ as: 'number' })).error).toBe('output must be string, got number');
  });

  it('checks nothing but encodability without static output', async () => {
    class Anything extends BasePredictor {
      static inputs = { as: Input(Type.String()) };
      async predict({ as }: { as: string }) {
        if (as === 'function') return [() => 1];
        if (as === 'promise') return { later: Promise.resolve(1) };
        return as === 'number' ? 3 : { any: ['thing'] };
      }
    }
    const anything = await loadPredictor(Anything);
    expect(await anything.run({ as: 'number' })).toBe(3);
    expect(await anything.run({ as: 'object' })).toEqual({ any: ['thing'] });
    expect((await anything.predict({ as: 'function' })).error).toBe('output[0] cannot be encoded: it is a function');
    expect((await anything.predict({ as: 'promise' })).error).toBe('output.later cannot be encoded: it is a Promise (await it first)');
  });

  it('a circular output fails its own prediction; the ones beside it succeed', async () => {
    class Sometimes extends BasePredictor {
      static inputs = { loop: Input(Type.Boolean()) };
      async predict({ loop }: { loop: boolean }) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        const value: Record<string, unknown> = { items: [1, 2] };
        if (loop) (value.items as unknown[]).push(value);
        return value;
      }
    }
    const sometimes = await loadPredictor(Sometimes, { concurrency: 3 });
    const responses = await Promise.all([false, true, false].map((loop) => sometimes.predict({ loop })));
    expect(responses.map((response) => response.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(responses[1]!.error).toBe('output.items[2] cannot be encoded: it refers back to itself (a circular reference)');
  });
});

describe("in a predictor's worker (cog-node serve), whose output checks compile after setup", () => {
  it('checks the outputs of the first predictions, sent the moment it is READY', async () => {
    const server = await startServer('outputs');
    try {
      await waitForHealth(server.url, ['READY']);
      const predict = (good: boolean) =>
        json(`${server.url}/predictions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ input: { good } }),
        });
      const [bad, good] = await Promise.all([predict(false), predict(true)]);
      expect(bad.body).toMatchObject({ status: 'failed', error: 'output must be integer, got string' });
      expect(good.body).toMatchObject({ status: 'succeeded', output: 7 });
    } finally {
      await server.kill();
    }
  });
});
