// Safetensors files as typed-array views, without libtorch: the core addon maps the file once
// and every tensor's `data` is a view of the mapping, kept mapped while any view is referenced.
import { readSafetensors as readNative, type SafetensorsView, type SafetensorsViews } from './addon.js';

export type { SafetensorsView, SafetensorsViews };

/**
 * Reads a safetensors file: `{ metadata, tensors: { [name]: { dtype, shape, data, zeroCopy } } }`,
 * tensors in file order. `data` is the typed array of the dtype (F16/BF16 as raw Uint16Array
 * bits, BOOL as Uint8Array) over a private copy-on-write mapping: reading it costs no copy, and
 * writing to it never changes the file. Throws, naming the file and the problem, for a missing,
 * truncated or malformed file.
 */
export function readSafetensors(path: string): SafetensorsViews {
  return readNative(path);
}
