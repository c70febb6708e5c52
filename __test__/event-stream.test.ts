// EventStream and EventReader (src/runtime/events.ts) on the real native channel: batches sent
// as one call, readers that wait in JS and are woken by every change the stream makes.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { CancelToken } from '../index.js';
import { EventStream, type EventReader } from '../src/runtime/events.js';
import { Prediction } from '../src/runtime/prediction.js';

/** Reads until the end; `turns` event-loop turns between reads make it a slow reader. */
async function readAll(reader: EventReader, max: number, turns = 0): Promise<string[]> {
  const seen: string[] = [];
  for (let batch = await reader.read(max); batch !== null; batch = await reader.read(max)) {
    seen.push(...batch.split('\n'));
    for (let turn = 0; turn < turns; turn += 1) await nextTurn();
  }
  return seen;
}

describe('EventStream', () => {
  it('a batch larger than the channel reaches a slow lossless reader whole, in order, and resolves once taken', async () => {
    const token = new CancelToken();
    const events = new EventStream(token, 4);
    const reader = events.reader({ lossless: true, replay: true });
    const reading = readAll(reader, 3, 2);
    let taken = false;
    const first = events.publishMany(
      'output',
      Array.from({ length: 100 }, (_, index) => index),
    );
    void first.then(() => (taken = true));
    // Queued behind the first batch: it must keep its place.
    const second = events.publishMany('output', [100, 101]);
    expect(taken).toBe(false);
    await Promise.all([first, second]);
    events.close('completed', { status: 'succeeded' });
    const seen = await reading;
    expect(seen).toEqual([...Array.from({ length: 102 }, (_, index) => `output ${index}`), 'completed {"status":"succeeded"}']);
    token.release();
  });

  it('a waiting read is woken by the next publish and by close, and ends after unsubscribe', async () => {
    const token = new CancelToken();
    const events = new EventStream(token, 16);
    const reader = events.reader({ lossless: true, replay: true });
    const waiting = reader.read(16);
    expect(waiting).toBeInstanceOf(Promise);
    void events.publish('log', { data: 'a' });
    expect(await waiting).toBe('log {"data":"a"}');

    const closing = reader.read(16);
    events.close('completed', { status: 'canceled' });
    expect(await closing).toBe('completed {"status":"canceled"}');
    expect(await reader.read(16)).toBeNull();

    const other = new EventStream(token, 16).reader({ lossless: true, replay: true });
    const gone = other.read(16);
    other.unsubscribe();
    expect(await gone).toBeNull();
    token.release();
  });

  it('events published before anyone subscribed are replayed, then the live ones follow', async () => {
    const token = new CancelToken();
    const events = new EventStream(token, 8);
    void events.publishMany('output', ['a', 'b']);
    const reader = events.reader({ lossless: true, replay: true });
    const reading = readAll(reader, 8);
    await events.publishMany('output', ['c']);
    events.close('completed', {});
    expect(await reading).toEqual(['output "a"', 'output "b"', 'output "c"', 'completed {}']);
    token.release();
  });

  it("a prediction's batch of outputs is one event each, and each output listener sees the output as of its own item", async () => {
    const prediction = new Prediction({ input: {} });
    const reader = prediction.events.reader({ lossless: true, replay: true });
    const seen: [unknown, number, number][] = [];
    prediction.on('output', (chunk, index) => seen.push([chunk, index, (prediction.output as unknown[]).length]));
    await prediction.addOutputs(['a', 'b\n"c"']);
    await prediction.addOutputs([{ n: 1 }]);
    expect(seen).toEqual([
      ['a', 0, 1],
      ['b\n"c"', 1, 2],
      [{ n: 1 }, 2, 3],
    ]);
    expect(prediction.output).toEqual(['a', 'b\n"c"', { n: 1 }]);
    const lines = (await reader.read(16))!.split('\n');
    expect(lines.map((line) => JSON.parse(line.slice('output '.length)) as unknown)).toEqual([
      { chunk: 'a', index: 0 },
      { chunk: 'b\n"c"', index: 1 },
      { chunk: { n: 1 }, index: 2 },
    ]);
    reader.unsubscribe();
    prediction.token.release();
  });

  it("a prediction's stream first asked for after it ended replays its start, its outputs and its end, in order", async () => {
    const prediction = new Prediction({ id: 'late', input: {} });
    const seen: string[] = [];
    prediction.on('output', (chunk) => seen.push(String(chunk)));
    prediction.markStarted();
    await prediction.addOutputs(['a', 'b']);
    await prediction.addOutput({ n: 1 });
    prediction.finish({ status: 'succeeded', output: ['a', 'b', { n: 1 }], metrics: {} });
    // Said after the end: neither in the history nor in the output events a stream replays.
    await prediction.addOutput('after');
    expect(seen).toEqual(['a', 'b', '[object Object]', 'after']);
    const lines = await readAll(prediction.events.reader({ lossless: true, replay: true }), 16);
    expect(lines.map((line) => line.slice(0, line.indexOf(' ')))).toEqual(['start', 'output', 'output', 'output', 'completed']);
    expect(JSON.parse(lines[0]!.slice('start '.length))).toEqual({ id: 'late', status: 'processing' });
    expect(lines.slice(1, 4).map((line) => JSON.parse(line.slice('output '.length)) as unknown)).toEqual([
      { chunk: 'a', index: 0 },
      { chunk: 'b', index: 1 },
      { chunk: { n: 1 }, index: 2 },
    ]);
    expect(JSON.parse(lines[4]!.slice('completed '.length))).toMatchObject({ id: 'late', status: 'succeeded' });
    expect(prediction.events.dropped).toBe(0);
  });

  it("an 'output' listener that first asks for the stream in the middle of a batch sees every output once, in order", async () => {
    const prediction = new Prediction({ input: {} });
    let reading: Promise<string[]> | undefined;
    prediction.on('output', (_, index) => {
      if (index === 1) reading = readAll(prediction.events.reader({ lossless: true, replay: true }), 16);
    });
    prediction.markStarted();
    await prediction.addOutputs(['a', 'b', 'c']);
    await prediction.addOutput('d');
    prediction.finish({ status: 'succeeded', output: ['a', 'b', 'c', 'd'], metrics: {} });
    const lines = await reading!;
    expect(lines.slice(1, -1).map((line) => (JSON.parse(line.slice('output '.length)) as { chunk: string }).chunk)).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  it("a prediction's log makes its stream at once, so the history keeps where it fell among the outputs", async () => {
    const prediction = new Prediction({ input: {} });
    prediction.markStarted();
    await prediction.addOutput('a');
    prediction.addLog('between\n', 'stdout');
    await prediction.addOutput('b');
    const reader = prediction.events.reader({ lossless: true, replay: true });
    const reading = readAll(reader, 16);
    prediction.finish({ status: 'succeeded', output: ['a', 'b'], metrics: {} });
    const names = (await reading).map((line) => line.slice(0, line.indexOf(' ')));
    expect(names).toEqual(['start', 'output', 'log', 'output', 'completed']);
  });

  it("a prediction's history made late drops what a stream made at once would have dropped (COG_STREAM_HISTORY_CAPACITY)", async () => {
    // The default capacity is 1024 events: a start and 1,030 outputs leave the first 7 out.
    const prediction = new Prediction({ input: {} });
    prediction.markStarted();
    await prediction.addOutputs(Array.from({ length: 1030 }, (_, index) => index));
    const lines = await (async () => {
      const reading = readAll(prediction.events.reader({ lossless: true, replay: true }), 2048);
      prediction.finish({ status: 'succeeded', output: [], metrics: {} });
      return reading;
    })();
    expect(prediction.events.dropped).toBe(7);
    expect(lines).toHaveLength(1025);
    expect(JSON.parse(lines[0]!.slice('output '.length))).toEqual({ chunk: 6, index: 6 });
    expect(lines.at(-1)!.startsWith('completed ')).toBe(true);
  });
});
