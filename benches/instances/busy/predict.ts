// The instances bench's predictor: synchronous, 20 ms of busy loop per prediction, so one worker
// thread serves at most 50 a second and only a second instance can run another at once.
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();

  predict({ text }: Inputs<typeof Predictor>): string {
    const end = performance.now() + 20;
    let spins = 0;
    while (performance.now() < end) spins++;
    return spins > 0 ? text : '';
  }
}
