// The predictor's worker thread: loads the predictor, runs setup, predictions and batches
// ('predict-batch') in-process here, and reports everything to the host over postMessage.
// Cancellation arrives two ways: the Rust token (readable synchronously, even inside a busy loop)
// and a 'cancel' message (aborts the scope's signal once this thread's event loop is free). An
// error that escapes user code fails the prediction whose async context raised it; one that
// belongs to none ends this worker.
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessExecutor, errorMessage, type ExecutionResult } from '../executor.js';
import { loadTarget } from '../../load/load-module.js';
import { adoptEnvironment } from '../../load/settings.js';
import { cancelTokenCanceled } from '../../native/addon.js';
import { currentScope } from '../../predictor/scope.js';
import { setCurrentInstance } from '../../predictor/instance.js';
import {
  OUTPUT_BATCH,
  OUTPUT_BATCH_FIRST,
  OUTPUT_BATCH_GAP_MS,
  OUTPUT_BATCH_LONG_STREAK,
  OUTPUT_BATCH_STREAK,
  OUTPUT_WINDOW,
  TurnBatch,
  DONE_FIELDS,
  eachPredict,
  packDone,
  type FromWorker,
  type ToWorker,
  type WorkerOptions,
} from './protocol.js';
import { fromPortable, portableSchema, toPortable } from './portable.js';
import { releaseWhenIdle } from '../idle-release.js';
import { KeyedTable } from '../keyed-table.js';

if (parentPort === null) throw new Error('thread.ts runs only as a worker thread');
const port = parentPort;

/** The options of a worker started before they were known: its first message says them. */
function told(): Promise<WorkerOptions> {
  return new Promise((resolve, reject) => {
    port.once('message', (message: ToWorker) => {
      if (message.type !== 'load') return reject(new Error(`the worker was sent '${message.type}' before 'load'`));
      // As if made now: a Worker's environment is a copy of its parent's when it is made.
      adoptEnvironment(message.env);
      resolve(message.options);
    });
  });
}
const options = (workerData as WorkerOptions | undefined) ?? (await told());
/**
 * Results not posted yet: the predictions that end in one turn of the event loop answer in one
 * 'dones' message (`TurnBatch`). Every other message, and the next message in, posts them first.
 */
const dones = new TurnBatch((items) => {
  try {
    port.postMessage({ type: 'dones', items } satisfies FromWorker);
  } catch {
    // An output structured clone refuses (a Promise, a WeakMap inside it) fails its own prediction only.
    for (let at = 0; at < items.length; at += DONE_FIELDS) postDone(items.slice(at, at + DONE_FIELDS));
  }
});

/** Posts one result alone; one whose output cannot be cloned fails its prediction instead. */
function postDone(items: unknown[]): void {
  try {
    port.postMessage({ type: 'dones', items } satisfies FromWorker);
  } catch (error) {
    const failed: unknown[] = [];
    packDone(failed, items[0] as number, { status: 'failed', error: errorMessage(error), metrics: {} });
    port.postMessage({ type: 'dones', items: failed } satisfies FromWorker);
  }
}
const post = (message: FromWorker) => {
  dones.flush();
  port.postMessage(message);
};
// Before the predictor loads: `this.instance` holds from its constructor on.
if (options.instance !== undefined) setCurrentInstance(options.instance);

interface Running {
  /** The prediction's cancel token's id: its key in the messages. */
  id: number;
  /** A 'cancel' came for it (the token's flag is read by id: `cancelTokenCanceled`). */
  canceled: boolean;
  /** Items posted or batched that the host has not acknowledged yet (the window counts items). */
  unacked: number;
  wakeSender: (() => void) | undefined;
  /** Output items not posted yet (portable). */
  batch: unknown[];
  /** When the generator was last let go on (`performance.now()`): its next item took that long. */
  resumedAt: number;
  /** Quick items in a row. */
  streak: number;
  flushScheduled: boolean;
}

/** By token id: a `KeyedTable`, which a churn of predictions does not keep reachable from old space as a Map does. */
const running = new KeyedTable<number, Running>();
/** Whether a prediction came since setup ended: the after-setup release is then skipped. */
let predictedSinceSetup = false;
/** Set once loaded: the handler of escaped errors asks it whose error it is. */
let executor: InProcessExecutor | undefined;

const stackOf = (error: unknown) => (error instanceof Error ? (error.stack ?? '') : String(error));

/**
 * An uncaught exception or unhandled rejection. A timer or promise made inside a prediction
 * carries its scope (AsyncLocalStorage), so the error fails that prediction and its neighbours
 * run on; anything else (setup's timers, our own code) may have broken this thread: the host
 * replaces it.
 */
function escaped(error: unknown): void {
  if (executor?.failPrediction(currentScope(), error)) return;
  post({ type: 'crashed', error: errorMessage(error), stack: stackOf(error) });
}
process.on('uncaughtException', escaped);
process.on('unhandledRejection', escaped);

function runningState(id: number): Running {
  predictedSinceSetup = true;
  const state: Running = {
    id,
    canceled: false,
    unacked: 0,
    wakeSender: undefined,
    batch: [],
    resumedAt: Number.NEGATIVE_INFINITY,
    streak: 0,
    flushScheduled: false,
  };
  running.set(id, state);
  return state;
}

/** Posts a prediction's result (its output made portable), then forgets the prediction. */
function finished(state: Running, result: ExecutionResult): void {
  const { id } = state;
  running.delete(id);
  try {
    flush(state);
    // The result is this prediction's own object (the executor's): its output made portable in place.
    if (result.status === 'succeeded') result.output = toPortable(result.output);
    packDone(dones.queue(), id, result);
  } catch (error) {
    const failed: unknown[] = [];
    packDone(failed, id, { status: 'failed', error: errorMessage(error), metrics: {} });
    post({ type: 'dones', items: failed });
  }
}

/** `finished` once a batched prediction's execution settles. */
function done(state: Running, execution: Promise<ExecutionResult>): void {
  execution.then(
    (result: ExecutionResult) => finished(state, result),
    (error: unknown) => finished(state, { status: 'failed', error: errorMessage(error), metrics: {} }),
  );
}

/** Posts the batched outputs; called before any other message of the prediction, to keep order. */
function flush(state: Running): void {
  if (state.batch.length === 0) return;
  post({ type: 'outputs', id: state.id, items: state.batch });
  state.batch = [];
}

/**
 * One postMessage per item costs more than the rest of the item's trip (measured: ~5 µs on each
 * side), so the items of a steady fast stream go as one message: a batch is posted when it is
 * full, when the window is, when an item was slow to come (more than OUTPUT_BATCH_GAP_MS of the
 * generator's time) or the stream is not steadily fast yet, before a log, metric or the end,
 * and at the latest when the event loop turns. What this can delay: in a steady fast stream
 * that stops to compute synchronously (no await) before its next item, the items batched just
 * before wait for that computation: at most 15 (OUTPUT_BATCH_FIRST) for a burst of up to 256
 * items, at most 127 after a longer one (batches of 128 only once a stream has been fast for
 * 256 items: measured, 40-item bursts each followed by 20 ms of computing had 93-183 of 240
 * items ~20 ms late with batches of 128 from the start, 36-76 with 16).
 */
function addOutput(state: Running, item: unknown): void {
  state.streak = performance.now() - state.resumedAt < OUTPUT_BATCH_GAP_MS ? state.streak + 1 : 0;
  state.batch.push(toPortable(item));
  state.unacked += 1;
  const most = state.streak >= OUTPUT_BATCH_LONG_STREAK ? OUTPUT_BATCH : OUTPUT_BATCH_FIRST;
  if (state.streak < OUTPUT_BATCH_STREAK || state.batch.length >= most || state.unacked >= OUTPUT_WINDOW) {
    flush(state);
  } else if (!state.flushScheduled) {
    state.flushScheduled = true;
    setImmediate(() => {
      state.flushScheduled = false;
      flush(state);
    });
  }
}

/** Resolves once a batch fits in the window again (resuming for one item at a time would post one each). */
async function windowRoom(state: Running): Promise<void> {
  while (state.unacked > OUTPUT_WINDOW - OUTPUT_BATCH && !state.canceled && !cancelTokenCanceled(state.id)) {
    await new Promise<void>((resolve) => {
      state.wakeSender = resolve;
    });
  }
  state.resumedAt = performance.now();
}

async function main(): Promise<void> {
  let predictor: InProcessExecutor;
  try {
    const target = await loadTarget(options.ref, options.cwd, options.kind);
    predictor = executor = new InProcessExecutor(target, { echoLogs: options.echoLogs });
    const { method, inputs, output, isAsync, hasHealthcheck, name, concurrency, batch } = target;
    post({
      type: 'loaded',
      info: { method, inputs: portableSchema(inputs), output: portableSchema(output), isAsync, hasHealthcheck, name, concurrency, batch },
    });
  } catch (error) {
    post({ type: 'load-failed', error: errorMessage(error), stack: stackOf(error) });
    return;
  }

  const predict = (id: number, portableInput: unknown, context: Record<string, string> | undefined): void => {
    const state = runningState(id);
    // Cancelled on its way here (a client that hung up at once): never run, as one cancelled
    // while its input was prepared. Run, its signal would be born aborted, and code that only
    // listens for 'abort' would hold the slot (a CI failure under load).
    if (cancelTokenCanceled(id)) return finished(state, { status: 'canceled', metrics: {} });
    // A callback, not a promise: on this thread every promise pays log capture's hooks.
    predictor.run(
      { input: fromPortable(portableInput) as Record<string, unknown>, context, tokenId: id },
      {
        output: (item) => {
          addOutput(state, item);
          // Backpressure: past the window, the generator's next step waits for the host.
          if (state.unacked >= OUTPUT_WINDOW) return windowRoom(state);
          // Nothing to wait for: no promise (the executor awaits only a returned one).
          state.resumedAt = performance.now();
          return undefined;
        },
        log: (text, source) => {
          flush(state);
          post({ type: 'log', id, text, source });
        },
        metric: (event, metrics) => {
          flush(state);
          post({ type: 'metric', id, event, metrics });
        },
      },
      (result) => finished(state, result),
    );
  };

  const receive = (message: ToWorker): void => {
    switch (message.type) {
      case 'setup':
        predictor
          .setup(message.weights, (text, source) => post({ type: 'setup-log', text, source }))
          .then(
            () => {
              post({ type: 'setup-done' });
              // This thread's share of the after-READY release (the server's thread does its own).
              predictedSinceSetup = false;
              releaseWhenIdle(() => predictedSinceSetup);
            },
            (error: unknown) => post({ type: 'setup-done', error: errorMessage(error), stack: stackOf(error) }),
          );
        break;
      case 'predicts':
        eachPredict(message.items, predict);
        break;
      case 'predict-batch': {
        // A batch's outputs are whole values (no streams): each travels in its item's result ('dones').
        const states = message.items.map((item) => runningState(item.id));
        const executions = predictor.executeBatch(
          message.items.map((item, index) => ({
            input: fromPortable(item.input) as Record<string, unknown>,
            context: item.context,
            tokenId: states[index]!.id,
          })),
          states.map(({ id }) => ({
            output: () => undefined,
            log: (text, source) => post({ type: 'log', id, text, source }),
            metric: (event, metrics) => post({ type: 'metric', id, event, metrics }),
          })),
        );
        states.forEach((state, index) => done(state, executions[index]!));
        break;
      }
      case 'ack': {
        const state = running.get(message.id);
        if (state) {
          state.unacked -= message.count;
          state.wakeSender?.();
          state.wakeSender = undefined;
        }
        break;
      }
      case 'cancel': {
        const state = running.get(message.id);
        if (state) {
          state.canceled = true;
          predictor.cancel(state.id);
          state.wakeSender?.();
        }
        break;
      }
      case 'healthcheck':
        predictor.healthcheck().then(
          (healthy) => post({ type: 'healthcheck-result', seq: message.seq, healthy }),
          (error: unknown) => post({ type: 'healthcheck-result', seq: message.seq, healthy: false, error: errorMessage(error) }),
        );
        break;
    }
  };
  port.on('message', (message: ToWorker) => {
    // What ended before this message came goes first: none waits behind a predictor's busy turn.
    dones.flush();
    receive(message);
  });
}

await main();
