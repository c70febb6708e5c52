// The Node half of scripts/gpu-check-run.sh (plain JS, so the GPU machine needs no
// node_modules): loads each model on cuda and on cpu through cog-node/torch (dist/), checks that
// the outputs agree, and times forward on both, next to Python torch on cuda.
//   node scripts/gpu-check.mjs MODELS_DIR
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { Tensor, cuda, expectTensor, libtorch, loadTorchScript, setNumThreads } from '../dist/torch/index.js';

const models = process.argv[2];
// `cpu` only to rehearse this script on a machine without a GPU (gpu-check-run.sh --rehearse).
const target = process.env.COG_NODE_GPU_CHECK_DEVICE ?? 'cuda';
const here = import.meta.dirname;
const threads = 4;
setNumThreads(threads);
console.log(`libtorch ${libtorch.version} from ${libtorch.source}; cuda: ${cuda.isAvailable()}, ${cuda.deviceCount()} device(s)`);
if (target === 'cuda' && !cuda.isAvailable()) throw new Error('cog-node/torch sees no CUDA device');

const shapes = { mlp: (b) => [b, 512], resnet18: (b) => [b, 3, 224, 224] };
/** Deterministic inputs in [-1, 1). */
function input(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) data[i] = (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 31 - 1;
  return Tensor.fromTypedArray(data, shape);
}

async function time(module, x, device, iterations) {
  const times = [];
  for (let i = 0; i < iterations + 3; i++) {
    if (device.startsWith('cuda')) cuda.synchronize();
    const start = performance.now();
    await module.forward(x);
    if (device.startsWith('cuda')) cuda.synchronize();
    if (i >= 3) times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[times.length >> 1];
}

const python = spawn(
  process.env.COG_NODE_PYTHON ?? 'python3',
  [join(here, '..', 'benches', 'torch', 'python_forward.py'), models, String(threads), target],
  {
    cwd: tmpdir(),
    stdio: ['pipe', 'pipe', 'inherit'],
  },
);
const lines = createInterface({ input: python.stdout })[Symbol.asyncIterator]();
async function pythonMs(model, batch, iterations) {
  python.stdin.write(`${JSON.stringify({ model, batch, iterations, warmup: 3 })}\n`);
  const { value, done } = await lines.next();
  if (done) throw new Error('python_forward.py exited');
  const { times } = JSON.parse(value);
  return times.sort((a, b) => a - b)[times.length >> 1];
}

let failed = false;
console.log('model      batch  max|cpu-cuda|/max|cpu|  cpu ms    cuda ms   python cuda ms  cuda ratio (cog-node/python)');
for (const model of ['mlp', 'resnet18']) {
  const onCpu = await loadTorchScript(join(models, `${model}.pt`), { device: 'cpu' });
  const onGpu = await loadTorchScript(join(models, `${model}.pt`), { device: target });
  if (onGpu.device !== (target === 'cuda' ? 'cuda:0' : target)) throw new Error(`loaded on ${onGpu.device}`);
  for (const batch of [1, 32]) {
    const x = input(shapes[model](batch));
    const xg = x.to(target);
    const cpuOut = expectTensor(await onCpu.forward(x)).toTypedArray();
    const gpuOut = expectTensor(await onGpu.forward(xg));
    if (gpuOut.device !== onGpu.device) throw new Error(`output on ${gpuOut.device}`);
    const gpuHost = gpuOut.toTypedArray();
    let diff = 0;
    let scale = 1e-6;
    for (let i = 0; i < cpuOut.length; i++) {
      diff = Math.max(diff, Math.abs(cpuOut[i] - gpuHost[i]));
      scale = Math.max(scale, Math.abs(cpuOut[i]));
    }
    const relative = diff / scale;
    if (!(relative < 1e-2)) failed = true;
    const iterations = model === 'resnet18' && batch === 32 ? 10 : 50;
    const cpuMs = await time(onCpu, x, 'cpu', Math.min(iterations, 10));
    const gpuMs = await time(onGpu, xg, onGpu.device, iterations);
    const pyMs = await pythonMs(model, batch, iterations);
    console.log(
      `${model.padEnd(10)} ${String(batch).padStart(5)}  ${relative.toExponential(2).padStart(22)}  ${cpuMs.toFixed(2).padStart(8)}  ${gpuMs.toFixed(3).padStart(8)}  ${pyMs.toFixed(3).padStart(14)}  ${(gpuMs / pyMs).toFixed(3).padStart(10)}`,
    );
  }
}
python.stdin.end();
if (failed) {
  console.log('FAILED: cuda outputs differ from cpu outputs');
  process.exit(1);
}
console.log('ok: cuda outputs match cpu outputs');
process.exit(0);
