// The runtime owns prediction state (issue 9): what is in flight, the one cancel timer, the one
// health value, and a single output that travels once, seen through the embedding API.
import { describe, expect, it } from 'vitest';
import { BasePredictor, Input, Type, loadPredictor } from 'cog-node';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Predictions of Holder whose code ran to its end. */
let finished = 0;

/** Holds until its signal aborts, or (given `ms`) sleeps that long deaf to it. */
class Holder extends BasePredictor {
  static inputs = { ms: Input(Type.Integer(), { default: 0 }) };
  static output = Type.String();

  async predict({ ms }: { ms: number }): Promise<string> {
    if (ms > 0) await sleep(ms);
    else if (!this.scope.signal.aborted) await new Promise((resolve) => this.scope.signal.addEventListener('abort', resolve));
    finished += 1;
    return 'held';
  }
}

describe('the runtime owns prediction state', () => {
  it('lists a prediction in flight until it ends, then forgets it and frees its slot', async () => {
    const holder = await loadPredictor(Holder);
    const prediction = holder.start({});
    expect(holder.runtime.get(prediction.id)).toBe(prediction);
    expect(holder.runtime.inFlightPredictions()).toEqual([prediction]);
    expect(holder.runtime.slots.full).toBe(true);
    prediction.cancel();
    prediction.cancel();
    expect((await prediction.done).status).toBe('canceled');
    expect(holder.runtime.get(prediction.id)).toBeUndefined();
    expect(holder.runtime.inFlightPredictions()).toEqual([]);
    expect(holder.runtime.slots.full).toBe(false);
  });

  it('past the grace period, lets go of the slot that deaf in-process work still holds', async () => {
    // Margins wide enough for a loaded CI machine: abandoned after ~0.1 s, let go after 2 s.
    const holder = await loadPredictor(Holder, { cancelGracePeriod: 2 });
    const finishedBefore = finished;
    const prediction = holder.start({ ms: 4000 });
    await sleep(50);
    const canceledAt = Date.now();
    prediction.cancel();
    expect((await prediction.done).status).toBe('canceled');
    expect(Date.now() - canceledAt).toBeLessThan(1500);
    // Abandoned, it holds the slot until the grace period is over (its code still runs then).
    expect(holder.runtime.slots.full).toBe(true);
    while (holder.runtime.slots.full) await sleep(20);
    expect(Date.now() - canceledAt).toBeGreaterThanOrEqual(1950);
    expect(finished).toBe(finishedBefore);
  });

  it('says DEFUNCT in its own health, and fails what is in flight with the reason, once', async () => {
    const holder = await loadPredictor(Holder);
    const prediction = holder.start({});
    expect(holder.runtime.markDefunct('an error escaped')).toBe(true);
    expect(await prediction.done).toMatchObject({ status: 'failed', error: 'Predictor crashed: an error escaped' });
    expect(holder.runtime.health).toBe('DEFUNCT');
    expect(holder.runtime.defunct).toBe('an error escaped');
    expect(holder.runtime.markDefunct('another')).toBe(false);
    expect(holder.runtime.defunct).toBe('an error escaped');
    expect(holder.runtime.inFlightPredictions()).toEqual([]);
    prediction.cancel();
  });

  it('a single value is one output event, then the output itself (not a list)', async () => {
    class Single extends BasePredictor {
      static output = Type.String();
      predict(): string {
        console.log('one');
        return 'x';
      }
    }
    const prediction = (await loadPredictor(Single)).start({});
    const events: unknown[][] = [];
    prediction.on('output', (chunk, index) => events.push(['output', chunk, index, prediction.status]));
    prediction.on('log', (data) => events.push(['log', data]));
    prediction.on('completed', (response) => events.push(['completed', response.output]));
    const response = await prediction.done;
    expect(response.output).toBe('x');
    expect(prediction.outputItems).toEqual(['x']);
    expect(events).toEqual([
      ['log', 'one\n'],
      ['output', 'x', 0, 'processing'],
      ['completed', 'x'],
    ]);
  });
});
