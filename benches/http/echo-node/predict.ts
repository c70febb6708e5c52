import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** The same echo as ../echo-python/predict.py. */
export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String(), { description: 'What to echo' }) };
  static output = Type.String();

  async predict({ text }: Inputs<typeof Predictor>): Promise<string> {
    return text;
  }
}
