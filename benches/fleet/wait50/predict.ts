import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** Waits 50 ms, as a GPU-bound model whose process idles while the device computes; 4 at once per worker. */
export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();

  async predict({ text }: Inputs<typeof Predictor>): Promise<string> {
    await this.scope.cancelToken!.sleep(50);
    return text;
  }
}
