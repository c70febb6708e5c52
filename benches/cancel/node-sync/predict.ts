import { writeFileSync } from 'node:fs';
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** Says it has started (writes `started_file`), then spins for 30 s, polling `scope.canceled`. */
export class Predictor extends BasePredictor {
  static inputs = { started_file: Input(Type.String()) };
  static output = Type.String();

  predict({ started_file }: Inputs<typeof Predictor>): string {
    writeFileSync(started_file, '');
    const end = Date.now() + 30_000;
    while (Date.now() < end) this.scope.throwIfCanceled();
    return 'spun';
  }
}
