// The predictor author's vocabulary: Type (TypeBox + Cog's types), Input, Inputs<typeof P>,
// Path, Secret, CancelationError. Type-level expectations are checked by `tsc --noEmit`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  BasePredictor,
  CancelationError,
  Input,
  InputValidationError,
  Path,
  PredictorLoadError,
  Secret,
  Type,
  openApiSchema,
  type BatchPredictor,
  type Inputs,
  type ModelInstance,
  type Output,
  type PredictorBatch,
  type Scope,
  type Static,
} from '../src/index.js';

class Typed extends BasePredictor {
  static inputs = {
    text: Type.String(),
    count: Input(Type.Integer(), { default: 1, ge: 1 }),
    scale: Type.Number(),
    flag: Type.Boolean(),
    image: Type.Path(),
    legacy: Type.File(),
    key: Type.Secret(),
    tags: Type.Array(Type.String()),
    images: Type.Array(Type.Path()),
    seed: Type.Optional(Type.Integer()),
    mode: Type.Union([Type.Literal('fast'), Type.Literal('best')]),
  };
  static output = Type.Path();
  predict(inputs: Inputs<typeof Typed>): Path {
    return inputs.image;
  }
}

class Batched extends BasePredictor implements BatchPredictor<typeof Batched> {
  static inputs = { text: Input(Type.String()) };
  static output = Type.Array(Type.Number());
  static batch = { maxSize: 32, maxDelayMs: 5 } satisfies PredictorBatch;
  async predictBatch(inputs: Inputs<typeof Batched>[]): Promise<number[][]> {
    return inputs.map(({ text }) => [text.length]);
  }
}

describe('types, as the compiler sees them', () => {
  it('predictBatch takes an Inputs<typeof P> per item and returns an Output<typeof P> (or an Error) per item', () => {
    expectTypeOf<Output<typeof Batched>>().toEqualTypeOf<number[]>();
    expectTypeOf<Parameters<BatchPredictor<typeof Batched>['predictBatch']>[0]>().toEqualTypeOf<{ text: string }[]>();
    expectTypeOf<ReturnType<BatchPredictor<typeof Batched>['predictBatch']>>().toEqualTypeOf<Promise<(number[] | Error)[]>>();
    expectTypeOf<ReturnType<Batched['predictBatch']>>().toExtend<ReturnType<BatchPredictor<typeof Batched>['predictBatch']>>();
    // A predictBatch of the wrong shape does not implement it.
    type WrongInputs = { predictBatch(inputs: { text: number }[]): Promise<number[][]> };
    expectTypeOf<WrongInputs>().not.toExtend<BatchPredictor<typeof Batched>>();
    type WrongOutputs = { predictBatch(inputs: { text: string }[]): Promise<string[]> };
    expectTypeOf<WrongOutputs>().not.toExtend<BatchPredictor<typeof Batched>>();
    expectTypeOf<PredictorBatch>().toEqualTypeOf<{ maxSize: number; maxDelayMs: number }>();
    // One scope per item of the batch, each a whole Scope.
    expectTypeOf<Scope['items']>().toEqualTypeOf<readonly Scope[]>();
  });

  it('Inputs<typeof P> is what predict receives', () => {
    expectTypeOf<Inputs<typeof Typed>>().toEqualTypeOf<{
      text: string;
      count: number;
      scale: number;
      flag: boolean;
      image: Path;
      legacy: Path;
      key: Secret;
      tags: string[];
      images: Path[];
      seed?: number;
      mode: 'fast' | 'best';
    }>();
  });

  it("Cog's types have the static types of their values", () => {
    expectTypeOf<Static<ReturnType<typeof Type.Path>>>().toEqualTypeOf<Path>();
    expectTypeOf<Static<ReturnType<typeof Type.Secret>>>().toEqualTypeOf<Secret>();
    const tokens = Type.ConcatenateIterator(Type.String());
    expectTypeOf<Static<typeof tokens>>().toEqualTypeOf<AsyncIterable<string> | Iterable<string>>();
    const numbers = Type.Iterator(Type.Number());
    expectTypeOf<Static<typeof numbers>>().toEqualTypeOf<AsyncIterable<number> | Iterable<number>>();
  });

  it("Input's options are typed by the schema: defaults of the value's type, files and secrets as strings too", () => {
    Input(Type.Integer(), { default: 3, choices: [1, 2, 3] });
    Input(Type.Path(), { default: 'https://example.com/a.png' });
    Input(Type.Path(), { default: new Path('/tmp/a.png') });
    Input(Type.Secret(), { default: 'sk-default' });
    Input(Type.Array(Type.Path()), { default: ['/tmp/a.png'] });
    // @ts-expect-error a string default for an integer
    Input(Type.Integer(), { default: 'three' });
    // @ts-expect-error an option Cog does not have
    Input(Type.String(), { minLength: 2 });
    expect(true).toBe(true);
  });
});

describe('Type', () => {
  it("is TypeBox's Type, plus Path, File, Secret, Iterator and ConcatenateIterator", () => {
    expect(Type.String({ minLength: 1 })).toEqual({ type: 'string', minLength: 1 });
    expect(Type.Object({ a: Type.Integer() })).toMatchObject({ type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] });
    for (const make of [Type.Path, Type.File, Type.Secret]) expect(make()).toMatchObject({ type: 'string' });
    expect(Type.Iterator(Type.String())).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(Type.ConcatenateIterator(Type.String())).toMatchObject({ type: 'array', items: { type: 'string' } });
  });

  it("Cog's types keep their meaning through Optional and Array", () => {
    const { components } = openApiSchema({
      predict: {
        inputs: { a: Type.Optional(Type.Secret()), b: Type.Optional(Type.Array(Type.File())), c: Type.Array(Type.Path()) },
        output: undefined,
      },
    }) as { components: { schemas: { Input: { properties: Record<string, unknown> } } } };
    expect(components.schemas.Input.properties).toEqual({
      a: { title: 'A', type: 'string', format: 'password', writeOnly: true, 'x-cog-secret': true, nullable: true, 'x-order': 0 },
      b: { title: 'B', type: 'array', items: { type: 'string', format: 'uri' }, nullable: true, 'x-order': 1 },
      c: { title: 'C', type: 'array', items: { type: 'string', format: 'uri' }, 'x-order': 2 },
    });
  });
});

describe('Input', () => {
  it("maps Cog's option names onto the schema, on a copy", () => {
    const base = Type.Integer();
    const input = Input(base, { description: 'Steps', default: 50, ge: 1, le: 500, deprecated: true });
    expect(input).toMatchObject({ type: 'integer', description: 'Steps', default: 50, minimum: 1, maximum: 500, deprecated: true });
    expect(base).toEqual({ type: 'integer' });
    const text = Input(Type.String(), { min_length: 1, max_length: 9, regex: '^a', choices: ['ab', 'ac'] });
    expect(text).toMatchObject({ minLength: 1, maxLength: 9, pattern: '^a', enum: ['ab', 'ac'] });
    expect(Input(Type.Path(), { accept: 'image/*' })).toMatchObject({ 'x-cog-accept': 'image/*' });
  });

  it('keeps Type.Optional optional', () => {
    const { components } = openApiSchema({
      predict: { inputs: { maybe: Input(Type.Optional(Type.String()), { description: 'Perhaps' }) }, output: undefined },
    }) as { components: { schemas: { Input: { required?: string[]; properties: Record<string, unknown> } } } };
    expect(components.schemas.Input.required).toBeUndefined();
    expect(components.schemas.Input.properties.maybe).toMatchObject({ nullable: true, description: 'Perhaps' });
  });

  it('stores Path and Secret defaults as the strings the wire carries', () => {
    const defaultOf = (schema: object) => (schema as { default?: unknown }).default;
    expect(defaultOf(Input(Type.Path(), { default: new Path('/tmp/in.png') }))).toBe('/tmp/in.png');
    expect(defaultOf(Input(Type.Array(Type.Path()), { default: [new Path('/a'), '/b'] }))).toEqual(['/a', '/b']);
    expect(defaultOf(Input(Type.Secret(), { default: new Secret('sk-1') }))).toBe('sk-1');
    // A schema is JSON: it survives a round trip.
    const schema = Input(Type.Path(), { default: new Path('/tmp/in.png') });
    expect(JSON.parse(JSON.stringify(schema))).toEqual(JSON.parse(JSON.stringify({ ...schema })));
  });
});

describe('Path', () => {
  it('is a local path: String(), toString(), JSON, name and suffix', () => {
    const path = new Path('/tmp/some dir/photo.final.png');
    expect(String(path)).toBe('/tmp/some dir/photo.final.png');
    expect(path.toString()).toBe('/tmp/some dir/photo.final.png');
    expect(`${path}`).toBe('/tmp/some dir/photo.final.png');
    expect(JSON.stringify({ path })).toBe('{"path":"/tmp/some dir/photo.final.png"}');
    expect(path.name).toBe('photo.final.png');
    expect(path.suffix).toBe('.png');
    expect(new Path('/tmp/noext').suffix).toBe('');
    expect(new Path(path).path).toBe(path.path);
  });

  it('reads its file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cog-node-path-'));
    try {
      const file = join(dir, 'a.txt');
      await writeFile(file, 'héllo');
      const path = new Path(file);
      expect((await path.read()).equals(Buffer.from('héllo'))).toBe(true);
      expect(await path.readText()).toBe('héllo');
      const chunks: Buffer[] = [];
      for await (const chunk of path.createReadStream()) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).toString()).toBe('héllo');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('instanceof works for a Path made by another copy of cog-node, and not for look-alikes', () => {
    // What a second copy's Path looks like to this one: same brand, another class.
    const Other = class Path {
      constructor(readonly path: string) {}
    };
    Object.defineProperty(Other.prototype, Symbol.for('cog-node.Path'), { value: true });
    expect(new Other('/x')).toBeInstanceOf(Path);
    expect({ path: '/x' }).not.toBeInstanceOf(Path);
    expect('/x').not.toBeInstanceOf(Path);
    expect(null).not.toBeInstanceOf(Path);
    // A user's subclass keeps the ordinary check.
    class MyPath extends Path {}
    expect(new MyPath('/x')).toBeInstanceOf(Path);
    expect(new MyPath('/x')).toBeInstanceOf(MyPath);
    expect(new Path('/x')).not.toBeInstanceOf(MyPath);
  });
});

describe('Secret', () => {
  it('shows ********** everywhere but getSecretValue()', () => {
    const secret = new Secret('sk-live-1234');
    expect(secret.getSecretValue()).toBe('sk-live-1234');
    expect(String(secret)).toBe('**********');
    expect(`${secret}`).toBe('**********');
    expect(JSON.stringify({ secret })).toBe('{"secret":"**********"}');
    expect(inspect(secret)).toBe('Secret(**********)');
    expect(inspect({ nested: { secret } })).not.toContain('sk-live');
    expect(Object.keys(secret)).toEqual([]);
    expect(JSON.stringify({ ...secret })).toBe('{}');
  });
});

describe('errors', () => {
  it('CancelationError, PredictorLoadError and InputValidationError are Errors with their names', () => {
    const canceled = new CancelationError();
    expect(canceled).toBeInstanceOf(Error);
    expect(canceled.name).toBe('CancelationError');
    expect(canceled.message).toBe('Prediction was canceled');
    expect(new PredictorLoadError('bad').name).toBe('PredictorLoadError');
    const invalid = new InputValidationError([
      { loc: ['body', 'input', 'a'], msg: 'Field required', type: 'value_error.missing' },
      { loc: ['body', 'input', 'tags/1'], msg: 'must be string', type: 'value_error' },
    ]);
    expect(invalid.message).toBe('a: Field required; tags/1: must be string');
    expect(invalid.detail).toHaveLength(2);
  });

  it('instanceof CancelationError holds for one thrown by another copy of cog-node', () => {
    const Other = class CancelationError extends Error {};
    Object.defineProperty(Other.prototype, Symbol.for('cog-node.CancelationError'), { value: true });
    expect(new Other('canceled')).toBeInstanceOf(CancelationError);
    expect(new Error('canceled')).not.toBeInstanceOf(CancelationError);
  });
});

describe('this.instance', () => {
  it('is typed { index, count } and, in this thread (no worker), instance 0 of 1', () => {
    const predictor = new Typed();
    expectTypeOf(predictor.instance).toEqualTypeOf<ModelInstance>();
    expectTypeOf<ModelInstance>().toEqualTypeOf<{ readonly index: number; readonly count: number }>();
    expect(predictor.instance).toEqual({ index: 0, count: 1 });
  });
});
