// The load bench's predictor: echoes its text after 2 ms of awaited work, so that 4 slots cannot
// keep up with 64 clients and the queue fills.
import { setTimeout as sleep } from 'node:timers/promises';
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

export class Predictor extends BasePredictor {
  static inputs = { text: Input(Type.String()) };
  static output = Type.String();

  async predict({ text }: Inputs<typeof Predictor>): Promise<string> {
    await sleep(2);
    return text;
  }
}
