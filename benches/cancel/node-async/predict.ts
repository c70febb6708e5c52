import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { BasePredictor, Input, Type, type Inputs } from 'cog-node';

/** Says it has started (writes `started_file`), then awaits 30 s that its scope's signal cuts short. */
export class Predictor extends BasePredictor {
  static inputs = { started_file: Input(Type.String()) };
  static output = Type.String();

  async predict({ started_file }: Inputs<typeof Predictor>): Promise<string> {
    writeFileSync(started_file, '');
    await sleep(30_000, undefined, { signal: this.scope.signal });
    return 'slept';
  }
}
