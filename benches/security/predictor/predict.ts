// The memory bench's predictor: a string and a list of integers in, their sizes out.
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

export class Predictor extends BasePredictor {
  static inputs = {
    text: Input(Type.String(), { default: '' }),
    numbers: Input(Type.Array(Type.Integer()), { default: [] }),
  };
  static output = Type.String();

  predict({ text, numbers }: Inputs<typeof Predictor>): string {
    return `${text.length} characters, ${numbers.length} numbers`;
  }
}
