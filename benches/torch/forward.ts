// Forward latency of the same TorchScript models through cog-node/torch and Python torch, side by
// side in one run, same thread count, same inputs (written by the Python side), median of N.
// cog-node twice: `await forward()` from the main thread (the inference thread's hop), and
// `forwardSync()` (the call on the calling thread, which `forward()` makes in a worker thread).
//   npx tsx benches/torch/forward.ts [--threads N] [--device cpu|cuda] [--rounds R] [--quick] [--only mlp,resnet18]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import {
  Tensor,
  cuda,
  expectTensor,
  loadSafetensors,
  loadTorchScript,
  setNumThreads,
  type TorchScriptModule,
} from '../../src/torch/index.js';

const { values: args } = parseArgs({
  options: {
    threads: { type: 'string', default: '2' },
    device: { type: 'string', default: 'cpu' },
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'mlp,resnet18,minilm' },
    models: { type: 'string', default: join(tmpdir(), 'cog-node-bench-models') },
  },
});
const threads = Number(args.threads);
const rounds = Number(args.rounds);
/** Calls before timing: the TorchScript profiling executor optimises after its first runs. */
const WARMUP = 3;
const device = args.device as 'cpu' | 'cuda';
const python = process.env.COG_NODE_PYTHON ?? join(homedir(), '.cache', 'cog-node', 'torch', 'bin', 'python');
const here = import.meta.dirname;

const dir = args.models!;
if (!existsSync(join(dir, 'resnet18.pt'))) {
  mkdirSync(dir, { recursive: true });
  execFileSync(python, [join(here, 'make_models.py'), dir], { stdio: 'inherit', cwd: tmpdir() });
}

const iterations = (model: string, batch: number) => {
  const base = model === 'resnet18' ? (batch === 1 ? 30 : 5) : model === 'minilm' ? (batch === 1 ? 50 : 10) : 200;
  return args.quick ? Math.max(3, Math.ceil(base / 5)) : base;
};
const cases = args
  .only!.split(',')
  .filter((model) => existsSync(join(dir, `${model}.pt`)))
  .flatMap((model) => [1, 32].map((batch) => ({ model, batch, iterations: iterations(model, batch) })));

interface Case {
  model: string;
  batch: number;
  iterations: number;
}

interface Timing extends Case {
  ms: number;
  checksum: number;
}

// One Python process answers request by request: each case alternates a few Python calls and
// as many cog-node calls, so both sides share whatever else the machine runs; never both at once.
const pythonProcess = spawn(python, [join(here, 'python_forward.py'), dir, String(threads), device], {
  cwd: tmpdir(),
  stdio: ['pipe', 'pipe', 'inherit'],
});
const pythonLines = createInterface({ input: pythonProcess.stdout! })[Symbol.asyncIterator]();
async function pythonCalls(c: Case, iterations: number, warmup = 0): Promise<{ times: number[]; checksum: number }> {
  pythonProcess.stdin!.write(`${JSON.stringify({ model: c.model, batch: c.batch, iterations, warmup })}\n`);
  const { value, done } = await pythonLines.next();
  if (done) throw new Error('the Python side exited');
  return JSON.parse(value as string) as { times: number[]; checksum: number };
}

setNumThreads(threads);
async function nodeCalls(
  module: TorchScriptModule,
  inputs: Tensor[],
  iterations: number,
  sync = false,
): Promise<{ times: number[]; out: Tensor }> {
  const times: number[] = [];
  let out: Tensor | undefined;
  for (let i = 0; i < iterations; i++) {
    if (device === 'cuda') cuda.synchronize();
    const start = performance.now();
    out = expectTensor(sync ? module.forwardSync(...inputs) : await module.forward(...inputs));
    if (device === 'cuda') cuda.synchronize();
    times.push(performance.now() - start);
  }
  return { times, out: out! };
}

const pause = () => new Promise((resolve) => setTimeout(resolve, 100));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;
const pythonResults: Timing[] = [];
const nodeResults: Timing[] = [];
const syncResults: Timing[] = [];
for (const c of cases) {
  await pythonCalls(c, 1, WARMUP); // also writes the inputs
  const module = await loadTorchScript(join(dir, `${c.model}.pt`), { device });
  const inputs = Object.values(await loadSafetensors(join(dir, `inputs-${c.model}-${c.batch}.safetensors`), { device }));
  await nodeCalls(module, inputs, WARMUP + 1);
  // Switching sides: a pause lets the other process's OpenMP threads stop spinning (they spin a
  // while after each parallel region), and one untimed call warms the caches again.
  const chunk = Math.max(1, Math.floor(c.iterations / 5));
  const py: number[] = [];
  const node: number[] = [];
  const sync: number[] = [];
  let pyChecksum = 0;
  let out: Tensor | undefined;
  for (let done = 0; done < c.iterations * rounds; done += chunk) {
    await pause();
    const p = await pythonCalls(c, chunk, 1);
    py.push(...p.times);
    pyChecksum = p.checksum;
    await pause();
    await module.forward(...inputs);
    const n = await nodeCalls(module, inputs, chunk);
    node.push(...n.times);
    out = n.out;
    await pause();
    module.forwardSync(...inputs);
    sync.push(...(await nodeCalls(module, inputs, chunk, true)).times);
  }
  const checksum = Array.from(out!.toTypedArray() as Float32Array).reduce((a, b) => a + b, 0);
  pythonResults.push({ ...c, ms: median(py), checksum: pyChecksum });
  nodeResults.push({ ...c, ms: median(node), checksum });
  syncResults.push({ ...c, ms: median(sync), checksum });
}
pythonProcess.stdin!.end();

console.log(
  `forward latency, median ms of ${rounds}x the iterations, Python and cog-node calls interleaved, ${threads} intra-op threads, device ${device}, load ${loadavg()[0]!.toFixed(1)}`,
);
console.log('model      batch  python ms  await forward ms  ratio  forwardSync ms  ratio  checksum Δ');
for (const [i, n] of nodeResults.entries()) {
  const p = pythonResults[i]!;
  const s = syncResults[i]!;
  const delta = Math.abs(n.checksum - p.checksum) / Math.max(1, Math.abs(p.checksum));
  console.log(
    `${n.model.padEnd(10)} ${String(n.batch).padStart(5)}  ${p.ms.toFixed(3).padStart(9)}  ${n.ms.toFixed(3).padStart(16)}  ${(n.ms / p.ms).toFixed(3).padStart(5)}  ${s.ms.toFixed(3).padStart(14)}  ${(s.ms / p.ms).toFixed(3).padStart(5)}  ${delta.toExponential(1).padStart(10)}`,
  );
}
