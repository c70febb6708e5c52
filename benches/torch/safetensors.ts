// Loading a 512 MiB safetensors file, side by side in one run: cog-node's zero-copy views (core
// addon), cog-node into libtorch tensors, Python's safetensors.torch.load_file, and plain memcpy
// of the same bytes. Bandwidth = file bytes / time, best of N rounds, file in the page cache.
//   npx tsx benches/torch/safetensors.ts [--rounds N]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Tensor, loadSafetensors, loadTorchScript, readSafetensors, setNumThreads } from '../../src/torch/index.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '2' },
    file: { type: 'string', default: join(tmpdir(), 'cog-node-bench-512mb.safetensors') },
  },
});
const rounds = Number(args.rounds);
const file = args.file!;
const python = process.env.COG_NODE_PYTHON ?? join(homedir(), '.cache', 'cog-node', 'torch', 'bin', 'python');
const here = import.meta.dirname;
if (!existsSync(`${file}.touch.pt`))
  execFileSync(python, [join(here, 'make_big_safetensors.py'), file], { stdio: 'inherit', cwd: tmpdir() });
const bytes = statSync(file).size;
setNumThreads(Number(args.threads));

/** Reads one byte per 4 KiB page: faults in every page of a lazily mapped view. */
function touchPages(view: ArrayBufferView): number {
  const u8 = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let sum = 0;
  for (let i = 0; i < u8.length; i += 4096) sum += u8[i]!;
  return sum;
}

async function best(run: () => unknown | Promise<unknown>): Promise<number> {
  let min = Infinity;
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await run();
    min = Math.min(min, performance.now() - start);
  }
  return min / 1000;
}

const source = readFileSync(file); // also puts the file in the page cache
const results: [string, number][] = [];
results.push([
  'memcpy (Buffer.copy into a fresh buffer)',
  await best(() => {
    const dst = Buffer.allocUnsafeSlow(bytes);
    source.copy(dst);
  }),
]);
const warm = Buffer.allocUnsafeSlow(bytes);
source.copy(warm);
results.push(['memcpy (into a warm buffer)', await best(() => source.copy(warm))]);
results.push(['cog-node readSafetensors (views, no touch)', await best(() => readSafetensors(file))]);
results.push([
  'cog-node readSafetensors + touch every page',
  await best(() => {
    for (const view of Object.values(readSafetensors(file).tensors)) touchPages(view.data);
  }),
]);
const toucher = await loadTorchScript(`${file}.touch.pt`);
const touchMapped = (tensors: Record<string, Tensor>) => toucher.forward(Object.values(tensors));
results.push(['cog-node loadSafetensors (mapped CPU tensors)', await best(() => loadSafetensors(file))]);
results.push(['cog-node loadSafetensors + touch every page', await best(async () => touchMapped(await loadSafetensors(file)))]);
results.push(['cog-node loadSafetensors copy: true (eager)', await best(() => loadSafetensors(file, { copy: true }))]);
const py = JSON.parse(
  execFileSync(python, [join(here, 'python_load.py'), file, String(rounds), args.threads!], { cwd: tmpdir(), encoding: 'utf8' }),
) as { load_file: number; load_file_touch: number };
results.push(['python load_file', py.load_file]);
results.push(['python load_file + touch every page', py.load_file_touch]);

const gbps = (s: number) => bytes / s / 1e9;
const memcpy = results[0]![1];
const pythonTouch = py.load_file_touch;
console.log(`${(bytes / 2 ** 20).toFixed(0)} MiB safetensors file, best of ${rounds} rounds`);
console.log('method                                          ms       GB/s   vs memcpy  vs python+touch');
for (const [name, seconds] of results) {
  console.log(
    `${name.padEnd(44)} ${(seconds * 1000).toFixed(1).padStart(8)} ${gbps(seconds).toFixed(2).padStart(8)} ${(memcpy / seconds).toFixed(2).padStart(9)}x ${(pythonTouch / seconds).toFixed(2).padStart(12)}x`,
  );
}
