// TorchScript modules as predictors use them: `await model.forward(x)`, run on the calling thread
// in a worker thread (where the server runs predictors) and on the inference thread from the main
// thread, obeying the running prediction's cancellation; `forwardSync(x)` blocks anywhere.
import { isMainThread } from 'node:worker_threads';
import { withCancelAuto, withCancelSync, type CancelOptions } from './cancel.js';
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
  /**
   * Whether `forward`, `call` and `runSteps` run on the calling thread, blocking it until the
   * call is done (their promise is then settled when they return), rather than on the inference
   * thread. Default: true in a worker thread, where the server runs predictors (the hop to the
   * inference thread and back costs ~20 µs a call), false on the main thread, whose event loop
   * serves requests when the predictor runs `--in-process`. Calls that obey a token or signal
   * passed by the caller always go to the inference thread: this thread might be what cancels them.
   */
  block?: boolean;
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
  readonly #block: boolean;

  constructor(module: NativeModule, cancel: CancelOptions = {}, block = !isMainThread) {
    this.#module = module;
    this.#cancel = cancel;
    this.#block = block;
  }

  get device(): string {
    return this.#module.device;
  }

  get path(): string {
    return this.#module.path;
  }

  /** The same module, its calls obeying `options` instead of the running prediction's token. */
  withCancel(options: CancelOptions): TorchScriptModule {
    return new TorchScriptModule(this.#module, options, this.#block);
  }

  /** Calls `forward(...inputs)` under no-grad (where: see `LoadOptions.block`). */
  forward(...inputs: TorchInput[]): Promise<TorchValue> {
    return this.call('forward', ...inputs);
  }

  /** Calls a named method (exported with `@torch.jit.export`). */
  call(method: string, ...inputs: TorchInput[]): Promise<TorchValue> {
    // `inputs` is this call's own array (a rest parameter): handed over as it is, not copied.
    return withCancelAuto(
      this.#cancel,
      this.#block,
      (id) => this.#module.runSync(method, inputs, id) as TorchValue,
      (id) => this.#module.run(method, inputs, id) as Promise<TorchValue>,
    );
  }

  /**
   * `forward(...inputs)` on this thread, which waits until it is done; the fast path anywhere off
   * the main thread. A token given with `withCancel` must be cancelled by another thread to stop
   * it midway (this one is busy); a signal is obeyed only when aborted before the call.
   */
  forwardSync(...inputs: TorchInput[]): TorchValue {
    return this.callSync('forward', ...inputs);
  }

  /** `call` on this thread, as `forwardSync`. */
  callSync(method: string, ...inputs: TorchInput[]): TorchValue {
    return withCancelSync(this.#cancel, (id) => this.#module.runSync(method, inputs, id) as TorchValue);
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
    return withCancelAuto(
      merged,
      this.#block,
      (id) => this.#module.runStepsSync(method, steps, [...inputs], withStepIndex, id) as TorchValue,
      (id) => this.#module.runSteps(method, steps, [...inputs], withStepIndex, id) as Promise<TorchValue>,
    );
  }

  /** `runSteps` on this thread, as `forwardSync`: a token cancelled by another thread stops it between steps. */
  runStepsSync(options: StepsOptions): TorchValue {
    const { method = 'forward', steps, inputs, withStepIndex = false, ...cancel } = options;
    if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`steps: expected an integer >= 0, got ${steps}`);
    const merged = { ...this.#cancel, ...cancel };
    return withCancelSync(merged, (id) => this.#module.runStepsSync(method, steps, [...inputs], withStepIndex, id) as TorchValue);
  }
}

/** Loads a TorchScript file saved by `torch.jit.save` (or `torch.jit.trace(...).save`). */
export async function loadTorchScript(path: string, options: LoadOptions = {}): Promise<TorchScriptModule> {
  return new TorchScriptModule(await native.loadTorchScript(path, options.device ?? 'cpu'), {}, options.block ?? !isMainThread);
}
