// The bench's batched cog-node contender: examples/minilm as it is (`static batch = { maxSize: 32,
// maxDelayMs: 5 }`, one padded forward per batch in predictBatch).
export { Predictor } from '../../../examples/minilm/predict.js';
