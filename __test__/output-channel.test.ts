import { setImmediate as nextTurn } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { CancelToken, OutputChannel, type OutputConsumer } from '../index.js';

/** Sends like the runner does: no promise while there is room. Returns how often it waited. */
async function produce(channel: OutputChannel, items: Iterable<string>, onSent?: () => void) {
  let waits = 0;
  for (const item of items) {
    if (channel.trySend(item) === 0) {
      waits += 1;
      await channel.send(item);
    }
    onSent?.();
  }
  return waits;
}

function* numbers(count: number) {
  for (let n = 0; n < count; n += 1) yield JSON.stringify({ n });
}

/** Reads batches until the end; `turns` event-loop turns between batches make it slow. */
async function readAll(consumer: OutputConsumer, max?: number, turns = 0) {
  const seen: string[] = [];
  for (let batch = await consumer.next(max); batch !== null; batch = await consumer.next(max)) {
    const items = batch.split('\n');
    if (max !== undefined) expect(items.length).toBeLessThanOrEqual(max);
    seen.push(...items);
    for (let turn = 0; turn < turns; turn += 1) await nextTurn();
  }
  return seen;
}

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Collects garbage until `promise` settles (finalizers run between turns), then awaits it. */
async function collectUntil<T>(promise: Promise<T>) {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let round = 0; round < 50 && !settled; round += 1) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (!settled) throw new Error('still pending after 50 garbage collections');
  return promise;
}

describe('OutputChannel', () => {
  it('keeps memory bounded and order intact while a slow lossless consumer holds 100k items back', async () => {
    const total = 100_000;
    const channel = new OutputChannel({ capacity: 64 });
    const slow = channel.subscribe({ lossless: true });
    const observer = channel.subscribe({ lossless: false });
    let peak = 0;

    const reading = readAll(slow, 16, 1);
    // Half the slow consumer's pace: it can only keep up by skipping.
    const observing = readAll(observer, 8, 2);
    const waits = await produce(channel, numbers(total), () => {
      peak = Math.max(peak, channel.queued);
    });
    channel.close(JSON.stringify({ status: 'succeeded' }));

    const seen = await reading;
    const observed = await observing;
    expect(seen).toHaveLength(total);
    expect(seen).toEqual([...numbers(total)]);
    expect(waits).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(64);
    expect(channel.capacity).toBe(64);
    expect(slow.missed).toBe(0);
    // The observer never held the producer back: it skipped what it was too slow to read.
    expect(observer.missed).toBeGreaterThan(0);
    expect(observed.length + observer.missed).toBe(total);
    const indexes = observed.map((text) => (JSON.parse(text) as { n: number }).n);
    expect(indexes).toEqual([...indexes].sort((a, b) => a - b));
    expect(new Set(indexes).size).toBe(indexes.length);
    expect(slow.finalState).toBe('{"status":"succeeded"}');
  });

  it('cancelling the token wakes a blocked send with a canceled error', async () => {
    const token = new CancelToken();
    const channel = new OutputChannel({ capacity: 1 }, token);
    const consumer = channel.subscribe({ lossless: true });
    expect(channel.trySend('"first"')).toBe(1);
    expect(channel.trySend('"second"')).toBe(0);
    const blocked = channel.send('"second"');
    let settled = false;
    blocked.then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(settled).toBe(false);

    token.cancel();
    await expect(blocked).rejects.toMatchObject({
      code: 'Cancelled',
      message: expect.stringMatching(/canceled/),
    });
    // Still full, so nothing more goes in, and a send no longer waits.
    expect(channel.trySend('"third"')).toBe(0);
    await expect(channel.send('"third"')).rejects.toMatchObject({ code: 'Cancelled' });
    // What was sent before the cancel can still be read; once there is room, the events that
    // end a cancelled prediction (its `completed`) still go through.
    expect(consumer.tryNext()).toBe('"first"');
    expect(channel.trySend('"completed"')).toBe(1);
    expect(consumer.tryNext()).toBe('"completed"');
    token.release();
  });

  it('closing wakes a waiting reader, which reads what is left and then gets null', async () => {
    const channel = new OutputChannel();
    const consumer = channel.subscribe({ lossless: true });
    expect(consumer.tryNext()).toBe('');
    const waiting = consumer.next();
    expect(channel.trySend('1\n2\n3')).toBe(3);
    expect(await waiting).toBe('1\n2\n3');
    const last = consumer.next();
    expect(channel.close('{"status":"failed"}')).toBe(true);
    expect(channel.close()).toBe(false);
    expect(await last).toBeNull();
    expect(consumer.tryNext()).toBeNull();
    expect(channel.closed).toBe(true);
    expect(channel.finalState).toBe('{"status":"failed"}');
    expect(() => channel.trySend('4')).toThrow(/closed/);
    await expect(channel.send('4')).rejects.toThrow(/closed/);
  });

  it('closing wakes a blocked send with a closed error', async () => {
    const channel = new OutputChannel({ capacity: 1 });
    channel.subscribe({ lossless: true });
    channel.trySend('"held"');
    const blocked = channel.send('"never"');
    channel.close();
    await expect(blocked).rejects.toMatchObject({
      code: 'Closing',
      message: expect.stringMatching(/closed/),
    });
  });

  it('a batch goes in as far as it fits and send delivers the rest in order', async () => {
    const channel = new OutputChannel({ capacity: 2 });
    const consumer = channel.subscribe({ lossless: true });
    expect(channel.trySend('"a"\n"b"\n"c"\n"d"\n"e"')).toBe(2);
    const rest = channel.send('"c"\n"d"\n"e"');
    const seen = readAll(consumer, 1, 1);
    await rest;
    channel.close();
    expect(await seen).toEqual(['"a"', '"b"', '"c"', '"d"', '"e"']);
    expect(channel.sent).toBe(5);
  });

  it('refuses empty items with a clear error and sends nothing of that text', () => {
    const channel = new OutputChannel();
    expect(() => channel.trySend('')).toThrow(/non-empty lines .*line 1 .* is empty/);
    expect(() => channel.trySend('1\n\n3')).toThrow(/line 2 of the text sent is empty/);
    expect(() => channel.trySend('1\n')).toThrow(/line 2 of the text sent is empty/);
    expect(channel.sent).toBe(0);
  });

  it('unsubscribing a lagging lossless consumer releases the producer and ends its reads', async () => {
    const channel = new OutputChannel({ capacity: 2 });
    const lagging = channel.subscribe({ lossless: true });
    expect(channel.trySend('"a"\n"b"\n"c"')).toBe(2);
    const blocked = channel.send('"c"');
    expect(channel.consumers).toBe(1);
    lagging.unsubscribe();
    await blocked;
    expect(channel.consumers).toBe(0);
    expect(channel.sent).toBe(3);
    expect(await lagging.next()).toBeNull();
  });

  it('lossy consumers never block; a replaying one gets the held history and the count it missed', () => {
    const channel = new OutputChannel({ capacity: 100 });
    const live = channel.subscribe();
    const all = [...numbers(10_000)];
    for (const item of all) expect(channel.trySend(item)).toBe(1);
    expect(channel.queued).toBe(100);

    const replay = channel.subscribe({ replay: true });
    expect(replay.missed).toBe(9_900);
    expect(replay.position).toBe(9_900);
    expect(replay.tryNext(1_000)?.split('\n')).toEqual(all.slice(9_900));

    expect(live.pending).toBe(10_000);
    const batch = live.tryNext(10)?.split('\n') ?? [];
    expect(batch).toEqual(all.slice(9_900, 9_910));
    expect(live.missed).toBe(9_900);
    expect(live.position - batch.length).toBe(9_900);
    expect(live.lossless).toBe(false);
  });

  it('bounds bytes as UTF-8 and carries any text unchanged', async () => {
    const channel = new OutputChannel({ capacity: 100, maxBytes: 10 });
    const consumer = channel.subscribe({ lossless: true });
    expect(channel.trySend('"é"')).toBe(1); // 4 bytes
    expect(channel.trySend('"🎉"')).toBe(1); // 6 bytes
    expect(channel.queuedBytes).toBe(10);
    expect(channel.trySend('0')).toBe(0);
    expect(consumer.tryNext()).toBe('"é"\n"🎉"');
    const large = JSON.stringify('x'.repeat(1000));
    expect(channel.trySend(large)).toBe(1); // an empty buffer takes any item
    expect(channel.trySend('0')).toBe(0);
    expect(await consumer.next()).toBe(large);
  });

  it('a lossless consumer joining late sees everything sent after it joined, in order', async () => {
    const channel = new OutputChannel({ capacity: 4 });
    channel.trySend('0\n1\n2');
    const consumer = channel.subscribe({ lossless: true });
    expect(consumer.position).toBe(3);
    expect(consumer.lossless).toBe(true);
    const reading = readAll(consumer, 3, 1);
    const later = ['3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13'];
    await produce(channel, later);
    channel.close();
    expect(await reading).toEqual(later);
  });

  it.each([
    [{ capacity: 0 }, /`capacity` must be a whole number from 1/],
    [{ capacity: 1.5 }, /`capacity` must be a whole number from 1/],
    [{ capacity: -3 }, /`capacity` must be a whole number from 1/],
    [{ maxBytes: 0 }, /`maxBytes` must be a whole number from 1/],
    [{ maxBytes: Number.NaN }, /`maxBytes` must be a whole number from 1/],
  ])('rejects bad options %o with a clear error', (options, message) => {
    expect(() => new OutputChannel(options)).toThrow(message);
  });

  it('uses Cog-sized defaults', () => {
    const channel = new OutputChannel();
    expect(channel.capacity).toBe(1024);
    expect(channel.maxBytes).toBe(16 * 1024 * 1024);
    expect(channel.queued).toBe(0);
    expect(channel.sent).toBe(0);
    expect(channel.finalState).toBeNull();
  });

  it('a lossless consumer that is garbage-collected stops holding the producer back', async () => {
    const channel = new OutputChannel({ capacity: 1 });
    ((forgotten) => forgotten.lossless)(channel.subscribe({ lossless: true }));
    expect(channel.trySend('1')).toBe(1);
    expect(channel.trySend('2')).toBe(0);
    await collectUntil(channel.send('2'));
    expect(channel.consumers).toBe(0);
    expect(channel.sent).toBe(2);
  });

  it('a producer that is garbage-collected without closing ends its consumers', async () => {
    const consumer = (() => {
      const forgotten = new OutputChannel();
      const kept = forgotten.subscribe({ lossless: true });
      forgotten.trySend('1');
      return kept;
    })();
    expect(consumer.tryNext()).toBe('1');
    expect(await collectUntil(consumer.next())).toBeNull();
  });
});
