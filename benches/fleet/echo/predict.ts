import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** The echo predictor of benches/http: what a job costs when the model costs nothing. */
export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();

  async predict({ text }: Inputs<typeof Predictor>): Promise<string> {
    return text;
  }
}
