import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** `n` short string tokens, no delay: the generator every contender of benches/stream runs. */
export async function* tokens(n: number): AsyncGenerator<string> {
  for (let i = 0; i < n; i++) yield `tok${i % 1000}`;
}

/** The same generator as ../tokens-python/predict.py, as a cog-node predictor. */
export class Predictor extends BasePredictor {
  static inputs = { n: Input(Type.Integer(), { description: 'How many tokens', default: 1000 }) };
  static output = Type.Iterator(Type.String());

  predict({ n }: Inputs<typeof Predictor>): AsyncGenerator<string> {
    return tokens(n);
  }
}
