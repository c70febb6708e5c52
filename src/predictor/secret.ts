// `Secret`: a secret input's value, masked (`**********`) everywhere but `getSecretValue()`:
// in strings, JSON, console.log and responses.
import { inspect } from 'node:util';
import { brand } from './brand.js';

const MASK = '**********';

/**
 * A secret input (an API token, a password). Its value is only reachable through
 * `getSecretValue()`: `String(s)`, JSON, `console.log(s)` and responses all show `**********`.
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  getSecretValue(): string {
    return this.#value;
  }

  toString(): string {
    return MASK;
  }

  toJSON(): string {
    return MASK;
  }

  [inspect.custom](): string {
    return `Secret(${MASK})`;
  }

  static readonly mask = MASK;
}

brand(Secret, 'Secret');
