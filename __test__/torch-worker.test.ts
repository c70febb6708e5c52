// cog-node/torch in worker threads (the HTTP server runs predictors in one): the addon and its
// single inference thread serve every thread of the process, before and after a worker exits.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTorchFixtures, repoRoot } from './helpers/torch.js';

let dir: string;

beforeAll(() => {
  dir = makeTorchFixtures();
});

// Plain JS against dist/ (built by `npm run build:ts`), so that workers need no TS loader.
const script = `
import { Worker } from 'node:worker_threads';
const run = \`
  const t = await import(process.env.TORCH_URL);
  const m = await t.loadTorchScript(process.env.MODEL);
  const x = t.Tensor.fromTypedArray(new Float32Array(20).fill(0.5), [5, 4]);
  return Array.from(t.expectTensor(await m.forward(x)).toTypedArray());
\`;
const inMain = await new Function('process', \`return (async () => { \${run} })()\`)(process);
const inWorkers = [];
for (let i = 0; i < 2; i++) {
  const worker = new Worker(\`
    const { parentPort } = await import('node:worker_threads');
    parentPort.postMessage(await (async () => { \${run} })());\`, { eval: true });
  inWorkers.push(await new Promise((resolve, reject) => { worker.on('message', resolve); worker.on('error', reject); }));
  await worker.terminate();
}
const again = await new Function('process', \`return (async () => { \${run} })()\`)(process);
console.log(JSON.stringify({ inMain, inWorkers, again }));
`;

describe('worker threads', () => {
  it('runs models in workers and in the main thread, also after a worker exits', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: repoRoot,
      env: { ...process.env, MODEL: join(dir, 'mlp.pt'), TORCH_URL: new URL(`file://${join(repoRoot, 'dist', 'torch', 'index.js')}`).href },
    });
    const { inMain, inWorkers, again } = JSON.parse(stdout) as { inMain: number[]; inWorkers: number[][]; again: number[] };
    expect(inMain).toHaveLength(15);
    expect(inWorkers).toEqual([inMain, inMain]);
    expect(again).toEqual(inMain);
  });
});
