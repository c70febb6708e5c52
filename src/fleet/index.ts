// The fleet's public face: `PredictionQueue` for apps, and the protocol's names a gateway or an
// operator's tooling needs. `cog-node worker` (worker.ts) is reached through the CLI.
export {
  PredictionQueue,
  type DeclaredPredictor,
  type PredictionQueueEvent,
  type PredictionQueueOptions,
  type SubmitInput,
  type SubmitOptions,
  type SubmittedPrediction,
  type WireValue,
} from './queue.js';
export { DEFAULT_QUEUE_NAME, type PredictionJobData, type WorkerBeat } from './protocol.js';
