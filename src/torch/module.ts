// TorchScript modules as predictors use them: `await model.forward(x)`, run on the inference
// thread, obeying the running prediction's cancellation.
import { withCancel, type CancelOptions } from './cancel.js';
import { native, type NativeModule, type NativeTensor } from './native.js';

/** A value a TorchScript method takes: see crates/torch/src/values.rs for the mapping. */
export type TorchInput =
  NativeTensor | number | bigint | boolean | string | null | readonly TorchInput[] | { readonly [key: string]: TorchInput };

/** A value a TorchScript method returns: tuples and lists as arrays, dicts as objects. */
export type TorchValue = NativeTensor | number | boolean | string | null | TorchValue[] | { [key: string]: TorchValue };

/** `cpu`, `cuda` (device 0) or `cuda:N`. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

export interface LoadOptions {
  /** Where to put the parameters; `cpu` by default. */
  device?: Device;
}

export interface StepsOptions extends CancelOptions {
  /** The method each step calls; `forward` by default. */
  method?: string;
  steps: number;
  /** The first step's inputs; each step's output (a tuple spread) is the next step's inputs. */
  inputs: readonly TorchInput[];
  /** Pass the step index (0-based) as a last `int` argument. */
  withStepIndex?: boolean;
}

export class TorchScriptModule {
  readonly #module: NativeModule;
  readonly #cancel: CancelOptions;

  constructor(module: NativeModule, cancel: CancelOptions = {}) {
    this.#module = module;
    this.#cancel = cancel;
  }

  get device(): string {
    return this.#module.device;
  }

  get path(): string {
    return this.#module.path;
  }

  /** The same module, its calls obeying `options` instead of the running prediction's token. */
  withCancel(options: CancelOptions): TorchScriptModule {
    return new TorchScriptModule(this.#module, options);
  }

  /** Calls `forward(...inputs)` on the inference thread, under no-grad. */
  forward(...inputs: TorchInput[]): Promise<TorchValue> {
    return this.call('forward', ...inputs);
  }

  /** Calls a named method (exported with `@torch.jit.export`). */
  call(method: string, ...inputs: TorchInput[]): Promise<TorchValue> {
    return withCancel(this.#cancel, (id) => this.#module.run(method, [...inputs], id) as Promise<TorchValue>);
  }

  /**
   * Runs `method` `steps` times in Rust (a denoising or decoding loop), checking the token
   * between steps: a cancelled prediction stops within one step with `CancelationError`.
   */
  runSteps(options: StepsOptions): Promise<TorchValue> {
    const { method = 'forward', steps, inputs, withStepIndex = false, ...cancel } = options;
    if (!Number.isInteger(steps) || steps < 0) {
      return Promise.reject(new RangeError(`steps: expected an integer >= 0, got ${steps}`));
    }
    const merged = { ...this.#cancel, ...cancel };
    return withCancel(merged, (id) => this.#module.runSteps(method, steps, [...inputs], withStepIndex, id) as Promise<TorchValue>);
  }
}

/** Loads a TorchScript file saved by `torch.jit.save` (or `torch.jit.trace(...).save`). */
export async function loadTorchScript(path: string, options: LoadOptions = {}): Promise<TorchScriptModule> {
  return new TorchScriptModule(await native.loadTorchScript(path, options.device ?? 'cpu'));
}
