// The bench's unbatched cog-node contender: examples/minilm's `Unbatched`, the same model with
// one forward per prediction.
export { Unbatched as Predictor } from '../../../examples/minilm/predict.js';
