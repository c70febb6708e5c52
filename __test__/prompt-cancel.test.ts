// Prompt cancel when embedding (the predictor in this thread): an async prediction that ignores
// its signal ends canceled at once, its slot held until its code settles; one that obeys its
// signal ends on its own, its cleanup logs kept and its slot free when `done` resolves.
import { describe, expect, it } from 'vitest';
import { AtCapacityError, BasePredictor, CancelationError, Input, Type, loadPredictor } from 'cog-node';

class Waiter extends BasePredictor {
  static inputs = { obey: Input(Type.Boolean()), ms: Input(Type.Integer(), { default: 1500 }) };
  static output = Type.String();

  async predict({ obey, ms }: { obey: boolean; ms: number }): Promise<string> {
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, ms);
        if (obey) {
          this.scope.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new CancelationError());
          });
        }
      });
    } catch (error) {
      console.log('cleaning up');
      throw error;
    }
    return 'finished';
  }
}

describe('cancelling an async prediction in this thread', () => {
  it('that ignores its signal: canceled at once, the slot held until the abandoned work settles', async () => {
    const waiter = await loadPredictor(Waiter);
    const controller = new AbortController();
    const startedAt = Date.now();
    const run = waiter.run({ obey: false, ms: 1500 }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const canceledAt = Date.now();
    controller.abort();
    await expect(run).rejects.toThrow(CancelationError);
    expect(Date.now() - canceledAt).toBeLessThan(1000);
    expect(() => waiter.start({ obey: false, ms: 1 })).toThrow(AtCapacityError);
    while (waiter.runtime.slots.full) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1450);
    expect(await waiter.run({ obey: false, ms: 1 })).toBe('finished');
  });

  it('that obeys its signal: ends on its own, with its cleanup logs, the slot free when done resolves', async () => {
    const waiter = await loadPredictor(Waiter);
    const prediction = waiter.start({ obey: true, ms: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    prediction.cancel();
    const response = await prediction.done;
    expect(response.status).toBe('canceled');
    expect(response.logs).toBe('cleaning up\n');
    expect(waiter.runtime.slots.full).toBe(false);
  });
});
