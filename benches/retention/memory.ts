// What polling's retention costs: the heap a finished echo prediction holds when kept (as the
// runtime keeps it, its final JSON text, against keeping the Prediction object), and the time per
// prediction with retention on (1000) and off (0).
// Run: node --expose-gc --import tsx benches/retention/memory.ts   (BENCH_NO_BUILD=1 skips npm run build:ts)
import { BasePredictor, Input, Type, loadPredictor, type Inputs, type Prediction } from '../../dist/index.js';
import { buildDist } from '../harness.js';

buildDist();

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');
const N = Number(process.env.BENCH_PREDICTIONS ?? 5000);

class Echo extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();
  async predict({ text }: Inputs<typeof Echo>): Promise<string> {
    return text;
  }
}

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

/** A runtime for the echo predictor with this retention count (the settings are read per load). */
async function echoRuntime(count: number) {
  process.env.COG_PREDICTION_RETENTION = String(count);
  return (await loadPredictor(Echo)).runtime;
}

/** Heap held per prediction after N echo predictions, each kept by `keep` (and by the runtime's own store). */
async function retainedPerPrediction(count: number, keep: (prediction: Prediction) => unknown): Promise<number> {
  const runtime = await echoRuntime(count);
  const held: unknown[] = [];
  for (let i = 0; i < 500; i++) await runtime.start({ text: `warm ${i}` }).done;
  const before = heap();
  for (let i = 0; i < N; i++) {
    const prediction = runtime.start({ text: `hello ${i}` });
    await prediction.done;
    held.push(keep(prediction));
  }
  const after = heap();
  held.length = 0;
  return (after - before) / N;
}

/**
 * Mean µs per sequential echo prediction through `runtime`; `write`: the caller writes the final
 * JSON too, as the sync HTTP route does (retention then reuses that one text).
 */
async function microsPerPrediction(runtime: Awaited<ReturnType<typeof echoRuntime>>, write: boolean): Promise<number> {
  const count = N * 4;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const prediction = runtime.start({ text: `hello ${i}` });
    const response = await prediction.done;
    if (write) prediction.json(response);
  }
  return ((performance.now() - started) * 1000) / count;
}

// End to end, both runtimes warm, rounds interleaved in both orders (this machine is shared: the
// best round of each counts).
const runtimes = { 'retention 0': await echoRuntime(0), 'retention 1000': await echoRuntime(1000) };
const best = new Map<string, number>();
for (let round = 0; round < 7; round++) {
  const order = Object.entries(runtimes);
  if (round % 2 === 1) order.reverse();
  for (const [name, runtime] of order) {
    for (const write of [false, true]) {
      const micros = await microsPerPrediction(runtime, write);
      // Round 0 is the warm-up.
      if (round === 0) continue;
      const key = `${name}${write ? ', caller writes the JSON' : ''}`;
      best.set(key, Math.min(best.get(key) ?? Infinity, micros));
    }
  }
}
console.log('µs per sequential echo prediction, in process (best of 6):');
for (const [key, micros] of best) console.log(`  ${key}: ${micros.toFixed(2)}`);

const noop = () => undefined;
const rows = [
  ['nothing kept (retention 0)', await retainedPerPrediction(0, noop)],
  ['the runtime keeps its final JSON (retention N)', await retainedPerPrediction(N, noop)],
  ['the Prediction object kept (retention 0, held by the caller)', await retainedPerPrediction(0, (p) => p)],
] as const;
console.log(`heap per finished echo prediction (N=${N}):`);
for (const [what, bytes] of rows) console.log(`  ${what}: ${Math.round(bytes)} B`);

process.exit(0);
