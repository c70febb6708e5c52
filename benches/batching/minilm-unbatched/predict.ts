// The bench's unbatched cog-node contender: examples/minilm as it is, one forward per prediction.
export { Predictor } from '../../../examples/minilm/predict.js';
