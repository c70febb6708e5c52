// Input validation through a loaded predictor: Cog's rules (cog-reference.md §1.3, §1.4) and its
// 422 shape (§3.14): {"loc": ["body", "input", field], "msg", "type"}, one entry per broken field.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BasePredictor,
  Input,
  InputValidationError,
  Path,
  Secret,
  Type,
  loadPredictor,
  type Inputs,
  type LoadedPredictor,
  type ValidationIssue,
} from '../src/index.js';

class Everything extends BasePredictor {
  static inputs = {
    text: Input(Type.String(), { description: 'Any text', default: 'hello' }),
    word: Input(Type.String(), { min_length: 2, max_length: 5, regex: '^[a-z]+$', default: 'abc' }),
    count: Input(Type.Integer(), { ge: 1, le: 10, default: 1 }),
    scale: Input(Type.Number(), { ge: 0.5, le: 4, default: 1.5 }),
    flag: Input(Type.Boolean(), { default: false }),
    tags: Input(Type.Array(Type.String()), { default: ['a', 'b'] }),
    numbers: Input(Type.Array(Type.Integer({ minimum: 0 })), { default: [] }),
    scheduler: Input(Type.String(), { choices: ['DDIM', 'K_EULER'], default: 'DDIM' }),
    width: Input(Type.Integer(), { choices: [512, 768], default: 512 }),
    mode: Input(Type.Union([Type.Literal('fast'), Type.Literal('best')]), { default: 'fast' }),
    either: Input(Type.Union([Type.String(), Type.Integer()]), { default: 0 }),
    image: Type.Optional(Type.Path()),
    images: Type.Optional(Type.Array(Type.Path())),
    token: Type.Optional(Type.Secret()),
    seed: Type.Optional(Type.Integer()),
    options: Input(Type.Unknown(), { default: {} }),
    old: Input(Type.String(), { deprecated: true, default: 'still accepted' }),
  };
  static output = Type.Unknown();

  /** Returns what predict received, with Paths and Secrets made visible. */
  predict(inputs: Inputs<typeof Everything>): Record<string, unknown> {
    const seen: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(inputs)) {
      if (value instanceof Path) seen[name] = { path: String(value) };
      else if (value instanceof Secret) seen[name] = { secret: value.getSecretValue() };
      else seen[name] = value;
    }
    seen.keys = Object.keys(inputs);
    return seen;
  }
}

class Required extends BasePredictor {
  static inputs = {
    prompt: Type.String(),
    steps: Input(Type.Integer(), { ge: 1 }),
    image: Type.Path(),
    maybe: Type.Optional(Type.String()),
  };
  static output = Type.String();
  predict({ prompt }: Inputs<typeof Required>): string {
    return prompt;
  }
}

let everything: LoadedPredictor;
let required: LoadedPredictor;
beforeAll(async () => {
  everything = await loadPredictor(Everything);
  required = await loadPredictor(Required);
});

async function received(input: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await everything.run(input)) as Record<string, unknown>;
}

/** The 422 detail `run()` rejects with. */
async function detail(predictor: LoadedPredictor, input: unknown): Promise<ValidationIssue[]> {
  const error = await predictor.run(input as Record<string, unknown>).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(InputValidationError);
  return (error as InputValidationError).detail;
}

/** The single issue for one broken field of `Everything`. */
async function issue(input: Record<string, unknown>): Promise<ValidationIssue> {
  const issues = await detail(everything, input);
  expect(issues).toHaveLength(1);
  return issues[0]!;
}

const invalid = (field: string, msg: string | RegExp) => ({
  loc: ['body', 'input', field],
  msg: typeof msg === 'string' ? msg : expect.stringMatching(msg),
  type: 'value_error',
});

describe('defaults, unknown keys, optionals', () => {
  it('applies every default when nothing is sent, and drops unknown keys', async () => {
    const seen = await received({ surprise: 1, another: 'x' });
    expect(seen).toEqual({
      text: 'hello',
      word: 'abc',
      count: 1,
      scale: 1.5,
      flag: false,
      tags: ['a', 'b'],
      numbers: [],
      scheduler: 'DDIM',
      width: 512,
      mode: 'fast',
      either: 0,
      options: {},
      old: 'still accepted',
      keys: ['text', 'word', 'count', 'scale', 'flag', 'tags', 'numbers', 'scheduler', 'width', 'mode', 'either', 'options', 'old'],
    });
  });

  it('gives each prediction its own copy of a list default', async () => {
    class Mutates extends BasePredictor {
      static inputs = { items: Input(Type.Array(Type.Integer()), { default: [1] }) };
      static output = Type.Array(Type.Integer());
      predict({ items }: Inputs<typeof Mutates>): number[] {
        items.push(items.length + 1);
        return items;
      }
    }
    const predictor = await loadPredictor(Mutates);
    expect(await predictor.run({})).toEqual([1, 2]);
    expect(await predictor.run({})).toEqual([1, 2]);
  });

  it('shows the validated input in the response: defaults filled in, unknown keys gone', async () => {
    const response = await everything.predict({ count: 3, bogus: true });
    expect(response.status).toBe('succeeded');
    expect(response.input).toMatchObject({ count: 3, text: 'hello' });
    expect(response.input).not.toHaveProperty('bogus');
  });

  it('leaves an omitted optional input out, and rejects an explicit null for it', async () => {
    const seen = await received({});
    expect(seen).not.toHaveProperty('seed');
    expect(seen).not.toHaveProperty('image');
    expect(await issue({ seed: null })).toEqual(invalid('seed', 'must not be null (omit an optional input instead)'));
    expect(await issue({ count: null })).toEqual(invalid('count', 'must not be null'));
  });

  it('accepts a deprecated input as any other', async () => {
    expect((await received({ old: 'new value' })).old).toBe('new value');
  });
});

describe('every type accepted and rejected', () => {
  it('str', async () => {
    expect((await received({ text: 'hi there' })).text).toBe('hi there');
    expect(await issue({ text: 5 })).toEqual(invalid('text', 'must be string'));
  });

  it('str: min_length, max_length, regex', async () => {
    expect((await received({ word: 'ok' })).word).toBe('ok');
    expect((await received({ word: 'abcde' })).word).toBe('abcde');
    expect(await issue({ word: 'a' })).toEqual(invalid('word', 'must not have fewer than 2 characters'));
    expect(await issue({ word: 'abcdef' })).toEqual(invalid('word', 'must not have more than 5 characters'));
    expect(await issue({ word: 'AB' })).toEqual(invalid('word', 'must match pattern "^[a-z]+$"'));
  });

  it('int: integers only, ge and le inclusive', async () => {
    expect((await received({ count: 1 })).count).toBe(1);
    expect((await received({ count: 10 })).count).toBe(10);
    expect(await issue({ count: 0 })).toEqual(invalid('count', 'must be >= 1'));
    expect(await issue({ count: 11 })).toEqual(invalid('count', 'must be <= 10'));
    expect(await issue({ count: 2.5 })).toEqual(invalid('count', 'must be integer'));
    expect(await issue({ count: '3' })).toEqual(invalid('count', 'must be integer'));
    expect(await issue({ count: true })).toEqual(invalid('count', 'must be integer'));
  });

  it('float: JSON integers accepted, ge and le', async () => {
    expect((await received({ scale: 2 })).scale).toBe(2);
    expect((await received({ scale: 0.5 })).scale).toBe(0.5);
    expect(await issue({ scale: 0.25 })).toEqual(invalid('scale', 'must be >= 0.5'));
    expect(await issue({ scale: 4.5 })).toEqual(invalid('scale', 'must be <= 4'));
    expect(await issue({ scale: 'big' })).toEqual(invalid('scale', 'must be number'));
  });

  it('bool', async () => {
    expect((await received({ flag: true })).flag).toBe(true);
    expect(await issue({ flag: 'true' })).toEqual(invalid('flag', 'must be boolean'));
    expect(await issue({ flag: 1 })).toEqual(invalid('flag', 'must be boolean'));
  });

  it('list[str] and list[int]: the broken item is named as field/index', async () => {
    expect((await received({ tags: ['x'] })).tags).toEqual(['x']);
    expect((await received({ tags: [] })).tags).toEqual([]);
    expect(await issue({ tags: 'x' })).toEqual(invalid('tags', 'must be array'));
    expect(await issue({ tags: ['x', 2] })).toEqual(invalid('tags/1', 'must be string'));
    expect(await issue({ numbers: [1, -1] })).toEqual(invalid('numbers/1', 'must be >= 0'));
  });

  it('str choices and int choices', async () => {
    expect((await received({ scheduler: 'K_EULER', width: 768 })).width).toBe(768);
    expect(await issue({ scheduler: 'PNDM' })).toEqual(invalid('scheduler', 'must be one of: "DDIM", "K_EULER"'));
    expect(await issue({ width: 640 })).toEqual(invalid('width', 'must be one of: 512, 768'));
    expect(await issue({ width: '512' })).toEqual(invalid('width', /must be/));
  });

  it('Literal-union choices name the allowed values', async () => {
    expect((await received({ mode: 'best' })).mode).toBe('best');
    expect(await issue({ mode: 'slow' })).toEqual(invalid('mode', 'must be one of: "fast", "best"'));
  });

  it('unions of JSON types', async () => {
    expect((await received({ either: 'text' })).either).toBe('text');
    expect((await received({ either: 7 })).either).toBe(7);
    expect(await issue({ either: true })).toEqual(invalid('either', 'must be one of these types: string, integer'));
  });

  it('Path: URL, data URI or path strings (and Path objects from an embedding app); anything else rejected', async () => {
    const seen = await received({ image: new Path('/tmp/cog-node-validation-nonexistent.png'), images: ['/tmp/a.txt', '/tmp/b.txt'] });
    expect(seen.image).toEqual({ path: '/tmp/cog-node-validation-nonexistent.png' });
    expect(seen.images).toEqual([{ path: '/tmp/a.txt' }, { path: '/tmp/b.txt' }]);
    expect(await issue({ image: 42 })).toEqual(invalid('image', 'must be a string (a URL, data URI or path)'));
    expect(await issue({ images: '/tmp/a.txt' })).toEqual(invalid('images', 'must be array'));
  });

  it('Secret: a string, handed to predict as a Secret; an embedding app may pass a Secret', async () => {
    expect((await received({ token: 'sk-123' })).token).toEqual({ secret: 'sk-123' });
    expect((await received({ token: new Secret('sk-456') })).token).toEqual({ secret: 'sk-456' });
    expect(await issue({ token: 123 })).toEqual(invalid('token', 'must be a string (a URL, data URI or path)'));
  });

  it("untyped JSON (Type.Unknown, Cog's dict/Any) passes through as it is", async () => {
    expect((await received({ options: { a: [1, { b: null }] } })).options).toEqual({ a: [1, { b: null }] });
  });
});

describe("Cog's 422 detail", () => {
  it('missing required fields: one "Field required" entry each, value_error.missing', async () => {
    expect(await detail(required, {})).toEqual([
      { loc: ['body', 'input', 'prompt'], msg: 'Field required', type: 'value_error.missing' },
      { loc: ['body', 'input', 'steps'], msg: 'Field required', type: 'value_error.missing' },
      { loc: ['body', 'input', 'image'], msg: 'Field required', type: 'value_error.missing' },
    ]);
  });

  it('one entry per broken field, even when a field breaks several rules', async () => {
    const issues = await detail(everything, { word: 'A', count: 0, scale: 'x', scheduler: 'nope', seed: null });
    expect(issues).toHaveLength(5);
    expect(issues).toEqual(
      expect.arrayContaining([
        invalid('word', 'must not have fewer than 2 characters'),
        invalid('count', 'must be >= 1'),
        invalid('scale', 'must be number'),
        invalid('scheduler', 'must be one of: "DDIM", "K_EULER"'),
        invalid('seed', 'must not be null (omit an optional input instead)'),
      ]),
    );
  });

  it('mixes missing and broken fields', async () => {
    const issues = await detail(required, { steps: 0, image: 'data:,x' });
    expect(issues).toEqual([
      { loc: ['body', 'input', 'prompt'], msg: 'Field required', type: 'value_error.missing' },
      invalid('steps', 'must be >= 1'),
    ]);
  });

  it('an input that is not an object', async () => {
    expect(await detail(required, ['a'])).toEqual([{ loc: ['body', 'input'], msg: 'Input should be an object', type: 'value_error' }]);
    expect(await detail(required, 'text')).toEqual([{ loc: ['body', 'input'], msg: 'Input should be an object', type: 'value_error' }]);
  });

  it('the error message names each field and rule', async () => {
    const error = await required.run({ prompt: 'x', steps: 0, image: 'data:,x' }).catch((reason: unknown) => reason);
    expect((error as Error).message).toBe('steps: must be >= 1');
  });

  it('start() throws before anything runs: no prediction is created', () => {
    expect(() => required.start({})).toThrow(InputValidationError);
  });
});

describe('coercion from strings (the CLI), only when asked', () => {
  const validate = (input: Record<string, unknown>, coerce: boolean) => everything.runtime.validator.validate(input, { coerce });

  it('converts numbers, booleans and lists from strings', () => {
    const input = validate({ count: '3', scale: '2.5', flag: 'true', numbers: ['1', '2'], tags: 'solo', width: '768' }, true);
    expect(input).toMatchObject({ count: 3, scale: 2.5, flag: true, numbers: [1, 2], tags: ['solo'], width: 768 });
    expect(validate({ flag: 'False' }, true).flag).toBe(false);
    expect(validate({ numbers: '4' }, true).numbers).toEqual([4]);
  });

  it('keeps strings for string inputs and leaves JSON values alone', () => {
    expect(validate({ text: '42', count: 4 }, true)).toMatchObject({ text: '42', count: 4 });
  });

  it('rejects what does not convert cleanly, instead of guessing', () => {
    const rejected = (input: Record<string, unknown>) => {
      try {
        validate(input, true);
      } catch (error) {
        return (error as InputValidationError).detail;
      }
      throw new Error('accepted');
    };
    expect(rejected({ count: '3.5' })).toEqual([invalid('count', 'must be integer')]);
    expect(rejected({ count: '' })).toEqual([invalid('count', 'must be integer')]);
    expect(rejected({ scale: 'fast' })).toEqual([invalid('scale', 'must be number')]);
    expect(rejected({ flag: 'yes' })).toEqual([invalid('flag', 'must be boolean')]);
    expect(rejected({ numbers: ['1', 'x'] })).toEqual([invalid('numbers/1', 'must be integer')]);
  });

  it('does nothing without the option', () => {
    expect(() => validate({ count: '3' }, false)).toThrow(InputValidationError);
    expect(() => validate({ flag: 'true' }, false)).toThrow('flag: must be boolean');
  });
});
