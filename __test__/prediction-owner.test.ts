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

  it('lists predictions in flight in the order they started, whatever their ids look like', async () => {
    // The in-flight table is an object (runtime/keyed-table.ts): ids that look like array indices
    // must not be listed first, in numeric order, as an object's own keys would be.
    const holder = await loadPredictor(Holder, { concurrency: 6 });
    const ids = ['b', '10', '2', '\u00001', '__proto__', ''];
    const predictions = ids.map((id) => holder.start({}, { id: id === '' ? undefined : id }));
    expect(holder.runtime.inFlightPredictions()).toEqual(predictions);
    for (const prediction of predictions) expect(holder.runtime.get(prediction.id)).toBe(prediction);
    expect(holder.runtime.get('constructor')).toBeUndefined();
    expect(holder.runtime.inFlight).toBe(6);
    predictions[1]!.cancel();
    expect((await predictions[1]!.done).status).toBe('canceled');
    expect(holder.runtime.inFlightPredictions()).toEqual(predictions.filter((_, index) => index !== 1));
    for (const prediction of predictions) prediction.cancel();
    await Promise.all(predictions.map((prediction) => prediction.done));
    expect(holder.runtime.inFlightPredictions()).toEqual([]);
    expect(holder.runtime.inFlight).toBe(0);
  });

  it("tells whenDone's callbacks after 'completed', and a done first asked for late still resolves", async () => {
    const holder = await loadPredictor(Holder);
    const prediction = holder.start({ ms: 1 });
    const seen: string[] = [];
    prediction.on('completed', () => seen.push('completed'));
    prediction.whenDone((response) => seen.push(`whenDone ${response.status}`));
    while (!prediction.terminal) await sleep(5);
    expect(seen).toEqual(['completed', 'whenDone succeeded']);
    // Nobody asked for `done` while it ran: made now, it resolves with the same terminal response.
    const late = await prediction.done;
    expect(late).toBe(prediction.finalResponse);
    expect(late.output).toBe('held');
    expect(prediction.done).toBe(prediction.done);
    // A callback given after the end is told at once.
    let told: string | undefined;
    prediction.whenDone((response) => (told = response.status));
    expect(told).toBe('succeeded');
  });

  it("tells whenDone's callbacks even when a 'completed' listener throws", async () => {
    const holder = await loadPredictor(Holder);
    const prediction = holder.start({ ms: 1 });
    const early = prediction.done;
    const errors: unknown[] = [];
    const onError = (error: unknown) => errors.push(error);
    process.on('unhandledRejection', onError);
    try {
      prediction.on('completed', () => {
        throw new Error('a listener that throws');
      });
      let told = false;
      prediction.whenDone(() => (told = true));
      expect((await early).status).toBe('succeeded');
      expect(told).toBe(true);
    } finally {
      await sleep(10);
      process.off('unhandledRejection', onError);
    }
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

  it('tells each observer only the events it takes, phases with their times, until it is removed', async () => {
    const holder = await loadPredictor(Holder);
    const ended: string[] = [];
    const phases: [string, number, number][] = [];
    const stopEnded = holder.runtime.observe({ ended: (prediction, response) => ended.push(`${prediction.id} ${response.status}`) });
    const stopPhases = holder.runtime.observe({ phase: (_, phase, fromMs, toMs) => phases.push([phase, fromMs, toMs]) });
    const first = holder.start({ ms: 1 }, { id: 'first' });
    await first.done;
    expect(ended).toEqual(['first succeeded']);
    expect(phases.map(([phase]) => phase)).toEqual(['validate', 'prepare_input', 'invoke']);
    for (const [, fromMs, toMs] of phases) {
      expect(fromMs).toBeGreaterThan(0);
      expect(toMs).toBeGreaterThanOrEqual(fromMs);
    }
    stopPhases();
    const second = holder.start({ ms: 1 }, { id: 'second' });
    await second.done;
    expect(ended).toEqual(['first succeeded', 'second succeeded']);
    expect(phases).toHaveLength(3);
    stopEnded();
    await holder.start({ ms: 1 }, { id: 'third' }).done;
    expect(ended).toHaveLength(2);
  });
});
