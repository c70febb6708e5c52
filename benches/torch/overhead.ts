// The fixed cost of one libtorch call (an identity module, and `x + 1` on a 1-element tensor):
// Python torch against cog-node on the main thread and in a worker thread (where the HTTP server
// runs a predictor), `await forward(x)` and `forwardSync(x)`, interleaved round by round; median
// of the rounds' mean µs per call, and each median's ratio to Python's.
//   node --import tsx benches/torch/overhead.ts [--threads N] [--rounds R] [--calls C]
import { spawn } from 'node:child_process';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { setNumThreads } from '../../src/torch/index.js';
import { benchModule, timeCalls } from './overhead-worker.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '9' },
    calls: { type: 'string', default: '2000' },
    models: { type: 'string', default: join(tmpdir(), 'cog-node-bench-models') },
  },
});
const threads = Number(args.threads);
const rounds = Number(args.rounds);
const calls = Number(args.calls);
const dir = args.models!;
const python = process.env.COG_NODE_PYTHON ?? join(homedir(), '.cache', 'cog-node', 'torch', 'bin', 'python');
const here = import.meta.dirname;

const pythonProcess = spawn(python, [join(here, 'python_overhead.py'), dir, String(threads)], {
  cwd: tmpdir(),
  stdio: ['pipe', 'pipe', 'inherit'],
});
const pythonLines = createInterface({ input: pythonProcess.stdout! })[Symbol.asyncIterator]();
async function pythonLine(): Promise<string> {
  const { value, done } = await pythonLines.next();
  if (done) throw new Error('the Python side exited');
  return value as string;
}
await pythonLine(); // "ready": the modules are written
async function pythonCalls(model: string): Promise<number> {
  pythonProcess.stdin!.write(`${JSON.stringify({ model, calls })}\n`);
  return (JSON.parse(await pythonLine()) as { us: number }).us;
}

setNumThreads(threads);
// Node 20 applies `--import tsx` to the main thread only: the worker registers tsx itself.
const workerUrl = new URL('./overhead-worker.ts', import.meta.url).href;
const worker = new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl)}); });`, {
  eval: true,
  workerData: { dir },
});
let answer: ((us: number) => void) | undefined;
worker.on('message', (message: { us: number }) => answer?.(message.us));
worker.on('error', (error) => {
  console.error(error);
  process.exit(1);
});
function workerCalls(model: string, sync: boolean): Promise<number> {
  return new Promise((resolve) => {
    answer = resolve;
    worker.postMessage({ model, calls, sync });
  });
}

const contenders: Record<string, (model: string) => Promise<number>> = {
  python: pythonCalls,
  'main, await forward': async (model) => timeCalls(await benchModule(dir, model), calls, false),
  'main, forwardSync': async (model) => timeCalls(await benchModule(dir, model), calls, true),
  'worker, await forward': (model) => workerCalls(model, false),
  'worker, forwardSync': (model) => workerCalls(model, true),
};
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const pause = () => new Promise((resolve) => setTimeout(resolve, 50));
const load = loadavg()[0]!.toFixed(1);
console.log(`µs per call, median of ${rounds} interleaved rounds of ${calls} calls, ${threads} intra-op threads, load ${load}`);
console.log('module    contender               µs/call  ÷ python');
for (const model of ['identity', 'add']) {
  const samples = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
  for (const measure of Object.values(contenders)) await measure(model); // warm-up round
  for (let round = 0; round < rounds; round++) {
    for (const [name, measure] of Object.entries(contenders)) {
      await pause();
      samples.get(name)!.push(await measure(model));
    }
  }
  const base = median(samples.get('python')!);
  for (const [name, values] of samples) {
    const us = median(values);
    console.log(`${model.padEnd(9)} ${name.padEnd(22)} ${us.toFixed(2).padStart(8)}  ${(us / base).toFixed(2).padStart(8)}`);
  }
}
console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)}`);
pythonProcess.stdin!.end();
await worker.terminate();
