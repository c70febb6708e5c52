// `Input(schema, options)`: one declared input, a copy of a TypeBox schema with Cog's options
// (description, default, ge/le, choices, regex...) written in as JSON Schema keywords.
import type { Static, TSchema } from 'typebox';
import { Path } from './path.js';
import { Secret } from './secret.js';

/**
 * What a default may be for a value of type `V`: files and secrets may be given as the strings
 * that stand for them (`default: 'https://.../weights.bin'`), not only as `Path`/`Secret` objects.
 */
export type InputDefault<V> = V extends Path
  ? Path | string
  : V extends Secret
    ? Secret | string
    : V extends readonly (infer E)[]
      ? InputDefault<E>[]
      : V;

/** Options with Cog's names (`Input(description=..., ge=...)` in Python). */
export interface InputOptions<T = unknown> {
  description?: string;
  /** `null` is for an optional input (Cog's `Optional[T] = Input(default=None)`): omitted, it stays absent. */
  default?: InputDefault<T> | null;
  /** Inclusive minimum (numbers). */
  ge?: number;
  /** Inclusive maximum (numbers). */
  le?: number;
  /** Minimum string length. */
  min_length?: number;
  /** Maximum string length. */
  max_length?: number;
  /**
   * A regular expression the string must match: JSON Schema's `pattern`, as Cog's validator uses
   * it, so it matches anywhere in the string unless anchored (`^[a-z]+$` for the whole string).
   */
  regex?: string;
  /** The allowed values (strings or integers). */
  choices?: readonly T[];
  /** Shown as deprecated in the schema; still accepted. */
  deprecated?: boolean;
  /** For Path/File inputs: accepted types, in HTML `accept` syntax (`image/*`, `.png`). */
  accept?: string;
}

/** Marks the choices so that the schema generator emits Cog's enum component. */
export const COG_CHOICES = '~cogChoices';

const OPTION_KEYWORDS = {
  description: 'description',
  default: 'default',
  ge: 'minimum',
  le: 'maximum',
  min_length: 'minLength',
  max_length: 'maxLength',
  regex: 'pattern',
  deprecated: 'deprecated',
  accept: 'x-cog-accept',
} as const;

/** A default as the wire carries it (a `Path` is its path, a `Secret` its value), so schemas stay JSON. */
function wireDefault(value: unknown): unknown {
  if (value instanceof Path) return value.path;
  if (value instanceof Secret) return value.getSecretValue();
  if (Array.isArray(value)) return value.map(wireDefault);
  return value;
}

/**
 * Declares an input: a TypeBox schema plus Cog's options. An input with no `default` (and not
 * `Type.Optional`) is required. The schema is copied, never changed in place.
 */
export function Input<T extends TSchema>(schema: T, options: InputOptions<Static<T>> = {}): T {
  // Copy descriptors, not a spread: TypeBox keeps modifiers such as `~optional` non-enumerable.
  const result = Object.defineProperties({}, Object.getOwnPropertyDescriptors(schema)) as Record<string, unknown>;
  for (const [option, keyword] of Object.entries(OPTION_KEYWORDS)) {
    const value = options[option as keyof InputOptions];
    if (value !== undefined) result[keyword] = option === 'default' ? wireDefault(value) : value;
  }
  if (options.choices !== undefined) {
    result.enum = [...options.choices];
    result[COG_CHOICES] = true;
  }
  return result as T;
}
