// A prediction's events (start, output, log, metric, completed) on their way to streaming consumers
// (SSE, `stream()`), through the Rust core's bounded channel, which is also the replay history.
import { OutputChannel, type CancelToken, type OutputConsumer } from '../native/addon.js';
import { JsonText } from '../schema/output-json.js';
import { currentSettings } from '../load/settings.js';

/** A prediction's event, as Cog's SSE names it. */
export type StreamEventName = 'start' | 'output' | 'log' | 'metric' | 'completed' | 'error';

/** An event's data as JSON (text written already, such as an output with Cog's floats, as it is). */
function dataJson(data: unknown): string {
  return data instanceof JsonText ? data.text : JSON.stringify(data ?? null);
}

/** One event as the channel carries it: a single line, `<name> <json>`. */
export function encodeEvent(name: StreamEventName, data: unknown): string {
  return `${name} ${dataJson(data)}`;
}

export function decodeEvent(line: string): { name: StreamEventName; json: string } {
  const space = line.indexOf(' ');
  return { name: line.slice(0, space) as StreamEventName, json: line.slice(space + 1) };
}

interface Pending {
  /** One or more events, one per line. */
  lines: string;
  count: number;
  accepted: (() => void) | undefined;
}

interface Held {
  name: StreamEventName;
  data: unknown;
}

/** `text` without its first `count` lines (events never hold a raw newline). */
function dropLines(text: string, count: number): string {
  let at = -1;
  for (let index = 0; index < count; index++) at = text.indexOf('\n', at + 1);
  return text.slice(at + 1);
}

/**
 * What `publish` returns when nothing waits (no channel yet, or room in it): callers may compare
 * with it and skip their `await` (a turn per output for a sync prediction's one value).
 */
export const TAKEN: Promise<void> = Promise.resolve();
const RESOLVED = TAKEN;

/**
 * A prediction's events on their way to its streaming consumers, through the core's bounded
 * channel (Rust): an SSE client or an embedding caller's iterator that must see every event
 * subscribes lossless, and when it falls behind the predictor's next output waits for room, so
 * memory stays bounded. The channel's buffer is also the history a reconnecting client replays.
 * Events are sent in order, batched across N-API.
 *
 * Most predictions (sync JSON requests) never have a subscriber, so the channel is opened by the
 * first one: until then the last `capacity` events wait here, unencoded, and nothing waits.
 */
export class EventStream {
  /** Whether a reconnecting subscriber may replay history (capacity 0 disables it). */
  readonly replayable: boolean;
  readonly #capacity: number;
  /** The token cancelling which stops sends (a prediction's is made only when a channel opens). */
  readonly #token: CancelToken | (() => CancelToken);
  #channel: OutputChannel | undefined;
  #held: Held[] = [];
  /** Events that fell out of history before the channel was opened. */
  #dropped = 0;
  #final: { name: StreamEventName; data: unknown } | undefined;
  readonly #queue: Pending[] = [];
  #pumping = false;
  /** Readers waiting for the channel to change (see EventReader). */
  #waiting: (() => void)[] = [];
  #waking = false;

  constructor(token: CancelToken | (() => CancelToken), capacity = currentSettings().streamHistoryCapacity) {
    this.#token = token;
    this.replayable = capacity > 0;
    this.#capacity = Math.max(1, capacity);
  }

  /** The channel, opened on first use with the history held so far. */
  get channel(): OutputChannel {
    if (this.#channel === undefined) {
      const token = this.#token;
      const channel = new OutputChannel({ capacity: this.#capacity }, typeof token === 'function' ? token() : token);
      if (this.#held.length > 0) channel.trySend(this.#held.map((event) => encodeEvent(event.name, event.data)).join('\n'));
      this.#held = [];
      if (this.#final !== undefined) {
        channel.trySend(encodeEvent(this.#final.name, this.#final.data));
        channel.close(dataJson(this.#final.data));
      }
      this.#channel = channel;
    }
    return this.#channel;
  }

  /** Subscribers so far (without opening the channel). */
  get consumers(): number {
    return this.#channel?.consumers ?? 0;
  }

  /** Events lost from history before anyone subscribed (a replay then starts truncated). */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues an event; the promise resolves once the channel has taken it (outputs await it). */
  publish(name: StreamEventName, data: unknown): Promise<void> {
    return this.publishMany(name, [data]);
  }

  /**
   * Queues events of one name, in order, as one send into the channel (one N-API call and one
   * lock for a whole batch of outputs from the worker); resolves once the channel took them all.
   */
  publishMany(name: StreamEventName, data: readonly unknown[]): Promise<void> {
    if (this.#final !== undefined || data.length === 0) return RESOLVED;
    if (this.#channel === undefined) {
      for (const one of data) {
        this.#held.push({ name, data: one });
        if (this.#held.length > this.#capacity) {
          this.#held.shift();
          this.#dropped += 1;
        }
      }
      return RESOLVED;
    }
    let lines = encodeEvent(name, data[0]);
    for (let index = 1; index < data.length; index++) lines += `\n${encodeEvent(name, data[index])}`;
    let count = data.length;
    // Nothing queued ahead and room in the channel (the usual case): hand it over now, without
    // a promise and a pump run per event (they were most of an SSE token's cost).
    if (!this.#pumping && this.#queue.length === 0) {
      try {
        const taken = this.#channel.trySend(lines);
        if (taken > 0) this.#changed();
        if (taken === count) return RESOLVED;
        lines = dropLines(lines, taken);
        count -= taken;
      } catch {
        // Cancelled or closed: nobody is waiting for these events any more.
        return RESOLVED;
      }
    }
    return new Promise((resolve) => {
      this.#queue.push({ lines, count, accepted: resolve });
      if (!this.#pumping) void this.#pump();
    });
  }

  /** Publishes the last event and closes the channel once everything before it is sent. */
  close(name: StreamEventName, data: unknown): void {
    if (this.#final !== undefined) return;
    if (this.#channel === undefined) {
      this.#final = { name, data };
      return;
    }
    const channel = this.#channel;
    void this.publish(name, data).then(() => {
      channel.close(dataJson(data));
      this.#changed();
    });
    this.#final = { name, data };
  }

  subscribe(options: { lossless: boolean; replay: boolean }): OutputConsumer {
    return this.channel.subscribe(options);
  }

  /** A consumer that waits for events in JS (see EventReader); the way SSE and `stream()` read. */
  reader(options: { lossless: boolean; replay: boolean }): EventReader {
    return new EventReader(this, this.subscribe(options));
  }

  /** Resolves at the channel's next change: events sent, closed, a reader gone. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /**
   * Wakes the waiting readers once this turn of the event loop is over (as the native `next()`
   * did, through a thread-safe call): the worker's batches that arrived in the same turn then go
   * out in one read and one socket write, not one each (the writes were ~28% of the SSE main
   * thread when readers woke at once).
   */
  #changed(): void {
    if (this.#waiting.length === 0 || this.#waking) return;
    this.#waking = true;
    setImmediate(() => {
      this.#waking = false;
      const waiting = this.#waiting;
      this.#waiting = [];
      for (const wake of waiting) wake();
    });
  }

  async #pump(): Promise<void> {
    const channel = this.channel;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, 256);
        let lines = batch.map((pending) => pending.lines).join('\n');
        const count = batch.reduce((sum, pending) => sum + pending.count, 0);
        try {
          for (let left = count; ;) {
            const taken = channel.trySend(lines);
            if (taken > 0) this.#changed();
            left -= taken;
            if (left === 0) break;
            lines = dropLines(lines, taken);
            // Full: wait for room for one event, then take as many as fit again. One at a time,
            // so each wait ends with its event sent and readers woken (they wait in JS).
            const first = lines.indexOf('\n');
            await channel.send(first < 0 ? lines : lines.slice(0, first));
            this.#changed();
            left -= 1;
            if (left === 0) break;
            lines = lines.slice(first + 1);
          }
        } catch {
          // Cancelled or closed: nobody is waiting for these events any more.
        }
        for (const pending of batch) pending.accepted?.();
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Wakes readers waiting in `changed()` (a reader that unsubscribed must see its end). */
  wake(): void {
    this.#changed();
  }
}

/**
 * A consumer of a prediction's events read with the wait in JS: every change to the channel
 * (a send, the close) is made by its EventStream on this thread, which wakes the reader. The
 * native `next()` woke it through a tokio task and a thread-safe call back per empty read:
 * measured 30-140 µs of main-thread time each, ~12% of an SSE stream's main thread.
 */
export class EventReader {
  readonly #events: EventStream;
  readonly #consumer: OutputConsumer;

  constructor(events: EventStream, consumer: OutputConsumer) {
    this.#events = events;
    this.#consumer = consumer;
  }

  /**
   * Up to `max` events, one per line: synchronously when some are there, else once some come;
   * null once the channel is closed and everything was read (or after `unsubscribe`).
   */
  read(max: number): string | null | Promise<string | null> {
    const ready = this.#consumer.tryNext(max);
    return ready === '' ? this.#wait(max) : ready;
  }

  async #wait(max: number): Promise<string | null> {
    for (;;) {
      await this.#events.changed();
      const ready = this.#consumer.tryNext(max);
      if (ready !== '') return ready;
    }
  }

  unsubscribe(): void {
    this.#consumer.unsubscribe();
    this.#events.wake();
  }

  /** Events this reader will never see (see OutputConsumer.missed). */
  get missed(): number {
    return this.#consumer.missed;
  }

  get finalState(): string | null {
    return this.#consumer.finalState;
  }
}
