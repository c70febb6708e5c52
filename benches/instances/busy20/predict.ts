import { BasePredictor, Type } from 'cog-node';

/** A sync predictor that keeps its thread busy for 20 ms (a stand-in for sync model code). */
export class Predictor extends BasePredictor {
  static inputs = {};
  static output = Type.Integer();

  predict(): number {
    const end = performance.now() + 20;
    let spins = 0;
    while (performance.now() < end) spins += 1;
    return spins;
  }
}
