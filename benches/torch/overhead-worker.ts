// overhead.ts's worker thread, where the HTTP server runs a predictor: answers each
// { model, calls, sync } message with the mean µs per call of `calls` back-to-back calls.
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { Tensor, loadTorchScript, type TorchScriptModule } from '../../src/torch/index.js';

interface Request {
  model: string;
  calls: number;
  sync: boolean;
}

const x = Tensor.fromTypedArray(new Float32Array([1]), [1]);
const modules = new Map<string, TorchScriptModule>();

/** The module `model` from `dir`, loaded once. */
export async function benchModule(dir: string, model: string): Promise<TorchScriptModule> {
  let module = modules.get(model);
  if (module === undefined) {
    module = await loadTorchScript(join(dir, `${model}.pt`));
    modules.set(model, module);
  }
  return module;
}

// Imported by overhead.ts on the main thread too, for timeCalls: serve only in the worker.
const port = parentPort;
if (port !== null) {
  const dir = (workerData as { dir: string }).dir;
  port.on('message', (request: Request) => {
    void (async () => {
      port.postMessage({ us: await timeCalls(await benchModule(dir, request.model), request.calls, request.sync) });
    })();
  });
}

/** Mean µs per call; `sync` uses forwardSync where this build has it. */
export async function timeCalls(module: TorchScriptModule, calls: number, sync: boolean): Promise<number> {
  const syncCall = (module as unknown as { forwardSync?: (x: Tensor) => unknown }).forwardSync?.bind(module);
  for (let i = 0; i < 50; i++) await module.forward(x);
  const start = performance.now();
  if (sync && syncCall) for (let i = 0; i < calls; i++) syncCall(x);
  else for (let i = 0; i < calls; i++) await module.forward(x);
  return ((performance.now() - start) * 1000) / calls;
}
