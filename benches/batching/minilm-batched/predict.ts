// The bench's batched cog-node contender: examples/minilm with `static batch`, every waiting
// prediction's sentences in one padded forward (predictBatch), split back per prediction.
import type { Inputs } from 'cog-node';
import { Predictor as MiniLM } from '../../../examples/minilm/predict.js';

const lines = (text: string) =>
  text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0);

export class Predictor extends MiniLM {
  static batch = { maxSize: 32, maxDelayMs: 5 };

  async predictBatch(inputs: Inputs<typeof Predictor>[]): Promise<number[][][]> {
    const counts = inputs.map(({ text }) => lines(text).length);
    const embeddings = await this.predict({ text: inputs.map(({ text }) => lines(text).join('\n')).join('\n') });
    let at = 0;
    return counts.map((count) => embeddings.slice(at, (at += count)));
  }
}
