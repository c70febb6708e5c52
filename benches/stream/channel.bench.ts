// Items per second through the native OutputChannel, from a JS producer (an async generator
// predictor, driven as the runner drives it) to a JS consumer (as the SSE writer reads it),
// side by side with the same generator iterated directly with `for await` (no channel at all).
//
// Run: npx tsx benches/stream/channel.bench.ts [items]

import { OutputChannel } from '../../index.js';

const items = Number(process.argv[2] ?? 1_000_000);
const runs = 5;

async function* tokens(count: number) {
  for (let n = 0; n < count; n += 1) yield `tok${n % 1000}`;
}

/** What a consumer does with each item: enough work that it cannot be optimised away. */
let sink = 0;
function consume(text: string) {
  sink += text.length;
}

async function direct() {
  for await (const token of tokens(items)) consume(JSON.stringify(token));
}

/** Reads batches of up to 1024 items, as an SSE writer would, until the channel ends. */
function drain(channel: OutputChannel): Promise<void> {
  const consumer = channel.subscribe({ lossless: true });
  return (async () => {
    for (let batch = await consumer.next(); batch !== null; batch = await consumer.next()) {
      for (const text of batch.split('\n')) consume(text);
    }
  })();
}

/** One `trySend` per item; a promise only when the consumer holds the producer back. */
async function perItem(capacity: number) {
  const channel = new OutputChannel({ capacity });
  const reading = drain(channel);
  for await (const token of tokens(items)) {
    const text = JSON.stringify(token);
    if (channel.trySend(text) === 0) await channel.send(text);
  }
  channel.close();
  await reading;
}

/** The producer gathers 64 items and hands them over as one `\n`-joined `trySend`. */
async function batched(capacity: number) {
  const channel = new OutputChannel({ capacity });
  const reading = drain(channel);
  let pending: string[] = [];
  const flush = async () => {
    const taken = channel.trySend(pending.join('\n'));
    if (taken < pending.length) await channel.send(pending.slice(taken).join('\n'));
    pending = [];
  };
  for await (const token of tokens(items)) {
    pending.push(JSON.stringify(token));
    if (pending.length === 64) await flush();
  }
  if (pending.length > 0) await flush();
  channel.close();
  await reading;
}

const variants: [string, () => Promise<void>][] = [
  ['for await over the generator (no channel)', direct],
  ['channel, trySend per item, capacity 1024', () => perItem(1024)],
  ['channel, trySend per item, capacity 64', () => perItem(64)],
  ['channel, 64-item batches, capacity 1024', () => batched(1024)],
];

// Runs interleave the variants, so drift in machine load hits them all alike.
const rates = variants.map((): number[] => []);
for (const [, body] of variants) await body(); // warm-up
for (let run = 0; run < runs; run += 1) {
  for (const [index, [, body]] of variants.entries()) {
    const started = process.hrtime.bigint();
    await body();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates[index]?.push(items / seconds);
  }
}
const medians = rates.map((list) => list.sort((a, b) => a - b)[Math.floor(runs / 2)] ?? 0);
const baseline = medians[0] ?? 1;
console.log(`${items} items, median of ${runs} interleaved runs, node ${process.version}`);
for (const [index, [name]] of variants.entries()) {
  const median = medians[index] ?? 0;
  const rate = Math.round(median).toLocaleString('en-US');
  console.log(`${name.padEnd(44)} ${rate.padStart(11)} items/s  ${(median / baseline).toFixed(2)}x`);
}
if (sink === 0) console.log('(nothing consumed)');
