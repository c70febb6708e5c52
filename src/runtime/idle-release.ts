// What a thread gives back once it is set up and still idle: V8's low-memory collection of its
// isolate and the C heap's free pages (crates/node/src/memory.rs); the server's thread and each
// predictor worker call it once, after READY / after setup.
import { releaseMemory, trimNativeHeap } from '../native/addon.js';

/**
 * How long a thread must go without a prediction after setup before it collects. A client that
 * waited for READY (a health-check poll, a queued request) sends its prediction at once, before
 * this; an idle server is collected well before the 0.5 s after READY benches/startup reads.
 */
export const RELEASE_AFTER_MS = 50;

/**
 * Above this much live JS heap the collection, which blocks the thread (~2 ms per MiB live,
 * measured: 33 ms at 16 MiB, 92 ms at 48 MiB), is left to V8's memory reducer: it does the same
 * incrementally once the thread has been idle 8-20 s.
 */
export const RELEASE_MAX_HEAP_BYTES = 32 * 1024 * 1024;

/**
 * Once, RELEASE_AFTER_MS from now: V8's collection and the C heap's trim, unless `predicted()`
 * says a prediction came in the meantime (traffic from READY on: the memory is in use, and the
 * collection would pause it; V8's reducer does its own later) or the heap is large; then the trim
 * alone. Loading leaves grown young generations and garbage that V8 gives back only 8-20 s later
 * by itself: the echo server with its worker thread measured 78.9 MiB 0.5 s after READY, 71.1 MiB
 * 25 s later, and 70 MiB at 0.5 s with this (benches/startup). A prediction that arrives while
 * it runs waits for it: +22 ms median for one sent 60 ms after READY (first-prediction.ts). The
 * timer does not keep the thread alive.
 */
export function releaseWhenIdle(predicted: () => boolean): void {
  setTimeout(() => {
    if (predicted() || process.memoryUsage().heapUsed > RELEASE_MAX_HEAP_BYTES) trimNativeHeap();
    else releaseMemory();
  }, RELEASE_AFTER_MS).unref();
}
