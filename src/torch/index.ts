// `cog-node/torch`: libtorch for predictors that need it. Importing this module loads libtorch;
// `cog-node` itself never does.
import { native, type NativeTensor } from './native.js';
import type { Device } from './module.js';

export { libtorch } from './native.js';
export { LibtorchNotFoundError } from '../errors.js';
export { LIBTORCH_VERSION, findLibtorch, type LibtorchLocation } from './libtorch.js';
export type { CancelOptions } from './cancel.js';
export {
  TorchScriptModule,
  loadTorchScript,
  type Device,
  type LoadOptions,
  type StepsOptions,
  type TorchInput,
  type TorchValue,
} from './module.js';
export { readSafetensors, type SafetensorsView, type SafetensorsViews } from '../native/safetensors.js';

/** A libtorch tensor: `Tensor.fromTypedArray(data, shape)`, `.toTypedArray()`, `.shape`, `.dtype`, `.device`, `.to(device)`. */
export const Tensor = native.Tensor;
export type Tensor = NativeTensor;

export const cuda = {
  /** True when libtorch sees at least one CUDA device. */
  isAvailable: (): boolean => native.cudaIsAvailable(),
  deviceCount: (): number => native.cudaDeviceCount(),
  /** Waits for the device's queued kernels (module calls return once they are queued); blocks. */
  synchronize: (index = 0): void => native.cudaSynchronize(index),
};

/** Sets libtorch's intra-op thread count for inference (as `torch.set_num_threads`). */
export function setNumThreads(count: number): void {
  native.setNumThreads(count);
}

export function getNumThreads(): number {
  return native.getNumThreads();
}

export interface SafetensorsLoadOptions {
  /** Where the tensors go; `cpu` by default. */
  device?: Device;
  /**
   * On the CPU, read every byte now into libtorch's own memory instead of mapping the file
   * (as Python's safetensors does, pages are then read on first use). Default false.
   */
  copy?: boolean;
}

/**
 * Reads every tensor of a safetensors file onto a device, copying each byte at most once: on the
 * CPU the tensors are views of a private copy-on-write mapping of the file that libtorch owns
 * (no copy; `copy: true` reads eagerly instead); on a GPU each tensor is copied there from the
 * mapping. Tensors by name, in file order. Rejects, naming the file and the problem, for a bad
 * file or a dtype libtorch cannot hold.
 */
export async function loadSafetensors(path: string, options: SafetensorsLoadOptions = {}): Promise<Record<string, Tensor>> {
  return await native.loadSafetensors(path, options.device ?? 'cpu', options.copy ?? false);
}

/** The tensor in `value`, or a TypeError naming what came instead. */
export function expectTensor(value: unknown, what = 'the output'): Tensor {
  if (value instanceof native.Tensor) return value;
  throw new TypeError(`${what}: expected a Tensor, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
}
