// The retention store on its own, on a clock the test moves: eviction by count, by age and by
// size, in finish order, without waiting for real time (the server tests cover the real clock);
// and `PredictorRuntime.poll` on an embedded predictor the test releases.
import { describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, loadPredictor, type Inputs } from '../src/index.js';
import { RetentionStore } from '../src/runtime/retention.js';

/** A finished prediction as the store sees it: an id and its JSON writer. */
const finished = (id: string) => ({ id, finalJson: JSON.stringify({ id, status: 'succeeded' }) });

describe('RetentionStore', () => {
  it('keeps the last `count` predictions, evicting the oldest first', () => {
    const store = new RetentionStore({ count: 2, seconds: 600 }, () => 0);
    for (const id of ['a', 'b', 'c']) store.keep(finished(id));
    expect(store.get('a')).toBeUndefined();
    expect(JSON.parse(store.get('b')!)).toEqual({ id: 'b', status: 'succeeded' });
    expect(store.get('c')).toBeDefined();
    expect(store.size).toBe(2);
  });

  it('an id kept again moves to the newest place', () => {
    const store = new RetentionStore({ count: 2, seconds: 600 }, () => 0);
    store.keep(finished('a'));
    store.keep(finished('b'));
    store.keep(finished('a'));
    store.keep(finished('c'));
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')).toBeDefined();
    expect(store.get('c')).toBeDefined();
  });

  it('forgets predictions older than `seconds` on the next lookup or insert', () => {
    let now = 0;
    const store = new RetentionStore({ count: 100, seconds: 10 }, () => now);
    store.keep(finished('old'));
    now = 5_000;
    store.keep(finished('newer'));
    now = 9_999;
    expect(store.get('old')).toBeDefined();
    now = 10_000;
    expect(store.get('old')).toBeUndefined();
    expect(store.get('newer')).toBeDefined();
    now = 15_000;
    store.keep(finished('latest'));
    expect(store.size).toBe(1);
  });

  it('count 0 keeps nothing and never asks for the JSON', () => {
    const store = new RetentionStore({ count: 0, seconds: 600 });
    let written = 0;
    store.keep({
      id: 'a',
      get finalJson() {
        return String((written += 1));
      },
    });
    expect(store.enabled).toBe(false);
    expect(store.get('a')).toBeUndefined();
    expect(written).toBe(0);
  });

  it('keeps at most `maxChars` of JSON in all, dropping the oldest; one larger alone is not kept', () => {
    const store = new RetentionStore({ count: 100, seconds: 600, maxChars: 100 }, () => 0);
    const sized = (id: string, chars: number) => ({ id, finalJson: id.padEnd(chars, '.') });
    store.keep(sized('a', 40));
    store.keep(sized('b', 40));
    expect(store.size).toBe(2);
    store.keep(sized('c', 40));
    expect(store.get('a')).toBeUndefined();
    expect(store.get('b')).toHaveLength(40);
    expect(store.get('c')).toHaveLength(40);
    store.keep(sized('huge', 101));
    expect(store.get('huge')).toBeUndefined();
    expect(store.size).toBe(2);
    // A kept id replaced by a larger text frees its old size first.
    store.keep(sized('c', 60));
    expect(store.get('b')).toHaveLength(40);
    expect(store.get('c')).toHaveLength(60);
    // Kept again with a text too large to keep: the older text goes too, and its size with it.
    store.keep(sized('c', 101));
    store.keep(sized('d', 60));
    expect([store.get('b')?.length, store.get('c'), store.get('d')?.length, store.size]).toEqual([40, undefined, 60, 2]);
  });
});

describe('PredictorRuntime.poll', () => {
  it('answers a prediction in flight, then its final JSON once finished; get() finds only the one in flight', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    class Gated extends BasePredictor {
      static inputs = { text: Input(Type.String()) };
      static output = Type.Number();
      async predict({ text }: Inputs<typeof Gated>): Promise<number> {
        await gate;
        return text.length;
      }
    }
    const { runtime } = await loadPredictor(Gated);
    const prediction = runtime.start({ text: 'four' }, { id: 'gated' });
    if (prediction.status === 'starting') await new Promise<void>((resolve) => prediction.once('start', () => resolve()));
    expect(JSON.parse(runtime.poll('gated')!)).toMatchObject({ id: 'gated', status: 'processing' });
    expect(runtime.get('gated')).toBe(prediction);
    release();
    const response = await prediction.done;
    expect(runtime.get('gated')).toBeUndefined();
    // The same text as the prediction's own writer: a Number output is written as Cog's float.
    expect(runtime.poll('gated')).toBe(prediction.json(response));
    expect(runtime.poll('gated')).toContain('"output":4.0');
    expect(runtime.poll('nobody')).toBeUndefined();
  });
});
