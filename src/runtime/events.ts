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
  line: string;
  accepted: (() => void) | undefined;
}

interface Held {
  name: StreamEventName;
  data: unknown;
}

const RESOLVED = Promise.resolve();

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
  readonly #token: CancelToken;
  #channel: OutputChannel | undefined;
  #held: Held[] = [];
  /** Events that fell out of history before the channel was opened. */
  #dropped = 0;
  #final: { name: StreamEventName; data: unknown } | undefined;
  readonly #queue: Pending[] = [];
  #pumping = false;

  constructor(token: CancelToken, capacity = currentSettings().streamHistoryCapacity) {
    this.#token = token;
    this.replayable = capacity > 0;
    this.#capacity = Math.max(1, capacity);
  }

  /** The channel, opened on first use with the history held so far. */
  get channel(): OutputChannel {
    if (this.#channel === undefined) {
      const channel = new OutputChannel({ capacity: this.#capacity }, this.#token);
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
    if (this.#final !== undefined) return RESOLVED;
    if (this.#channel === undefined) {
      this.#held.push({ name, data });
      if (this.#held.length > this.#capacity) {
        this.#held.shift();
        this.#dropped += 1;
      }
      return RESOLVED;
    }
    const line = encodeEvent(name, data);
    // Nothing queued ahead and room in the channel (the usual case): hand it over now, without
    // a promise and a pump run per event (they were most of an SSE token's cost).
    if (!this.#pumping && this.#queue.length === 0) {
      try {
        if (this.#channel.trySend(line) === 1) return RESOLVED;
      } catch {
        // Cancelled or closed: nobody is waiting for this event any more.
        return RESOLVED;
      }
    }
    return new Promise((resolve) => {
      this.#queue.push({ line, accepted: resolve });
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
    void this.publish(name, data).then(() => channel.close(dataJson(data)));
    this.#final = { name, data };
  }

  subscribe(options: { lossless: boolean; replay: boolean }): OutputConsumer {
    return this.channel.subscribe(options);
  }

  async #pump(): Promise<void> {
    const channel = this.channel;
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, 256);
        const lines = batch.map((pending) => pending.line);
        try {
          const taken = channel.trySend(lines.join('\n'));
          if (taken < lines.length) await channel.send(lines.slice(taken).join('\n'));
        } catch {
          // Cancelled or closed: nobody is waiting for these events any more.
        }
        for (const pending of batch) pending.accepted?.();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
