import { OutputChannel, type CancelToken, type OutputConsumer } from './native.js';

/** A prediction's event, as Cog's SSE names it. */
export type StreamEventName = 'start' | 'output' | 'log' | 'metric' | 'completed' | 'error';

/** `COG_STREAM_HISTORY_CAPACITY` (default 1024): events kept for a reconnecting SSE client. */
export function historyCapacityFromEnv(): number {
  const value = Number.parseInt(process.env.COG_STREAM_HISTORY_CAPACITY ?? '', 10);
  return Number.isInteger(value) && value >= 0 ? value : 1024;
}

/** One event as the channel carries it: a single line, `<name> <json>`. */
export function encodeEvent(name: StreamEventName, data: unknown): string {
  return `${name} ${JSON.stringify(data ?? null)}`;
}

export function decodeEvent(line: string): { name: StreamEventName; json: string } {
  const space = line.indexOf(' ');
  return { name: line.slice(0, space) as StreamEventName, json: line.slice(space + 1) };
}

interface Pending {
  line: string;
  accepted: (() => void) | undefined;
}

/**
 * A prediction's events on their way to its streaming consumers, through the core's bounded
 * channel (Rust): an SSE client or an embedding caller's iterator that must see every event
 * subscribes lossless, and when it falls behind the predictor's next output waits for room, so
 * memory stays bounded. The channel's buffer is also the history a reconnecting client replays.
 * Events are sent in order, batched across N-API.
 */
export class EventStream {
  readonly channel: OutputChannel;
  /** Whether a reconnecting subscriber may replay history (capacity 0 disables it). */
  readonly replayable: boolean;
  readonly #queue: Pending[] = [];
  #pumping = false;
  #closing = false;

  constructor(token: CancelToken, capacity = historyCapacityFromEnv()) {
    this.replayable = capacity > 0;
    this.channel = new OutputChannel({ capacity: Math.max(1, capacity) }, token);
  }

  /** Queues an event; the promise resolves once the channel has taken it (outputs await it). */
  publish(name: StreamEventName, data: unknown): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      this.#queue.push({ line: encodeEvent(name, data), accepted: resolve });
      if (!this.#pumping) void this.#pump();
    });
  }

  /** Publishes the last event and closes the channel once everything before it is sent. */
  close(name: StreamEventName, data: unknown, finalState: string): void {
    void this.publish(name, data).then(() => this.channel.close(finalState));
    this.#closing = true;
  }

  subscribe(options: { lossless: boolean; replay: boolean }): OutputConsumer {
    return this.channel.subscribe(options);
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, 256);
        const lines = batch.map((pending) => pending.line);
        let taken = 0;
        try {
          taken = this.channel.trySend(lines.join('\n'));
          if (taken < lines.length) await this.channel.send(lines.slice(taken).join('\n'));
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
