// Which cancel token a torch call obeys, whether a blocking call would still see it cancelled,
// and turning its cancellation into `CancelationError`.
import { CancelationError } from '../errors.js';
import { CancelToken } from '../native/addon.js';
import { BatchScope, currentScope } from '../predictor/scope.js';

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
  /**
   * True when what cancels the call runs on another thread, so a call that blocks this one still
   * sees it: the prediction's own token (the runtime cancels it on the main thread), or none.
   * A caller's token or signal may be cancelled by this thread's own timers or events instead.
   */
  otherThread: boolean;
  done(): void;
}

const nothingToRelease = (): void => {};

function resolveToken(options: CancelOptions): Resolved {
  if (options.cancelToken !== undefined)
    return { id: options.cancelToken?.id, otherThread: options.cancelToken === null, done: nothingToRelease };
  const { signal } = options;
  if (signal) {
    if (signal.aborted) throw new CancelationError();
    const token = new CancelToken();
    const onAbort = () => token.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    return {
      id: token.id,
      otherThread: false,
      done() {
        signal.removeEventListener('abort', onAbort);
        token.release();
      },
    };
  }
  const scope = currentScope();
  // A batch's own token is cancelled on this thread, once its last item's cancel message arrives.
  return { id: scope.cancelToken?.id, otherThread: !(scope instanceof BatchScope), done: nothingToRelease };
}

function isCanceledError(error: unknown): boolean {
  return error instanceof Error && (error as Error & { code?: unknown }).code === 'Cancelled';
}

function converted(error: unknown): unknown {
  return isCanceledError(error) ? new CancelationError() : error;
}

/** Runs `call` with the token id the options pick; a native cancellation becomes `CancelationError`. */
export async function withCancel<T>(options: CancelOptions, call: (tokenId: number | undefined) => Promise<T>): Promise<T> {
  return awaitWith(resolveToken(options), call);
}

async function awaitWith<T>(token: Resolved, call: (tokenId: number | undefined) => Promise<T>): Promise<T> {
  try {
    return await call(token.id);
  } catch (error) {
    throw converted(error);
  } finally {
    token.done();
  }
}

/** `withCancel` for a call that blocks this thread: a signal is obeyed only if aborted before. */
export function withCancelSync<T>(options: CancelOptions, call: (tokenId: number | undefined) => T): T {
  const token = resolveToken(options);
  try {
    return call(token.id);
  } catch (error) {
    throw converted(error);
  } finally {
    token.done();
  }
}

/**
 * The call's result as a promise: made by `blocking` on this thread when `block` allows it and
 * the call's canceller runs on another thread (see `Resolved.otherThread`), else by `queued` on
 * the inference thread.
 */
export function withCancelAuto<T>(
  options: CancelOptions,
  block: boolean,
  blocking: (tokenId: number | undefined) => T,
  queued: (tokenId: number | undefined) => Promise<T>,
): Promise<T> {
  let token: Resolved;
  try {
    token = resolveToken(options);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  if (!block || !token.otherThread) return awaitWith(token, queued);
  try {
    return Promise.resolve(blocking(token.id));
  } catch (error) {
    return Promise.reject(converted(error));
  } finally {
    token.done();
  }
}
