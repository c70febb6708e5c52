// Which cancel token a torch call obeys, and turning its cancellation into `CancelationError`.
import { CancelationError } from '../errors.js';
import { CancelToken } from '../native/addon.js';
import { currentScope } from '../predictor/scope.js';

/** How a torch call learns that it should stop. */
export interface CancelOptions {
  /**
   * A cog-node `CancelToken` (anything with its `id`). Defaults to the running prediction's token
   * (`this.scope.cancelToken`), so inference started by `predict()` stops when it is cancelled;
   * `null` opts out.
   */
  cancelToken?: { readonly id: number } | null;
  /** Cancels the call when aborted (used when no `cancelToken` is given). */
  signal?: AbortSignal;
}

interface Resolved {
  id: number | undefined;
  done(): void;
}

function resolveToken(options: CancelOptions): Resolved {
  if (options.cancelToken !== undefined) return { id: options.cancelToken?.id, done() {} };
  const { signal } = options;
  if (signal) {
    if (signal.aborted) throw new CancelationError();
    const token = new CancelToken();
    const onAbort = () => token.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    return {
      id: token.id,
      done() {
        signal.removeEventListener('abort', onAbort);
        token.release();
      },
    };
  }
  return { id: currentScope().cancelToken?.id, done() {} };
}

function isCanceledError(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: unknown }).code === 'Cancelled';
}

/** Runs `call` with the token id the options pick; a native cancellation becomes `CancelationError`. */
export async function withCancel<T>(options: CancelOptions, call: (tokenId: number | undefined) => Promise<T>): Promise<T> {
  const token = resolveToken(options);
  try {
    return await call(token.id);
  } catch (error) {
    if (isCanceledError(error)) throw new CancelationError();
    throw error;
  } finally {
    token.done();
  }
}
