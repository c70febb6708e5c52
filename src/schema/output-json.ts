// An output as JSON the way Cog's Python server writes it: a number its schema declares `Number`
// keeps a decimal point when whole (`-10.0`, not `-10`), so a Python client gets a float back.
import { COG_KIND } from '../predictor/type.js';

/** Writes one value as JSON text; `undefined` where `JSON.stringify` would write nothing. */
export type JsonWriter = (value: unknown) => string | undefined;

/**
 * JSON text, passed where a value is expected (events.ts writes it as it is). Written on first
 * use: most predictions' events are never read (no SSE client), and writing each output and the
 * `completed` response up front cost a `Number` output +55 µs a request (measured, 4 fields).
 */
export class JsonText {
  #write: (() => string) | undefined;
  #text = '';

  constructor(write: () => string) {
    this.#write = write;
  }

  get text(): string {
    if (this.#write !== undefined) {
      this.#text = this.#write();
      this.#write = undefined;
    }
    return this.#text;
  }
}

type Schema = Record<string, unknown>;

const isSchema = (value: unknown): value is Schema => typeof value === 'object' && value !== null;
/** Only plain objects are written field by field; a `Date` or a class with `toJSON` is left to JSON.stringify. */
const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
};

/** A whole float as Python's `json.dumps` writes it; anything else as `JSON.stringify` does. */
const writeFloat: JsonWriter = (value) => {
  if (typeof value !== 'number' || !Number.isInteger(value)) return JSON.stringify(value);
  if (Object.is(value, -0)) return '-0.0';
  const text = JSON.stringify(value);
  // 1e21 and above are already written with an exponent, which JSON readers take as a float.
  return text.includes('e') ? text : `${text}.0`;
};

function arrayWriter(item: JsonWriter): JsonWriter {
  return (value) => {
    if (!Array.isArray(value)) return JSON.stringify(value);
    // Array.from visits holes too (as undefined, written null as JSON.stringify does); map would skip them.
    return `[${Array.from(value, (element) => item(element) ?? 'null').join(',')}]`;
  };
}

/** Writes an object's keys in their own order, through `fields` where a field needs it. */
export function objectWriter(fields: ReadonlyMap<string, JsonWriter>): JsonWriter {
  return (value) => {
    if (!isPlainObject(value)) return JSON.stringify(value);
    const parts: string[] = [];
    for (const [key, field] of Object.entries(value)) {
      const text = (fields.get(key) ?? JSON.stringify)(field);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  };
}

function compile(schema: unknown): JsonWriter | undefined {
  if (!isSchema(schema)) return undefined;
  if (schema.type === 'number') return writeFloat;
  if (schema.type === 'array') {
    const item = compile(schema.items);
    return item === undefined ? undefined : arrayWriter(item);
  }
  if (schema.type === 'object' && isSchema(schema.properties)) {
    const fields = new Map<string, JsonWriter>();
    for (const [key, property] of Object.entries(schema.properties)) {
      const field = compile(property);
      if (field !== undefined) fields.set(key, field);
    }
    return fields.size === 0 ? undefined : objectWriter(fields);
  }
  // A union (`Type.Optional`'s `anyOf` with null, `Type.Union`): a whole number is a float only
  // when no branch could have meant an integer (Python's `int | float` keeps 3 an int).
  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : Array.isArray(schema.oneOf) ? schema.oneOf : undefined;
  if (branches !== undefined) {
    const types = branches.filter(isSchema).map((branch) => branch.type);
    if (types.includes('number') && !types.includes('integer')) return writeFloat;
  }
  return undefined;
}

const compiled = new WeakMap<object, JsonWriter | null>();

/**
 * The writer for values of `schema`, or `undefined` when nothing in it is a `Number`: then
 * `JSON.stringify` already writes such values exactly, and callers use it at no extra cost.
 * Cached per schema object.
 */
export function outputWriter(schema: unknown): JsonWriter | undefined {
  if (!isSchema(schema)) return undefined;
  let writer = compiled.get(schema);
  if (writer === undefined) {
    writer = compile(schema) ?? null;
    compiled.set(schema, writer);
  }
  return writer ?? undefined;
}

/** How a prediction's output goes out: in its final response, in a response while it runs, and item by item. */
export interface OutputWriters {
  /** A response object whose `output` is the final output. */
  final: JsonWriter;
  /** A response object whose `output` is the list of items so far. */
  running: JsonWriter;
  /** One output item (an SSE `output` event's chunk). */
  chunk: JsonWriter;
}

const forOutputs = new WeakMap<object, OutputWriters | null>();

/**
 * The writers for predictions whose output is declared by `schema`, or `undefined` when it
 * declares no `Number` (plain `JSON.stringify`, the common case, e.g. strings and files). Built
 * once per schema object: every prediction of a predictor shares them.
 */
export function outputWriters(schema: unknown): OutputWriters | undefined {
  if (!isSchema(schema)) return undefined;
  let writers = forOutputs.get(schema);
  if (writers === undefined) {
    const kind = schema[COG_KIND];
    // An iterator streams its items; a single output is also sent as one `output` item.
    const chunk = kind === 'iterator' || kind === 'concatenate-iterator' ? outputWriter(schema.items) : outputWriter(schema);
    const output = outputWriter(schema);
    writers =
      chunk === undefined || output === undefined
        ? null
        : {
            final: objectWriter(new Map([['output', output]])),
            running: objectWriter(new Map([['output', arrayWriter(chunk)]])),
            chunk,
          };
    forOutputs.set(schema, writers);
  }
  return writers ?? undefined;
}
