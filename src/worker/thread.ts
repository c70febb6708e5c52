// The predictor's worker thread: loads the predictor, runs setup and predictions in-process here,
// and reports everything to the host over postMessage. Cancellation arrives two ways: the Rust
// token (readable synchronously, even inside a busy loop) and a 'cancel' message (aborts the
// scope's signal once this thread's event loop is free).
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessExecutor, errorMessage, type ExecutionResult } from '../executor.js';
import { loadTarget } from '../loader.js';
import { CancelToken } from '../native.js';
import { OUTPUT_WINDOW, type FromWorker, type ToWorker, type WorkerOptions } from './protocol.js';
import { fromPortable, portableSchema, toPortable } from './portable.js';

if (parentPort === null) throw new Error('thread.ts runs only as a worker thread');
const port = parentPort;
const options = workerData as WorkerOptions;
const post = (message: FromWorker) => port.postMessage(message);

interface Running {
  token: CancelToken;
  unacked: number;
  wakeSender: (() => void) | undefined;
}

const running = new Map<string, Running>();

async function main(): Promise<void> {
  let executor: InProcessExecutor;
  try {
    const target = await loadTarget(options.ref, options.cwd, options.kind);
    executor = new InProcessExecutor(target, { echoLogs: options.echoLogs });
    const { method, inputs, output, isAsync, hasHealthcheck, name } = target;
    post({ type: 'loaded', info: { method, inputs: portableSchema(inputs), output: portableSchema(output), isAsync, hasHealthcheck, name } });
  } catch (error) {
    post({ type: 'load-failed', error: errorMessage(error), stack: error instanceof Error ? (error.stack ?? '') : String(error) });
    return;
  }

  port.on('message', (message: ToWorker) => {
    switch (message.type) {
      case 'setup':
        executor
          .setup(message.weights, (text, source) => post({ type: 'setup-log', text, source }))
          .then(
            () => post({ type: 'setup-done' }),
            (error: unknown) =>
              post({ type: 'setup-done', error: errorMessage(error), stack: error instanceof Error ? (error.stack ?? '') : String(error) }),
          );
        break;
      case 'predict': {
        const { id } = message;
        const state: Running = { token: CancelToken.fromId(message.tokenId), unacked: 0, wakeSender: undefined };
        running.set(id, state);
        void executor
          .execute(
            { input: fromPortable(message.input) as Record<string, unknown>, context: message.context, token: state.token },
            {
              output: async (item) => {
                post({ type: 'output', id, item: toPortable(item) });
                state.unacked += 1;
                // Backpressure: past the window, the generator's next step waits for the host.
                while (state.unacked >= OUTPUT_WINDOW && !state.token.canceled) {
                  await new Promise<void>((resolve) => {
                    state.wakeSender = resolve;
                  });
                }
              },
              log: (text, source) => post({ type: 'log', id, text, source }),
              metric: (event, metrics) => post({ type: 'metric', id, event, metrics }),
            },
          )
          .then(
            (result: ExecutionResult) =>
              post({ type: 'done', id, result: result.status === 'succeeded' ? { ...result, output: toPortable(result.output) } : result }),
            (error: unknown) => post({ type: 'done', id, result: { status: 'failed', error: errorMessage(error), metrics: {} } }),
          )
          .finally(() => running.delete(id));
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
          executor.notifyCanceled(state.token);
          state.wakeSender?.();
        }
        break;
      }
      case 'healthcheck':
        executor.healthcheck().then(
          (healthy) => post({ type: 'healthcheck-result', seq: message.seq, healthy }),
          (error: unknown) => post({ type: 'healthcheck-result', seq: message.seq, healthy: false, error: errorMessage(error) }),
        );
        break;
    }
  });
}

await main();
